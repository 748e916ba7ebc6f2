// The handler -> profile mapping a node implies: built-in defaults, overridden by profiles derived from the
// Kata configuration.toml each Kata handler of containerd's config points at, overridden by the daemon
// config's [handlers] (where "none" unmaps a handler). Reads files through a callback so that tests need no
// real /etc; the daemon and `uvm-sizer profiles --containerd-config` both walk the node through it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "sizer/profile.h"

namespace uvm::daemon {

using FileReader = std::function<Result<std::string>(const std::string& path)>;

// What the walk found for one runtime of containerd's config.
struct NodeHandler {
  std::string handler;
  std::string runtime_type;
  bool kata = false;
  std::string kata_config;  // the file its profile was derived from; empty: none was readable (or not Kata)
  std::vector<std::string> tried;  // the Kata files looked at, in order
};

struct NodeCatalog {
  sizer::ProfileCatalog catalog;
  std::vector<NodeHandler> runtimes;  // containerd's runtimes in handler order (empty without its config)
  std::vector<std::string> notes;     // what was derived or skipped, for the log
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
// Kata file that exists but does not parse is an error naming it. A handler mapped to "none" in
// config.handlers has no profile: catalog.ForHandler(it) is null.
Result<NodeCatalog> BuildNodeCatalog(const DaemonConfig& config, const FileReader& read, uint32_t host_cpus);

// Reads a whole file (at most 16 MiB); the error names the path and carries kNotFound for a missing one,
// kPermission when access is denied.
Result<std::string> ReadWholeFile(const std::string& path);

// The host's online CPUs (at least 1): what Kata means by "all host CPUs".
uint32_t HostCpus();

}  // namespace uvm::daemon
