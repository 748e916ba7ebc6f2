// containerd's verbose sandbox info, parsed defensively: what the daemon sizes a pod from.
#include "kubelet-plugin/sandbox_info.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace uvm::cri {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kMib = 1024 * 1024;

std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/cri/" + name);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << name;
  return text.str();
}

SandboxInfo Parse(const std::string& json) {
  Result<SandboxInfo> info = ParseSandboxInfo(json);
  EXPECT_TRUE(info.ok()) << info.error().message;
  return info.ok() ? *info : SandboxInfo{};
}

// A 1.6-shaped document with `resources` as the config.linux.resources value.
std::string WithResources(const std::string& resources) {
  return R"({"config":{"linux":{"cgroup_parent":"/kubepods/pod1","resources":)" + resources + "}}}";
}

TEST(SandboxInfoTest, Containerd16Shape) {
  SandboxInfo info = Parse(Fixture("containerd-1.6-sandbox-info.json"));
  EXPECT_EQ(info.cgroup_parent, "/kubepods/burstable/pod0f6b2c1e-3d4a-4b5c-8d9e-0a1b2c3d4e5f");
  EXPECT_EQ(info.resources, (LinuxResources{100000, 150000, 1536, 512 * kMib}));
  EXPECT_EQ(info.overhead, (LinuxResources{100000, 25000, 256, 160 * kMib}));
  EXPECT_EQ(info.resources_source, "info.config.linux.resources");
  EXPECT_EQ(info.overhead_source, "info.config.linux.overhead");
  EXPECT_EQ(info.pid, 24832);
  EXPECT_EQ(info.process_status, "running");
  EXPECT_EQ(info.runtime_type, "io.containerd.kata-cc.v2");
  EXPECT_EQ(info.runtime_handler, "kata-cc");
  EXPECT_THAT(info.warnings, IsEmpty());
}

TEST(SandboxInfoTest, Containerd2TopLevelResourcesWinBecauseAResizeUpdatesOnlyThem) {
  SandboxInfo info = Parse(Fixture("containerd-2.x-sandbox-info.json"));
  EXPECT_EQ(info.resources, (LinuxResources{100000, 200000, 2048, 1024 * kMib}));
  EXPECT_EQ(info.overhead, (LinuxResources{100000, 50000, 512, 256 * kMib}));
  EXPECT_EQ(info.resources_source, "info.resources.linux");
  EXPECT_EQ(info.overhead_source, "info.overhead.linux");
  EXPECT_EQ(info.cgroup_parent, "kubepods-burstable-pod11111111_2222_4333_8444_555555555555.slice");
  // 2.x has no top-level runtimeHandler; the store metadata has it.
  EXPECT_EQ(info.runtime_handler, "kata");
  EXPECT_EQ(info.pid, 4711);
  EXPECT_THAT(info.warnings, IsEmpty());
}

