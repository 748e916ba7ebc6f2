#include "cli/io.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cli {

std::string DisplayName(const std::string& path) {
  return path == "-" ? "<stdin>" : path;
}

Result<std::string> ReadInput(const std::string& path) {
  std::ostringstream buffer;
  if (path == "-") {
    buffer << std::cin.rdbuf();
    return buffer.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return SysError(err, fmt::format("{}: cannot read: {}", path, std::strerror(err)));
  }
  buffer << in.rdbuf();
  if (in.bad()) {
    int err = errno;
    return SysError(err, fmt::format("{}: read failed: {}", path, std::strerror(err)));
  }
  return buffer.str();
}

}  // namespace uvm::cli
