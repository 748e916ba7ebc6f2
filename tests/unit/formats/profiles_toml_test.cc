#include "sizer/formats/profiles_toml.h"

#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <toml++/toml.h>

namespace uvm::sizer::formats {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

template <class T>
T Must(Result<T> r) {
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? std::move(*r) : T{};
}

template <class T>
std::string ErrorOf(const Result<T>& r) {
  EXPECT_FALSE(r.ok()) << "parsed, but an error was expected";
  return r.ok() ? std::string() : r.error().message;
}

// ---- custom profile files ----

TEST(ProfileFile, FullProfileHandlersAndAliases) {
  auto f = Must(ParseProfileFile(R"(
[profiles.big-base]
description = "2.5 vCPUs and 4 GiB for the UVM OS"
base_vcpus = 2.5
base_memory_mib = 4096
mode = "dynamic"
default_workload_mem_mib = 1024
default_workload_vcpus = 2
workload_mem_min_mib = 64
shares_fallback = true
max_vcpus = 16
max_memory_mib = 65536
memory_block_mib = 256
sandbox_cgroup_only = false

[profiles."dotted.name"]
base_memory_mib = 512

[handlers]
kata = "big-base"
kata-cc = "aks-kata-cc-2048"

[runtime_class_aliases]
my-sandbox = "kata"
)"));
  ASSERT_EQ(f.profiles.size(), 2u);
  const Profile* big = nullptr;
  for (const auto& p : f.profiles) {
    if (p.name == "big-base") big = &p;
  }
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(big->description, "2.5 vCPUs and 4 GiB for the UVM OS");
  EXPECT_FLOAT_EQ(big->base_vcpus, 2.5f);
  EXPECT_EQ(big->base_memory_mib, 4096u);
  EXPECT_EQ(big->mode, SizingMode::kDynamic);
  EXPECT_EQ(big->default_workload_mem_mib, 1024u);
  EXPECT_EQ(big->default_workload_vcpus, 2u);
  EXPECT_EQ(big->workload_mem_min_mib, 64u);
  EXPECT_TRUE(big->shares_fallback);
  EXPECT_EQ(big->max_vcpus, 16u);
  EXPECT_EQ(big->max_memory_mib, 65536u);
  EXPECT_EQ(big->memory_block_mib, 256u);
  EXPECT_FALSE(big->sandbox_cgroup_only);
  EXPECT_EQ(f.handlers.at("kata"), "big-base");
  EXPECT_EQ(f.handlers.at("kata-cc"), "aks-kata-cc-2048");
  EXPECT_EQ(f.runtime_class_aliases.at("my-sandbox"), "kata");
}

TEST(ProfileFile, OmittedKeysKeepTheModelDefaults) {
  auto f = Must(ParseProfileFile("[profiles.p]\nbase_memory_mib = 256\n"));
  ASSERT_EQ(f.profiles.size(), 1u);
  const Profile defaults;
  EXPECT_EQ(f.profiles[0].name, "p");
  EXPECT_FLOAT_EQ(f.profiles[0].base_vcpus, defaults.base_vcpus);
  EXPECT_EQ(f.profiles[0].mode, defaults.mode);
  EXPECT_EQ(f.profiles[0].memory_block_mib, defaults.memory_block_mib);
  EXPECT_EQ(f.profiles[0].sandbox_cgroup_only, defaults.sandbox_cgroup_only);
  EXPECT_TRUE(Must(ParseProfileFile("")).profiles.empty());
}

TEST(ProfileFile, ErrorsNameTheKeyPathAndValue) {
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_vcpu = 1\n")), "profiles.p.base_vcpu: unknown key");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profile.p]\n")), "profile: unknown key");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.\"my.p\"]\nextra = 1\n")),
            "profiles.\"my.p\".extra: unknown key");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_memory_mib = \"2Gi\"\n")),
            "profiles.p.base_memory_mib: must be a whole number, got \"2Gi\"");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_memory_mib = -1\n")),
            "profiles.p.base_memory_mib: must be between 0 and 4294967295, got -1");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_memory_mib = 4294967296\n")),
            "profiles.p.base_memory_mib: must be between 0 and 4294967295, got 4294967296");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\ndefault_workload_vcpus = 1.5\n")),
            "profiles.p.default_workload_vcpus: must be a whole number, got 1.5");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_vcpus = \"one\"\n")),
            "profiles.p.base_vcpus: must be a number, got \"one\"");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_vcpus = -1\n")),
            "profiles.p.base_vcpus: must be between 0 and 4096, got -1");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nbase_vcpus = nan\n")),
            "profiles.p.base_vcpus: must be a number, got nan");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nmode = \"Static\"\n")),
            "profiles.p.mode: must be \"static\" or \"dynamic\", got \"Static\"");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nmode = 1\n")),
            "profiles.p.mode: must be a string, got 1");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nshares_fallback = \"yes\"\n")),
            "profiles.p.shares_fallback: must be true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles.p]\nmemory_block_mib = 0\n")),
            "profiles.p.memory_block_mib: must be between 1 and 4294967295, got 0");
  EXPECT_EQ(ErrorOf(ParseProfileFile("profiles = 3\n")), "profiles: must be a table, got 3");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[profiles]\np = 3\n")), "profiles.p: must be a table, got 3");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[handlers]\nkata = 3\n")), "handlers.kata: must be a string, got 3");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[handlers]\nkata = \"aks-kata-265\"\n")),
            "handlers.kata: unknown profile \"aks-kata-265\" (neither in this file nor built in)");
  EXPECT_EQ(ErrorOf(ParseProfileFile("[runtime_class_aliases]\nx = \"\"\n")),
            "runtime_class_aliases.x: must not be empty");
  EXPECT_THAT(ErrorOf(ParseProfileFile("[profiles.p]\nbase_memory_mib = \n")),
              StartsWith("TOML syntax error at line 2, column "));
  EXPECT_THAT(ErrorOf(ParseProfileFile("[profiles.p]\nbase_memory_mib = 1\nbase_memory_mib = 2\n")),
              StartsWith("TOML syntax error at line 3, column "));
}

