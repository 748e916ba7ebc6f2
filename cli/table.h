// Plain-text tables for the CLI: columns padded to their widest cell, two spaces apart.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace uvm::cli {

// Prints `rows` (the first is the header) to stdout; the last column is not padded. Cells go through
// Printable(), so a hostile name cannot break a row or forge one.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

// `text` with control characters written as C escapes ("\n", "\x1b"), for one-line terminal output.
std::string Printable(std::string_view text);

}  // namespace uvm::cli
