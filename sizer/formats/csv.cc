#include "sizer/formats/csv.h"

#include <string_view>

namespace uvm::sizer::formats {
namespace {

// OWASP ASVS 5.0 1.2.10 and OWASP "CSV Injection": a leading = + - @ TAB CR (or NUL) makes spreadsheets
// read the cell as a formula. A lone "-" (the source of stdin) has no operand to evaluate and stays as is.
bool FormulaLeader(std::string_view v) {
  if (v.empty() || v == "-") return false;
  switch (v.front()) {
    case '=':
    case '+':
    case '-':
    case '@':
    case '\t':
    case '\r':
    case '\0':
      return true;
    default:
      return false;
  }
}

}  // namespace

// RFC 4180 section 2, rules 6 and 7: a field holding a separator, a quote or a line break is enclosed in
// double quotes, and a quote inside it is doubled.
void AppendCsvField(std::string& out, const CsvCell& cell) {
  std::string_view v = cell.value;
  std::string guarded;
  if (cell.text && FormulaLeader(v)) {
    guarded = "'" + cell.value;
    v = guarded;
  }
  if (v.find_first_of(std::string_view(",\"\r\n", 4)) == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace uvm::sizer::formats