TEST(ProfileFile, ProfileFromTableUsesTheCallersKeyPath) {
  auto t = toml::parse("base_vcpus = 1\nbase_memory_mib = 300\nwhat = 1\n");
  EXPECT_EQ(ErrorOf(ProfileFromTable(t, "mine", "profiles.mine")), "profiles.mine.what: unknown key");
  t.erase("what");
  auto p = Must(ProfileFromTable(t, "mine", "profiles.mine"));
  EXPECT_EQ(p.name, "mine");
  EXPECT_EQ(p.base_memory_mib, 300u);
  EXPECT_EQ(ErrorOf(ProfileFromTable(t, "", "profiles.\"\"")),
            "profiles.\"\": a profile needs a non-empty name");
}

// ---- Kata configuration.toml ----

TEST(KataConfig, UpstreamClhIsDynamicWithOneVcpuAnd2GiB) {
  auto p = Must(ProfileFromKataConfig(Fixture("kata/configuration-clh.toml"), "node-kata", 8));
  EXPECT_EQ(p.name, "node-kata");
  EXPECT_FLOAT_EQ(p.base_vcpus, 1.0f);
  EXPECT_EQ(p.base_memory_mib, 2048u);
  EXPECT_EQ(p.mode, SizingMode::kDynamic);
  EXPECT_FALSE(p.sandbox_cgroup_only);
  EXPECT_EQ(p.max_vcpus, 8u);  // default_maxvcpus = 0: the host's CPUs
  EXPECT_EQ(p.max_memory_mib, 0u);
  EXPECT_EQ(p.default_workload_mem_mib, 0u);
  EXPECT_EQ(p.default_workload_vcpus, 0u);
  EXPECT_EQ(p.workload_mem_min_mib, 0u);
  EXPECT_TRUE(p.shares_fallback);
  EXPECT_THAT(p.description, HasSubstr("upstream"));
}

