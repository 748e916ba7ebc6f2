// `report DIR` (re-render a result directory from pods.jsonl + run.json) and `compare A B` (ratios of two
// result directories' quantiles with bootstrap intervals: the regression gate).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/startup/commands.h"
#include "bench/startup/outputs.h"
#include "bench/startup/stats.h"
#include "bench/startup/summary.h"

namespace uvm::startup {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitBadInput = 2;

Result<RunInfo> ReadRunInfo(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "run.json").string();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot be opened", path), ErrorCode::kNotFound};
  std::stringstream text;
  text << in.rdbuf();
  auto info = RunInfoFromJson(text.str());
  if (!info) return Error{fmt::format("{}: {}", path, info.error().message), info.error().code};
  return info;
}

int RunReport(const std::string& dir) {
  auto info = ReadRunInfo(dir);
  if (!info) {
    fmt::print(stderr, "uvm-sizer-startup report: {}\n", info.error().message);
    return kExitBadInput;
  }
  auto pods = ReadPodsJsonl((std::filesystem::path(dir) / "pods.jsonl").string());
  if (!pods) {
    fmt::print(stderr, "uvm-sizer-startup report: {}\n", pods.error().message);
    return kExitBadInput;
  }
  if (Status written = WriteRunOutputs(dir, *info, *pods); !written) {
    fmt::print(stderr, "uvm-sizer-startup report: {}\n", written.error().message);
    return kExitFailed;
  }
  fmt::print(
      "{}: {} pods re-rendered into summary.json, summary.csv, pods.csv, perfdash.json, report.md and "
      "plots\n",
      dir, pods->size());
  return kExitOk;
}

// The completed, counted pods' values of one metric, per cell, in first-appearance order.
struct CellSample {
  CellKey key;
  std::vector<double> ms;
};

std::vector<CellSample> Samples(const std::vector<PodRecord>& pods, const std::string& metric) {
  std::vector<CellSample> cells;
  for (const PodRecord& pod : pods) {
    if (pod.warmup) continue;
    CellKey key{pod.handler, pod.mode, pod.level, pod.rate, pod.mem_limit, pod.cpu_limit};
    auto it = std::find_if(cells.begin(), cells.end(), [&](const CellSample& c) { return c.key == key; });
    if (it == cells.end()) {
      cells.push_back({key, {}});
      it = cells.end() - 1;
    }
    if (!pod.ok()) continue;
    if (auto ns = MetricNs(pod, metric)) it->ms.push_back(static_cast<double>(*ns) / 1e6);
  }
  for (CellSample& c : cells) std::sort(c.ms.begin(), c.ms.end());
  return cells;
}

std::string RatioText(const std::vector<double>& a, const std::vector<double>& b, double q,
                      std::optional<stats::Interval>* ci_out = nullptr) {
  if (q >= 0.99 &&
      (a.size() < static_cast<size_t>(kP99MinSamples) || b.size() < static_cast<size_t>(kP99MinSamples))) {
    return fmt::format("n/a (n<{})", kP99MinSamples);
  }
  double qa = *stats::Quantile(a, q);
  double qb = *stats::Quantile(b, q);
  if (qa <= 0) return "n/a (A is 0)";
  auto ci = stats::BootstrapRatioCi(b, a, q);
  if (ci_out != nullptr) *ci_out = ci;
  if (!ci) return fmt::format("{:.3f}", qb / qa);
  return fmt::format("{:.3f} ({:.3f}–{:.3f})", qb / qa, ci->low, ci->high);
}

struct CompareOptions {
  std::string a;
  std::string b;
  std::string metric = "total";
  double max_ratio = 1.25;
};

