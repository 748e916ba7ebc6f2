#include "sizer/kata.h"

#include <gtest/gtest.h>

#include "tests/unit/sizer/sizing_test_util.h"

namespace uvm::sizer {
namespace {

using testing::Make;

const Profile& P(const char* name) {
  const Profile* p = FindBuiltinProfile(name);
  EXPECT_NE(p, nullptr) << name;
  return *p;
}

UvmSize Uvm(const PodSpec& spec, const Profile& profile) {
  auto sandbox = SandboxResourcesForPod(spec, {});
  EXPECT_TRUE(sandbox.ok());
  KataSizing k = SizeUvm(*sandbox, ContainerResourcesForPod(spec, {}), profile);
  EXPECT_TRUE(k.uvm.has_value()) << profile.name << ": " << k.refusal.value_or("");
  return k.uvm.value_or(UvmSize{});
}

TEST(KataSizing, WorkedExamplesOfSizingMdForEveryProfile) {
  // SIZING.md §7: vCPUs / UVM MiB per profile; aks-2025-min128 equals aks-2025 for these pods, and
  // upstream-dynamic equals upstream-static when limits are whole 128 MiB blocks.
  struct Row {
    const char* name;
    PodSpec spec;
    uint32_t kata256[2], kata_cc[2], aks2025[2], upstream[2];
  };
  std::vector<Row> rows = {
      {"A", {.containers = {Make("a", nullptr, nullptr)}}, {1, 2048}, {1, 2048}, {1, 512}, {1, 2048}},
      {"B", {.containers = {Make("a", "1", "1Gi")}}, {2, 1280}, {2, 3072}, {1, 1024}, {2, 3072}},
      {"C", {.containers = {Make("a", "500m", "512Mi")}}, {2, 768}, {2, 2560}, {1, 512}, {2, 2560}},
      {"D", {.containers = {Make("a", "2.5", "3Gi")}}, {4, 3328}, {4, 5120}, {3, 3072}, {4, 5120}},
      {"E",
       {.containers = {Make("a", "250m", "256Mi"), Make("b", "250m", "256Mi")}},
       {2, 768},
       {2, 2560},
       {1, 512},
       {2, 2560}},
      {"F",
       {.containers = {Make("a", "1", "1Gi"), Make("b", nullptr, nullptr)}},
       {2, 1280},
       {2, 3072},
       {1, 1024},
       {2, 3072}},
  };
  auto expect = [](const char* row, const char* profile, UvmSize got, const uint32_t want[2]) {
    EXPECT_EQ(got.vcpus, want[0]) << row << " " << profile;
    EXPECT_EQ(got.memory_mib, want[1]) << row << " " << profile;
  };
  for (const auto& r : rows) {
    expect(r.name, "aks-kata-256", Uvm(r.spec, P("aks-kata-256")), r.kata256);
    expect(r.name, "aks-kata-cc-2048", Uvm(r.spec, P("aks-kata-cc-2048")), r.kata_cc);
    expect(r.name, "aks-2025", Uvm(r.spec, P("aks-2025")), r.aks2025);
    expect(r.name, "aks-2025-min128", Uvm(r.spec, P("aks-2025-min128")), r.aks2025);
    expect(r.name, "upstream-static", Uvm(r.spec, P("upstream-static")), r.upstream);
    expect(r.name, "upstream-dynamic", Uvm(r.spec, P("upstream-dynamic")), r.upstream);
  }
}

TEST(KataSizing, WorkloadMinimumRefusesWithTheRuntimesMessage) {
  SandboxResources sandbox{.cpu_period = 100000, .cpu_quota = 50000, .memory_limit_in_bytes = 100LL << 20};
  KataSizing k = SizeUvm(sandbox, {}, P("aks-2025-min128"));
  EXPECT_FALSE(k.uvm.has_value());
  EXPECT_EQ(k.refusal.value_or(""), "pod memory limit too low: minimum 128MiB, got 100MiB");
  // The same pod is fine without the minimum, and 128Mi exactly is fine with it.
  EXPECT_TRUE(SizeUvm(sandbox, {}, P("aks-2025")).uvm.has_value());
  sandbox.memory_limit_in_bytes = 128LL << 20;
  EXPECT_TRUE(SizeUvm(sandbox, {}, P("aks-2025-min128")).uvm.has_value());
  // 127.9Mi floors to 127 MiB: refused.
  sandbox.memory_limit_in_bytes = 134112871;
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-2025-min128")).refusal.value_or(""),
            "pod memory limit too low: minimum 128MiB, got 127MiB");
}

TEST(KataSizing, NoMemoryLimitGetsTheDefaultSoTheMinimumNeverRefusesIt) {
  KataSizing k = SizeUvm(SandboxResources{}, {}, P("aks-2025-min128"));
  ASSERT_TRUE(k.uvm.has_value());
  EXPECT_EQ(k.uvm->memory_mib, 512u);
  EXPECT_EQ(k.uvm->vcpus, 1u);
}

TEST(KataSizing, TinyLimitsFloorToWholeMiB) {
  SandboxResources sandbox{.cpu_period = 100000, .cpu_quota = 1000, .memory_limit_in_bytes = (1 << 20) - 1};
  KataSizing k = SizeUvm(sandbox, {}, P("aks-kata-cc-2048"));
  ASSERT_TRUE(k.uvm);
  EXPECT_EQ(k.uvm->memory_mib, 2048u);  // 0 MiB of workload: kata-cc has no default
  EXPECT_EQ(k.uvm->vcpus, 2u);          // ceil(1 + 0.01)
  // On aks-kata-256 a sub-MiB limit floors to 0, which is "no limit": the 1792 MiB default applies.
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-kata-256")).uvm->memory_mib, 2048u);
}

TEST(KataSizing, ExclusiveCpusWithoutQuotaFallBackToSharesOnlyUpstream) {
  SandboxResources sandbox{
      .cpu_period = 100000, .cpu_quota = -1, .cpu_shares = 2048, .memory_limit_in_bytes = 1LL << 30};
  EXPECT_EQ(SizeUvm(sandbox, {}, P("upstream-static")).uvm->vcpus, 3u);   // 1 + ceil(2048/1024)
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-kata-cc-2048")).uvm->vcpus, 1u);  // quota -1 = no workload CPUs
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-2025")).uvm->vcpus, 1u);          // the 1-vCPU default
  sandbox.cpu_shares = 1025;
  EXPECT_EQ(SizeUvm(sandbox, {}, P("upstream-static")).uvm->vcpus, 3u);  // ceil(1.0009) = 2 workload vCPUs
}

TEST(KataSizing, StaticCpuIsFloat32QuotaOverPeriodCeiledOnce) {
  // 100001/100000 in float32 is 1.00001: 1 + 1.00001 ceils to 3.
  SandboxResources sandbox{.cpu_period = 100000, .cpu_quota = 100001};
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-kata-cc-2048")).uvm->vcpus, 3u);
  // Quota 16777217 is not representable in float32 (rounds to 16777216): 167.77216 -> 169 with base 1.
  sandbox.cpu_quota = 16777217;
  EXPECT_EQ(SizeUvm(sandbox, {}, P("aks-kata-cc-2048")).uvm->vcpus, 169u);
}

TEST(KataSizing, DynamicModeSumsContainersInFloat32) {
  // Ten containers of 100m: Kata sums 0.1f ten times from zero (1.0000001f), then adds the base 1: 2.0f,
  // so 2 vCPUs (sandbox.go updateResources / calculateSandboxCPUs). Starting from the base instead would
  // accumulate 2.0000002f and hot-plug 3.
  PodSpec spec;
  for (int i = 0; i < 10; ++i) spec.containers.push_back(Make("c" + std::to_string(i), "100m", "64Mi"));
  UvmSize uvm = Uvm(spec, P("upstream-dynamic"));
  EXPECT_EQ(uvm.vcpus, 2u);
  EXPECT_EQ(Uvm(spec, P("upstream-static")).vcpus, 2u);  // static: one quota of 100000 -> exactly 1.0
}

TEST(KataSizing, DynamicModeHotAddsMemoryInWholeBlocks) {
  PodSpec spec{.containers = {Make("a", nullptr, "100Mi"), Make("b", nullptr, "100Mi")}};
  EXPECT_EQ(Uvm(spec, P("upstream-dynamic")).memory_mib, 2048u + 128 + 128);  // needed 2148 then 2248
  EXPECT_EQ(Uvm(spec, P("upstream-static")).memory_mib, 2048u + 200);
}

TEST(KataSizing, DynamicModeKeepsInitContainerMemoryButNotTheirVcpus) {
  // The exited init container no longer counts when the app is added (calculateSandboxMemory skips
  // StateStopped), but the 512 MiB hot-added for it stay: memory is never hot-removed.
  PodSpec spec{.init_containers = {Make("init", "4", "512Mi")}, .containers = {Make("app", "1", "256Mi")}};
  UvmSize uvm = Uvm(spec, P("upstream-dynamic"));
  EXPECT_EQ(uvm.vcpus, 2u);
  EXPECT_EQ(uvm.memory_mib, 2048u + 512);
}

TEST(KataSizing, VcpuCapAtDefaultMaxVcpus) {
  Profile capped = P("aks-kata-cc-2048");
  capped.max_vcpus = 4;
  SandboxResources sandbox{.cpu_period = 100000, .cpu_quota = 800000};
  KataSizing k = SizeUvm(sandbox, {}, capped);
  EXPECT_EQ(k.uvm->vcpus, 4u);
  ASSERT_FALSE(k.notes.empty());
  EXPECT_NE(k.notes.back().find("capped"), std::string::npos);
}

TEST(KataSizing, MemoryBeyondUint32MibWrapsLikeTheGoRuntime) {
  EXPECT_EQ(MibFromBytes(-1), 0u);
  EXPECT_EQ(MibFromBytes((1LL << 20) * 5), 5u);
  // 8Ei clamps to 2^63-1 bytes = 2^43 MiB - 1: uint32 keeps the low 32 bits.
  EXPECT_EQ(MibFromBytes(INT64_MAX), 0xFFFFFFFFu);
  SandboxResources sandbox{.memory_limit_in_bytes = (1LL << 52)};  // 2^32 MiB -> wraps to 0
  KataSizing k = SizeUvm(sandbox, {}, P("aks-kata-cc-2048"));
  EXPECT_EQ(k.uvm->memory_mib, 2048u);
  EXPECT_FALSE(k.notes.empty());
}

TEST(KataSizing, CpusFromQuotaIgnoresNegativeQuotaAndZeroPeriod) {
  EXPECT_EQ(CpusFromQuota(-1, 100000), 0.0f);
  EXPECT_EQ(CpusFromQuota(50000, 0), 0.0f);
  EXPECT_EQ(CpusFromQuota(250000, 100000), 2.5f);
}

TEST(Profiles, SixBuiltinsWithTheTableNumbers) {
  ASSERT_EQ(BuiltinProfiles().size(), 6u);
  EXPECT_EQ(P("aks-kata-256").base_memory_mib, 256u);
  EXPECT_EQ(P("aks-kata-256").default_workload_mem_mib, 1792u);
  EXPECT_EQ(P("aks-kata-cc-2048").base_memory_mib, 2048u);
  EXPECT_EQ(P("aks-2025").base_vcpus, 0.0f);
  EXPECT_EQ(P("aks-2025-min128").workload_mem_min_mib, 128u);
  EXPECT_TRUE(P("upstream-static").shares_fallback);
  EXPECT_EQ(P("upstream-dynamic").mode, SizingMode::kDynamic);
  EXPECT_EQ(FindBuiltinProfile("nope"), nullptr);
}

TEST(Profiles, HandlerDefaultsAndRuntimeClassAliases) {
  ProfileCatalog catalog = ProfileCatalog::Builtin();
  EXPECT_EQ(catalog.ForHandler("kata")->name, "aks-kata-256");
  EXPECT_EQ(catalog.ForHandler("kata-cc")->name, "aks-kata-cc-2048");
  EXPECT_EQ(catalog.ForHandler("runc"), nullptr);
  EXPECT_EQ(DefaultHandlerForRuntimeClass("kata-vm-isolation").value_or(""), "kata");
  EXPECT_EQ(DefaultHandlerForRuntimeClass("kata-mshv-vm-isolation").value_or(""), "kata");
  EXPECT_EQ(DefaultHandlerForRuntimeClass("kata-cc-isolation").value_or(""), "kata-cc");
  EXPECT_FALSE(DefaultHandlerForRuntimeClass("gvisor").has_value());
  EXPECT_TRUE(catalog.MapHandler("kata-cc", "aks-2025").ok());
  EXPECT_EQ(catalog.ForHandler("kata-cc")->name, "aks-2025");
  auto bad = catalog.MapHandler("kata", "no-such-profile");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("no-such-profile"), std::string::npos);
  Profile custom{.name = "mine", .base_memory_mib = 512};
  catalog.Put(custom);
  EXPECT_TRUE(catalog.MapHandler("kata-qemu", "mine").ok());
  EXPECT_EQ(catalog.ForHandler("kata-qemu")->base_memory_mib, 512u);
}