TEST(SandboxInfoTest, Containerd2WithoutConfigUsesTheStoreMetadata) {
  SandboxInfo info = Parse(Fixture("containerd-2.x-metadata-only.json"));
  EXPECT_EQ(info.cgroup_parent, "/kubepods/besteffort/podaaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
  // Omitted keys are zero, as Go's omitempty writes them.
  EXPECT_EQ(info.resources, (LinuxResources{0, 0, 2, 0}));
  EXPECT_EQ(info.resources_source, "info.sandboxMetadata.Config.linux.resources");
  EXPECT_EQ(info.overhead, (LinuxResources{100000, 25000, 256, 160 * kMib}));
  EXPECT_EQ(info.runtime_handler, "kata-qemu");
  EXPECT_EQ(info.process_status, "stopped");
  EXPECT_EQ(info.pid, std::nullopt) << "pid 0 means no task";
  EXPECT_THAT(info.warnings, IsEmpty());
}

TEST(SandboxInfoTest, ResourcesFromTheOciSpecAnnotationsWhenNoConfigSaysThem) {
  SandboxInfo info = Parse(Fixture("runtime-spec-annotations-only.json"));
  EXPECT_EQ(info.resources, (LinuxResources{100000, 250000, 2560, 2048 * kMib}));
  EXPECT_EQ(info.resources_source, "info.runtimeSpec.annotations");
  EXPECT_EQ(info.overhead, std::nullopt) << "containerd never annotates the overhead";
  EXPECT_EQ(info.cgroup_parent, std::nullopt);
  EXPECT_THAT(info.warnings, IsEmpty());
}

TEST(SandboxInfoTest, NoResourcesAnywhereIsNoResourcesNotZeros) {
  SandboxInfo info = Parse(R"({"pid": 7, "config": {"linux": {"cgroup_parent": "/kubepods/pod1"}}})");
  EXPECT_EQ(info.resources, std::nullopt);
  EXPECT_EQ(info.overhead, std::nullopt);
  EXPECT_EQ(info.resources_source, "");
  EXPECT_EQ(info.cgroup_parent, "/kubepods/pod1");
}

TEST(SandboxInfoTest, MalformedJsonIsAnErrorNamingTheInput) {
  for (const char* text : {"", "{", "{\"pid\": 1,}", "nul", "{\"a\": \"\xff\xfe\"}", "{} trailing"}) {
    Result<SandboxInfo> info = ParseSandboxInfo(text);
    ASSERT_FALSE(info.ok()) << text;
    EXPECT_THAT(info.error().message, HasSubstr("sandbox info: not valid JSON")) << text;
  }
}

TEST(SandboxInfoTest, JsonThatIsNotAnObjectIsAnError) {
  for (const char* text : {"[]", "42", "\"info\"", "null", "true"}) {
    Result<SandboxInfo> info = ParseSandboxInfo(text);
    ASSERT_FALSE(info.ok()) << text;
    EXPECT_THAT(info.error().message, HasSubstr("expected a JSON object")) << text;
  }
}

TEST(SandboxInfoTest, DeepNestingAndHugeInputAreRefusedWithoutCrashing) {
  std::string deep(100000, '[');
  deep += std::string(100000, ']');
  EXPECT_FALSE(ParseSandboxInfo(deep).ok());
  std::string nested_object = R"({"config":)" + std::string(50000, '[') + std::string(50000, ']') + "}";
  SandboxInfo info = Parse(nested_object);
  EXPECT_EQ(info.resources, std::nullopt);
  std::string huge = "{\"x\":\"" + std::string(17 << 20, 'a') + "\"}";
  Result<SandboxInfo> big = ParseSandboxInfo(huge);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error().message, HasSubstr("more than"));
}

TEST(SandboxInfoTest, NegativeSizesAreIgnoredWithAWarningNamingPathAndValue) {
  SandboxInfo info = Parse(WithResources(R"({"cpu_shares": 1024, "memory_limit_in_bytes": -536870912})"));
  EXPECT_EQ(info.resources, std::nullopt);
  EXPECT_EQ(info.cgroup_parent, "/kubepods/pod1") << "the rest of the document is still used";
  EXPECT_THAT(info.warnings, ElementsAre(AllOf(HasSubstr("info.config.linux.resources.memory_limit_in_bytes"),
                                               HasSubstr("-536870912"), HasSubstr("ignored"))));
  for (const char* field : {"cpu_period", "cpu_shares"}) {
    SandboxInfo bad = Parse(WithResources(fmt::format(R"({{"{}": -1}})", field)));
    EXPECT_EQ(bad.resources, std::nullopt) << field;
  }
}

TEST(SandboxInfoTest, QuotaMinusOneIsTheCgroupSpellingOfUnlimited) {
  EXPECT_EQ(Parse(WithResources(R"({"cpu_quota": -1})")).resources, (LinuxResources{0, -1, 0, 0}));
  EXPECT_EQ(Parse(WithResources(R"({"cpu_quota": -2})")).resources, std::nullopt);
}

TEST(SandboxInfoTest, StringsFloatsBoolsAndNullsWhereIntegersBelongAreIgnored) {
  for (const char* value : {R"("536870912")", "5.36870912e8", "1.5", "true", "null", "[1]", "{}"}) {
    SandboxInfo info = Parse(WithResources(fmt::format(R"({{"memory_limit_in_bytes": {}}})", value)));
    EXPECT_EQ(info.resources, std::nullopt) << value;
    ASSERT_EQ(info.warnings.size(), 1u) << value;
    EXPECT_THAT(info.warnings[0], HasSubstr("expected an integer in int64 range")) << value;
  }
}

TEST(SandboxInfoTest, NumbersBeyondInt64AreIgnoredAndInt64MaxIsKept) {
  for (const char* value : {"9223372036854775808", "18446744073709551615", "1e30", "-9223372036854775809",
                            "123456789012345678901234567890"}) {
    SandboxInfo info = Parse(WithResources(fmt::format(R"({{"memory_limit_in_bytes": {}}})", value)));
    EXPECT_EQ(info.resources, std::nullopt) << value;
    EXPECT_THAT(info.warnings, ElementsAre(HasSubstr("memory_limit_in_bytes"))) << value;
  }
  SandboxInfo max = Parse(WithResources(R"({"memory_limit_in_bytes": 9223372036854775807})"));
  ASSERT_TRUE(max.resources.has_value());
  EXPECT_EQ(max.resources->memory_limit_in_bytes, INT64_MAX);
}

