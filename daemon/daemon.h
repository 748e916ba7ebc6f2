// `uvm-sizer daemon`: the node agent. Wires config, runtime, cgroups, metrics and the API around one
// Boost.Asio event loop that owns all state.
#pragma once

#include <optional>
#include <string>

#include "daemon/log.h"

namespace uvm::daemon {

struct DaemonOptions {
  std::string config_path;
  bool config_path_given = false;  // a path named on the command line must exist
  std::optional<Priority> log_level;
};

// Runs until SIGTERM or SIGINT. Returns the process exit status: 0 after a clean stop, 1 when the start-up
// config or the metrics port is unusable (the only fatal errors).
int RunDaemon(const DaemonOptions& options);

}  // namespace uvm::daemon