TEST(KataConfig, AksForkKeysGiveTheAks2025Profile) {
  auto p = Must(ProfileFromKataConfig(Fixture("kata/configuration-clh-aks.toml"), "node-kata", 4));
  EXPECT_FLOAT_EQ(p.base_vcpus, 0.0f);  // the fork's defaultVCPUCount is 0
  EXPECT_EQ(p.base_memory_mib, 0u);     // and its MinHypervisorMemory is 0
  EXPECT_EQ(p.mode, SizingMode::kStatic);
  EXPECT_TRUE(p.sandbox_cgroup_only);
  EXPECT_EQ(p.default_workload_mem_mib, 512u);
  EXPECT_EQ(p.default_workload_vcpus, 1u);
  EXPECT_EQ(p.workload_mem_min_mib, 0u);
  EXPECT_FALSE(p.shares_fallback);
  EXPECT_THAT(p.description, HasSubstr("Microsoft fork"));

  // The same numbers as the built-in aks-2025 profile.
  const Profile* builtin = FindBuiltinProfile("aks-2025");
  ASSERT_NE(builtin, nullptr);
  EXPECT_FLOAT_EQ(p.base_vcpus, builtin->base_vcpus);
  EXPECT_EQ(p.base_memory_mib, builtin->base_memory_mib);
  EXPECT_EQ(p.default_workload_mem_mib, builtin->default_workload_mem_mib);
  EXPECT_EQ(p.default_workload_vcpus, builtin->default_workload_vcpus);
  EXPECT_EQ(p.shares_fallback, builtin->shares_fallback);
}

TEST(KataConfig, ForkMemoryFloorAndMaxVcpus) {
  auto p = Must(ProfileFromKataConfig(Fixture("kata/configuration-clh-snp-aks-min128.toml"), "cc", 16));
  EXPECT_EQ(p.workload_mem_min_mib, 128u);
  EXPECT_EQ(p.max_vcpus, 8u);
  const Profile* builtin = FindBuiltinProfile("aks-2025-min128");
  ASSERT_NE(builtin, nullptr);
  EXPECT_EQ(p.workload_mem_min_mib, builtin->workload_mem_min_mib);
  EXPECT_EQ(p.default_workload_mem_mib, builtin->default_workload_mem_mib);
  // default_maxvcpus above the host's CPUs is the host's CPUs.
  EXPECT_EQ(
      Must(ProfileFromKataConfig(Fixture("kata/configuration-clh-snp-aks-min128.toml"), "cc", 4)).max_vcpus,
      4u);
}

TEST(KataConfig, HostCpusAndTheUpstreamMemoryFloor) {
  auto p = Must(ProfileFromKataConfig(Fixture("kata/configuration-qemu-host-cpus.toml"), "q", 12));
  EXPECT_FLOAT_EQ(p.base_vcpus, 12.0f);  // default_vcpus = -1
  EXPECT_EQ(p.base_memory_mib, 2048u);   // 128 < 256: upstream uses its 2048 MiB default
  EXPECT_EQ(p.max_memory_mib, 16384u);
  EXPECT_EQ(p.mode, SizingMode::kStatic);
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig(Fixture("kata/configuration-qemu-host-cpus.toml"), "q", 0)),
            "hypervisor.qemu.default_vcpus: -1 means all host CPUs, whose number is unknown");

  // More than the host has: the host's CPUs. Fractions are kept (float32 in Kata).
  EXPECT_FLOAT_EQ(Must(ProfileFromKataConfig("[hypervisor.clh]\ndefault_vcpus = 64\n", "x", 4)).base_vcpus,
                  4.0f);
  EXPECT_FLOAT_EQ(Must(ProfileFromKataConfig("[hypervisor.clh]\ndefault_vcpus = 0.5\n", "x", 4)).base_vcpus,
                  0.5f);
}