TEST(SandboxInfoTest, AnUnusableSourceFallsThroughToTheNextOne) {
  // A lying top-level block (2.x) does not hide the config the kubelet sent.
  SandboxInfo info = Parse(R"({"resources": {"linux": {"cpu_quota": "lots"}},
                               "config": {"linux": {"resources": {"cpu_quota": 50000}}}})");
  EXPECT_EQ(info.resources, (LinuxResources{0, 50000, 0, 0}));
  EXPECT_EQ(info.resources_source, "info.config.linux.resources");
  EXPECT_THAT(info.warnings, ElementsAre(HasSubstr("info.resources.linux.cpu_quota")));
}

TEST(SandboxInfoTest, WrongTypesForObjectsAndStringsAreWarnedAbout) {
  SandboxInfo info = Parse(R"({"config": {"linux": {"cgroup_parent": 12, "resources": [], "overhead": null}},
                               "pid": "123", "processStatus": 1, "runtimeType": null, "runtimeHandler": ["kata"]})");
  EXPECT_EQ(info.cgroup_parent, std::nullopt);
  EXPECT_EQ(info.resources, std::nullopt);
  EXPECT_EQ(info.overhead, std::nullopt);
  EXPECT_EQ(info.pid, std::nullopt);
  EXPECT_EQ(info.process_status, std::nullopt);
  EXPECT_EQ(info.runtime_type, std::nullopt);
  EXPECT_EQ(info.runtime_handler, std::nullopt);
  EXPECT_THAT(info.warnings,
              ElementsAre(HasSubstr("info.config.linux.resources: expected an object"),
                          HasSubstr("info.config.linux.cgroup_parent: expected a string, got 12"),
                          HasSubstr("info.pid: expected a uint32"), HasSubstr("info.processStatus"),
                          HasSubstr("info.runtimeHandler")));
}

TEST(SandboxInfoTest, PidOutsideUint32IsIgnored) {
  for (const char* pid : {"-5", "4294967296", "1.0"}) {
    SandboxInfo info = Parse(fmt::format(R"({{"pid": {}}})", pid));
    EXPECT_EQ(info.pid, std::nullopt) << pid;
    EXPECT_THAT(info.warnings, ElementsAre(HasSubstr("info.pid"))) << pid;
  }
  EXPECT_EQ(Parse(R"({"pid": 4294967295})").pid, 4294967295);
}

TEST(SandboxInfoTest, LongValuesAreCutInWarnings) {
  SandboxInfo info = Parse(WithResources(R"({"cpu_quota": ")" + std::string(10000, 'x') + R"("})"));
  ASSERT_EQ(info.warnings.size(), 1u);
  EXPECT_LT(info.warnings[0].size(), 300u);
}

