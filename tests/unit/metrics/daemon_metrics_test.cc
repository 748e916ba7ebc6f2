#include "metrics/daemon_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "tests/unit/metrics/exposition.h"

namespace uvm::metrics {
namespace {

using ::testing::ElementsAre;
using testing::Find;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Optional;
using testing::ParseExposition;
using testing::Value;

constexpr int64_t kMib = 1024 * 1024;

const char* const kSizingFamilies[] = {
    "uvm_sizer_pod_uvm_vcpus",
    "uvm_sizer_pod_uvm_memory_bytes",
    "uvm_sizer_pod_host_memory_bytes",
    "uvm_sizer_pod_overhead_required_bytes",
    "uvm_sizer_pod_overhead_declared_bytes",
    "uvm_sizer_pod_cgroup_memory_limit_bytes",
    "uvm_sizer_pod_cgroup_memory_usage_bytes",
};
const char* const kPressureFamilies[] = {
    "uvm_sizer_pod_guest_memory_available_bytes",
    "uvm_sizer_pod_guest_filesystem_bytes",
    "uvm_sizer_pod_memory_growth_bytes_per_second",
    "uvm_sizer_pod_memory_exhaustion_seconds",
    "uvm_sizer_pod_pressure_level",
    "uvm_sizer_pod_oom_kills_total",
};

PodLabels Kata(std::string uid) {
  return {"team-a", "web-" + uid, uid, "kata-cc"};
}

PodSizingMetrics VmSizing() {
  PodSizingMetrics m;
  m.vm_isolated = true;
  m.uvm_vcpus = 3;
  m.uvm_memory_bytes = 2304 * kMib;
  m.host_memory_bytes = 2500 * kMib;
  m.overhead_required_bytes = 2200 * kMib;
  m.overhead_declared_bytes = 2048 * kMib;
  m.cgroup_memory_limit_bytes = 2560 * kMib;
  m.cgroup_memory_usage_bytes = 300 * kMib;
  return m;
}

PodPressureMetrics SomePressure() {
  PodPressureMetrics p;
  p.guest_memory_available_bytes = 900 * kMib;
  p.guest_filesystem_bytes = {{"/run", 100 * kMib}, {"/tmp", 5 * kMib}};
  p.memory_growth_bytes_per_second = {{"filesystem", 4.8 * kMib}, {"logs", 1024}};
  p.memory_exhaustion_seconds = 187.5;
  p.pressure_level = 1;
  p.oom_kills_total = 0;
  return p;
}

size_t SeriesOfPod(const std::string& text, const std::string& uid) {
  size_t n = 0;
  for (const auto& s : ParseExposition(text)) {
    auto it = s.labels.find("uid");
    if (it != s.labels.end() && it->second == uid) ++n;
  }
  return n;
}

TEST(DaemonMetrics, StartsWithBuildInfoCriDownAndZeroedWriteCounters) {
  DaemonMetrics m("1.2.3", "node-1");
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_build_info", {{"version", "1.2.3"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_cri_up"), Optional(0.0));
  EXPECT_THAT(Value(all, "uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), Optional(0.0));
  EXPECT_THAT(Value(all, "uvm_sizer_cgroup_writes_total", {{"result", "error"}}), Optional(0.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_count"), Optional(0.0));
  EXPECT_EQ(m.PodCount(), 0u);
}

TEST(DaemonMetrics, EveryFamilyHasHelpAndType) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPodPressure(Kata("u1"), SomePressure());
  m.CountError("x");
  m.CountPressureTransition("warning", "logs");
  std::string text = m.Serialize();
  for (const char* family : kSizingFamilies) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family + " gauge")) << family;
  }
  for (const char* family : kPressureFamilies) EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family));
  for (const char* family : {"uvm_sizer_cgroup_writes_total", "uvm_sizer_errors_total",
                             "uvm_sizer_pressure_transitions_total", "uvm_sizer_pod_oom_kills_total"}) {
    EXPECT_THAT(text, HasSubstr(std::string("# TYPE ") + family + " counter")) << family;
  }
  EXPECT_THAT(text, HasSubstr("# TYPE uvm_sizer_reconcile_duration_seconds histogram"));
  EXPECT_THAT(text, HasSubstr("# HELP uvm_sizer_pod_memory_exhaustion_seconds "));
}

