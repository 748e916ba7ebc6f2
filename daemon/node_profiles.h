// The handler -> profile mapping a node implies: built-in defaults, overridden by profiles derived from the
// Kata configuration.toml each Kata handler of containerd's config points at, overridden by the daemon
// config's [handlers]. Reads files through a callback so that tests need no real /etc.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "daemon/config.h"
#include "sizer/profile.h"

namespace uvm::daemon {

using FileReader = std::function<Result<std::string>(const std::string& path)>;

struct NodeCatalog {
  sizer::ProfileCatalog catalog;
  std::vector<std::string> notes;  // what was derived or skipped, for the log
};

// Kata's own default configuration paths, tried in order when a runtime sets no ConfigPath
// (kata-containers src/runtime/pkg/katautils: defaultRuntimeConfiguration,
// defaultSysConfRuntimeConfiguration).
inline const std::vector<std::string>& KataDefaultConfigPaths() {
  static const std::vector<std::string> kPaths = {"/etc/kata-containers/configuration.toml",
                                                  "/usr/share/defaults/kata-containers/configuration.toml"};
  return kPaths;
}

// A missing containerd config is not an error (the node may not run containerd yet): built-ins apply. A
// Kata file that exists but does not parse is an error naming it.
Result<NodeCatalog> BuildNodeCatalog(const DaemonConfig& config, const FileReader& read, uint32_t host_cpus);

// Reads a whole file; the error names the path and says whether it is missing.
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace uvm::daemon
