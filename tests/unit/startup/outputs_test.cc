// A result directory end to end: WriteRunOutputs writes every file, `report DIR` rebuilds summary.json byte
// for byte, `compare A B` gates on the p50 ratio, and the reports mark stand-in rows.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/startup/commands.h"
#include "bench/startup/outputs.h"
#include "bench/startup/plots.h"
#include "bench/startup/report.h"
#include "bench/startup/summary.h"
#include "tests/unit/startup/synthetic_pods.h"

namespace uvm::startup {
namespace {

namespace fs = std::filesystem;
using testing_pods::Completed;
using testing_pods::Failed;

// A fresh directory per test, removed at the end.
class ResultDirs : public testing::Test {
 protected:
  fs::path NewDir(const std::string& name) {
    fs::path dir = fs::temp_directory_path() /
                   fmt::format("startup-{}-{}-{}", ::getpid(),
                               testing::UnitTest::GetInstance()->current_test_info()->name(), name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    dirs_.push_back(dir);
    return dir;
  }
  void TearDown() override {
    for (const fs::path& d : dirs_) fs::remove_all(d);
  }

 private:
  std::vector<fs::path> dirs_;
};

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

RunInfo Info(const std::string& run_id) {
  RunInfo info;
  info.run_id = run_id;
  info.tool_version = "0.1.0";
  info.command_line = "uvm-sizer-startup run --handlers runc,kata --levels 1,4 -n 12";
  info.started_at = "2026-12-02T12:00:00Z";
  info.cri_endpoint = "unix:///tmp/test-containerd.sock";
  info.image = "localhost/pause:bench";
  info.mode = "burst";
  info.levels = {1, 4};
  info.env.cpu_model = "Test CPU";
  info.env.nproc = 2;
  info.env.kernel = "6.1.0";
  info.env.mem_total_bytes = int64_t{8} << 30;
  info.env.containerd_version = "1.6.20";
  info.env.handlers = {{.handler = "runc", .runtime_type = "io.containerd.runc.v2"},
                       {.handler = "kata", .runtime_type = "io.containerd.runc.v2", .stand_in = true}};
  return info;
}

// runc and kata (a stand-in) at c=1 and c=4, 12 pods a cell; every pod `slowdown` times the base.
std::vector<PodRecord> SyntheticRun(double slowdown) {
  std::vector<PodRecord> pods;
  int64_t t = 0;
  int burst = 0;
  for (int level : {1, 4}) {
    for (int round = 0; round < 12 / level; ++round) {
      ++burst;
      for (int i = 0; i < level; ++i) {
        // Spread 150..172 ms, deterministic.
        double base = 150 + ((round * level + i) * 7) % 23;
        pods.push_back(Completed("runc", level, burst, t + i, slowdown * base));
        pods.push_back(Completed("kata", level, burst, t + i + 1, slowdown * base * 1.5));
      }
      t += 1000;
    }
  }
  PodRecord warmup = Completed("kata", 1, 0, t, 900);
  warmup.warmup = true;
  pods.insert(pods.begin(), warmup);
  pods.push_back(Failed("kata", 4, burst, t + 5, "UNKNOWN"));
  return pods;
}

int RunCli(std::vector<std::string> args) {
  CLI::App app{"test"};
  app.require_subcommand(1);
  int exit_code = -1;
  AddReportCommands(app, &exit_code);
  std::vector<const char*> argv = {"uvm-sizer-startup"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}

TEST_F(ResultDirs, WritesEveryOutputFile) {
  fs::path dir = NewDir("out");
  ASSERT_TRUE(WriteRunOutputs(dir.string(), Info("a"), SyntheticRun(1)).ok());
  for (const char* name : {"run.json", "pods.jsonl", "summary.json", "summary.csv", "pods.csv",
                           "perfdash.json", "report.md", "cdf.dat", "cdf.gp", "phases.dat", "phases.gp",
                           "concurrency.dat", "concurrency.gp", "uvm-size.dat", "uvm-size.gp"}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  if (!FindGnuplot().empty()) {
    for (const char* name : {"cdf.svg", "phases.svg", "concurrency.svg", "uvm-size.svg"}) {
      EXPECT_TRUE(fs::exists(dir / name)) << name << " (gnuplot is installed)";
      EXPECT_FALSE(fs::exists(dir / (std::string(name, std::string(name).size() - 4) + ".gnuplot.log")))
          << name;
    }
  }
  // 24 counted + 1 warm-up + 1 failure per handler pair.
  auto pods = ReadPodsJsonl((dir / "pods.jsonl").string());
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  EXPECT_EQ(pods->size(), 2 * 24 + 2);
  auto perfdash = nlohmann::json::parse(Slurp(dir / "perfdash.json"));
  EXPECT_EQ(perfdash["version"], "1.0");
  ASSERT_FALSE(perfdash["dataItems"].empty());
  const auto& item = perfdash["dataItems"][0];
  EXPECT_EQ(item["unit"], "ms");
  EXPECT_TRUE(item["data"].contains("Perc50"));
  EXPECT_TRUE(item["data"].contains("Perc90"));
  EXPECT_FALSE(item["data"].contains("Perc99"));  // 12 pods: no p99
  for (const char* label : {"Metric", "Handler", "Mode", "Level"})
    EXPECT_TRUE(item["labels"].contains(label));
  EXPECT_EQ(Slurp(dir / "summary.csv").substr(0, 8), "handler,");
  EXPECT_NE(Slurp(dir / "pods.csv").find("\nsynthetic,kata,io.containerd.runc.v2,true,burst,1,"),
            std::string::npos);
}

TEST_F(ResultDirs, ReportRebuildsByteIdenticalSummary) {
  fs::path dir = NewDir("out");
  ASSERT_TRUE(WriteRunOutputs(dir.string(), Info("a"), SyntheticRun(1)).ok());
  const std::string summary = Slurp(dir / "summary.json");
  const std::string report = Slurp(dir / "report.md");
  const std::string csv = Slurp(dir / "summary.csv");
  fs::remove(dir / "summary.json");
  fs::remove(dir / "report.md");
  ASSERT_EQ(RunCli({"report", dir.string()}), 0);
  EXPECT_EQ(Slurp(dir / "summary.json"), summary);
  EXPECT_EQ(Slurp(dir / "report.md"), report);
  EXPECT_EQ(Slurp(dir / "summary.csv"), csv);
}

TEST_F(ResultDirs, ReportRefusesADamagedDirectory) {
  fs::path dir = NewDir("out");
  EXPECT_EQ(RunCli({"report", dir.string()}), 2);  // no run.json
  ASSERT_TRUE(WriteRunOutputs(dir.string(), Info("a"), SyntheticRun(1)).ok());
  const std::string summary = Slurp(dir / "summary.json");
  {
    std::ofstream out(dir / "pods.jsonl", std::ios::app);
    out << "{\"schema_version\": 1, \"run_id\": \"x\", \"level\": \"high\"}\n";
  }
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunCli({"report", dir.string()}), 2);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("line 51: field \"handler\" is missing"), std::string::npos) << err;
  EXPECT_EQ(Slurp(dir / "summary.json"), summary);  // nothing rewritten
}

TEST_F(ResultDirs, CompareGatesOnTheP50RatioLowerBound) {
  fs::path a = NewDir("a");
  fs::path same = NewDir("same");
  fs::path slow = NewDir("slow");
  ASSERT_TRUE(WriteRunOutputs(a.string(), Info("a"), SyntheticRun(1)).ok());
  ASSERT_TRUE(WriteRunOutputs(same.string(), Info("same"), SyntheticRun(1)).ok());
  ASSERT_TRUE(WriteRunOutputs(slow.string(), Info("slow"), SyntheticRun(2)).ok());

  testing::internal::CaptureStdout();
  EXPECT_EQ(RunCli({"compare", a.string(), same.string()}), 0);
  std::string table = testing::internal::GetCapturedStdout();
  EXPECT_NE(table.find("runc burst c=1 mem=none cpu=none"), std::string::npos) << table;
  EXPECT_NE(table.find("1.000 ("), std::string::npos) << table;  // the same pods: p50 ratio 1
  EXPECT_NE(table.find("n/a (n<100)"), std::string::npos) << table;

  testing::internal::CaptureStdout();
  EXPECT_EQ(RunCli({"compare", a.string(), slow.string()}), 1);
  table = testing::internal::GetCapturedStdout();
  EXPECT_NE(table.find("REGRESSION: runc burst c=1"), std::string::npos) << table;
  EXPECT_NE(table.find("2.000"), std::string::npos) << table;

  // A gate wider than the slowdown lets it pass; the other direction is faster, never a regression.
  testing::internal::CaptureStdout();
  EXPECT_EQ(RunCli({"compare", a.string(), slow.string(), "--max-ratio", "2.5"}), 0);
  EXPECT_EQ(RunCli({"compare", slow.string(), a.string()}), 0);
  EXPECT_EQ(RunCli({"compare", a.string(), slow.string(), "--metric", "run_sandbox"}), 1);
  testing::internal::GetCapturedStdout();
}

TEST_F(ResultDirs, CompareRefusesBadInput) {
  fs::path a = NewDir("a");
  fs::path other = NewDir("other");
  fs::path empty = NewDir("empty");
  ASSERT_TRUE(WriteRunOutputs(a.string(), Info("a"), SyntheticRun(1)).ok());
  std::vector<PodRecord> other_pods = {Completed("runc", 32, 1, 0, 100)};
  ASSERT_TRUE(WriteRunOutputs(other.string(), Info("other"), other_pods).ok());
  testing::internal::CaptureStdout();
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunCli({"compare", a.string(), empty.string()}), 2);  // no pods.jsonl
  EXPECT_EQ(RunCli({"compare", a.string(), a.string(), "--metric", "boot"}), 2);
  EXPECT_EQ(RunCli({"compare", a.string(), a.string(), "--max-ratio", "0"}), 2);
  EXPECT_EQ(RunCli({"compare", a.string(), other.string()}), 2);  // no cell in common
  testing::internal::GetCapturedStdout();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("--metric \"boot\" is not one of"), std::string::npos) << err;
  EXPECT_NE(err.find("no cell with completed pods in common"), std::string::npos) << err;
}

TEST_F(ResultDirs, ReportMarksStandInRowsAndComparesWithRunc) {
  fs::path dir = NewDir("out");
  ASSERT_TRUE(WriteRunOutputs(dir.string(), Info("a"), SyntheticRun(1)).ok());
  const std::string md = Slurp(dir / "report.md");
  EXPECT_NE(md.find("| kata (runc.v2) (runc stand-in) | c=1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| runc (runc.v2) | c=1 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("| runc (runc.v2) (runc stand-in)"), std::string::npos) << md;
  EXPECT_NE(md.find("× runc (p50, 95 % CI)"), std::string::npos) << md;
  EXPECT_NE(md.find("| 1.50 ("), std::string::npos) << md;  // kata is 1.5× runc in every cell
  EXPECT_NE(md.find("1 (UNKNOWN 1)"), std::string::npos) << md;
  EXPECT_NE(md.find("## Startup against the predicted UVM size"), std::string::npos) << md;
  EXPECT_NE(md.find("n/a"), std::string::npos) << md;  // p99 below 100 pods
}

TEST_F(ResultDirs, RunsWithoutCompletedPodsStillGiveEveryFile) {
  // A handler that does not exist: only error rows. And a run cut short before its first pod.
  std::vector<PodRecord> failed = {Failed("nope", 1, 1, 0, "UNKNOWN"), Failed("nope", 1, 2, 1000, "UNKNOWN")};
  for (const auto& pods : {failed, std::vector<PodRecord>{}}) {
    fs::path dir = NewDir(pods.empty() ? "empty" : "failed");
    ASSERT_TRUE(WriteRunOutputs(dir.string(), Info("f"), pods).ok());
    if (!FindGnuplot().empty()) {
      for (const char* name : {"cdf", "phases", "concurrency", "uvm-size"}) {
        EXPECT_TRUE(fs::exists(dir / (std::string(name) + ".svg"))) << name;
        EXPECT_FALSE(fs::exists(dir / (std::string(name) + ".gnuplot.log")))
            << Slurp(dir / (std::string(name) + ".gnuplot.log"));
      }
    }
    auto summary = nlohmann::json::parse(Slurp(dir / "summary.json"));
    if (pods.empty()) {
      EXPECT_TRUE(summary["cells"].empty());
      continue;
    }
    ASSERT_EQ(summary["cells"].size(), 1u);
    EXPECT_EQ(summary["cells"][0]["failed"], 2);
    EXPECT_EQ(summary["cells"][0]["failures_by_code"]["UNKNOWN"], 2);
    EXPECT_TRUE(summary["cells"][0]["throughput_pods_per_s"].is_null());
    EXPECT_EQ(summary["cells"][0]["share_total_within_5s"], 0.0);
    EXPECT_NE(Slurp(dir / "report.md").find("| 2 | 2 (UNKNOWN 2) | — | — | — | — |"), std::string::npos)
        << Slurp(dir / "report.md");
  }
}

TEST_F(ResultDirs, WithoutGnuplotOnPathOnlyTheDataAndScriptsAreWritten) {
  fs::path dir = NewDir("out");
  fs::path no_tools = NewDir("bin");
  const char* old_path = std::getenv("PATH");
  const std::string saved = old_path != nullptr ? old_path : "";
  ::setenv("PATH", no_tools.c_str(), 1);
  EXPECT_EQ(FindGnuplot(), "");
  Status written = WriteRunOutputs(dir.string(), Info("a"), SyntheticRun(1));
  ::setenv("PATH", saved.c_str(), 1);
  ASSERT_TRUE(written.ok()) << written.error().message;
  EXPECT_TRUE(fs::exists(dir / "cdf.gp"));
  EXPECT_TRUE(fs::exists(dir / "cdf.dat"));
  EXPECT_FALSE(fs::exists(dir / "cdf.svg"));
}

TEST_F(ResultDirs, AFailingGnuplotIsAnErrorNamingThePlotAndItsLog) {
  const std::string gnuplot = FindGnuplot();
  if (gnuplot.empty()) GTEST_SKIP() << "gnuplot is not installed";
  fs::path dir = NewDir("out");
  {
    std::ofstream out(dir / "broken.gp");
    out << "set terminal svg\nset output 'broken.svg'\nplot 'missing.dat' using 1:2\n";
  }
  Status rendered = RenderSvg(gnuplot, dir.string(), "broken");
  ASSERT_FALSE(rendered.ok());
  EXPECT_NE(rendered.error().message.find("broken.svg: gnuplot exited with status"), std::string::npos)
      << rendered.error().message;
  EXPECT_NE(Slurp(dir / "broken.gnuplot.log").find("missing.dat"), std::string::npos);
  Status not_there = RenderSvg((dir / "no-gnuplot").string(), dir.string(), "broken");
  ASSERT_FALSE(not_there.ok());
}

TEST(Plots, DataAndScriptsNameEveryHandler) {
  const std::vector<PodRecord> pods = SyntheticRun(1);
  const Summary summary = Summarize(Info("a"), pods);
  const std::vector<Plot> plots = MakePlots(summary, pods);
  ASSERT_EQ(plots.size(), 4u);
  for (const Plot& plot : plots) {
    EXPECT_NE(plot.script.find("set output '" + plot.name + ".svg'"), std::string::npos) << plot.name;
    const std::string both = plot.script + plot.data;
    EXPECT_NE(both.find("runc (runc.v2)"), std::string::npos) << plot.name;
    EXPECT_NE(both.find("kata (runc.v2) (runc stand-in)"), std::string::npos) << plot.name;
  }
  // cdf: one block per handler, 24 counted pods each, ending at fraction 1.
  EXPECT_NE(plots[0].data.find(" 1.000000\n\n\n"), std::string::npos);
  // Without pods a plot is still a valid script (a "no data" page), not an empty one.
  const std::vector<Plot> empty = MakePlots(Summarize(Info("e"), {}), {});
  EXPECT_NE(empty[0].script.find("no completed pods"), std::string::npos);
}

}  // namespace
}  // namespace uvm::startup