TEST(DaemonMetrics, VmPodSeriesAppearWithPodLabelsAndGoWithThePod) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  auto all = ParseExposition(m.Serialize());
  std::map<std::string, std::string> labels{{"namespace", "team-a"},
                                            {"pod", "web-u1"},
                                            {"uid", "u1"},
                                            {"runtime_handler", "kata-cc"},
                                            {"node", "node-1"}};
  for (const char* family : kSizingFamilies) {
    auto found = Find(all, family, {{"uid", "u1"}});
    ASSERT_EQ(found.size(), 1u) << family;
    EXPECT_EQ(found[0].labels, labels) << family;
  }
  EXPECT_THAT(Value(all, "uvm_sizer_pod_uvm_vcpus", {{"uid", "u1"}}), Optional(3.0));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_uvm_memory_bytes", {{"uid", "u1"}}), Optional(2304.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_overhead_declared_bytes", {{"uid", "u1"}}), Optional(2048.0 * kMib));
  EXPECT_EQ(m.PodCount(), 1u);

  m.RemovePod("u1");
  EXPECT_EQ(SeriesOfPod(m.Serialize(), "u1"), 0u);
  EXPECT_EQ(m.PodCount(), 0u);
}

TEST(DaemonMetrics, LargeByteValuesAreExact) {
  DaemonMetrics m("1", "node-1");
  PodSizingMetrics s = VmSizing();
  s.host_memory_bytes = (int64_t{1} << 40) + 12345;  // 1 TiB + change: still exact in a double
  m.UpsertPod(Kata("u1"), s);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_host_memory_bytes"),
              Optional(static_cast<double>((int64_t{1} << 40) + 12345)));
}

TEST(DaemonMetrics, UpdatingAPodChangesValuesWithoutDuplicatingSeries) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  PodSizingMetrics s = VmSizing();
  s.cgroup_memory_usage_bytes = 999;
  m.UpsertPod(Kata("u1"), s);
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_cgroup_memory_usage_bytes", {{"uid", "u1"}}), Optional(999.0));
  EXPECT_EQ(SeriesOfPod(m.Serialize(), "u1"), std::size(kSizingFamilies));
}

TEST(DaemonMetrics, NonVmPodGetsOnlyCgroupSeries) {
  DaemonMetrics m("1", "node-1");
  PodSizingMetrics s = VmSizing();  // even if a caller fills the UVM fields by mistake
  s.vm_isolated = false;
  m.UpsertPod({"default", "plain", "r1", "runc"}, s);
  auto all = ParseExposition(m.Serialize());
  for (const char* family :
       {"uvm_sizer_pod_uvm_vcpus", "uvm_sizer_pod_uvm_memory_bytes", "uvm_sizer_pod_host_memory_bytes",
        "uvm_sizer_pod_overhead_required_bytes", "uvm_sizer_pod_overhead_declared_bytes"}) {
    EXPECT_THAT(Find(all, family, {{"uid", "r1"}}), IsEmpty()) << family;
  }
  EXPECT_THAT(Value(all, "uvm_sizer_pod_cgroup_memory_limit_bytes", {{"uid", "r1"}}),
              Optional(2560.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_cgroup_memory_usage_bytes", {{"uid", "r1"}}), Optional(300.0 * kMib));
}

TEST(DaemonMetrics, PodThatStopsBeingVmIsolatedLosesItsUvmSeries) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  PodSizingMetrics s = VmSizing();
  s.vm_isolated = false;
  m.UpsertPod(Kata("u1"), s);
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Find(all, "uvm_sizer_pod_uvm_vcpus"), IsEmpty());
  EXPECT_EQ(SeriesOfPod(m.Serialize(), "u1"), 2u);
}

TEST(DaemonMetrics, CgroupLimitIsAbsentWhenUnlimitedAndFollowsChanges) {
  DaemonMetrics m("1", "node-1");
  PodSizingMetrics s = VmSizing();
  s.cgroup_memory_limit_bytes.reset();
  m.UpsertPod(Kata("u1"), s);
  EXPECT_THAT(Find(ParseExposition(m.Serialize()), "uvm_sizer_pod_cgroup_memory_limit_bytes"), IsEmpty());

  s.cgroup_memory_limit_bytes = 3000 * kMib;  // the kubelet (or enforce mode) set a limit
  m.UpsertPod(Kata("u1"), s);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_cgroup_memory_limit_bytes"),
              Optional(3000.0 * kMib));

  s.cgroup_memory_limit_bytes.reset();  // back to "max"
  m.UpsertPod(Kata("u1"), s);
  EXPECT_THAT(Find(ParseExposition(m.Serialize()), "uvm_sizer_pod_cgroup_memory_limit_bytes"), IsEmpty());
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_cgroup_memory_usage_bytes"),
              Optional(300.0 * kMib));
}

