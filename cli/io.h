// File and stdin reading for the CLI: the libraries take text, the CLI fetches it.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::cli {

// Reads a whole file, or standard input for "-". The error names the path and the reason.
Result<std::string> ReadInput(const std::string& path);

// The name to prefix to messages about `path` ("<stdin>" for "-").
std::string DisplayName(const std::string& path);

}  // namespace uvm::cli