TEST(AnnotationsTest, ContainerdSandboxAnnotationsGiveTheResources) {
  std::vector<std::string> warnings;
  auto r = ResourcesFromAnnotations({{"io.kubernetes.cri.sandbox-cpu-period", "100000"},
                                     {"io.kubernetes.cri.sandbox-cpu-quota", "150000"},
                                     {"io.kubernetes.cri.sandbox-cpu-shares", "1536"},
                                     {"io.kubernetes.cri.sandbox-memory", "536870912"},
                                     {"unrelated", "x"}},
                                    "annotations", &warnings);
  EXPECT_EQ(r, (LinuxResources{100000, 150000, 1536, 512 * kMib}));
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(AnnotationsTest, NoneOfTheKeysIsNoResources) {
  std::vector<std::string> warnings;
  EXPECT_EQ(ResourcesFromAnnotations({{"io.kubernetes.cri.sandbox-id", "abc"}}, "annotations", &warnings),
            std::nullopt);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(AnnotationsTest, APartialSetLeavesTheMissingOnesZero) {
  auto r =
      ResourcesFromAnnotations({{"io.kubernetes.cri.sandbox-memory", "1073741824"}}, "annotations", nullptr);
  EXPECT_EQ(r, (LinuxResources{0, 0, 0, 1024 * kMib}));
}

TEST(AnnotationsTest, AMalformedValueDropsTheSetWithAWarningNamingKeyAndValue) {
  for (const char* value : {"", "abc", " 5", "5 ", "+5", "0x10", "5.0", "-1", "99999999999999999999"}) {
    std::vector<std::string> warnings;
    auto r = ResourcesFromAnnotations(
        {{"io.kubernetes.cri.sandbox-cpu-period", "100000"}, {"io.kubernetes.cri.sandbox-memory", value}},
        "annotations", &warnings);
    EXPECT_EQ(r, std::nullopt) << '"' << value << '"';
    ASSERT_EQ(warnings.size(), 1u) << '"' << value << '"';
    EXPECT_THAT(warnings[0], AllOf(HasSubstr("annotations[io.kubernetes.cri.sandbox-memory]"),
                                   HasSubstr(fmt::format("\"{}\"", value))));
  }
}

TEST(ApplyVerboseInfoTest, FillsTheDetailFromInfo) {
  SandboxDetail detail;
  detail.summary.runtime_handler = "kata-cc";
  ApplyVerboseInfo({{"info", Fixture("containerd-1.6-sandbox-info.json")}}, detail);
  EXPECT_EQ(detail.cgroup_parent, "/kubepods/burstable/pod0f6b2c1e-3d4a-4b5c-8d9e-0a1b2c3d4e5f");
  EXPECT_EQ(detail.resources, (LinuxResources{100000, 150000, 1536, 512 * kMib}));
  EXPECT_EQ(detail.overhead, (LinuxResources{100000, 25000, 256, 160 * kMib}));
  EXPECT_EQ(detail.pid, 24832);
  EXPECT_EQ(detail.process_status, "running");
  EXPECT_EQ(detail.runtime_type, "io.containerd.kata-cc.v2");
  EXPECT_THAT(detail.warnings, IsEmpty());
}

TEST(ApplyVerboseInfoTest, TheStatusHandlerWinsOverTheInfoOne) {
  SandboxDetail detail;
  detail.summary.runtime_handler = "kata";
  ApplyVerboseInfo({{"info", Fixture("containerd-1.6-sandbox-info.json")}}, detail);
  EXPECT_EQ(detail.summary.runtime_handler, "kata");
  SandboxDetail empty;
  ApplyVerboseInfo({{"info", Fixture("containerd-1.6-sandbox-info.json")}}, empty);
  EXPECT_EQ(empty.summary.runtime_handler, "kata-cc");
}

TEST(ApplyVerboseInfoTest, WithoutVerboseInfoTheSandboxAnnotationsAreTheFallback) {
  SandboxDetail detail;
  detail.summary.annotations = {{"io.kubernetes.cri.sandbox-cpu-period", "100000"},
                                {"io.kubernetes.cri.sandbox-cpu-quota", "50000"},
                                {"io.kubernetes.cri.sandbox-cpu-shares", "512"},
                                {"io.kubernetes.cri.sandbox-memory", "268435456"}};
  ApplyVerboseInfo({}, detail);
  EXPECT_EQ(detail.resources, (LinuxResources{100000, 50000, 512, 256 * kMib}));
  EXPECT_EQ(detail.resources_source, "annotations");
  EXPECT_EQ(detail.overhead, std::nullopt);
  EXPECT_EQ(detail.cgroup_parent, "");
  EXPECT_THAT(detail.warnings, IsEmpty());
}

TEST(ApplyVerboseInfoTest, BrokenInfoIsAWarningAndTheAnnotationsStillCount) {
  SandboxDetail detail;
  detail.summary.annotations = {{"io.kubernetes.cri.sandbox-memory", "268435456"}};
  ApplyVerboseInfo({{"info", "{not json"}}, detail);
  EXPECT_EQ(detail.resources, (LinuxResources{0, 0, 0, 256 * kMib}));
  EXPECT_EQ(detail.resources_source, "annotations");
  EXPECT_THAT(detail.warnings, ElementsAre(HasSubstr("not valid JSON")));
}

TEST(ApplyVerboseInfoTest, InfoResourcesWinOverAnnotations) {
  SandboxDetail detail;
  detail.summary.annotations = {{"io.kubernetes.cri.sandbox-memory", "1"}};
  ApplyVerboseInfo({{"info", WithResources(R"({"memory_limit_in_bytes": 2})")}}, detail);
  EXPECT_EQ(detail.resources, (LinuxResources{0, 0, 0, 2}));
  EXPECT_EQ(detail.resources_source, "info.config.linux.resources");
}

}  // namespace
}  // namespace uvm::cri
