#include "cli/table.h"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

namespace uvm::cli {

std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  return out;
}

void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cells;
  cells.reserve(rows.size());
  std::vector<size_t> width;
  for (const auto& r : rows) {
    auto& printable = cells.emplace_back();
    width.resize(std::max(width.size(), r.size()), 0);
    for (size_t i = 0; i < r.size(); ++i) {
      printable.push_back(Printable(r[i]));
      width[i] = std::max(width[i], printable.back().size());
    }
  }
  for (const auto& r : cells) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += i + 1 == r.size() ? r[i] : fmt::format("{:<{}}  ", r[i], width[i]);
    std::cout << line << '\n';
  }
}

}  // namespace uvm::cli
