// Manifests sized, and the `uvm-sizer size` documents (-o json, -o csv): one implementation for the CLI
// and the daemon's SizePod call, so the contracts in the README have one source.
#pragma once

#include <cstdint>
#include <span>
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

// One input of several: its text and the name it goes by.
struct NamedInput {
  // The file name as given, "-" for standard input: becomes ObjectRef::source of its pods, and prefixes
  // its messages ("<stdin>" for "-").
  std::string source;
  std::string_view text;  // not owned: must outlive the call
};

// Parses `yaml_text` and sizes every pod with `context` (whose runtime_classes gain those of the input).
// Errors are ParseManifest's and SizePod's, unprefixed: the caller names the file. ObjectRef::source
// stays empty.
Result<SizeReport> SizeManifest(std::string_view yaml_text, SizingContext context);

// Several inputs, each its own YAML stream (document numbers restart at 1 in each), as `kubectl -f a -f b`
// reads them. Every input is parsed before any pod is sized, so a RuntimeClass from any input applies to
// the pods of all of them (where two inputs define one name differently, the first input's wins, with a
// warning). Pods keep input order. An error names its input ("a.yaml: document 2 (...): ..."); input
// warnings are prefixed by the input name when there is more than one input. Nothing partial on error.
Result<SizeReport> SizeManifests(std::span<const NamedInput> inputs, SizingContext context);

// Sums over a set of pods. Pods that are not VM-isolated count in `pods` only; a refused pod counts in
// `pods` and `refused_pods`. Sums saturate at INT64_MAX rather than wrap.
struct SizeTotals {
  int64_t pods = 0;
  int64_t vm_pods = 0;  // VM-isolated with a UVM (not refused)
  int64_t refused_pods = 0;
  int64_t uvm_vcpus = 0;
  int64_t uvm_memory_mib = 0;
  int64_t host_memory_bytes = 0;         // UVM + host overhead of the VMM
  int64_t overhead_shortfall_bytes = 0;  // Σ max(0, required - declared overhead)
};

struct HandlerTotals {
  std::string handler;  // "" for pods that name no runtime class (the node's default handler)
  SizeTotals totals;
};

struct ReportTotals {
  SizeTotals all;
  std::vector<HandlerTotals> by_handler;  // one per handler present, sorted by name ("" first)
};

ReportTotals Totals(const SizeReport& report);

// The JSON document of the contract (keys may be added, never renamed), pretty-printed; it holds
// `totals` (Totals()).
std::string SizeReportJson(const SizeReport& report);

// The CSV document: a header row of CsvColumns(), then one row per pod, RFC 4180 (every record ends in
// CRLF; a field holding a comma, a double quote, CR or LF is double-quoted with inner quotes doubled).
// A text field that begins with = + - @ TAB CR or NUL is prefixed with a single quote, so a spreadsheet
// shows it as text instead of evaluating a formula: OWASP ASVS 5.0 requirement 1.2.10 (= + - @ TAB NUL,
// escaped with a single quote) and OWASP's "CSV Injection" page (= + - @ TAB CR). Numbers we compute are
// never prefixed. A null value is an empty field.
std::string SizeReportCsv(const SizeReport& report);

// The CSV header, in column order (the README documents each; columns may be added at the end, never
// renamed or reordered).
const std::vector<std::string_view>& CsvColumns();

}  // namespace uvm::sizer::formats
