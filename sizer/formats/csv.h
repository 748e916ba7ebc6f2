// RFC 4180 fields with spreadsheet formula guarding, shared by the CSV documents of `size` and `capacity`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace uvm::sizer::formats {

struct CsvCell {
  std::string value;
  bool text = false;  // from the input or a message: guarded against formula evaluation
};

inline CsvCell CsvText(std::string s) {
  return {std::move(s), true};
}
inline CsvCell CsvNumber(int64_t v) {
  return {std::to_string(v), false};
}
inline CsvCell CsvNumber(const std::optional<int64_t>& v) {
  return v ? CsvNumber(*v) : CsvCell{};
}

// Appends one field: a text cell that begins with = + - @ TAB CR or NUL gets a leading single quote
// (OWASP ASVS 5.0 1.2.10, OWASP "CSV Injection"; a lone "-" stays as is), and a field holding a comma, a
// double quote, CR or LF is double-quoted with inner quotes doubled (RFC 4180 section 2, rules 6 and 7).
void AppendCsvField(std::string& out, const CsvCell& cell);

}  // namespace uvm::sizer::formats