std::vector<ContainerResources> Containers(
    std::initializer_list<std::tuple<bool, bool, int64_t, int64_t>> list) {
  std::vector<ContainerResources> out;
  for (auto [init, sidecar, quota, memory] : list) {
    out.push_back({.name = "c",
                   .init = init,
                   .sidecar = sidecar,
                   .cpu_period = 100000,
                   .cpu_quota = quota,
                   .memory_limit_in_bytes = memory});
  }
  return out;
}

TEST(KataDynamicSizing, SumsContainersFromZeroThenAddsTheBase) {
  // kata virtcontainers/sandbox.go updateResources: sandboxVCPUs := calculateSandboxCPUs() (float32 sum of
  // quota/period from zero), then `sandboxVCPUs += NumVCPUsF`. Ten containers of 100m with a base of 1:
  // 1.0000001 + 1 = 2 in float32 -> 2 vCPUs; starting at the base rounds to 2.0000002 -> 3.
  const Profile* dynamic = FindBuiltinProfile("upstream-dynamic");
  ASSERT_NE(dynamic, nullptr);
  struct Case {
    int containers;
    uint32_t vcpus;
  };
  for (Case c : {Case{1, 2}, Case{10, 2}, Case{20, 4}}) {
    std::vector<ContainerResources> list;
    for (int i = 0; i < c.containers; ++i) {
      list.push_back({.name = "c", .cpu_period = 100000, .cpu_quota = 10000, .memory_limit_in_bytes = 0});
    }
    KataSizing k = SizeUvm({}, list, *dynamic);
    ASSERT_TRUE(k.uvm.has_value());
    EXPECT_EQ(k.uvm->vcpus, c.vcpus) << c.containers << " containers";
  }
}