TEST(DaemonMetrics, PodWithNoValuesLeftIsForgotten) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPod(Kata("u1"), PodSizingMetrics{});
  EXPECT_EQ(SeriesOfPod(m.Serialize(), "u1"), 0u);
  EXPECT_EQ(m.PodCount(), 0u);
}

TEST(DaemonMetrics, RelabelledPodKeepsOnlyItsNewSeries) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPodPressure(Kata("u1"), SomePressure());
  PodLabels renamed = Kata("u1");
  renamed.runtime_handler = "kata";
  m.UpsertPod(renamed, VmSizing());
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Find(all, "uvm_sizer_pod_uvm_vcpus", {{"runtime_handler", "kata-cc"}}), IsEmpty());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_uvm_vcpus", {{"runtime_handler", "kata"}}), Optional(3.0));
  // The pressure series of the old labels went too; the next pressure tick recreates them.
  EXPECT_THAT(Find(all, "uvm_sizer_pod_pressure_level"), IsEmpty());
}

TEST(DaemonMetrics, OtherPodsAreUntouchedByRemoval) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPod(Kata("u2"), VmSizing());
  m.UpsertPodPressure(Kata("u2"), SomePressure());
  m.RemovePod("u1");
  m.RemovePod("never-seen");
  std::string text = m.Serialize();
  EXPECT_EQ(SeriesOfPod(text, "u1"), 0u);
  EXPECT_EQ(SeriesOfPod(text, "u2"),
            std::size(kSizingFamilies) + 8);  // available, 2 mounts, 2 causes, exhaustion, level, oom kills
}

TEST(DaemonMetrics, PressureSeriesFollowMountsAndCauses) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPodPressure(Kata("u1"), SomePressure());
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_guest_memory_available_bytes"), Optional(900.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_guest_filesystem_bytes", {{"mount", "/run"}, {"uid", "u1"}}),
              Optional(100.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_guest_filesystem_bytes", {{"mount", "/tmp"}}), Optional(5.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_memory_growth_bytes_per_second", {{"cause", "filesystem"}}),
              Optional(4.8 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_memory_exhaustion_seconds", {{"pod", "web-u1"}}), Optional(187.5));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_pressure_level"), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_pod_oom_kills_total"), Optional(0.0));

  PodPressureMetrics p = SomePressure();
  p.guest_filesystem_bytes.erase("/tmp");  // unmounted
  p.memory_growth_bytes_per_second = {{"anonymous", 10}};
  p.memory_exhaustion_seconds.reset();  // nothing grows fast enough to predict
  p.pressure_level = 0;
  m.UpsertPodPressure(Kata("u1"), p);
  all = ParseExposition(m.Serialize());
  EXPECT_THAT(Find(all, "uvm_sizer_pod_guest_filesystem_bytes", {{"mount", "/tmp"}}), IsEmpty());
  EXPECT_EQ(Find(all, "uvm_sizer_pod_guest_filesystem_bytes").size(), 1u);
  EXPECT_THAT(Find(all, "uvm_sizer_pod_memory_growth_bytes_per_second", {{"cause", "filesystem"}}),
              IsEmpty());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_memory_growth_bytes_per_second", {{"cause", "anonymous"}}),
              Optional(10.0));
  EXPECT_THAT(Find(all, "uvm_sizer_pod_memory_exhaustion_seconds"), IsEmpty());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_pressure_level"), Optional(0.0));
}

TEST(DaemonMetrics, NonFiniteValuesAreAbsentNotNan) {
  DaemonMetrics m("1", "node-1");
  PodPressureMetrics p = SomePressure();
  p.memory_exhaustion_seconds = std::numeric_limits<double>::infinity();
  p.memory_growth_bytes_per_second = {{"logs", std::nan("")}, {"filesystem", 1}};
  m.UpsertPodPressure(Kata("u1"), p);
  std::string text = m.Serialize();
  EXPECT_THAT(text, Not(HasSubstr(" Nan\n")));
  EXPECT_THAT(text, Not(HasSubstr(" +Inf\n")));
  EXPECT_THAT(text, Not(HasSubstr(" inf\n")));
  auto all = ParseExposition(text);
  EXPECT_THAT(Find(all, "uvm_sizer_pod_memory_exhaustion_seconds"), IsEmpty());
  EXPECT_EQ(Find(all, "uvm_sizer_pod_memory_growth_bytes_per_second").size(), 1u);
}

