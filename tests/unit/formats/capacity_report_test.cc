#include "sizer/formats/capacity_report.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace uvm::sizer::formats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMi = int64_t{1} << 20;

LedgerPod VmPod(int64_t request_mi, int64_t overhead_mi, int64_t uvm_mi, int64_t vmm_mi) {
  return LedgerPod{.vm_isolated = true,
                   .memory_request_bytes = request_mi * kMi,
                   .cpu_request_millis = 100,
                   .overhead_memory_bytes = overhead_mi * kMi,
                   .uvm_memory_bytes = uvm_mi * kMi,
                   .host_overhead_model_bytes = vmm_mi * kMi};
}

// One node whose name tries to break out of every format.
CapacityReport HostileReport() {
  const std::string name = "=HYPERLINK(\"x\")',\x1b[2J\nsystem('id')";
  std::vector<LedgerPod> pods = {VmPod(256, 600, 2304, 96),
                                 LedgerPod{.memory_request_bytes = 64 * kMi, .cpu_request_millis = 100}};
  std::vector<Shape> shapes = {{.name = "web", .pod = VmPod(256, 600, 2304, 96)}};
  CapacityReport report;
  report.nodes.push_back(NodeReport{
      .ledger = BuildNodeLedger(
          name, NodeAllocatable{.memory_bytes = 8192 * kMi, .cpu_millis = 2000, .pods = 110}, pods, shapes),
      .breakdown = BreakdownOf(pods)});
  report.shapes.push_back({.name = "web", .source = "web.yaml", .object = {}, .pod = shapes[0].pod});
  Summarize(report);
  return report;
}

TEST(CapacityReport, BreakdownSumsToEachViewsCommittedMemory) {
  CapacityReport report = HostileReport();
  const MemoryBreakdown& b = report.nodes[0].breakdown;
  EXPECT_EQ(b.scheduler_requests_bytes, (256 + 64) * kMi);
  EXPECT_EQ(b.scheduler_overhead_bytes, 600 * kMi);
  EXPECT_EQ(b.host_uvm_bytes, 2304 * kMi);
  EXPECT_EQ(b.host_vmm_overhead_bytes, 96 * kMi);
  EXPECT_EQ(b.host_other_pods_bytes, 64 * kMi);
  EXPECT_EQ(b.scheduler_requests_bytes + b.scheduler_overhead_bytes,
            report.nodes[0].ledger.scheduler.committed_memory_bytes);
  EXPECT_EQ(b.host_uvm_bytes + b.host_vmm_overhead_bytes + b.host_other_pods_bytes,
            report.nodes[0].ledger.host.committed_memory_bytes);
  EXPECT_EQ(report.cluster_breakdown.host_uvm_bytes, b.host_uvm_bytes);
}

TEST(CapacityReport, CsvGuardsFormulasAndQuotesFields) {
  std::string csv = CapacityReportCsv(HostileReport());
  // The name starts with `=`: prefixed with a quote; it holds a comma, quotes and a newline: quoted, quotes
  // doubled.
  EXPECT_THAT(csv, HasSubstr("node,\"'=HYPERLINK(\"\"x\"\")',\x1b[2J\nsystem('id')\",2,1,"));
  EXPECT_THAT(csv, HasSubstr("\r\ncluster,,2,1,"));
}

TEST(CapacityReportText, EscapesControlBytesInNames) {
  std::string text = CapacityReportText(HostileReport());
  EXPECT_THAT(text, HasSubstr("=HYPERLINK(\"x\")',\\x1b[2J\\x0asystem('id')"));
  EXPECT_THAT(text, Not(HasSubstr("\x1b")));
}

TEST(CapacityPlotScript, NoInputTextReachesGnuplot) {
  std::string script = CapacityPlotScript(HostileReport(), "png");
  EXPECT_THAT(script, HasSubstr("set terminal pngcairo"));
  // Quotes, parentheses and control bytes of the name are gone: it cannot end a string or call system().
  EXPECT_THAT(script, HasSubstr("set label 1 '_HYPERLINK__x______2J_system__id__' at first 0.5"));
  EXPECT_THAT(script, Not(HasSubstr("system('id')")));
  EXPECT_THAT(script, Not(HasSubstr("set output")));  // the image goes to stdout, which the caller owns
  EXPECT_THAT(CapacityPlotScript(HostileReport(), "svg"), HasSubstr("set terminal svg"));
}

}  // namespace
}  // namespace uvm::sizer::formats
