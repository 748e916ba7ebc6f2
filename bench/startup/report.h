// The flat and human outputs of a result directory, rendered from a Summary (and the pods): summary.csv,
// pods.csv, perfdash.json (clusterloader2's DataItems, so perfdash can plot it) and report.md (the
// comparison tables of STARTUP.md §6.6). Pure: each returns the file's text.
#pragma once

#include <string>
#include <vector>

#include "bench/startup/record.h"
#include "bench/startup/summary.h"

namespace uvm::startup {

// One row per cell and metric: the cell's key, the metric's quantiles (ms), and the cell's counts.
std::string SummaryCsv(const Summary& summary);
// One row per pod, every scalar of the record (durations in ns, empty when not reached).
std::string PodsCsv(const std::vector<PodRecord>& pods);
// {"version":"1.0","dataItems":[{"data":{"Perc50":..,"Perc90":..,"Perc99":..},"unit":"ms","labels":{..}}]}
// (clusterloader2 pkg/measurement/util DataItem/PerfData); Perc99 is left out below 100 samples.
std::string PerfdashJson(const Summary& summary);
// The comparison table per handler (runtime, predicted UVM, n, failures, p50/p99 per phase, × reference
// p50 with its interval, share within 5 s, pods/s) and the size-fit table.
std::string ReportMarkdown(const Summary& summary);

// "runc.v2" for "io.containerd.runc.v2"; "?" when unknown.
std::string ShortRuntime(const std::string& runtime_type);
// "kata (runc.v2) (runc stand-in)": the handler cell of every table.
std::string HandlerCell(const std::string& handler, const std::string& runtime_type, bool stand_in);

}  // namespace uvm::startup
