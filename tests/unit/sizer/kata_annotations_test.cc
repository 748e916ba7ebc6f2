#include "sizer/kata_annotations.h"

#include <gtest/gtest.h>

#include "sizer/size_pod.h"
#include "tests/unit/sizer/sizing_test_util.h"

namespace uvm::sizer {
namespace {

using testing::Make;

Profile WithEnabled(const char* base, std::vector<std::string> enabled) {
  Profile p = *FindBuiltinProfile(base);
  p.enabled_annotations = std::move(enabled);
  return p;
}

TEST(KataAnnotations, KatasOwnVcpuAllocationTestExpectations) {
  // kata-containers tests/integration/kubernetes/k8s-sandbox-vcpus-allocation.bats expects `nproc` to print
  // 1, 1, 2 for the three pods of runtimeclass_workloads/pod-sandbox-vcpus-allocation.yaml.
  struct Case {
    const char* pod;
    const char* default_vcpus;
    const char* cpu_limit;
    uint32_t vcpus;
  };
  const Case cases[] = {
      {"vcpus-less-than-one-with-no-limits", "0", nullptr, 1},
      {"vcpus-less-than-one-with-limits", "0.75", "0.25", 1},
      {"vcpus-more-than-one-with-limits", "0.75", "1.2", 2},
  };
  for (const char* base : {"upstream-static", "upstream-dynamic"}) {
    SizingContext ctx;
    ctx.catalog.Put(WithEnabled(base, {"default_vcpus"}));
    ctx.profile_override = base;
    ctx.host_cpus = 4;
    for (const auto& c : cases) {
      Pod pod;
      pod.ref.name = c.pod;
      pod.spec.runtime_class_name = "kata";
      pod.spec.containers = {Make(c.pod, c.cpu_limit, "128Mi")};
      pod.annotations["io.katacontainers.config.hypervisor.default_vcpus"] = c.default_vcpus;
      auto sized = SizePod(pod, ctx);
      ASSERT_TRUE(sized.ok()) << sized.error().message;
      ASSERT_TRUE(sized->uvm.has_value()) << base << " " << c.pod << ": " << sized->refusal.value_or("");
      EXPECT_EQ(sized->uvm->vcpus, c.vcpus) << base << " " << c.pod;
    }
  }
}

TEST(KataAnnotations, HypervisorAnnotationNotEnabledFailsTheSandbox) {
  // kata src/runtime/pkg/oci/utils.go addAnnotations: "annotation %v is not enabled".
  Annotations a{{"io.katacontainers.config.hypervisor.default_memory", "4096"}};
  AnnotatedProfile r = ApplyKataAnnotations(*FindBuiltinProfile("upstream-static"), a, 8);
  EXPECT_EQ(r.refusal.value_or(""),
            "annotation io.katacontainers.config.hypervisor.default_memory is not enabled");
  EXPECT_EQ(r.profile.base_memory_mib, 2048u);
}

TEST(KataAnnotations, AKeyLongerThanKubernetesAllowsIsRefusedBeforeAnyPatternSeesIt) {
  // A lying CRI peer or a hand-written manifest: a 1 MiB key would send std::regex's backtracking deep
  // enough to overflow the stack under a `.*` pattern; the API server never admits more than 317 bytes.
  Profile p = *FindBuiltinProfile("upstream-static");
  p.enabled_annotations = {".*"};
  std::string key = std::string(kKataHypervisorAnnotationPrefix) + std::string(1 << 20, 'a');
  AnnotatedProfile r = ApplyKataAnnotations(p, Annotations{{key, "2"}}, 8);
  ASSERT_TRUE(r.refusal.has_value());
  EXPECT_NE(r.refusal->find("1048612 bytes, longer than Kubernetes allows (317)"), std::string::npos)
      << *r.refusal;
  std::string longest = std::string(kKataHypervisorAnnotationPrefix) + std::string(317 - 36, 'a');
  EXPECT_FALSE(ApplyKataAnnotations(p, Annotations{{longest, "2"}}, 8).refusal.has_value());
}

TEST(KataAnnotations, EnabledPatternsAreUnanchoredRegularExpressions) {
  // checkAnnotationNameIsValid -> regexpContains -> regexp.MatchString: a match anywhere in the suffix.
  struct Case {
    const char* pattern;
    bool applies;
  };
  for (Case c :
       {Case{"default_memory", true}, Case{".*", true}, Case{"memory", true}, Case{"^memory$", false},
        Case{"default_vcpus", false}, Case{"default_(vcpus|memory)", true}}) {
    Annotations a{{"io.katacontainers.config.hypervisor.default_memory", "4096"}};
    AnnotatedProfile r = ApplyKataAnnotations(WithEnabled("upstream-static", {c.pattern}), a, 8);
    EXPECT_EQ(!r.refusal.has_value(), c.applies) << c.pattern;
    EXPECT_EQ(r.profile.base_memory_mib, c.applies ? 4096u : 2048u) << c.pattern;
  }
}

TEST(KataAnnotations, ValuesAreCheckedAsKataChecksThem) {
  // oci/utils.go addHypervisorCPUOverrides / addHypervisorMemoryOverrides and their error strings.
  const std::string kVcpus(kKataDefaultVcpusAnnotation);
  const std::string kMemory(kKataDefaultMemoryAnnotation);
  const std::string kMax(kKataDefaultMaxVcpusAnnotation);
  struct Case {
    std::string key;
    const char* value;
    std::string refusal;  // empty: accepted
  };
  const std::vector<Case> cases = {
      {kVcpus, "2.5", ""},
      {kVcpus, "+1", ""},
      {kVcpus, "-1", "Error parsing annotation for " + kVcpus + ": Please specify positive numeric value"},
      {kVcpus, "two", "Error parsing annotation for " + kVcpus + ": Please specify positive numeric value"},
      {kVcpus, "1e39", "Error parsing annotation for " + kVcpus + ": Please specify positive numeric value"},
      {kVcpus, "9",
       "Number of cpus 9.000000 specified in annotation default_vcpus is greater than the number of CPUs 8 "
       "on "
       "the system"},
      {kMemory, "256", ""},
      {kMemory, "255",
       "Memory specified in annotation " + kMemory +
           " is less than minimum required 256, please specify a larger value"},
      {kMemory, "-512",
       "Error parsing annotation for " + kMemory + ": Please specify positive numeric value"},
      {kMax, "4", ""},
      {kMax, "16",
       "Number of cpus 16 in annotation default_maxvcpus is greater than the number of CPUs 8 on the system"},
  };
  for (const auto& c : cases) {
    AnnotatedProfile r =
        ApplyKataAnnotations(WithEnabled("upstream-dynamic", {".*"}), Annotations{{c.key, c.value}}, 8);
    EXPECT_EQ(r.refusal.value_or(""), c.refusal) << c.key << "=" << c.value;
  }
  AnnotatedProfile vcpus =
      ApplyKataAnnotations(WithEnabled("upstream-dynamic", {".*"}), Annotations{{kVcpus, "2.5"}}, 8);
  EXPECT_EQ(vcpus.profile.base_vcpus, 2.5f);
  AnnotatedProfile max =
      ApplyKataAnnotations(WithEnabled("upstream-dynamic", {".*"}), Annotations{{kMax, "4"}}, 8);
  EXPECT_EQ(max.profile.max_vcpus, 4u);
  // The Microsoft fork sets MinHypervisorMemory to 0: the AKS profiles accept a small base.
  AnnotatedProfile fork =
      ApplyKataAnnotations(WithEnabled("aks-2025", {".*"}), Annotations{{kMemory, "0"}}, 8);
  EXPECT_FALSE(fork.refusal.has_value());
}

TEST(KataAnnotations, OnlyForwardedAnnotationsReachKata) {
  // containerd getPassthroughAnnotations: path.Match(pattern, key) over the runtime's pod_annotations.
  Profile p = WithEnabled("upstream-static", {".*"});
  Annotations a{{"io.katacontainers.config.hypervisor.default_memory", "4096"}};
  p.forwarded_annotations = {};
  EXPECT_EQ(ApplyKataAnnotations(p, a, 8).profile.base_memory_mib, 2048u);
  p.forwarded_annotations = {"io.katacontainers.config.hypervisor.default_*"};
  EXPECT_EQ(ApplyKataAnnotations(p, a, 8).profile.base_memory_mib, 4096u);
  // An annotation containerd does not forward cannot make Kata refuse the pod either.
  p.enabled_annotations = {};
  p.forwarded_annotations = {"io.katacontainers.config.runtime.*"};
  EXPECT_FALSE(ApplyKataAnnotations(p, a, 8).refusal.has_value());
}

TEST(KataAnnotations, SandboxCgroupOnlyNeedsNoEnabling) {
  // Only the hypervisor prefix is checked against enable_annotations (checkAnnotationNameIsValid);
  // addRuntimeConfigOverrides parses sandbox_cgroup_only with strconv.ParseBool.
  Profile p = *FindBuiltinProfile("aks-kata-256");
  ASSERT_TRUE(p.enabled_annotations.empty());
  std::string key(kKataSandboxCgroupOnlyAnnotation);
  EXPECT_FALSE(ApplyKataAnnotations(p, Annotations{{key, "false"}}, 0).profile.sandbox_cgroup_only);
  EXPECT_FALSE(ApplyKataAnnotations(p, Annotations{{key, "F"}}, 0).profile.sandbox_cgroup_only);
  EXPECT_EQ(ApplyKataAnnotations(p, Annotations{{key, "no"}}, 0).refusal.value_or(""),
            "Error parsing annotation for " + key + ": Please specify boolean value 'true|false'");
}

TEST(KataAnnotations, GlobMatchIsGosPathMatch) {
  EXPECT_EQ(GlobMatch("io.katacontainers.*", "io.katacontainers.config.hypervisor.default_vcpus"), true);
  EXPECT_EQ(GlobMatch("*", "example.com/team"), false);  // `*` stops at '/'
  EXPECT_EQ(GlobMatch("a?c", "abc"), true);
  EXPECT_EQ(GlobMatch("[a-c]x", "bx"), true);
  EXPECT_EQ(GlobMatch("[^a-c]x", "bx"), false);
  EXPECT_EQ(GlobMatch("a\\*", "a*"), true);
  EXPECT_EQ(GlobMatch("[a-", "a"), std::nullopt);  // ErrBadPattern
}

TEST(KataAnnotations, PatternsThatDoNotCompileAreRefusedAtLoad) {
  Profile p = *FindBuiltinProfile("upstream-static");
  p.enabled_annotations = {"default_(vcpus"};
  auto st = ValidateAnnotationPatterns(p, "hypervisor.qemu.enable_annotations", "forwarded_annotations");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "hypervisor.qemu.enable_annotations: \"default_(vcpus\" is not a valid regular expression");
  // And sizing with such a hand-built profile matches nothing, as Kata does, instead of throwing.
  EXPECT_TRUE(ApplyKataAnnotations(p, Annotations{{std::string(kKataDefaultVcpusAnnotation), "2"}}, 8)
                  .refusal.has_value());
}

}  // namespace
}  // namespace uvm::sizer
