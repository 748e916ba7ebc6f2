// The result directory of a run: everything is derived from pods.jsonl + run.json, so `report DIR`
// rebuilds the same files byte for byte. Pure apart from the file writes in WriteRunOutputs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bench/startup/record.h"

namespace uvm::startup {

// One row of pods.jsonl (no trailing newline); the runner appends each pod as it finishes, so a run
// killed half way keeps the rows it had.
std::string PodRecordToJsonLine(const PodRecord& pod);
// Errors name the field and the value (and the line number when `line` > 0).
Result<PodRecord> PodRecordFromJson(std::string_view json, int line = 0);
Result<std::vector<PodRecord>> ReadPodsJsonl(const std::string& path);

std::string RunInfoToJson(const RunInfo& info);
Result<RunInfo> RunInfoFromJson(std::string_view json);

// Writes run.json, pods.jsonl (rewritten whole, in the order given), summary.json, summary.csv, pods.csv,
// perfdash.json, report.md and the plots (.dat + .gp always; .svg when gnuplot is on PATH) into `dir`,
// which must exist.
Status WriteRunOutputs(const std::string& dir, const RunInfo& info, const std::vector<PodRecord>& pods);

}  // namespace uvm::startup
