// Plain-text tables for the CLI: columns padded to their widest cell, two spaces apart.
#pragma once

#include <string>
#include <vector>

namespace uvm::cli {

// Prints `rows` (the first is the header) to stdout; the last column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows);

}  // namespace uvm::cli
