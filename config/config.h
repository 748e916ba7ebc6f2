// The daemon's configuration as a value, and every key of it defined once (ConfigKeys()): the parser
// (ApplyConfigText), the printer (ConfigToToml, `uvm-sizer config print`), the shipped commented file
// (DefaultConfigFileText, deploy/config.toml) and the reload report (DiffConfig, DescribeChanges) all walk
// the same table, so a key cannot be parsed but not printed, or reloaded silently. Pure: text in, value out;
// file loading (LoadConfig) lives in daemon/config.h.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/duration.h"
#include "sizer/kubelet.h"
#include "sizer/overhead.h"
#include "sizer/pressure.h"
#include "sizer/profile.h"

namespace toml {
inline namespace v3 {
class node;
}  // namespace v3
}  // namespace toml

namespace uvm::daemon {

enum class CgroupMode { kObserve, kEnforce };

constexpr const char* CgroupModeName(CgroupMode mode) {
  return mode == CgroupMode::kEnforce ? "enforce" : "observe";
}

// `[handlers] H = "none"`: H is not VM-isolated, whatever the node's Kata files or the built-in defaults say
// (for a handler named like Kata that runs something else). No profile may take this name.
inline constexpr std::string_view kNoProfile = "none";

// Defaults are the member initialisers: the key table, `config print` and deploy/config.toml take them
// from a default-constructed DaemonConfig.
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
  // handler -> profile name, or kNoProfile; wins over the profile derived from the node's Kata TOML, which
  // wins over the built-in default (kata -> aks-kata-256, kata-cc -> aks-kata-cc-2048).
  std::map<std::string, std::string, std::less<>> handlers;
  std::vector<sizer::Profile> profiles;  // [profiles.NAME]
  sizer::HostOverheadModel host_overhead;
  sizer::KubeletOptions kubelet;
  // The kubelet's --cgroup-root (cgroupfs driver): pod cgroups must lie beneath <root>/kubepods.
  std::string kubelet_cgroup_root = "/";
  struct Node {
    // containerd's config, read at start and on SIGHUP to find each Kata handler's configuration.toml.
    std::string containerd_config = "/etc/containerd/config.toml";
    // The node's name in the ledger and the `node` label of every series; empty: the hostname, read at
    // start (what the kubelet registers without --hostname-override).
    std::string name;
    // Where the kubelet's reservations are read (README "Capacity model"): a KubeletConfiguration file
    // (kubeadm writes /var/lib/kubelet/config.yaml), else the flags file AKS writes. A missing file is the
    // next source; empty: not looked at.
    std::string kubelet_config = "/var/lib/kubelet/config.yaml";
    std::string kubelet_flags = "/etc/default/kubelet";
  } node;
  // The daemon's node ledger: allocatable overrides (nullopt: from the kubelet's files, else the
  // kubelet's defaults) and the shapes whose fit it reports.
  struct Capacity {
    std::vector<std::string> shapes;  // manifest paths or glob patterns, absolute
    std::optional<int64_t> allocatable_memory_bytes;
    std::optional<int64_t> allocatable_cpu_millis;
    std::optional<int64_t> allocatable_pods;
  } capacity;
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

// How a changed key takes effect on SIGHUP.
enum class ApplyWhen : uint8_t {
  kLive,     // the reload applies it
  kRestart,  // only a restart does (sockets and roots opened once at start)
};

// One key of the config file. The table (ConfigKeys()) is the only list of keys.
struct ConfigKey {
  std::string_view path;  // dotted: "cri.poll_interval"
  std::string_view type;  // for people: "duration", "string", "bool", "number", "quantity", ...
  std::string_view doc;   // one line (wrapped when printed)
  ApplyWhen apply = ApplyWhen::kLive;
  // A valid value other than the default, as TOML text: documentation, and the tests that change every key.
  std::string_view example;
  // The key's value in a config as TOML shows it: `"2s"`, `true`, `0.1`, `["/var/log"]`.
  std::function<std::string(const DaemonConfig&)> print;
  // Sets the key from a TOML value. The error is the reason alone (the caller adds source and key path).
  std::function<Status(const toml::node&, DaemonConfig&)> parse;
};

// A [section] of the file with the paragraph deploy/config.toml shows above its keys (may be empty).
struct ConfigSection {
  std::string_view name;
  std::string_view doc;
};

// Every fixed key, in file order (section by section, as ConfigSections() lists them). [handlers] and
// [profiles.NAME] are tables of names the operator chooses: they are not in this list; ConfigToToml,
// DiffConfig and the parser handle them as such (both apply live).
std::span<const ConfigKey> ConfigKeys();
std::span<const ConfigSection> ConfigSections();

// Parses one TOML document onto `config` (keys it sets override, others stay); on error `config` is
// unchanged. `source` names the file in errors: `/etc/uvm-sizer/config.toml: cgroups.mode: invalid value
// "enforcing" (observe or enforce)`; syntax errors `source:line:column: ...`. Errors carry
// ErrorCode::kInvalidInput. Never throws.
Status ApplyConfigText(std::string_view toml_text, std::string_view source, DaemonConfig& config);

// What needs every file applied first: each [handlers] entry names a known profile (built in, or in
// [profiles], which a later drop-in may add) or "none". `source` prefixes the error.
Status ValidateConfig(const DaemonConfig& config, std::string_view source);

// The effective configuration as TOML, every key listed (what `uvm-sizer config print` shows); it parses
// back to the same configuration.
std::string ConfigToToml(const DaemonConfig& config);

// deploy/config.toml: every key commented out with its default and doc line. `uvm-sizer config defaults`
// prints it; a unit test compares it with the checked-in file.
std::string DefaultConfigFileText();

// One changed key between two configurations. Values are TOML text as ConfigToToml prints them, or
// "(unset)" for a [handlers]/[profiles] entry that is absent on that side. [handlers] entries are reported
// as "handlers.<handler>", profiles as "profiles.<name>" (the whole table inline).
struct ConfigChange {
  std::string key;
  std::string before;
  std::string after;
  bool live = true;
};
// In table order, then handlers, then profiles; empty when nothing changed.
std::vector<ConfigChange> DiffConfig(const DaemonConfig& before, const DaemonConfig& after);

// The one journal line for a reload:
// `SIGHUP: configuration reloaded: cri.poll_interval "2s" -> "5s", handlers.kata "aks-kata-256" -> "none";
// needs a restart to apply: metrics.listen "0.0.0.0:9842" -> "127.0.0.1:9843"`, or
// `SIGHUP: configuration reloaded: no key changed`.
std::string DescribeChanges(const std::vector<ConfigChange>& changes);

inline constexpr const char* kDefaultConfigPath = "/etc/uvm-sizer/config.toml";

}  // namespace uvm::daemon