TEST(KataDynamicSizing, ExitedInitContainersDoNotAddMemory) {
  // sandbox.go calculateSandboxMemory skips containers in StateStopped, and memory is never hot-removed
  // (qemu.go ResizeMemory): the UVM keeps the largest running set, not the sum of everything ever created.
  Profile p = *FindBuiltinProfile("upstream-dynamic");  // base 2048 MiB, 128 MiB blocks
  constexpr int64_t kMib = 1 << 20;
  struct Case {
    const char* name;
    std::vector<ContainerResources> containers;
    uint32_t memory_mib;
  };
  std::vector<Case> cases = {
      // Two init containers of 512 MiB run one after the other, then a 256 MiB app: peak 512.
      {"inits then app",
       Containers(
           {{true, false, 0, 512 * kMib}, {true, false, 0, 512 * kMib}, {false, false, 0, 256 * kMib}}),
       2048 + 512},
      // A sidecar stays: init runs beside it (64 + 512), then sidecar + app (64 + 256).
      {"sidecar, init, app",
       Containers({{true, true, 0, 64 * kMib}, {true, false, 0, 512 * kMib}, {false, false, 0, 256 * kMib}}),
       2048 + 640},
      // Bytes are summed before the shift: two 1.5 MiB limits make 3 MiB (128 MiB block).
      {"bytes summed", Containers({{false, false, 0, 3 * kMib / 2}, {false, false, 0, 3 * kMib / 2}}),
       2048 + 128},
  };
  for (const auto& c : cases) {
    KataSizing k = SizeUvm({}, c.containers, p);
    ASSERT_TRUE(k.uvm.has_value()) << c.name;
    EXPECT_EQ(k.uvm->memory_mib, c.memory_mib) << c.name;
  }
  // Bytes summed: 3 MiB of workload, where flooring each container would give 2.
  EXPECT_EQ(SizeUvm({}, cases[2].containers, p).uvm->workload_memory_mib, 3u);
}

TEST(KataSizing, ZeroVcpusBootOneAsTheHypervisorDefaults) {
  // virtcontainers/hypervisor_config_linux.go validateHypervisorConfig: NumVCPUsF == 0 -> defaultVCPUs (1).
  Profile p = *FindBuiltinProfile("upstream-static");
  p.base_vcpus = 0;
  KataSizing k = SizeUvm(SandboxResources{.cpu_period = 100000, .memory_limit_in_bytes = 128 << 20}, {}, p);
  ASSERT_TRUE(k.uvm.has_value());
  EXPECT_EQ(k.uvm->vcpus, 1u);
}

}  // namespace
}  // namespace uvm::sizer
