// Sizing budget (DESIGN.md): one pod from CRI resources < 200 ns; from a parsed manifest < 5 µs.
#include <benchmark/benchmark.h>

#include "sizer/overhead.h"
#include "sizer/size_pod.h"

namespace uvm::sizer {
namespace {

// The daemon's path: LinuxPodSandboxConfig.resources + overhead -> UVM, host memory, overhead report.
void BM_SizeFromCriResources(benchmark::State& state) {
  const Profile& profile = *FindBuiltinProfile("aks-kata-cc-2048");
  HostOverheadModel host;
  SandboxResources sandbox{
      .cpu_period = 100000, .cpu_quota = 150000, .cpu_shares = 1536, .memory_limit_in_bytes = 536870912};
  DeclaredOverhead declared{.memory_bytes = 160 << 20, .cpu_millis = 250};
  for (auto _ : state) {
    benchmark::DoNotOptimize(sandbox);
    SandboxSizing s = SizeSandbox(sandbox, {}, declared, profile, host);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SizeFromCriResources);

Pod TypicalPod() {
  auto q = [](const char* t) { return *Quantity::Parse(t); };
  Pod pod;
  pod.ref = {.kind = "Deployment", .namespace_ = "default", .name = "web", .document = 1};
  pod.spec.runtime_class_name = "kata-cc-isolation";
  Container app{.name = "app"};
  app.resources.limits = {q("1500m"), q("512Mi")};
  app.resources.requests = {q("500m"), q("256Mi")};
  Container sidecar{.name = "proxy", .restart_policy_always = true};
  sidecar.resources.limits = {q("100m"), q("64Mi")};
  pod.spec.init_containers = {sidecar};
  pod.spec.containers = {app};
  return pod;
}

// The CLI's path once the manifest is parsed: kubelet emulation, handler choice, Kata sizing, warnings.
void BM_SizeFromParsedManifest(benchmark::State& state) {
  Pod pod = TypicalPod();
  SizingContext ctx;
  for (auto _ : state) {
    auto s = SizePod(pod, ctx);
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(BM_SizeFromParsedManifest);

}  // namespace
}  // namespace uvm::sizer
