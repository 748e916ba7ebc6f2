// The plots of a result directory (STARTUP.md §6.5), as gnuplot data + script pairs: cdf (total per
// handler), phases (stacked median phases per handler), concurrency (p50/p99 against the level, throughput
// on y2), uvm-size (run_sandbox against the predicted UVM GiB, with the fitted lines). The .dat and .gp are
// always written; the .svg only where gnuplot is installed.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "bench/startup/record.h"
#include "bench/startup/summary.h"

namespace uvm::startup {

struct Plot {
  std::string name;    // "cdf": cdf.dat, cdf.gp -> cdf.svg
  std::string data;    // the .dat text
  std::string script;  // the .gp text; reads <name>.dat and writes <name>.svg in its own directory
};

// Pure: the four plots' texts.
std::vector<Plot> MakePlots(const Summary& summary, const std::vector<PodRecord>& pods);

// The gnuplot on PATH, "" when there is none.
std::string FindGnuplot();

// Runs `gnuplot <name>.gp` in `dir` (fork/exec, no shell; stderr to <name>.gnuplot.log, removed when
// empty). An error names the plot and the exit status.
Status RenderSvg(const std::string& gnuplot, const std::string& dir, const std::string& name);

}  // namespace uvm::startup
