// WriteRunOutputs: every file of a result directory from run.json's RunInfo and the pods, so the runner
// and `report DIR` produce the same bytes.
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "bench/startup/outputs.h"
#include "bench/startup/plots.h"
#include "bench/startup/report.h"
#include "bench/startup/summary.h"

namespace uvm::startup {
namespace {

// Written beside and renamed over, so a reader never sees half a file.
Status WriteFile(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path partial = path;
  partial += ".partial";
  {
    std::ofstream out(partial, std::ios::binary | std::ios::trunc);
    if (!out) return Error{fmt::format("{}: cannot be created", partial.string()), ErrorCode::kPermission};
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    out.flush();
    if (!out) return Error{fmt::format("{}: write failed", partial.string()), ErrorCode::kResourceExhausted};
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec)
    return Error{fmt::format("{}: rename failed: {}", path.string(), ec.message()), ErrorCode::kInternal};
  return {};
}

}  // namespace

Status WriteRunOutputs(const std::string& dir, const RunInfo& info, const std::vector<PodRecord>& pods) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return Error{fmt::format("result directory {}: not a directory", dir), ErrorCode::kNotFound};
  }
  const std::filesystem::path root(dir);
  std::string jsonl;
  for (const PodRecord& pod : pods) jsonl += PodRecordToJsonLine(pod) + "\n";
  const Summary summary = Summarize(info, pods);
  UVM_TRY(WriteFile(root / "run.json", RunInfoToJson(info)));
  UVM_TRY(WriteFile(root / "pods.jsonl", jsonl));
  UVM_TRY(WriteFile(root / "summary.json", SummaryToJson(summary)));
  UVM_TRY(WriteFile(root / "summary.csv", SummaryCsv(summary)));
  UVM_TRY(WriteFile(root / "pods.csv", PodsCsv(pods)));
  UVM_TRY(WriteFile(root / "perfdash.json", PerfdashJson(summary)));
  UVM_TRY(WriteFile(root / "report.md", ReportMarkdown(summary)));
  const std::vector<Plot> plots = MakePlots(summary, pods);
  for (const Plot& plot : plots) {
    UVM_TRY(WriteFile(root / (plot.name + ".dat"), plot.data));
    UVM_TRY(WriteFile(root / (plot.name + ".gp"), plot.script));
  }
  // The SVGs are a convenience: without gnuplot, or when it fails, the .dat/.gp pairs are the plots.
  const std::string gnuplot = FindGnuplot();
  if (!gnuplot.empty()) {
    for (const Plot& plot : plots) {
      if (Status rendered = RenderSvg(gnuplot, dir, plot.name); !rendered) {
        fmt::print(stderr, "uvm-sizer-startup: warning: {}\n", rendered.error().message);
      }
    }
  }
  return {};
}

}  // namespace uvm::startup
