// /metrics serialisation for a node full of VM pods (DESIGN.md budget: 250 pods < 3 ms), and the cost the
// event loop pays per pod update. Run: bench_metrics --benchmark_repetitions=10
// --benchmark_report_aggregates_only
#include <benchmark/benchmark.h>

#include <string>

#include "metrics/daemon_metrics.h"

namespace {

using uvm::metrics::DaemonMetrics;
using uvm::metrics::PodLabels;
using uvm::metrics::PodPressureMetrics;
using uvm::metrics::PodSizingMetrics;

constexpr int64_t kMib = 1024 * 1024;

PodLabels Labels(int i) {
  // Realistic lengths: a generated pod name and a 36-character uid.
  return {"team-" + std::to_string(i % 12), "checkout-api-7d9f8c6b5d-" + std::to_string(10000 + i),
          "3f1c2a9e-5b7d-4e21-9c0a-" + std::to_string(100000000000 + i), i % 2 ? "kata-cc" : "kata"};
}

PodSizingMetrics Sizing(int i) {
  PodSizingMetrics m;
  m.vm_isolated = true;
  m.uvm_vcpus = 1 + i % 4;
  m.uvm_memory_bytes = (2048 + i) * kMib;
  m.host_memory_bytes = (2300 + i) * kMib;
  m.overhead_required_bytes = 2200 * kMib;
  m.overhead_declared_bytes = 2048 * kMib;
  m.cgroup_memory_limit_bytes = (2560 + i) * kMib;
  m.cgroup_memory_usage_bytes = (700 + i) * kMib;
  return m;
}

PodPressureMetrics Pressure(int i) {
  PodPressureMetrics p;
  p.guest_memory_available_bytes = (900 + i) * kMib;
  p.guest_filesystem_bytes = {{"/run", (100 + i) * kMib}, {"/run/kata-containers/shared", 3 * kMib}};
  p.memory_growth_bytes_per_second = {{"filesystem", 1.5 * kMib}, {"logs", 4096.0}, {"anonymous", 12.5}};
  p.memory_exhaustion_seconds = 600.0 + i;
  p.pressure_level = i % 3;
  p.oom_kills_total = static_cast<uint64_t>(i % 2);
  return p;
}

void Fill(DaemonMetrics& m, int pods) {
  for (int i = 0; i < pods; ++i) {
    m.UpsertPod(Labels(i), Sizing(i));
    m.UpsertPodPressure(Labels(i), Pressure(i));
  }
  for (int i = 0; i < 40; ++i) m.ObserveReconcileSeconds(1e-4 * i);
  m.CountCgroupWrite("ok");
  m.CountError("cri_inspect");
  m.CountPressureTransition("warning", "filesystem");
  m.SetCriUp(true);
}

// Every family, 250 VM pods: 7 sizing + 10 pressure series each (~4300 series).
void BM_Serialize(benchmark::State& state) {
  DaemonMetrics m("bench", "node-1");
  Fill(m, static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = m.Serialize();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["pods"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_Serialize)->Arg(250)->Unit(benchmark::kMillisecond);

// Sizing series only (the issue-4 families), for comparison with the pressure-less daemon.
void BM_SerializeSizingOnly(benchmark::State& state) {
  DaemonMetrics m("bench", "node-1");
  for (int i = 0; i < state.range(0); ++i) m.UpsertPod(Labels(i), Sizing(i));
  for (auto _ : state) benchmark::DoNotOptimize(m.Serialize());
}
BENCHMARK(BM_SerializeSizingOnly)->Arg(250)->Unit(benchmark::kMillisecond);

// What the event loop pays to refresh an existing pod (values only: no series created or removed).
void BM_UpsertExistingPod(benchmark::State& state) {
  DaemonMetrics m("bench", "node-1");
  Fill(m, 250);
  int i = 0;
  for (auto _ : state) {
    m.UpsertPod(Labels(i % 250), Sizing(i % 250));
    m.UpsertPodPressure(Labels(i % 250), Pressure(i % 250));
    ++i;
  }
}
BENCHMARK(BM_UpsertExistingPod)->Unit(benchmark::kMicrosecond);

// A pod appears and goes: every series created then removed.
void BM_AddRemovePod(benchmark::State& state) {
  DaemonMetrics m("bench", "node-1");
  Fill(m, 250);
  for (auto _ : state) {
    m.UpsertPod(Labels(999), Sizing(999));
    m.UpsertPodPressure(Labels(999), Pressure(999));
    m.RemovePod(Labels(999).uid);
  }
}
BENCHMARK(BM_AddRemovePod)->Unit(benchmark::kMicrosecond);

}  // namespace
