// A small reader of the Prometheus text exposition for tests: enough to find a series by name and labels
// and read its value, with label values unescaped (\\, \", \n) so tests compare what Prometheus would see.
#pragma once

#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace uvm::metrics::testing {

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

inline std::vector<Sample> ParseExposition(std::string_view text) {
  std::vector<Sample> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    Sample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::string key;
        while (i < line.size() && line[i] != '=') key += line[i++];
        i += 2;  // ="
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\' && i + 1 < line.size()) {
            ++i;
            value += line[i] == 'n' ? '\n' : line[i];
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;  // closing quote
        if (i < line.size() && line[i] == ',') ++i;
        s.labels.emplace(std::move(key), std::move(value));
      }
      ++i;  // }
    }
    std::string value(line.substr(i));
    s.value = std::strtod(value.c_str(), nullptr);
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