TEST(DaemonMetrics, OomKillsCountUpAndResetWhenTheCumulativeValueDrops) {
  DaemonMetrics m("1", "node-1");
  PodPressureMetrics p = SomePressure();
  p.oom_kills_total = 2;
  m.UpsertPodPressure(Kata("u1"), p);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_oom_kills_total"), Optional(2.0));
  p.oom_kills_total = 5;
  m.UpsertPodPressure(Kata("u1"), p);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_oom_kills_total"), Optional(5.0));
  p.oom_kills_total = 1;  // the pod cgroup was recreated: a counter reset, as Prometheus expects one
  m.UpsertPodPressure(Kata("u1"), p);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_oom_kills_total"), Optional(1.0));
}

TEST(DaemonMetrics, RemovePodRemovesSizingAndPressureSeries) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPodPressure(Kata("u1"), SomePressure());
  m.CountPressureTransition("warning", "filesystem");
  ASSERT_GT(SeriesOfPod(m.Serialize(), "u1"), 10u);
  m.RemovePod("u1");
  std::string text = m.Serialize();
  EXPECT_EQ(SeriesOfPod(text, "u1"), 0u);
  for (const char* family : kPressureFamilies) {
    EXPECT_THAT(Find(ParseExposition(text), family), IsEmpty()) << family;
  }
  // Node-wide counters outlive the pod.
  EXPECT_THAT(Value(ParseExposition(text), "uvm_sizer_pressure_transitions_total"), Optional(1.0));
}

TEST(DaemonMetrics, CountersCountByLabel) {
  DaemonMetrics m("1", "node-1");
  m.CountCgroupWrite(kWriteOk);
  m.CountCgroupWrite(kWriteOk);
  m.CountCgroupWrite(kWriteError);
  m.CountError("cri_inspect");
  m.CountError("cri_inspect");
  m.CountError("cgroup_read");
  m.CountPressureTransition("warning", "logs");
  m.CountPressureTransition("critical", "logs");
  m.CountPressureTransition("warning", "logs");
  m.SetCriUp(true);
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_cgroup_writes_total", {{"result", "error"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_errors_total", {{"cause", "cri_inspect"}}), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_errors_total", {{"cause", "cgroup_read"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_pressure_transitions_total", {{"level", "warning"}, {"cause", "logs"}}),
              Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_pressure_transitions_total", {{"level", "critical"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_cri_up"), Optional(1.0));
  m.SetCriUp(false);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_cri_up"), Optional(0.0));
}

TEST(DaemonMetrics, ReconcileHistogramBucketsSpan10MicrosecondsTo1Second) {
  DaemonMetrics m("1", "node-1");
  m.ObserveReconcileSeconds(0.003);
  m.ObserveReconcileSeconds(20e-6);
  m.ObserveReconcileSeconds(5.0);  // beyond the last bucket: only +Inf
  m.ObserveReconcileSeconds(std::nan(""));
  m.ObserveReconcileSeconds(-1);  // a clock step backwards is not a duration
  auto all = ParseExposition(m.Serialize());
  auto buckets = Find(all, "uvm_sizer_reconcile_duration_seconds_bucket");
  ASSERT_EQ(buckets.size(), 17u);  // 16 bounds + Inf
  EXPECT_EQ(std::strtod(buckets.front().labels.at("le").c_str(), nullptr), 10e-6);
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "1e-05"}}), Optional(0.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "2.5e-05"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "0.0025"}}), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "0.005"}}), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "1"}}), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_bucket", {{"le", "+Inf"}}), Optional(3.0));
  EXPECT_THAT(Value(all, "uvm_sizer_reconcile_duration_seconds_count"), Optional(3.0));
  EXPECT_NEAR(*Value(all, "uvm_sizer_reconcile_duration_seconds_sum"), 5.00302, 1e-9);
}

