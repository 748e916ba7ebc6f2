// Pressure budget (issue 5): CPU time of one pressure tick for 250 VM pods (the model only, from samples
// prepared in memory; fetching is I/O and measured elsewhere), and the parse of one shim-monitor payload.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "guest/exposition.h"
#include "guest/shim_metrics.h"
#include "sizer/pressure.h"

namespace uvm {
namespace {

constexpr int64_t kMiB = 1 << 20;
constexpr int64_t kGiB = 1LL << 30;

// A kata-cc pod as the daemon sees it each tick: guest memory with three mounts (one filling), host
// cgroup with memory.stat and PSI, CRI writable layer and logs.
sizer::PressureSample PodSample(int pod) {
  sizer::PressureSample s;
  s.sandbox_id = "sandbox-" + std::to_string(pod);
  sizer::GuestObservation g;
  g.mem_total_bytes = 2 * kGiB;
  g.mem_available_bytes = 1536 * kMiB;
  g.anon_bytes = 150 * kMiB;
  g.shmem_bytes = 40 * kMiB;
  g.file_bytes = 300 * kMiB;
  g.oom_kills = 0;
  g.mounts = {{"/", "vda1", 180 * kMiB, 256 * kMiB},
              {"/run/kata-containers/shared/containers/" + std::to_string(pod) + "/rootfs", "overlay",
               64 * kMiB, kGiB},
              {"/run/kata-containers/sandbox/ephemeral/scratch", "overlay", 0, kGiB}};
  s.guest = g;
  s.host = sizer::HostObservation{.usage_bytes = 2300 * kMiB,
                                  .limit_bytes = 3 * kGiB,
                                  .anon_bytes = 2100 * kMiB,
                                  .file_bytes = 150 * kMiB,
                                  .shmem_bytes = 20 * kMiB,
                                  .psi_full_avg10 = 0.0,
                                  .oom_kills = 0};
  s.containers.writable_layer_bytes = 10 * kMiB;
  s.containers.log_bytes = kMiB;
  return s;
}

// Advances a prepared sample to tick `n` in place (no allocation): pod p's scratch mount grows at
// (p % 5) × 0.5 MiB/s, with a little page-cache noise.
void Advance(sizer::PressureSample& s, int pod, int64_t n) {
  s.at = sizer::PressureTime{} + std::chrono::seconds(5 * n);
  const int64_t grown = (pod % 5) * (kMiB / 2) * 5 * n % kGiB;
  const int64_t jitter = ((n * 2654435761LL + pod) % 9 - 4) * 256 * 1024;
  s.guest->mem_available_bytes = 1536 * kMiB - grown + jitter;
  s.guest->shmem_bytes = 40 * kMiB + grown;
  s.guest->mounts[2].used_bytes = grown;
  s.host->usage_bytes = 2300 * kMiB + grown / 4;
  *s.containers.log_bytes += 4096;
}

void BM_PressureTick250Pods(benchmark::State& state) {
  const int pods = static_cast<int>(state.range(0));
  sizer::PressureModel model;
  std::vector<sizer::PressureSample> samples;
  std::vector<std::string> keys;
  for (int p = 0; p < pods; ++p) {
    samples.push_back(PodSample(p));
    keys.push_back("uid-" + std::to_string(p));
  }
  int64_t tick = 0;
  // Warm: fill every window (300 s at 5 s = 61 samples) so the loop measures the steady state.
  for (; tick < 61; ++tick) {
    for (int p = 0; p < pods; ++p) {
      Advance(samples[p], p, tick);
      benchmark::DoNotOptimize(model.Observe(keys[p], samples[p]));
    }
  }
  for (auto _ : state) {
    for (int p = 0; p < pods; ++p) {
      Advance(samples[p], p, tick);
      auto a = model.Observe(keys[p], samples[p]);
      benchmark::DoNotOptimize(a);
    }
    ++tick;
  }
  state.counters["pods"] = pods;
  state.counters["per_pod_ns"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * pods,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PressureTick250Pods)->Arg(250)->Unit(benchmark::kMicrosecond);

std::string Payload() {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/guest/shim_metrics.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The daemon's per-pod parse: shim payload -> GuestObservation.
void BM_ShimPayloadToGuestObservation(benchmark::State& state) {
  const std::string text = Payload();
  for (auto _ : state) {
    auto g = guest::GuestObservationFromShimMetrics(text, "bench");
    if (!g.ok()) state.SkipWithError(g.error().message.c_str());
    benchmark::DoNotOptimize(g);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ShimPayloadToGuestObservation)->Unit(benchmark::kMicrosecond);

void BM_ExpositionStreaming(benchmark::State& state) {
  const std::string text = Payload();
  size_t samples = 0;
  std::function<void(const guest::SampleView&)> count = [&](const guest::SampleView&) { ++samples; };
  for (auto _ : state) {
    Status st = guest::ParseExposition(text, "bench", count);
    benchmark::DoNotOptimize(st);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
  state.counters["samples"] = static_cast<double>(samples) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_ExpositionStreaming)->Unit(benchmark::kMicrosecond);

void BM_ExpositionOwned(benchmark::State& state) {
  const std::string text = Payload();
  for (auto _ : state) {
    auto e = guest::ParseExpositionText(text, "bench");
    benchmark::DoNotOptimize(e);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_ExpositionOwned)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace uvm