TEST(KataConfig, MissingKeysTakeKatasDefaultsForTheDetectedBuild) {
  auto up = Must(ProfileFromKataConfig("[hypervisor.clh]\n", "x", 4));
  EXPECT_FLOAT_EQ(up.base_vcpus, 1.0f);
  EXPECT_EQ(up.base_memory_mib, 2048u);
  EXPECT_EQ(up.mode, SizingMode::kDynamic);
  EXPECT_FALSE(up.sandbox_cgroup_only);

  auto fork = Must(ProfileFromKataConfig("[hypervisor.clh]\n", "x", 4, KataBuild::kMicrosoft));
  EXPECT_FLOAT_EQ(fork.base_vcpus, 0.0f);
  EXPECT_EQ(fork.base_memory_mib, 0u);

  // Forcing upstream on a file with fork keys: upstream ignores them.
  auto forced =
      Must(ProfileFromKataConfig(Fixture("kata/configuration-clh-aks.toml"), "x", 4, KataBuild::kUpstream));
  EXPECT_FLOAT_EQ(forced.base_vcpus, 1.0f);
  EXPECT_EQ(forced.base_memory_mib, 2048u);
  EXPECT_EQ(forced.default_workload_mem_mib, 0u);

  // Fractional default workload vCPUs round up to whole vCPUs.
  auto frac = Must(ProfileFromKataConfig(
      "[hypervisor.clh]\ndefault_vcpus = 1\n[runtime]\nstatic_sandbox_default_workload_vcpus = 1.5\n", "x",
      4));
  EXPECT_EQ(frac.default_workload_vcpus, 2u);
}

TEST(KataConfig, Errors) {
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[runtime]\n", "x", 4)),
            "hypervisor: missing: a Kata configuration has one [hypervisor.<name>] table");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[hypervisor]\n", "x", 4)),
            "hypervisor: has no [hypervisor.<name>] table");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[hypervisor.clh]\n[hypervisor.qemu]\n", "x", 4)),
            "hypervisor: has 2 tables (clh, qemu); Kata expects exactly one");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[hypervisor.clh]\ndefault_memory = \"2048\"\n", "x", 4)),
            "hypervisor.clh.default_memory: must be a whole number, got \"2048\"");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[hypervisor.clh]\ndefault_memory = -5\n", "x", 4)),
            "hypervisor.clh.default_memory: must be between 0 and 4294967295, got -5");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("[hypervisor.clh]\n[runtime]\nstatic_sandbox_resource_mgmt = 1\n",
                                          "x", 4)),
            "runtime.static_sandbox_resource_mgmt: must be true or false, got 1");
  EXPECT_EQ(ErrorOf(ProfileFromKataConfig("hypervisor = 1\n", "x", 4)), "hypervisor: must be a table, got 1");
  EXPECT_THAT(ErrorOf(ProfileFromKataConfig("[hypervisor.clh\n", "x", 4)),
              StartsWith("TOML syntax error at line 1"));
  // Keys that are not ours are Kata's business.
  EXPECT_TRUE(ProfileFromKataConfig("[hypervisor.clh]\nsomething_new = [1]\n[image]\nx = 1\n", "x", 4).ok());
}

// ---- containerd config.toml ----

