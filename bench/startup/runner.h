// `uvm-sizer-startup run` as a function, for main.cc's subcommand and for tests that drive a runtime
// without a subprocess.
#pragma once

#include <string>

#include "bench/startup/run_plan.h"

namespace uvm::startup {

// Checks the flags, runs the profile and writes the result directory. The exit status of `run`: 0 done
// (error rows are results), 1 the run could not be made (runtime unreachable, outputs not written), 2 bad
// flags or a node with sandboxes that are not ours (without --allow-shared-node), 130/143 stopped by
// SIGINT/SIGTERM after cleaning up and writing what it had.
int RunStartupProfile(const RunFlags& flags, const std::string& command_line);

}  // namespace uvm::startup
