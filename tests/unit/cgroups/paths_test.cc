#include "cgroups/paths.h"

#include <gtest/gtest.h>

namespace uvm::cgroups {
namespace {

using namespace std::string_literals;

constexpr char kUid[] = "1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
constexpr char kSid[] = "4f2b8e3c1d9a7b6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e";

TEST(ResolvePodCgroupPaths, CgroupfsBurstable) {
  auto p = ResolvePodCgroupPaths(std::string("/kubepods/burstable/pod") + kUid, kSid);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->driver, CgroupDriver::kCgroupfs);
  EXPECT_EQ(p->pod, std::string("kubepods/burstable/pod") + kUid);
  EXPECT_EQ(p->sandbox, p->pod + "/" + kSid);
  EXPECT_EQ(p->kata_overhead, std::string("kata_overhead/") + kSid);
  EXPECT_EQ(p->pod_uid, kUid);
  EXPECT_EQ(p->systemd_unit, "");
}

TEST(ResolvePodCgroupPaths, CgroupfsGuaranteedHasNoQosLevel) {
  auto p = ResolvePodCgroupPaths(std::string("/kubepods/pod") + kUid, "");
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pod, std::string("kubepods/pod") + kUid);
  EXPECT_EQ(p->sandbox, "");
  EXPECT_EQ(p->kata_overhead, "");
}

TEST(ResolvePodCgroupPaths, CgroupfsUnderAKubeletCgroupRoot) {
  PathRules rules{.kubelet_cgroup_root = "/uvm-test-1/"};
  auto p = ResolvePodCgroupPaths(std::string("/uvm-test-1/kubepods/besteffort/pod") + kUid, "", rules);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->pod, std::string("uvm-test-1/kubepods/besteffort/pod") + kUid);
  auto outside = ResolvePodCgroupPaths(std::string("/kubepods/besteffort/pod") + kUid, "", rules);
  ASSERT_FALSE(outside);
  EXPECT_NE(outside.error().message.find("outside the kubepods subtree"), std::string::npos);
}

TEST(ResolvePodCgroupPaths, SystemdSliceIsExpandedAndTheScopeNamed) {
  std::string uid = "1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51";
  auto p = ResolvePodCgroupPaths("kubepods-burstable-pod" + uid + ".slice", kSid);
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_EQ(p->driver, CgroupDriver::kSystemd);
  EXPECT_EQ(p->pod, "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + uid + ".slice");
  EXPECT_EQ(p->sandbox, p->pod + "/cri-containerd-" + kSid + ".scope");
  EXPECT_EQ(p->systemd_unit, "kubepods-burstable-pod" + uid + ".slice");
  EXPECT_EQ(p->pod_uid, uid);
  auto guaranteed = ResolvePodCgroupPaths("kubepods-pod" + uid + ".slice", "");
  ASSERT_TRUE(guaranteed);
  EXPECT_EQ(guaranteed->pod, "kubepods.slice/kubepods-pod" + uid + ".slice");
}

TEST(ResolvePodCgroupPaths, PodUidRuleAcceptsTheSystemdSpelling) {
  PathRules rules{.pod_uid = kUid};
  EXPECT_TRUE(ResolvePodCgroupPaths("kubepods-pod1c9e5a7e_3f1b_4a3e_9a57_2a8c0d3e4f51.slice", "", rules));
  EXPECT_TRUE(ResolvePodCgroupPaths(std::string("/kubepods/pod") + kUid, "", rules));
}

TEST(ExpandSystemdSlice, SystemdRules) {
  EXPECT_EQ(*ExpandSystemdSlice("a-b-c.slice"), "a.slice/a-b.slice/a-b-c.slice");
  EXPECT_EQ(*ExpandSystemdSlice("kubepods.slice"), "kubepods.slice");
  EXPECT_EQ(*ExpandSystemdSlice("-.slice"), "");
  EXPECT_FALSE(ExpandSystemdSlice("a--b.slice"));
  EXPECT_FALSE(ExpandSystemdSlice("-a.slice"));
  EXPECT_FALSE(ExpandSystemdSlice("a-.slice"));
  EXPECT_FALSE(ExpandSystemdSlice("a.scope"));
  EXPECT_FALSE(ExpandSystemdSlice("a/b.slice"));
  std::string many;  // "a-a-a-...": every prefix repeats, ~15 KiB expanded
  for (int i = 0; i < 120; ++i) many += "a-";
  auto deep = ExpandSystemdSlice(many + "a.slice");
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("expands beyond 4096"), std::string::npos);
}

