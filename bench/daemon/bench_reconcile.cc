// Reconcile of 250 VM pods with no change (DESIGN.md budget: < 5 ms CPU), as the daemon does it at every
// poll: FetchRuntime on the runtime worker (ListPodSandbox only: every pod is already inspected), then
// Reconciler::Apply on the loop (each pod's cgroup read, raise checked, metrics republished).
//
//   BM_ReconcileNoChange        the real CRI adapter (MakeCriRuntime) over a unix socket to a fake CRI
//                               server in a child process; cpu_time is this process's CPU (all threads,
//                               gRPC's included), the server's CPU is not counted
//   BM_ReconcileNoChangeNoGrpc  the same data from an in-memory RuntimePort: the difference is gRPC's cost
//   BM_ReconcileFullResync      every 30 s (cri.resync_interval): 250 PodSandboxStatus(verbose) + JSON
//                               parse, 250 ListContainerStats, all pods sized again
//
// The cgroup side is a fake CgroupPort returning a fixed reading (the kernel's cost of reading a pod's
// cgroup files is bench_cgroups' subject), so every pod has a cgroup_parent and takes the full Apply path.
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "daemon/adapters.h"
#include "daemon/log.h"
#include "daemon/ports.h"
#include "daemon/reconciler.h"
#include "metrics/daemon_metrics.h"
#include "tests/support/fake_cri.h"

namespace uvm::bench {
namespace {

using testing::FakeCriProcess;
using testing::TempDir;

using daemon::CgroupPort;
using daemon::CgroupReading;
using daemon::RuntimePort;
using daemon::RuntimeSnapshot;
using daemon::SandboxDetail;
using daemon::SandboxSummary;
using daemon::WriteOutcome;

// A pod cgroup as cgroupfs shows it after the kubelet set it: limit = resources + overhead, some usage.
class FixedCgroups final : public CgroupPort {
 public:
  explicit FixedCgroups(std::map<std::string, int64_t> limits) : limits_(std::move(limits)) {}
  Result<CgroupReading> ReadPod(const std::string& parent, const std::string&) override {
    auto it = limits_.find(parent);
    if (it == limits_.end()) return Error{"no such cgroup " + parent};
    return CgroupReading{.memory_limit_bytes = it->second,
                         .memory_usage_bytes = it->second / 3,
                         .cpu_quota_us = 200000,
                         .cpu_period_us = 100000,
                         .shmem_bytes = 4096,
                         .file_bytes = it->second / 10,
                         .anon_bytes = it->second / 5,
                         .oom_kills = 0};
  }
  Result<WriteOutcome> RaiseMemoryLimit(const std::string&, int64_t) override { return WriteOutcome{}; }
  Result<WriteOutcome> RaiseCpuQuota(const std::string&, int64_t, int64_t) override { return WriteOutcome{}; }
  Result<WriteOutcome> BoundKataOverhead(const std::string&, int64_t) override { return WriteOutcome{}; }

 private:
  std::map<std::string, int64_t> limits_;
};

// What the CRI adapter returned, served from memory.
class RecordedRuntime final : public RuntimePort {
 public:
  RecordedRuntime(std::vector<SandboxSummary> list, std::map<std::string, SandboxDetail> details)
      : list_(std::move(list)), details_(std::move(details)) {}
  Result<std::vector<SandboxSummary>> ListSandboxes() override { return list_; }
  Result<SandboxDetail> InspectSandbox(const SandboxSummary& s) override { return details_.at(s.id); }
  Result<std::vector<sizer::ContainerResources>> ContainerLimits(const std::string&) override {
    return std::vector<sizer::ContainerResources>{};
  }
  Result<std::optional<int64_t>> WritableLayerBytes(const std::string&) override {
    return std::optional<int64_t>{};
  }
  // The recording has no containers: none started.
  Result<std::map<std::string, std::optional<int64_t>>> FirstContainerStarts(
      const std::set<std::string>& ids) override {
    std::map<std::string, std::optional<int64_t>> out;
    for (const auto& id : ids) out[id] = std::nullopt;
    return out;
  }

 private:
  std::vector<SandboxSummary> list_;
  std::map<std::string, SandboxDetail> details_;
};

// VM pods without a shim monitor socket: the host view alone, as on nodes without the Kata monitor.
class NoGuest final : public daemon::GuestPort {
 public:
  bool HasEndpoint(const std::string&) override { return false; }
  std::string Describe(const std::string&) const override { return "none"; }
  void Fetch(const std::string&, Done) override {}
};

// One daemon's worth of state over `runtime`, with every pod seen once (a full fetch applied).
struct World {
  std::unique_ptr<RuntimePort> runtime;
  std::unique_ptr<FixedCgroups> cgroups;
  NoGuest guest;
  metrics::DaemonMetrics metrics{"bench", "node-1"};
  daemon::Logger log{daemon::Priority::kError};
  std::unique_ptr<daemon::Reconciler> reconciler;

