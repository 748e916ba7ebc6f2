// Finding a series by name and labels in a scrape, for tests; label values come back unescaped, as
// Prometheus sees them.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guest/exposition.h"

namespace uvm::metrics::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses with the project's own exposition parser (guest/exposition.h, fuzzed): a scrape that does not
// parse fails the test that reads it.
inline std::vector<Sample> ParseExposition(std::string_view text) {
  std::vector<Sample> out;
  auto parsed = guest::ParseExpositionText(text, "/metrics");
  EXPECT_TRUE(parsed.ok()) << (parsed.ok() ? "" : parsed.error().message);
  if (!parsed.ok()) return out;
  for (const auto& g : parsed->samples) {
    Sample s{.name = g.name, .value = g.value};
    for (const auto& l : g.labels) s.labels[l.name] = l.value;
    out.push_back(std::move(s));
  }
  return out;
}

// Samples of `name` whose labels include every pair of `match`.
inline std::vector<Sample> Find(const std::vector<Sample>& all, std::string_view name,
                                const std::map<std::string, std::string>& match = {}) {
  std::vector<Sample> out;
  for (const auto& s : all) {
    if (s.name != name) continue;
    bool ok = true;
    for (const auto& [k, v] : match) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) ok = false;
    }
    if (ok) out.push_back(s);
  }
  return out;
}

// The value of the only sample of `name` matching `match`; nullopt when there is none (or several).
inline std::optional<double> Value(const std::vector<Sample>& all, std::string_view name,
                                   const std::map<std::string, std::string>& match = {}) {
  auto found = Find(all, name, match);
  if (found.size() != 1) return std::nullopt;
  return found[0].value;
}

}  // namespace uvm::metrics::testing
