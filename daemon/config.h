// The daemon's configuration: /etc/uvm-sizer/config.toml plus config.d/*.toml drop-ins in lexical order,
// on top of built-in defaults (the daemon runs with no file at all). Unknown keys are errors.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/kubelet.h"
#include "sizer/overhead.h"
#include "sizer/pressure.h"
#include "sizer/profile.h"

namespace uvm::daemon {

enum class CgroupMode { kObserve, kEnforce };

struct DaemonConfig {
  struct Cri {
    std::string endpoint = "unix:///run/containerd/containerd.sock";
    std::chrono::milliseconds resync_interval{30000};
    std::chrono::milliseconds poll_interval{2000};
    std::chrono::milliseconds call_timeout{2000};
  } cri;
  struct Cgroups {
    std::string root = "/sys/fs/cgroup";
    CgroupMode mode = CgroupMode::kObserve;
    // How often each known pod's cgroup is read (usage series) and, in enforce mode, checked again.
    std::chrono::milliseconds read_interval{10000};
  } cgroups;
  struct Metrics {
    std::string listen = "0.0.0.0:9842";
  } metrics;
  struct Api {
    std::string socket = "/run/uvm-sizer/uvm-sizer.sock";
    std::string group;  // owner group of the socket (mode 0660); empty = root's
  } api;
  // handler -> profile name; wins over the profile derived from the node's Kata TOML, which wins over the
  // built-in default (kata -> aks-kata-256, kata-cc -> aks-kata-cc-2048).
  std::map<std::string, std::string, std::less<>> handlers;
  std::vector<sizer::Profile> profiles;  // [profiles.NAME]
  sizer::HostOverheadModel host_overhead;
  sizer::KubeletOptions kubelet;
  // The kubelet's --cgroup-root (cgroupfs driver): pod cgroups must lie beneath <root>/kubepods.
  std::string kubelet_cgroup_root = "/";
  struct Node {
    // containerd's config, read at start and on SIGHUP to find each Kata handler's configuration.toml.
    std::string containerd_config = "/etc/containerd/config.toml";
  } node;
  struct Pressure {
    std::chrono::milliseconds interval{5000};
    std::string shim_monitor_dir = "/run/vc/sbs";
    // Deadline of one GET /metrics on a shim's monitor socket.
    std::chrono::milliseconds shim_timeout{2000};
    // A PSI trigger per VM pod ("some <stall> <window>" on memory.pressure) re-evaluates the pod at once.
    bool psi_trigger = true;
    std::chrono::milliseconds psi_trigger_stall{150};
    std::chrono::milliseconds psi_trigger_window{2000};
    // The model's tunables (sizer/pressure.h); the keys an operator may want, others keep their defaults.
    sizer::PressureConfig model;
  } pressure;
  struct Log {
    std::string level = "info";  // error, warning, notice, info, debug
  } log;
};

// Parses one TOML document onto `config` (keys it sets override, others stay). `source` names the file in
// errors: `/etc/uvm-sizer/config.toml: cgroups.mode: invalid value "enforcing" (observe or enforce)`.
Status ApplyConfigText(std::string_view toml_text, std::string_view source, DaemonConfig& config);

// Defaults, then `path` (missing is fine only for the default path), then `<dir of path>/config.d/*.toml`
// in lexical order. Any error leaves nothing applied (the caller keeps its old config).
Result<DaemonConfig> LoadConfig(const std::string& path, bool path_must_exist);

// The effective configuration as TOML, every key listed (what `uvm-sizer config print` shows).
std::string ConfigToToml(const DaemonConfig& config);

// "30s", "500ms", "2m", "1h", "1m30s" -> milliseconds (positive). The error names the value.
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

inline constexpr const char* kDefaultConfigPath = "/etc/uvm-sizer/config.toml";

}  // namespace uvm::daemon
