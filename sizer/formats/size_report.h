// A whole manifest sized, and its `uvm-sizer size -o json` document: one implementation for the CLI and
// the daemon's SizePod call, so the JSON contract (README) has one source.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/size_pod.h"

namespace uvm::sizer::formats {

struct SizeReport {
  std::vector<PodSizing> pods;
  std::vector<std::string> warnings;  // input-level (skipped kinds, ...)
  bool refused = false;               // the runtime would refuse at least one pod
};

// Parses `yaml_text` and sizes every pod with `context` (whose runtime_classes gain those of the input).
// Errors are ParseManifest's and SizePod's, unprefixed: the caller names the file.
Result<SizeReport> SizeManifest(std::string_view yaml_text, SizingContext context);

// The JSON document of the contract (keys may be added, never renamed), pretty-printed.
std::string SizeReportJson(const SizeReport& report);

}  // namespace uvm::sizer::formats
