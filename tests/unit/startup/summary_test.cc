// summary.json's numbers on a handcrafted run: counts, failures by code, throughput from bursts, warm-up
// rows apart, the ratio to runc, the size fit and the containerd cross-check.
#include "bench/startup/summary.h"

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bench/startup/report.h"
#include "tests/unit/startup/synthetic_pods.h"

namespace uvm::startup {
namespace {

using testing_pods::Completed;
using testing_pods::Failed;

// runc at c=4: two bursts of 4 completed pods (totals 100..130 ms, starts 1 ms apart), 3 failures, one slow
// warm-up; kata: the same pods twice as slow.
std::vector<PodRecord> HandcraftedRun() {
  std::vector<PodRecord> pods;
  PodRecord warmup = Completed("runc", 4, 0, 0, 9000);
  warmup.warmup = true;
  pods.push_back(warmup);
  for (int burst = 1; burst <= 2; ++burst) {
    for (int i = 0; i < 4; ++i) {
      int64_t start = burst * 1000 + i;
      pods.push_back(Completed("runc", 4, burst, start, 100 + 10 * i));
      pods.push_back(Completed("kata", 4, burst, start + 500, 2 * (100 + 10 * i)));
    }
  }
  pods.push_back(Failed("runc", 4, 2, 1004, "UNAVAILABLE"));
  pods.push_back(Failed("runc", 4, 2, 1005, "DEADLINE_EXCEEDED"));
  pods.push_back(Failed("runc", 4, 2, 1006, "DEADLINE_EXCEEDED"));
  return pods;
}

RunInfo Info() {
  RunInfo info;
  info.run_id = "synthetic";
  info.mode = "burst";
  info.levels = {4};
  info.containerd.url = "http://127.0.0.1:1338/v1/metrics";
  info.containerd.sandbox_create_sum_before_s = 10;
  info.containerd.sandbox_create_sum_after_s = 11;
  info.containerd.sandbox_create_count_before = 0;
  info.containerd.sandbox_create_count_after = 17;
  return info;
}

const Cell& CellOf(const Summary& s, const std::string& handler) {
  for (const Cell& c : s.cells) {
    if (c.key.handler == handler) return c;
  }
  ADD_FAILURE() << "no cell for " << handler;
  return s.cells.front();
}

TEST(Summary, CountsFailuresByCodeAndKeepsWarmupApart) {
  const Summary s = Summarize(Info(), HandcraftedRun());
  ASSERT_EQ(s.cells.size(), 2u);
  EXPECT_EQ(s.cells[0].key.handler, "runc");  // run order, not alphabetical
  const Cell& runc = CellOf(s, "runc");
  EXPECT_EQ(runc.n, 11);
  EXPECT_EQ(runc.completed, 8);
  EXPECT_EQ(runc.failed, 3);
  EXPECT_EQ(runc.warmup_excluded, 1);
  EXPECT_EQ(runc.failures_by_code,
            (std::map<std::string, int>{{"DEADLINE_EXCEEDED", 2}, {"UNAVAILABLE", 1}}));
  const LatencyStats& total = runc.latency.at("total");
  EXPECT_EQ(total.n, 8);
  EXPECT_DOUBLE_EQ(*total.p50_ms, 110);  // sorted 100,100,110,110,...: index ceil(8·0.5) − 1 = 3
  EXPECT_DOUBLE_EQ(*total.p90_ms, 130);
  EXPECT_DOUBLE_EQ(total.max_ms, 130);  // the 9 s warm-up is not in it
  EXPECT_FALSE(total.p99_ms.has_value());
  EXPECT_DOUBLE_EQ(runc.share_total_within_5s, 8.0 / 11);
  EXPECT_EQ(s.pods, 20);
  EXPECT_EQ(s.warmup_excluded, 1);
  EXPECT_EQ(s.completed, 16);
  EXPECT_EQ(s.failed, 3);
}

TEST(Summary, ThroughputIsCompletedOverTheSumOfBurstSpans) {
  const Summary s = Summarize(Info(), HandcraftedRun());
  // Each burst: first start t, last end t + 3 + 130 ms: 133 ms busy, twice (the second between bursts
  // does not count).
  ASSERT_TRUE(CellOf(s, "runc").throughput_pods_per_s.has_value());
  EXPECT_NEAR(*CellOf(s, "runc").throughput_pods_per_s, 8 / 0.266, 1e-9);
  EXPECT_NEAR(*CellOf(s, "kata").throughput_pods_per_s, 8 / (2 * 0.263), 1e-9);
}

TEST(Summary, VmHandlerIsComparedWithRunc) {
  const Summary s = Summarize(Info(), HandcraftedRun());
  EXPECT_EQ(s.reference_handler, "runc");
  const Cell& kata = CellOf(s, "kata");
  ASSERT_TRUE(kata.total_vs_reference.has_value());
  EXPECT_DOUBLE_EQ(kata.total_vs_reference->p50_ratio, 2);
  ASSERT_TRUE(kata.total_vs_reference->ci.has_value());
  EXPECT_LE(kata.total_vs_reference->ci->low, 2);
  EXPECT_GE(kata.total_vs_reference->ci->high, 2);
  EXPECT_FALSE(CellOf(s, "runc").total_vs_reference.has_value());
}

TEST(Summary, CrossCheckComparesClientSumWithContainerdDelta) {
  const Summary s = Summarize(Info(), HandcraftedRun());
  // run_sandbox is 60 % of each total, warm-up included (containerd timed it too): runc 0.6 × (9000 + 2 ×
  // 460) ms, kata 0.6 × 2 × 920 ms.
  const double client = 0.6 * (9.0 + 0.92 + 1.84);
  EXPECT_NEAR(s.containerd.client_run_sandbox_s, client, 1e-6);
  EXPECT_EQ(s.containerd.client_sandboxes, 17);
  ASSERT_TRUE(s.containerd.ratio.has_value());
  EXPECT_NEAR(*s.containerd.ratio, 1.0 / client, 1e-6);
  EXPECT_FALSE(*s.containerd.within_10_percent);
  EXPECT_EQ(*s.containerd.containerd_count_delta, 17);

  RunInfo no_metrics = Info();
  no_metrics.containerd = {};
  const Summary without = Summarize(no_metrics, HandcraftedRun());
  EXPECT_FALSE(without.containerd.ratio.has_value());
  EXPECT_NE(without.containerd.note.find("no containerd metrics endpoint"), std::string::npos);
}

TEST(Summary, SizeFitPerHandlerAgainstPredictedUvm) {
  std::vector<PodRecord> pods;
  const uint32_t sizes_mib[] = {512, 1024, 2048, 4096};
  for (int i = 0; i < 8; ++i) {
    uint32_t mib = sizes_mib[i % 4];
    PodRecord pod = Completed("kata-cc", 1, i, i * 1000, 100);
    pod.predicted_uvm.memory_mib = mib;
    pod.predicted_uvm.vcpus = 1 + i % 2;
    pod.mem_limit = std::to_string(mib) + "Mi";
    // run_sandbox = 50 ms + 40 ms/GiB exactly.
    pod.phase_ns[static_cast<int>(Phase::kRunPodSandbox)] = (50 + 40 * mib / 1024) * testing_pods::kMs;
    pods.push_back(pod);
  }
  pods.push_back(Completed("runc", 1, 9, 9000, 100));
  const Summary s = Summarize(Info(), pods);
  const SizeFit* kata_fit = nullptr;
  const SizeFit* runc_fit = nullptr;
  for (const SizeFit& f : s.fits) {
    if (f.metric == "run_sandbox" && f.x == "uvm_gib") (f.handler == "kata-cc" ? kata_fit : runc_fit) = &f;
  }
  ASSERT_NE(kata_fit, nullptr);
  ASSERT_TRUE(kata_fit->fit.has_value()) << kata_fit->note;
  EXPECT_NEAR(kata_fit->fit->b, 40, 1e-6);
  EXPECT_NEAR(kata_fit->fit->a, 50, 1e-6);
  EXPECT_EQ(kata_fit->n, 8);
  ASSERT_NE(runc_fit, nullptr);
  EXPECT_FALSE(runc_fit->fit.has_value());
  EXPECT_FALSE(runc_fit->note.empty());
  EXPECT_EQ(s.cells.size(), 5u);  // four memory points of kata-cc, one runc
}

TEST(Summary, JsonHasNullP99WithANoteAndStableOrder) {
  const std::string text = SummaryToJson(Summarize(Info(), HandcraftedRun()));
  EXPECT_EQ(text, SummaryToJson(Summarize(Info(), HandcraftedRun())));
  auto j = nlohmann::ordered_json::parse(text);
  const auto& cell = j["cells"][0];
  EXPECT_EQ(cell["handler"], "runc");
  EXPECT_TRUE(cell["latency_ms"]["total"]["p99"].is_null());
  EXPECT_EQ(cell["p99_note"], "n/a (n<100)");
  EXPECT_EQ(cell["failures_by_code"]["DEADLINE_EXCEEDED"], 2);
  EXPECT_EQ(cell["latency_ms"]["total"]["p50"], 110.0);
  EXPECT_EQ(j.begin().key(), "schema_version");
  EXPECT_EQ(j["cells"][1]["total_p50_vs_reference"]["ratio"], 2.0);
}

TEST(Summary, CellsFollowTheRunsHandlerOrder) {
  std::vector<PodRecord> pods = HandcraftedRun();
  std::rotate(pods.begin(), pods.begin() + 2, pods.end());  // a kata row first
  ASSERT_EQ(pods[0].handler, "kata");
  RunInfo info = Info();
  info.env.handlers = {{.handler = "runc"}, {.handler = "kata"}};
  EXPECT_EQ(Summarize(info, pods).cells[0].key.handler, "runc");
  info.env.handlers.clear();  // without run.json's list: the order of the rows
  EXPECT_EQ(Summarize(info, pods).cells[0].key.handler, "kata");
}

TEST(Summary, P99AppearsAtOneHundredPods) {
  std::vector<PodRecord> pods;
  for (int i = 0; i < 100; ++i) pods.push_back(Completed("runc", 1, i, i * 1000, 100 + i));
  const Summary s = Summarize(Info(), pods);
  ASSERT_TRUE(s.cells[0].latency.at("total").p99_ms.has_value());
  EXPECT_DOUBLE_EQ(*s.cells[0].latency.at("total").p99_ms, 198);
}

// A c=4 kata cell run in waves of 2 (the budget held two pods back) says so, and the report does not
// compare it with runc's c=4; runc's cell ran all 4 together.
TEST(Summary, ACellTheBudgetKeptBelowItsLevelIsMarkedAndNotCompared) {
  std::vector<PodRecord> pods;
  for (int i = 0; i < 4; ++i) pods.push_back(Completed("runc", 4, 0, i, 100));
  for (int i = 0; i < 4; ++i) {
    PodRecord p = Completed("kata", 4, 1, 1000 + (i / 2) * 200 + i % 2, 100);  // waves at 1000 and 1200 ms
    if (i >= 2) p.budget_wait_ns = 200 * testing_pods::kMs;
    pods.push_back(p);
  }
  const Summary s = Summarize(Info(), pods);
  EXPECT_EQ(CellOf(s, "runc").max_in_flight, 4);
  EXPECT_EQ(CellOf(s, "runc").held_by_budget, 0);
  EXPECT_EQ(CellOf(s, "kata").max_in_flight, 2);
  EXPECT_EQ(CellOf(s, "kata").held_by_budget, 2);
  const std::string md = ReportMarkdown(s);
  EXPECT_NE(md.find("c=4 (budget: ≤ 2 in flight)"), std::string::npos) << md;
  EXPECT_NE(md.find("n/c (budget)"), std::string::npos);
  const auto json = nlohmann::json::parse(SummaryToJson(s));
  EXPECT_EQ(json["cells"][1]["max_in_flight"], 2);
  EXPECT_EQ(json["cells"][1]["held_by_budget"], 2);
}

}  // namespace
}  // namespace uvm::startup