int RunCompare(const CompareOptions& opt) {
  if (!IsMetricName(opt.metric)) {
    std::vector<std::string> names = MetricNames();
    fmt::print(stderr, "uvm-sizer-startup compare: --metric \"{}\" is not one of {}\n", opt.metric,
               fmt::join(names, ", "));
    return kExitBadInput;
  }
  if (!(opt.max_ratio > 0)) {
    fmt::print(stderr, "uvm-sizer-startup compare: --max-ratio {} must be above 0\n", opt.max_ratio);
    return kExitBadInput;
  }
  auto pods_a = ReadPodsJsonl((std::filesystem::path(opt.a) / "pods.jsonl").string());
  if (!pods_a) {
    fmt::print(stderr, "uvm-sizer-startup compare: A: {}\n", pods_a.error().message);
    return kExitBadInput;
  }
  auto pods_b = ReadPodsJsonl((std::filesystem::path(opt.b) / "pods.jsonl").string());
  if (!pods_b) {
    fmt::print(stderr, "uvm-sizer-startup compare: B: {}\n", pods_b.error().message);
    return kExitBadInput;
  }
  const std::vector<CellSample> cells_a = Samples(*pods_a, opt.metric);
  const std::vector<CellSample> cells_b = Samples(*pods_b, opt.metric);

  fmt::print(
      "compare {} (A) with {} (B): {} ratios B/A, nearest-rank quantiles, bootstrap 95 % intervals\n\n",
      opt.a, opt.b, opt.metric);
  fmt::print("{:<44} {:>5} {:>5} {:>10} {:>10}  {:<24} {:<24} {}\n", "cell", "n A", "n B", "p50 A ms",
             "p50 B ms", "p50 B/A", "p90 B/A", "p99 B/A");
  int matched = 0;
  std::vector<std::string> regressions;
  std::vector<std::string> notes;
  for (const CellSample& a : cells_a) {
    auto b =
        std::find_if(cells_b.begin(), cells_b.end(), [&](const CellSample& c) { return c.key == a.key; });
    if (b == cells_b.end()) {
      notes.push_back(fmt::format("{}: only in A", CellLabel(a.key)));
      continue;
    }
    if (a.ms.empty() || b->ms.empty()) {
      notes.push_back(fmt::format("{}: no completed pod with {} in {}", CellLabel(a.key), opt.metric,
                                  a.ms.empty() ? "A" : "B"));
      continue;
    }
    ++matched;
    std::optional<stats::Interval> p50_ci;
    std::string p50 = RatioText(a.ms, b->ms, 0.5, &p50_ci);
    fmt::print("{:<44} {:>5} {:>5} {:>10.1f} {:>10.1f}  {:<24} {:<24} {}\n", CellLabel(a.key), a.ms.size(),
               b->ms.size(), *stats::Quantile(a.ms, 0.5), *stats::Quantile(b->ms, 0.5), p50,
               RatioText(a.ms, b->ms, 0.9), RatioText(a.ms, b->ms, 0.99));
    if (p50_ci && p50_ci->low > opt.max_ratio) {
      regressions.push_back(fmt::format("{}: p50 ratio's lower bound {:.3f} is above --max-ratio {}",
                                        CellLabel(a.key), p50_ci->low, opt.max_ratio));
    }
  }
  for (const CellSample& b : cells_b) {
    if (std::none_of(cells_a.begin(), cells_a.end(), [&](const CellSample& c) { return c.key == b.key; })) {
      notes.push_back(fmt::format("{}: only in B", CellLabel(b.key)));
    }
  }
  for (const std::string& note : notes) fmt::print("note: {}\n", note);
  if (matched == 0) {
    fmt::print(stderr, "uvm-sizer-startup compare: {} and {} have no cell with completed pods in common\n",
               opt.a, opt.b);
    return kExitBadInput;
  }
  for (const std::string& r : regressions) fmt::print("REGRESSION: {}\n", r);
  if (!regressions.empty()) return kExitFailed;
  fmt::print("\nno p50 ratio is surely above {} ({} cells compared)\n", opt.max_ratio, matched);
  return kExitOk;
}

}  // namespace

void AddReportCommands(CLI::App& app, int* exit_code) {
  auto report_dir = std::make_shared<std::string>();
  CLI::App* report = app.add_subcommand(
      "report",
      "re-render a result directory (summary.json, CSVs, perfdash.json, report.md, plots) from its "
      "pods.jsonl and run.json");
  report->add_option("DIR", *report_dir, "the result directory of a run")->required();
  report->callback([report_dir, exit_code] { *exit_code = RunReport(*report_dir); });

  auto opt = std::make_shared<CompareOptions>();
  CLI::App* compare = app.add_subcommand(
      "compare",
      "p50/p90/p99 ratios B/A per cell of two result directories, with bootstrap 95 % intervals; exits 1 "
      "when a p50 ratio's lower bound is above --max-ratio");
  compare->add_option("A", opt->a, "the baseline result directory")->required();
  compare->add_option("B", opt->b, "the result directory compared with it")->required();
  compare->add_option("--metric", opt->metric, "the latency compared: total, run_sandbox or another phase")
      ->capture_default_str();
  compare->add_option("--max-ratio", opt->max_ratio, "the regression gate on the p50 ratio's lower bound")
      ->capture_default_str();
  compare->callback([opt, exit_code] { *exit_code = RunCompare(*opt); });
}

}  // namespace uvm::startup
