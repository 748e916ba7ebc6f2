// sizer/formats/size_report: several inputs, totals, CSV quoting, on reports built in the test.
#include "sizer/formats/size_report.h"

#include <gtest/gtest.h>

#include <limits>

#include "tests/unit/cli/cli_support.h"

namespace uvm::sizer::formats {
namespace {

PodSizing VmPod(std::string name, std::string handler, uint32_t vcpus, uint32_t mib, int64_t host,
                int64_t shortfall) {
  PodSizing s;
  s.ref = {.kind = "Pod", .namespace_ = "default", .name = std::move(name), .document = 1};
  s.handler = std::move(handler);
  s.profile = "aks-kata-256";
  s.uvm = UvmSize{.vcpus = vcpus, .memory_mib = mib};
  s.host_memory_bytes = host;
  s.overhead.shortfall_bytes = shortfall;
  return s;
}

TEST(SizeTotals, PerHandlerAndOverallCountingOnlyWhatIsInAVm) {
  SizeReport report;
  report.pods.push_back(VmPod("a", "kata", 2, 1280, 1400LL << 20, 10));
  report.pods.push_back(VmPod("b", "kata-cc", 3, 6144, 6300LL << 20, 0));
  report.pods.push_back(VmPod("c", "kata", 1, 768, 850LL << 20, 5));
  PodSizing runc;
  runc.ref.name = "runc";
  report.pods.push_back(runc);
  PodSizing refused = VmPod("r", "kata", 0, 0, 0, 0);
  refused.uvm.reset();
  refused.host_memory_bytes.reset();
  refused.refusal = "pod memory limit too low";
  report.pods.push_back(refused);

  auto t = Totals(report);
  EXPECT_EQ(t.all.pods, 5);
  EXPECT_EQ(t.all.vm_pods, 3);
  EXPECT_EQ(t.all.refused_pods, 1);
  EXPECT_EQ(t.all.uvm_vcpus, 6);
  EXPECT_EQ(t.all.uvm_memory_mib, 1280 + 6144 + 768);
  EXPECT_EQ(t.all.host_memory_bytes, (1400LL + 6300 + 850) << 20);
  EXPECT_EQ(t.all.overhead_shortfall_bytes, 15);
  ASSERT_EQ(t.by_handler.size(), 3u);
  EXPECT_EQ(t.by_handler[0].handler, "");
  EXPECT_EQ(t.by_handler[0].totals.pods, 1);
  EXPECT_EQ(t.by_handler[0].totals.vm_pods, 0);
  EXPECT_EQ(t.by_handler[1].handler, "kata");
  EXPECT_EQ(t.by_handler[1].totals.pods, 3);
  EXPECT_EQ(t.by_handler[1].totals.refused_pods, 1);
  EXPECT_EQ(t.by_handler[1].totals.uvm_memory_mib, 1280 + 768);
  EXPECT_EQ(t.by_handler[2].handler, "kata-cc");

  auto j = nlohmann::json::parse(SizeReportJson(report));
  EXPECT_EQ(j["totals"]["pods"], 5);
  EXPECT_EQ(j["totals"]["overhead_shortfall_bytes"], 15);
  EXPECT_TRUE(j["totals"]["by_handler"][0]["handler"].is_null());
  EXPECT_EQ(j["totals"]["by_handler"][1]["handler"], "kata");
  EXPECT_EQ(j["totals"]["by_handler"][1]["uvm_vcpus"], 3);
}

TEST(SizeTotals, SaturateInsteadOfWrapping) {
  SizeReport report;
  const int64_t max = std::numeric_limits<int64_t>::max();
  report.pods.push_back(VmPod("a", "kata", 1, 1, max - 5, max));
  report.pods.push_back(VmPod("b", "kata", 1, 1, 10, 1));
  auto t = Totals(report);
  EXPECT_EQ(t.all.host_memory_bytes, max);
  EXPECT_EQ(t.all.overhead_shortfall_bytes, max);
}

TEST(SizeReportCsv, HeaderRowsQuotingAndFormulaGuard) {
  SizeReport report;
  PodSizing s = VmPod("=cmd|' /C calc'!A0", "kata", 2, 1280, 1400LL << 20, 0);
  s.ref.source = "dir/a,b.yaml";
  s.ref.node_name = "node-1";
  s.ref.document = 3;
  s.warnings = {"first \"quoted\"", "second\nline"};
  report.pods.push_back(s);
  PodSizing runc;
  runc.ref = {.kind = "Pod", .namespace_ = "+1", .name = "plain", .document = 1};
  report.pods.push_back(runc);
  std::string csv = SizeReportCsv(report);
  auto records = cli_test::ParseCsv(csv);
  ASSERT_EQ(records.size(), 3u) << csv;
  const auto& header = records[0];
  ASSERT_EQ(header.size(), CsvColumns().size());
  for (size_t i = 0; i < header.size(); ++i) EXPECT_EQ(header[i], CsvColumns()[i]);
  // The columns the README documents, in this order.
  std::vector<std::string> want = {"source",
                                   "document",
                                   "kind",
                                   "namespace",
                                   "name",
                                   "node",
                                   "handler",
                                   "profile",
                                   "vm_isolated",
                                   "qos_class",
                                   "uvm_vcpus",
                                   "uvm_memory_mib",
                                   "host_memory_bytes",
                                   "pod_cgroup_memory_limit_bytes",
                                   "pod_cgroup_cpu_quota_us",
                                   "overhead_required_memory_bytes",
                                   "overhead_declared_memory_bytes",
                                   "overhead_shortfall_bytes",
                                   "overhead_required_cpu_millis",
                                   "overhead_declared_cpu_millis",
                                   "error",
                                   "warnings"};
  EXPECT_EQ(header, want);
  const auto& vm = records[1];
  EXPECT_EQ(vm[0], "dir/a,b.yaml");
  EXPECT_EQ(vm[1], "3");
  EXPECT_EQ(vm[4], "'=cmd|' /C calc'!A0");
  EXPECT_EQ(vm[5], "node-1");
  EXPECT_EQ(vm[8], "true");
  EXPECT_EQ(vm[10], "2");
  EXPECT_EQ(vm[11], "1280");
  EXPECT_EQ(vm[12], std::to_string(1400LL << 20));
  EXPECT_EQ(vm[13], "");  // unlimited pod cgroup: null is an empty field
  EXPECT_EQ(vm[21], "first \"quoted\"; second\nline");
  const auto& plain = records[2];
  EXPECT_EQ(plain[3], "'+1");
  EXPECT_EQ(plain[6], "");
  EXPECT_EQ(plain[8], "false");
  EXPECT_EQ(plain[10], "");
  // Fields without specials are bare; the quoted one is quoted exactly once.
  EXPECT_NE(csv.find("\r\n,1,Pod,'+1,plain,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("\"dir/a,b.yaml\",3,"), std::string::npos) << csv;
}

TEST(SizeManifests, OneStreamPerInputRuntimeClassesAcrossThemAndConflictsWarned) {
  std::string pods =
      "kind: Pod\nmetadata: {name: p}\nspec: {runtimeClassName: rc, containers: [{name: c}]}\n";
  std::string rc1 =
      "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: rc}\nhandler: kata-cc\n";
  std::string rc2 = "apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: rc}\nhandler: runc\n";
  std::vector<NamedInput> inputs = {{"pods.yaml", pods}, {"-", rc1}, {"other.yaml", rc2}};
  auto report = SizeManifests(inputs, SizingContext{});
  ASSERT_TRUE(report.ok()) << report.error().message;
  ASSERT_EQ(report->pods.size(), 1u);
  EXPECT_EQ(report->pods[0].handler, "kata-cc");
  EXPECT_EQ(report->pods[0].ref.source, "pods.yaml");
  ASSERT_EQ(report->warnings.size(), 1u);
  EXPECT_EQ(
      report->warnings[0],
      "RuntimeClass \"rc\" in other.yaml differs from the one read first (from <stdin>): the first is used");

  // The single-text form the daemon calls: no source, unprefixed errors.
  auto single = SizeManifest(pods + "---\n" + rc1, SizingContext{});
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(single->pods[0].handler, "kata-cc");
  EXPECT_EQ(single->pods[0].ref.source, "");
  EXPECT_TRUE(nlohmann::json::parse(SizeReportJson(*single))["pods"][0]["source"].is_null());
  auto bad = SizeManifest("kind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n", SizingContext{});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("document 1", 0), 0u) << bad.error().message;
  std::vector<NamedInput> named = {{"-", "kind: Pod\nmetadata: {name: x}\nspec: {containers: []}\n"}};
  auto bad_named = SizeManifests(named, SizingContext{});
  ASSERT_FALSE(bad_named.ok());
  EXPECT_EQ(bad_named.error().message.rfind("<stdin>: document 1", 0), 0u) << bad_named.error().message;
}

}  // namespace
}  // namespace uvm::sizer::formats