TEST(Containerd, Version2) {
  auto rts = Must(ParseContainerdRuntimes(Fixture("containerd/config-v2.toml")));
  ASSERT_EQ(rts.size(), 3u);
  EXPECT_EQ(rts[0].handler, "kata");
  EXPECT_EQ(rts[0].runtime_type, "io.containerd.kata.v2");
  EXPECT_EQ(rts[0].config_path, "/usr/share/defaults/kata-containers/configuration.toml");
  EXPECT_TRUE(rts[0].is_kata());
  EXPECT_EQ(rts[1].handler, "kata-cc");
  EXPECT_EQ(rts[1].runtime_type, "io.containerd.kata-cc.v2");
  EXPECT_EQ(rts[1].config_path,
            "/opt/confidential-containers/share/defaults/kata-containers/configuration-clh-snp.toml");
  EXPECT_TRUE(rts[1].is_kata());
  EXPECT_EQ(rts[2].handler, "runc");
  EXPECT_EQ(rts[2].config_path, "");
  EXPECT_FALSE(rts[2].is_kata());
}

TEST(Containerd, Version3ReadsOnlyTheV3Path) {
  auto rts = Must(ParseContainerdRuntimes(Fixture("containerd/config-v3.toml")));
  ASSERT_EQ(rts.size(), 3u);
  EXPECT_EQ(rts[0].handler, "kata");
  EXPECT_EQ(rts[0].config_path, "");
  EXPECT_EQ(rts[1].handler, "kata-qemu");
  EXPECT_EQ(rts[1].runtime_type, "io.containerd.kata-qemu.v2");
  EXPECT_EQ(rts[1].config_path, "/opt/kata/share/defaults/kata-containers/configuration-qemu.toml");
  EXPECT_EQ(rts[2].handler, "runc");
}

TEST(Containerd, Version1AndEmptyConfigs) {
  auto rts = Must(ParseContainerdRuntimes(
      "[plugins.cri.containerd.runtimes.kata]\nruntime_type = \"io.containerd.kata.v2\"\n"));
  ASSERT_EQ(rts.size(), 1u);
  EXPECT_EQ(rts[0].handler, "kata");
  EXPECT_TRUE(Must(ParseContainerdRuntimes("")).empty());
  EXPECT_TRUE(
      Must(ParseContainerdRuntimes("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\n")).empty());
}

TEST(Containerd, Errors) {
  EXPECT_EQ(ErrorOf(ParseContainerdRuntimes("version = 4\n")),
            "version: unsupported containerd config version 4 (1, 2 or 3 are known)");
  EXPECT_EQ(ErrorOf(ParseContainerdRuntimes("version = \"2\"\n")),
            "version: must be a whole number, got \"2\"");
  EXPECT_EQ(
      ErrorOf(ParseContainerdRuntimes("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd."
                                      "runtimes.kata]\nruntime_type = 2\n")),
      "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata.runtime_type: must be a string, got 2");
  EXPECT_EQ(
      ErrorOf(ParseContainerdRuntimes("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd."
                                      "runtimes.kata.options]\nConfigPath = [\"/a\"]\n")),
      "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata.options.ConfigPath: must be a string, "
      "got an array");
  EXPECT_EQ(
      ErrorOf(ParseContainerdRuntimes("version = 3\n[plugins.\"io.containerd.cri.v1.runtime\".containerd]\n"
                                      "runtimes = 5\n")),
      "plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes: must be a table, got 5");
  EXPECT_THAT(ErrorOf(ParseContainerdRuntimes("version = = 2\n")),
              StartsWith("TOML syntax error at line 1, column "));
}

std::string FixtureText(const std::string& name) {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(KataAnnotationsConfig, KataTomlEnableAnnotationsBecomeTheProfilesPatterns) {
  // katautils/config.go: hypervisor.EnableAnnotations `toml:"enable_annotations"`.
  auto upstream = ProfileFromKataConfig(FixtureText("kata/configuration-clh.toml"), "node", 8);
  ASSERT_TRUE(upstream.ok()) << upstream.error().message;
  EXPECT_EQ(upstream->enabled_annotations,
            (std::vector<std::string>{"enable_iommu", "virtio_fs_extra_args", "kernel_params"}));
  EXPECT_EQ(upstream->min_hypervisor_memory_mib, 256u);  // virtcontainers MinHypervisorMemory
  auto fork = ProfileFromKataConfig(FixtureText("kata/configuration-clh-aks.toml"), "node", 8);
  ASSERT_TRUE(fork.ok()) << fork.error().message;
  EXPECT_EQ(fork->enabled_annotations, (std::vector<std::string>{"default_vcpus", "default_memory"}));
  EXPECT_EQ(fork->min_hypervisor_memory_mib, 0u);
  // Without the key nothing is enabled.
  auto none = ProfileFromKataConfig("[hypervisor.qemu]\ndefault_memory = 2048\n", "node", 8);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->enabled_annotations.empty());
}

