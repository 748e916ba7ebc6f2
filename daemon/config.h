// The daemon's configuration files: /etc/uvm-sizer/config.toml plus config.d/*.toml drop-ins in lexical
// order, on top of built-in defaults (the daemon runs with no file at all). The configuration value, its key
// table, the parser and printer are pure and live in config/config.h (reached by the fuzz build); this
// header adds only the file loading.
#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace uvm::daemon {

// Defaults, then `path`, then `<dir of path>/config.d/*.toml` in lexical order (names starting with "." are
// skipped), then ValidateConfig. A missing `path` is fine unless `path_must_exist` (then kNotFound); any
// other error (unreadable file or directory, bad value) is returned with nothing applied, so the caller
// keeps its old configuration. Never throws.
Result<DaemonConfig> LoadConfig(const std::string& path, bool path_must_exist);

}  // namespace uvm::daemon
