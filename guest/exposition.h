// Prometheus text exposition format 0.0.4, as the Kata shim's monitor endpoint serves it (the shim
// encodes with Go's expfmt, TypeTextPlain). Pure: takes text, never opens anything; fuzzed.
//
// Grammar [S: prometheus/docs content/docs/instrumenting/exposition_formats.md, "Text-based format";
// behaviour of Go's prometheus/common expfmt/text_parse.go where the document is silent]:
//   line    = blank* ( "#" comment | sample )?            lines end with '\n' ("\r\n" accepted)
//   comment = blank* "HELP" blank+ name ( blank+ docstring )?    docstring escapes: \\ \n
//           | blank* "TYPE" blank+ name blank+ type              counter|gauge|histogram|summary|untyped
//           | anything else                                       ignored
//   sample  = name ( "{" ( label ( "," label )* ","? )? "}" )? blank+ value ( blank+ timestamp )? blank*
//   label   = blank* lname blank* "=" blank* '"' escaped '"' blank*      escapes: \\ \" \n
//   name    = [a-zA-Z_:][a-zA-Z0-9_:]*   lname = [a-zA-Z_][a-zA-Z0-9_]*, not "__name__"
//   value   = Go float: decimal, NaN, +Inf, -Inf (any case, "Infinity" too)   timestamp = int64 ms
// Where we are more lenient than expfmt (the payload is still unambiguous): a repeated identical TYPE
// line, a TYPE line after samples of its family, a repeated HELP line (the last wins), "\r\n" endings.
// A conflicting TYPE for a name is an error. Label values must be UTF-8; at most 128 labels a sample.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace uvm::guest {

enum class MetricType { kUntyped, kCounter, kGauge, kHistogram, kSummary };
std::string_view MetricTypeName(MetricType type);

struct LabelView {
  std::string_view name;
  std::string_view value;  // unescaped; valid only during the callback
};

struct SampleView {
  std::string_view name;
  std::span<const LabelView> labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
  int line = 0;  // 1-based

  // The value of label `label_name`, or nullopt.
  std::optional<std::string_view> Label(std::string_view label_name) const;
};

struct FamilyView {
  std::string_view name;
  std::optional<MetricType> type;        // set by a TYPE line
  std::optional<std::string_view> help;  // set by a HELP line (unescaped; valid only during the callback)
  int line = 0;
};

// Streaming parse: calls on_sample for every sample line and on_family for every HELP/TYPE line, in
// order, with views valid only during the call. Stops at the first error, which names the source and
// the 1-based line: `shim-monitor /run/vc/sbs/x/shim-monitor.sock: line 12: expected '=' after label
// name "item", got '}'`. Either callback may be empty.
Status ParseExposition(std::string_view text, std::string_view source,
                       const std::function<void(const SampleView&)>& on_sample,
                       const std::function<void(const FamilyView&)>& on_family = {});

struct Label {
  std::string name;
  std::string value;
};

struct Sample {
  std::string name;
  std::vector<Label> labels;
  double value = 0;
  std::optional<int64_t> timestamp_ms;
  int line = 0;

  const std::string* FindLabel(std::string_view label_name) const;
};

struct Family {
  std::string name;
  MetricType type = MetricType::kUntyped;
  std::string help;
};

struct Exposition {
  std::vector<Family> families;
  std::vector<Sample> samples;

  const Family* FindFamily(std::string_view name) const;
  // The family a sample belongs to: its own name, or for histogram/summary series the name without
  // _bucket/_sum/_count, or for counters without _total. nullptr when there is none.
  const Family* FamilyOf(const Sample& sample) const;
};

// Parses everything into owned values (for tests and tools; the daemon's mapping streams).
Result<Exposition> ParseExpositionText(std::string_view text, std::string_view source = "exposition");

}  // namespace uvm::guest