TEST(KataAnnotationsConfig, BadPatternsAndTypesAreErrorsNamingTheKey) {
  auto bad_regex =
      ProfileFromKataConfig("[hypervisor.qemu]\nenable_annotations = [\"default_(vcpus\"]\n", "n", 8);
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.error().message,
            "hypervisor.qemu.enable_annotations: \"default_(vcpus\" is not a valid regular expression");
  auto not_strings = ProfileFromKataConfig("[hypervisor.qemu]\nenable_annotations = [1]\n", "n", 8);
  ASSERT_FALSE(not_strings.ok());
  EXPECT_EQ(not_strings.error().message, "hypervisor.qemu.enable_annotations[0]: must be a string, got 1");
  auto bad_glob = ParseProfileFile("[profiles.mine]\nforwarded_annotations = [\"io.katacontainers.[\"]\n");
  ASSERT_FALSE(bad_glob.ok());
  EXPECT_EQ(bad_glob.error().message,
            "profiles.mine.forwarded_annotations: \"io.katacontainers.[\" is not a valid glob pattern");
}

TEST(KataAnnotationsConfig, CustomProfilesCarryTheAnnotationKeys) {
  auto file = ParseProfileFile(
      "[profiles.mine]\nenabled_annotations = [\"default_vcpus\", \"default_memory\"]\n"
      "forwarded_annotations = [\"io.katacontainers.config.hypervisor.*\"]\nmin_hypervisor_memory_mib = "
      "128\n");
  ASSERT_TRUE(file.ok()) << file.error().message;
  ASSERT_EQ(file->profiles.size(), 1u);
  const Profile& p = file->profiles[0];
  EXPECT_EQ(p.enabled_annotations, (std::vector<std::string>{"default_vcpus", "default_memory"}));
  EXPECT_EQ(p.forwarded_annotations, (std::vector<std::string>{"io.katacontainers.config.hypervisor.*"}));
  EXPECT_EQ(p.min_hypervisor_memory_mib, 128u);
  // Omitted: nothing enabled, Kata's documented containerd setting forwarded.
  auto plain = ParseProfileFile("[profiles.plain]\nbase_memory_mib = 512\n");
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->profiles[0].enabled_annotations.empty());
  EXPECT_EQ(plain->profiles[0].forwarded_annotations, (std::vector<std::string>{"io.katacontainers.*"}));
}

TEST(KataAnnotationsConfig, ContainerdPodAnnotationsAreRead) {
  // containerd CRI runtime config `pod_annotations` (getPassthroughAnnotations); absent: none forwarded.
  auto rts = ParseContainerdRuntimes(
      "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n"
      "runtime_type = \"io.containerd.kata.v2\"\npod_annotations = [\"io.katacontainers.*\"]\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\nruntime_type = "
      "\"io.containerd.runc.v2\"\n");
  ASSERT_TRUE(rts.ok()) << rts.error().message;
  ASSERT_EQ(rts->size(), 2u);
  EXPECT_EQ((*rts)[0].pod_annotations, (std::vector<std::string>{"io.katacontainers.*"}));
  EXPECT_TRUE((*rts)[1].pod_annotations.empty());
}

}  // namespace
}  // namespace uvm::sizer::formats