TEST(DaemonMetrics, HostileLabelValuesAreEscapedAndRoundTrip) {
  DaemonMetrics m("1", "node-1");
  std::string hostile = "a\"b\\c\nd} x=\"1\" # HELP\n";
  hostile += std::string(10 * 1024, 'z');
  PodLabels labels{"ns\"", hostile, "evil", "kata"};
  m.UpsertPod(labels, VmSizing());
  std::string text = m.Serialize();
  // No raw newline from the value: every line is a comment or a complete sample.
  auto all = ParseExposition(text);
  auto found = Find(all, "uvm_sizer_pod_uvm_vcpus", {{"uid", "evil"}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].labels.at("pod"), hostile);
  EXPECT_EQ(found[0].labels.at("namespace"), "ns\"");
  EXPECT_EQ(found[0].value, 3.0);
  EXPECT_THAT(Find(all, "x"), IsEmpty());  // the injected `x="1"` did not become a sample
}

TEST(SanitizeLabelValue, KeepsValidUtf8AndReplacesTheRest) {
  EXPECT_EQ(SanitizeLabelValue("plain-pod-1"), "plain-pod-1");
  EXPECT_EQ(SanitizeLabelValue("q\"b\\n\n"), "q\"b\\n\n");
  EXPECT_EQ(SanitizeLabelValue("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
  EXPECT_EQ(SanitizeLabelValue("a\xFF"
                               "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(SanitizeLabelValue("\xC3"), "\xEF\xBF\xBD");                                  // truncated
  EXPECT_EQ(SanitizeLabelValue("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong '/'
  EXPECT_EQ(SanitizeLabelValue("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(SanitizeLabelValue("\xF4\x90\x80\x80").size(), 12u);                          // above U+10FFFF
  EXPECT_EQ(SanitizeLabelValue(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(DaemonMetrics, InvalidUtf8InAPodNameCannotBreakTheExposition) {
  DaemonMetrics m("1", "node-1");
  m.UpsertPod({"ns", "bad\xFF\xFE", "u1", "kata"}, VmSizing());
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_pod_uvm_vcpus", {{"pod", "bad\xEF\xBF\xBD\xEF\xBF\xBD"}}), Optional(3.0));
}

TEST(DaemonMetrics, ListenRefusesAMalformedAddressAndNamesIt) {
  DaemonMetrics m("1", "node-1");
  auto st = m.Listen("no-port-here");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.error().message, HasSubstr("\"no-port-here\""));
  EXPECT_THAT(m.ListeningPorts(), IsEmpty());
}

TEST(DaemonMetrics, EverySeriesCarriesTheNodeLabel) {
  DaemonMetrics m("1", "aks-node-7");
  m.UpsertPod(Kata("u1"), VmSizing());
  m.UpsertPodPressure(Kata("u1"), SomePressure());
  m.CountError("x");
  m.CountPressureTransition("warning", "logs");
  m.ObserveReconcileSeconds(0.001);
  m.SetNode({.allocatable_memory_bytes = 1, .shapes = {{.shape = "web", .host_fit = 3}}});
  auto all = ParseExposition(m.Serialize());
  ASSERT_GT(all.size(), 40u);
  for (const auto& s : all)
    EXPECT_EQ(s.labels.count("node") ? s.labels.at("node") : "", "aks-node-7") << s.name;
  EXPECT_THAT(Value(all, "uvm_sizer_node_info", {{"node", "aks-node-7"}}), Optional(1.0));
}

TEST(DaemonMetrics, NodeLedgerSeriesFollowTheLedger) {
  DaemonMetrics m("1", "n");
  NodeMetrics node{.allocatable_memory_bytes = 60 * 1024 * kMib,
                   .allocatable_cpu_millis = 15500,
                   .allocatable_pods = 110,
                   .committed_memory_bytes = 5000 * kMib,
                   .committed_cpu_millis = 2250,
                   .shapes = {{.shape = "web",
                               .host_fit = 7,
                               .scheduler_memory_bytes = 1024 * kMib,
                               .host_memory_bytes = 1400 * kMib,
                               .cpu_millis = 500},
                              {.shape = "idle", .host_fit = std::nullopt}}};
  m.SetNode(node);
  auto all = ParseExposition(m.Serialize());
  EXPECT_THAT(Value(all, "uvm_sizer_node_allocatable_memory_bytes"), Optional(60.0 * 1024 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_node_allocatable_cpu_cores"), Optional(15.5));
  EXPECT_THAT(Value(all, "uvm_sizer_node_allocatable_pods"), Optional(110.0));
  EXPECT_THAT(Value(all, "uvm_sizer_node_committed_memory_bytes", {{"view", "host"}}),
              Optional(5000.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_node_committed_cpu_cores", {{"view", "host"}}), Optional(2.25));
  EXPECT_THAT(Value(all, "uvm_sizer_node_fit_pods", {{"shape", "web"}, {"view", "host"}}), Optional(7.0));
  EXPECT_THAT(Find(all, "uvm_sizer_node_fit_pods", {{"shape", "idle"}}), IsEmpty()) << "unbounded: absent";
  EXPECT_THAT(Value(all, "uvm_sizer_shape_memory_bytes", {{"shape", "web"}, {"view", "scheduler"}}),
              Optional(1024.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_shape_memory_bytes", {{"shape", "web"}, {"view", "host"}}),
              Optional(1400.0 * kMib));
  EXPECT_THAT(Value(all, "uvm_sizer_shape_cpu_cores", {{"shape", "web"}}), Optional(0.5));
  EXPECT_THAT(Value(all, "uvm_sizer_shape_cpu_cores", {{"shape", "idle"}}), Optional(0.0));

  // The fit moves, a shape goes, the pod limit becomes unknown: no series of what is not there.
  node.shapes = {{.shape = "web", .host_fit = 6}};
  node.allocatable_pods.reset();
  m.SetNode(node);
  all = ParseExposition(m.Serialize());
  EXPECT_THAT(Find(all, "uvm_sizer_node_fit_pods"), ::testing::SizeIs(1));
  EXPECT_THAT(Value(all, "uvm_sizer_node_fit_pods", {{"shape", "web"}}), Optional(6.0));
  EXPECT_THAT(Find(all, "uvm_sizer_shape_memory_bytes", {{"shape", "idle"}}), IsEmpty());
  EXPECT_THAT(Find(all, "uvm_sizer_shape_cpu_cores", {{"shape", "idle"}}), IsEmpty());
  EXPECT_THAT(Find(all, "uvm_sizer_node_allocatable_pods"), IsEmpty());
  // Unbounded again: the fit series goes, the shape's needs stay.
  node.shapes[0].host_fit.reset();
  m.SetNode(node);
  all = ParseExposition(m.Serialize());
  EXPECT_THAT(Find(all, "uvm_sizer_node_fit_pods"), IsEmpty());
  EXPECT_THAT(Find(all, "uvm_sizer_shape_memory_bytes", {{"shape", "web"}}), ::testing::SizeIs(2));
}

TEST(DaemonMetrics, MeasuredOverheadIsAVmPodSeriesOnlyWhereMeasured) {
  DaemonMetrics m("1", "n");
  PodSizingMetrics vm = VmSizing();
  m.UpsertPod(Kata("u1"), vm);
  EXPECT_THAT(Find(ParseExposition(m.Serialize()), "uvm_sizer_pod_host_overhead_measured_bytes"), IsEmpty());
  vm.host_overhead_measured_bytes = 120 * kMib;
  m.UpsertPod(Kata("u1"), vm);
  EXPECT_THAT(Value(ParseExposition(m.Serialize()), "uvm_sizer_pod_host_overhead_measured_bytes",
                    {{"uid", "u1"}, {"runtime_handler", "kata-cc"}}),
              Optional(120.0 * kMib));
  PodSizingMetrics runc{.vm_isolated = false, .host_overhead_measured_bytes = 5};
  m.UpsertPod({"ns", "r", "u2", "runc"}, runc);
  EXPECT_THAT(
      Find(ParseExposition(m.Serialize()), "uvm_sizer_pod_host_overhead_measured_bytes", {{"uid", "u2"}}),
      IsEmpty());
  m.RemovePod("u1");
  EXPECT_THAT(Find(ParseExposition(m.Serialize()), "uvm_sizer_pod_host_overhead_measured_bytes"), IsEmpty());
}

// The series a node exports with 250 VM pods under guest monitoring (two filesystems, two growth causes
// each) and three shapes: the number the README states, held here so it cannot grow unnoticed.
TEST(DaemonMetrics, StartupHistogramsAreByHandlerAndMemoryBucketWithFixedBuckets) {
  DaemonMetrics m("1", "node-1");
  m.ObserveSandboxStart("kata-cc", "<=4Gi", 2.5);
  m.ObserveSandboxStart("kata-cc", "<=4Gi", 130);  // beyond the last bucket: only +Inf
  m.ObserveSandboxStart("runc", "none", 0.2);
  m.ObserveSandboxStart("runc", "none", std::nan(""));
  m.ObserveSandboxStart("runc", "none", -1);
  m.ObserveShimCreate("kata-cc", "<=4Gi", 1.2);
  m.CountSandboxStartSkipped("clock_skew");
  m.CountSandboxStartSkipped("clock_skew");
  auto all = ParseExposition(m.Serialize());
  const std::map<std::string, std::string> cc{{"runtime_handler", "kata-cc"}, {"uvm_memory_bucket", "<=4Gi"}};
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_count", cc), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_sum", cc), Optional(132.5));
  auto with = [&](std::string le) {
    auto l = cc;
    l["le"] = std::move(le);
    return l;
  };
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_bucket", with("2")), Optional(0.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_bucket", with("3")), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_bucket", with("120")), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_bucket", with("+Inf")), Optional(2.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_seconds_count",
                    {{"runtime_handler", "runc"}, {"uvm_memory_bucket", "none"}, {"node", "node-1"}}),
              Optional(1.0));
  size_t buckets = 0;
  for (const auto& s : Find(all, "uvm_sizer_sandbox_start_seconds_bucket"))
    buckets += s.labels.at("runtime_handler") == "runc";
  EXPECT_EQ(buckets, kSandboxStartBuckets.size() + 1);
  EXPECT_EQ(std::strtod(Find(all, "uvm_sizer_sandbox_start_seconds_bucket").front().labels.at("le").c_str(),
                        nullptr),
            0.05);
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_shim_create_seconds_count", cc), Optional(1.0));
  EXPECT_THAT(Value(all, "uvm_sizer_sandbox_start_skipped_total", {{"reason", "clock_skew"}}), Optional(2.0));
}

TEST(DaemonMetrics, SeriesPerNodeFor250VmPodsStayBounded) {
  DaemonMetrics m("1", "n");
  for (int i = 0; i < 250; ++i) {
    std::string uid = "u" + std::to_string(i);
    PodSizingMetrics sizing = VmSizing();
    sizing.host_overhead_measured_bytes = 90 * kMib;
    m.UpsertPod(Kata(uid), sizing);
    m.UpsertPodPressure(Kata(uid), SomePressure());
  }
  m.SetNode(
      {.allocatable_memory_bytes = 1,
       .allocatable_cpu_millis = 1,
       .allocatable_pods = 250,
       .shapes = {
           {.shape = "a", .host_fit = 1}, {.shape = "b", .host_fit = 2}, {.shape = "c", .host_fit = 3}}});
  m.CountError("cri_unavailable");
  m.CountPressureTransition("warning", "filesystem");
  auto all = ParseExposition(m.Serialize());
  size_t per_pod = 0;
  for (const auto& s : all) per_pod += s.labels.count("uid");
  // 7 sizing/usage series + the measured overhead + 8 pressure series (4 single, 2 mounts, 2 causes).
  EXPECT_EQ(per_pod, 250u * 16);
  size_t node_wide = all.size() - per_pod;
  // Counters, histograms (16 + 11 buckets, +Inf, sum, count), info, and 8 + 4 per shape ledger series.
  EXPECT_LE(node_wide, 80u) << node_wide;
  EXPECT_EQ(all.size(), 250u * 16 + node_wide);
  std::cout << "series for 250 VM pods: " << all.size() << " (" << per_pod << " per-pod, " << node_wide
            << " node-wide)\n";
#ifdef UVM_PROMTOOL_BIN
  // promtool's linter has no finding on the whole exposition.
  std::string file = ::testing::TempDir() + "/uvm-sizer-250.prom";
  {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::string text = m.Serialize();
    std::fwrite(text.data(), 1, text.size(), f);
    std::fclose(f);
  }
  std::string cmd = std::string(UVM_PROMTOOL_BIN) + " check metrics < " + file + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  int rc = pclose(p);
  std::remove(file.c_str());
  EXPECT_EQ(rc, 0) << out;
  EXPECT_EQ(out, "") << out;
#endif
}

}  // namespace
}  // namespace uvm::metrics
