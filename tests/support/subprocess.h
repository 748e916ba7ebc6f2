// Runs a program to completion for end-to-end tests: argv in, stdout/stderr/exit status out.
#pragma once

#include <string>
#include <vector>

namespace uvm::testing {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal when killed by one
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) with `input` on stdin; never goes through a shell.
ProcessResult RunProcess(const std::vector<std::string>& argv, const std::string& input = "");

}  // namespace uvm::testing