  // The daemon's Fetch + OnSnapshot, minus the thread hops.
  void Reconcile(bool full) {
    auto snap = daemon::FetchRuntime(*runtime, reconciler->InspectedIds(), full,
                                     reconciler->DynamicHandlers(), reconciler->VmHandlers());
    reconciler->Apply(snap);
  }
};

// Everything a benchmark needs lives for the whole benchmark (all its runs), then goes.
struct Setup {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<FakeCriProcess> server;
  std::unique_ptr<World> world;
};

Result<std::unique_ptr<World>> MakeWorld(std::unique_ptr<RuntimePort> runtime) {
  auto w = std::make_unique<World>();
  w->runtime = std::move(runtime);
  auto list = w->runtime->ListSandboxes();
  if (!list) return list.error();
  std::map<std::string, int64_t> limits;
  for (const auto& s : *list) {
    auto d = w->runtime->InspectSandbox(s);
    if (!d) return d.error();
    if (!d->resources || !d->overhead || d->cgroup_parent.empty())
      return Error{"sandbox " + s.id + ": no resources, overhead or cgroup_parent from the runtime"};
    limits[d->cgroup_parent] = d->resources->memory_limit_in_bytes + d->overhead->memory_limit_in_bytes;
  }
  w->cgroups = std::make_unique<FixedCgroups>(std::move(limits));
  w->reconciler = std::make_unique<daemon::Reconciler>(daemon::ReconcileSetup{}, *w->cgroups, w->guest,
                                                       w->metrics, w->log);
  w->Reconcile(true);
  size_t vm = 0;
  for (const auto& [id, pod] : w->reconciler->table().by_sandbox())
    vm += pod.profile && pod.sizing.kata.uvm ? 1 : 0;
  if (vm != list->size()) return Error{fmt::format("{} of {} pods sized as VM pods", vm, list->size())};
  return w;
}

Result<Setup> CriSetup(int pods) {
  Setup s;
  s.dir = std::make_unique<TempDir>("uvm-bench-reconcile");
  if (!s.dir->ok()) return Error{"mkdtemp failed"};
  auto server = FakeCriProcess::Start(s.dir->path(), {.pods = pods, .cgroup_parents = true});
  if (!server) return server.error();
  s.server = std::move(*server);
  auto world = MakeWorld(daemon::MakeCriRuntime(s.server->endpoint(), std::chrono::milliseconds(2000)));
  if (!world) return world.error();
  s.world = std::move(*world);
  return s;
}

void RunReconcile(benchmark::State& state, World& w, bool full) {
  for (auto _ : state) w.Reconcile(full);
  state.counters["pods"] = static_cast<double>(w.reconciler->table().size());
  state.counters["cpu_per_pod"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(state.range(0)),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_ReconcileNoChange(benchmark::State& state) {
  auto s = CriSetup(static_cast<int>(state.range(0)));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  RunReconcile(state, *s->world, false);
}
BENCHMARK(BM_ReconcileNoChange)->Arg(250)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

void BM_ReconcileNoChangeNoGrpc(benchmark::State& state) {
  // The same sandboxes and details as the CRI adapter returns them, recorded once over the socket.
  auto s = CriSetup(static_cast<int>(state.range(0)));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  auto list = s->world->runtime->ListSandboxes();
  std::map<std::string, SandboxDetail> details;
  for (const auto& sb : *list) details.emplace(sb.id, *s->world->runtime->InspectSandbox(sb));
  auto world = MakeWorld(std::make_unique<RecordedRuntime>(*list, std::move(details)));
  s->world.reset();
  s->server.reset();
  if (!world) {
    state.SkipWithError(world.error().message.c_str());
    return;
  }
  RunReconcile(state, **world, false);
}
BENCHMARK(BM_ReconcileNoChangeNoGrpc)->Arg(250)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

void BM_ReconcileFullResync(benchmark::State& state) {
  auto s = CriSetup(static_cast<int>(state.range(0)));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  RunReconcile(state, *s->world, true);
}
// One pressure tick over every VM pod: the one cgroup reading each (fixed here), the raise check and the
// pressure model, metrics updated.
void BM_TickNoGrpc(benchmark::State& state) {
  auto s = CriSetup(static_cast<int>(state.range(0)));
  if (!s) {
    state.SkipWithError(s.error().message.c_str());
    return;
  }
  for (auto _ : state) s->world->reconciler->Tick();
  state.counters["cgroup_reads_per_pod_per_tick"] =
      static_cast<double>(s->world->reconciler->stats().cgroup_reads) /
      static_cast<double>(s->world->reconciler->stats().ticks + 1) / static_cast<double>(state.range(0));
}
BENCHMARK(BM_TickNoGrpc)->Arg(250)->MeasureProcessCPUTime()->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_ReconcileFullResync)->Arg(250)->MeasureProcessCPUTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace uvm::bench

int main(int argc, char** argv) {
  if (int rc = uvm::testing::MaybeServeFakeCri(argc, argv); rc >= 0) return rc;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
