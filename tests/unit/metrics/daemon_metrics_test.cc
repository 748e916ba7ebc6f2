#include "metrics/daemon_metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
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
  std::map<std::string, std::string> labels{
      {"namespace", "team-a"}, {"pod", "web-u1"}, {"uid", "u1"}, {"runtime_handler", "kata-cc"},
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

}  // namespace
}  // namespace uvm::metrics