// Every hostile value is refused by the pure rules, each naming the rule it broke.
struct Hostile {
  std::string name;
  std::string parent;
  std::string sandbox;
  std::string rule;  // a piece of the message
  std::string pod_uid = "";
};

class HostileParent : public ::testing::TestWithParam<Hostile> {};

TEST_P(HostileParent, IsRefusedWithTheRule) {
  const Hostile& h = GetParam();
  PathRules rules{.pod_uid = h.pod_uid};
  auto p = ResolvePodCgroupPaths(h.parent, h.sandbox, rules);
  ASSERT_FALSE(p) << h.name << " was accepted as " << p->pod;
  EXPECT_NE(p.error().message.find("refused"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find(h.rule), std::string::npos) << p.error().message;
  EXPECT_EQ(p.error().code, ErrorCode::kInvalidInput);
}

const std::string kPod = std::string("/kubepods/burstable/pod") + kUid;

INSTANTIATE_TEST_SUITE_P(
    Rules, HostileParent,
    ::testing::Values(
        Hostile{"Empty", "", "", "empty"},
        Hostile{"DotDotEscape", "/kubepods/burstable/pod" + std::string(kUid) + "/../../../etc", "",
                "traversal"},
        Hostile{"DotDotToOtherPod",
                "/kubepods/burstable/../besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e", "", "traversal"},
        Hostile{"DotComponent", "/kubepods/./burstable/pod" + std::string(kUid), "", "traversal"},
        Hostile{"DoubleSlash", "/kubepods//burstable/pod" + std::string(kUid), "", "empty path component"},
        Hostile{"TrailingSlash", kPod + "/", "", "empty path component"},
        Hostile{"Nul", "/kubepods/burstable/pod\0/../../etc"s, "", "NUL"},
        Hostile{"Newline", kPod + "\n", "", "outside [A-Za-z0-9._-]"},
        Hostile{"Backslash", "/kubepods/burstable/pod\\..\\x", "", "outside"},
        Hostile{"Overlong", "/kubepods/burstable/pod" + std::string(600, 'a'), "", "longer than 512"},
        Hostile{"OverlongComponent", "/kubepods/" + std::string(300, 'a') + "/pod1", "", "longer than 255"},
        Hostile{"Relative", "kubepods/burstable/pod" + std::string(kUid), "", "neither an absolute"},
        Hostile{"OutsideKubepods", "/system.slice/pod1", "", "outside the kubepods subtree"},
        Hostile{"KubepodsItself", "/kubepods", "", "not a pod cgroup"},
        Hostile{"QosLevelOnly", "/kubepods/burstable", "", "not a pod cgroup"},
        Hostile{"NestedPods", kPod + "/pod0a0a", "", "not a pod cgroup"},
        Hostile{"BogusQos", "/kubepods/system/pod1", "", "not a pod cgroup"},
        Hostile{"OtherPodsPath", "/kubepods/besteffort/pod0a0a0a0a-0b0b-0c0c-0d0d-0e0e0e0e0e0e", "",
                "names another pod", kUid},
        Hostile{"OtherPodsSlice", "kubepods-besteffort-pod0a0a0a0a_0b0b_0c0c_0d0d_0e0e0e0e0e0e.slice", "",
                "names another pod", kUid},
        Hostile{"SandboxTraversal", kPod, "../../besteffort/pod0a0a", "sandbox id"},
        Hostile{"SandboxDotDot", kPod, "..", "sandbox id"}, Hostile{"SandboxNul", kPod, "ab\0cd"s, "NUL"},
        Hostile{"SandboxOverlong", kPod, std::string(200, 'a'), "longer than 128"},
        Hostile{"SliceOutsideKubepods", "system-pod1.slice", "", "outside the kubepods subtree"},
        Hostile{"SliceEmptyPart", "kubepods--pod1.slice", "", "empty part"},
        Hostile{"SliceWithSlash", "kubepods/../x.slice", "", "traversal"},
        Hostile{"SliceWithDashUid", "kubepods-pod1c9e5a7e-3f1b.slice", "", "not a pod slice"}),
    [](const ::testing::TestParamInfo<Hostile>& p) { return p.param.name; });

TEST(ValidateRelativeCgroupPath, Rules) {
  EXPECT_TRUE(ValidateRelativeCgroupPath("kubepods.slice/kubepods-pod1.slice"));
  EXPECT_FALSE(ValidateRelativeCgroupPath("/kubepods"));
  EXPECT_FALSE(ValidateRelativeCgroupPath("kubepods/../x"));
  EXPECT_FALSE(ValidateRelativeCgroupPath(""));
  EXPECT_FALSE(ValidateRelativeCgroupPath("a\0b"s));
}

}  // namespace
}  // namespace uvm::cgroups
