// Reading one normalised sample and writing a limit. The real-kernel benchmarks use a throwaway v1 pod
// cgroup (uvm-bench-<pid>/...), removed at the end; they report an error where there is no v1 memory
// hierarchy. Budget (DESIGN.md): a limit write through our kept fd within 2x of a bare pwrite.
//   bench_cgroups --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include <benchmark/benchmark.h>

#include "cgroups/handle.h"
#include "cgroups/layout.h"

namespace uvm::cgroups {
namespace {

constexpr char kLimit[] = "1073741824";
constexpr uint64_t kLimitBytes = 1073741824;  // kLimit, page aligned

// A pod cgroup in every hierarchy we read, removed on destruction.
class BenchCgroup {
 public:
  explicit BenchCgroup(const CgroupLayout& layout) {
    rel_ = "uvm-bench-" + std::to_string(getpid()) +
           "/kubepods/burstable/pod0b0b0b0b-1111-2222-3333-444444444444";
    for (const std::string& root : {layout.memory_v1, layout.cpu_v1, layout.cpuacct_v1, layout.unified}) {
      if (root.empty()) continue;
      std::error_code ec;
      std::filesystem::create_directories(root + "/" + rel_, ec);
      roots_.push_back(root);
    }
  }
  ~BenchCgroup() {
    for (const auto& root : roots_) {
      for (std::string dir = root + "/" + rel_; dir.size() > root.size();
           dir = dir.substr(0, dir.rfind('/'))) {
        rmdir(dir.c_str());
      }
    }
  }
  const std::string& rel() const { return rel_; }

 private:
  std::string rel_;
  std::vector<std::string> roots_;
};

struct Real {
  CgroupLayout layout;
  std::string error;
};

Real RealV1() {
  auto layout = DetectLayout();
  if (!layout) return {{}, layout.error().message};
  if (layout->memory_v1.empty()) return {{}, "no v1 memory hierarchy on this host"};
  return {*layout, ""};
}

void BM_ReadSampleV1Real(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  auto h = CgroupHandle::Open(real.layout, cg.rel());
  if (!h) return state.SkipWithError(h.error().message.c_str());
  for (auto _ : state) {
    auto s = h->ReadSample();
    if (!s) return state.SkipWithError(s.error().message.c_str());
    benchmark::DoNotOptimize(s->memory_usage_bytes);
  }
  state.SetLabel(real.layout.unified.empty() ? "v1" : "v1 + PSI from unified");
}
BENCHMARK(BM_ReadSampleV1Real);

void BM_ReadSampleV2Fixture(benchmark::State& state) {
  auto layout = ProbeLayout(std::string(UVM_FIXTURES_DIR) + "/cgroups/v2-systemd");
  if (!layout) return state.SkipWithError(layout.error().message.c_str());
  auto h = ResolvePodCgroup("kubepods-burstable-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice", "", *layout);
  if (!h) return state.SkipWithError(h.error().message.c_str());
  for (auto _ : state) {
    auto s = h->ReadSample();
    if (!s) return state.SkipWithError(s.error().message.c_str());
    benchmark::DoNotOptimize(s->memory_usage_bytes);
  }
  state.SetLabel("regular files, not cgroupfs");
}
BENCHMARK(BM_ReadSampleV2Fixture);

void BM_ResolveAndOpenV1Real(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  for (auto _ : state) {
    auto h = CgroupHandle::Open(real.layout, cg.rel());
    if (!h) return state.SkipWithError(h.error().message.c_str());
    benchmark::DoNotOptimize(h->memory_dirfd());
  }
}
BENCHMARK(BM_ResolveAndOpenV1Real);

// The write path of RaiseMemoryLimit: one pwrite through the handle's kept fd.
void BM_WriteLimitKeptFd(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  auto h = CgroupHandle::Open(real.layout, cg.rel());
  if (!h) return state.SkipWithError(h.error().message.c_str());
  for (auto _ : state) {
    if (!h->SetMemoryLimit(kLimitBytes)) return state.SkipWithError("write");
  }
}
BENCHMARK(BM_WriteLimitKeptFd);

// openat on the kept directory fd + write + close.
void BM_WriteLimitOpenatKeptDirfd(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  auto h = CgroupHandle::Open(real.layout, cg.rel());
  if (!h) return state.SkipWithError(h.error().message.c_str());
  for (auto _ : state) {
    int fd = openat(h->memory_dirfd(), "memory.limit_in_bytes", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, kLimit, sizeof kLimit - 1) < 0) return state.SkipWithError("write");
    close(fd);
  }
}
BENCHMARK(BM_WriteLimitOpenatKeptDirfd);

// What libcgroup-style code does: resolve the full path every time.
void BM_WriteLimitOpenWriteClose(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  std::string path = real.layout.memory_v1 + "/" + cg.rel() + "/memory.limit_in_bytes";
  for (auto _ : state) {
    int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, kLimit, sizeof kLimit - 1) < 0) return state.SkipWithError("write");
    close(fd);
  }
}
BENCHMARK(BM_WriteLimitOpenWriteClose);

// The floor: pwrite on an fd opened once, no bookkeeping.
void BM_WriteLimitBarePwrite(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  std::string path = real.layout.memory_v1 + "/" + cg.rel() + "/memory.limit_in_bytes";
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return state.SkipWithError("open");
  for (auto _ : state) {
    if (pwrite(fd, kLimit, sizeof kLimit - 1, 0) < 0) return state.SkipWithError("pwrite");
  }
  close(fd);
}
BENCHMARK(BM_WriteLimitBarePwrite);

// The daemon's steady state: the limit already covers the target (read, parse, compare; no write).
void BM_RaiseMemoryLimitNoop(benchmark::State& state) {
  Real real = RealV1();
  if (!real.error.empty()) return state.SkipWithError(real.error.c_str());
  BenchCgroup cg(real.layout);
  auto h = CgroupHandle::Open(real.layout, cg.rel());
  if (!h || !h->SetMemoryLimit(kLimitBytes)) return state.SkipWithError("setup");
  for (auto _ : state) {
    auto r = h->RaiseMemoryLimit(512 << 20);
    if (!r || r->written()) return state.SkipWithError("raise");
  }
}
BENCHMARK(BM_RaiseMemoryLimitNoop);

}  // namespace
}  // namespace uvm::cgroups
