// The node ledger the daemon rebuilds once per step (daemon/reconciler.h): 250 pods (200 VM pods, 50 runc),
// 3 shapes. It runs on the event loop every tick, inside the reconcile budget of DESIGN.md (< 5 ms for 250
// pods), so it should cost a small fraction of it.
#include <benchmark/benchmark.h>

#include <vector>

#include "sizer/capacity.h"

namespace uvm::sizer {
namespace {

constexpr int64_t kMi = 1 << 20;

LedgerPod VmPod(int i) {
  return LedgerPod{
      .handler = "kata",
      .vm_isolated = true,
      .cpu_request_millis = 250,
      .overhead_memory_bytes = 600 * kMi,
      .uvm_memory_bytes = (2048 + 256 * (i % 4)) * kMi,
      .host_overhead_model_bytes = 96 * kMi,
      .host_overhead_measured_bytes = i % 3 == 0 ? std::optional<int64_t>((90 + i % 20) * kMi) : std::nullopt,
      .pod_cgroup_memory_unlimited = i % 5 == 0,
      .memory_usage_bytes = 1500 * kMi};
}

LedgerPod RuncPod() {
  return LedgerPod{.cpu_request_millis = 100, .memory_usage_bytes = 300 * kMi};
}

void BM_BuildNodeLedger(benchmark::State& state) {
  std::vector<LedgerPod> pods;
  for (int i = 0; i < state.range(0); ++i) pods.push_back(i % 5 == 4 ? RuncPod() : VmPod(i));
  std::vector<Shape> shapes{{.name = "web", .pod = VmPod(1)},
                            {.name = "batch", .pod = VmPod(5)},
                            {.name = "api", .pod = RuncPod()}};
  NodeAllocatable allocatable{.memory_bytes = 512LL << 30, .cpu_millis = 96000, .pods = 250};
  for (auto _ : state) {
    NodeLedger ledger = BuildNodeLedger("node-a", allocatable, pods, shapes);
    benchmark::DoNotOptimize(ledger);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BuildNodeLedger)->Arg(250);

}  // namespace
}  // namespace uvm::sizer
