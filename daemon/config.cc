#include "daemon/config.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "daemon/node_profiles.h"
#include "sizer/formats/profiles_toml.h"

namespace uvm::daemon {
namespace {

using Millis = std::chrono::milliseconds;

// Walks one TOML table, taking known keys and reporting the first problem with its full key path.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string_view source, std::string prefix)
      : table_(table), source_(source), prefix_(std::move(prefix)) {}

  Status Unknown(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, node] : table_) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        return Fail(key.str(), "unknown key");
      }
    }
    return {};
  }

  Status String(std::string_view key, std::string& out) const {
    const toml::node* n = table_.get(key);
    if (!n) return {};
    if (!n->is_string()) return Fail(key, fmt::format("must be a string, got {}", TypeName(*n)));
    out = n->as_string()->get();
    return {};
  }

  Status Bool(std::string_view key, bool& out) const {
    const toml::node* n = table_.get(key);
    if (!n) return {};
    if (!n->is_boolean()) return Fail(key, fmt::format("must be true or false, got {}", TypeName(*n)));
    out = n->as_boolean()->get();
    return {};
  }

  Status Duration(std::string_view key, Millis& out) const {
    std::string text;
    if (auto st = String(key, text); !st) return st;
    if (text.empty()) return {};
    auto d = ParseDuration(text);
    if (!d) return Fail(key, d.error().message);
    out = *d;
    return {};
  }

  // Whole seconds (the pressure model's unit).
  Status Seconds(std::string_view key, std::chrono::seconds& out) const {
    Millis ms{-1};
    if (auto st = Duration(key, ms); !st) return st;
    if (ms.count() < 0) return {};
    if (ms.count() % 1000 != 0) return Fail(key, fmt::format("must be whole seconds, got {} ms", ms.count()));
    out = std::chrono::duration_cast<std::chrono::seconds>(ms);
    return {};
  }

  Status Number(std::string_view key, double& out) const {
    const toml::node* n = table_.get(key);
    if (!n) return {};
    if (n->is_floating_point()) {
      out = n->as_floating_point()->get();
    } else if (n->is_integer()) {
      out = static_cast<double>(n->as_integer()->get());
    } else {
      return Fail(key, fmt::format("must be a number, got {}", TypeName(*n)));
    }
    return {};
  }

  Status Strings(std::string_view key, std::vector<std::string>& out) const {
    const toml::node* n = table_.get(key);
    if (!n) return {};
    if (!n->is_array()) return Fail(key, fmt::format("must be an array of strings, got {}", TypeName(*n)));
    std::vector<std::string> values;
    for (const auto& e : *n->as_array()) {
      if (!e.is_string())
        return Fail(key, fmt::format("must be an array of strings, got an element {}", TypeName(e)));
      values.push_back(e.as_string()->get());
    }
    out = std::move(values);
    return {};
  }

  Status Bytes(std::string_view key, int64_t& out) const {
    const toml::node* n = table_.get(key);
    if (!n) return {};
    std::string text;
    if (n->is_integer()) {
      text = std::to_string(n->as_integer()->get());
    } else if (n->is_string()) {
      text = n->as_string()->get();
    } else {
      return Fail(key, fmt::format("must be a quantity like \"86Mi\", got {}", TypeName(*n)));
    }
    auto q = sizer::Quantity::Parse(text);
    if (!q) return Fail(key, q.error().message);
    if (q->IsNegative()) return Fail(key, fmt::format("must not be negative, got \"{}\"", text));
    out = q->Value();
    return {};
  }

  Status Fail(std::string_view key, std::string_view what) const {
    return Error{fmt::format("{}: {}{}: {}", source_, prefix_.empty() ? "" : prefix_ + ".", key, what)};
  }

  static std::string TypeName(const toml::node& n) { return sizer::formats::DescribeTomlValue(n); }

 private:
  const toml::table& table_;
  std::string_view source_;
  std::string prefix_;
};

Status ApplyTable(const toml::table& root, std::string_view source, DaemonConfig& c) {
  TableReader top(root, source, "");
  UVM_TRY(top.Unknown({"cri", "cgroups", "metrics", "api", "handlers", "profiles", "host_overhead", "kubelet",
                       "node", "pressure", "log"}));
  auto section = [&](std::string_view name) -> Result<const toml::table*> {
    const toml::node* n = root.get(name);
    if (!n) return static_cast<const toml::table*>(nullptr);
    if (!n->is_table()) return Error{top.Fail(name, "must be a table").error()};
    return n->as_table();
  };
#define UVM_SECTION(var, name)          \
  auto var##_r = section(name);         \
  if (!var##_r) return var##_r.error(); \
  const toml::table* var = *var##_r

  UVM_SECTION(cri, "cri");
  if (cri) {
    TableReader r(*cri, source, "cri");
    UVM_TRY(r.Unknown({"endpoint", "resync_interval", "poll_interval", "call_timeout"}));
    UVM_TRY(r.String("endpoint", c.cri.endpoint));
    UVM_TRY(r.Duration("resync_interval", c.cri.resync_interval));
    UVM_TRY(r.Duration("poll_interval", c.cri.poll_interval));
    UVM_TRY(r.Duration("call_timeout", c.cri.call_timeout));
    if (c.cri.endpoint.rfind("unix://", 0) != 0 || c.cri.endpoint.size() <= 7) {
      return r.Fail("endpoint", fmt::format("must be unix:///path, got \"{}\"", c.cri.endpoint));
    }
  }
  UVM_SECTION(cgroups, "cgroups");
  if (cgroups) {
    TableReader r(*cgroups, source, "cgroups");
    UVM_TRY(r.Unknown({"root", "mode", "read_interval"}));
    UVM_TRY(r.Duration("read_interval", c.cgroups.read_interval));
    UVM_TRY(r.String("root", c.cgroups.root));
    std::string mode = c.cgroups.mode == CgroupMode::kEnforce ? "enforce" : "observe";
    UVM_TRY(r.String("mode", mode));
    if (mode == "observe") {
      c.cgroups.mode = CgroupMode::kObserve;
    } else if (mode == "enforce") {
      c.cgroups.mode = CgroupMode::kEnforce;
    } else {
      return r.Fail("mode", fmt::format("invalid value \"{}\" (observe or enforce)", mode));
    }
    if (c.cgroups.root.empty() || c.cgroups.root[0] != '/') {
      return r.Fail("root", fmt::format("must be an absolute path, got \"{}\"", c.cgroups.root));
    }
  }
  UVM_SECTION(metrics, "metrics");
  if (metrics) {
    TableReader r(*metrics, source, "metrics");
    UVM_TRY(r.Unknown({"listen"}));
    UVM_TRY(r.String("listen", c.metrics.listen));
    auto colon = c.metrics.listen.rfind(':');
    if (colon == std::string::npos || colon + 1 == c.metrics.listen.size()) {
      return r.Fail("listen", fmt::format("must be host:port, got \"{}\"", c.metrics.listen));
    }
  }
  UVM_SECTION(api, "api");
  if (api) {
    TableReader r(*api, source, "api");
    UVM_TRY(r.Unknown({"socket", "group"}));
    UVM_TRY(r.String("socket", c.api.socket));
    UVM_TRY(r.String("group", c.api.group));
    // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
    if (c.api.socket.empty() || c.api.socket[0] != '/' || c.api.socket.size() > 107) {
      return r.Fail("socket",
                    fmt::format("must be an absolute path of at most 107 bytes, got \"{}\"", c.api.socket));
    }
  }
  UVM_SECTION(profiles, "profiles");
  if (profiles) {
    for (const auto& [name, node] : *profiles) {
      std::string path = fmt::format("profiles.{}", name.str());
      if (!node.is_table()) return Error{fmt::format("{}: {}: must be a table", source, path)};
      auto p = sizer::formats::ProfileFromTable(*node.as_table(), std::string(name.str()), path);
      if (!p) return Error{fmt::format("{}: {}", source, p.error().message)};
      auto it = std::find_if(c.profiles.begin(), c.profiles.end(),
                             [&](const auto& q) { return q.name == p->name; });
      if (it == c.profiles.end()) {
        c.profiles.push_back(std::move(*p));
      } else {
        *it = std::move(*p);
      }
    }
  }
  UVM_SECTION(handlers, "handlers");
  if (handlers) {
    TableReader r(*handlers, source, "handlers");
    for (const auto& [handler, node] : *handlers) {
      std::string profile;
      UVM_TRY(r.String(handler.str(), profile));
      c.handlers[std::string(handler.str())] = profile;
    }
  }
  UVM_SECTION(host, "host_overhead");
  if (host) {
    TableReader r(*host, source, "host_overhead");
    UVM_TRY(r.Unknown({"fixed", "per_gib"}));
    UVM_TRY(r.Bytes("fixed", c.host_overhead.fixed_bytes));
    UVM_TRY(r.Bytes("per_gib", c.host_overhead.per_gib_bytes));
  }
  UVM_SECTION(kubelet, "kubelet");
  if (kubelet) {
    TableReader r(*kubelet, source, "kubelet");
    UVM_TRY(r.Unknown({"cpu_cfs_quota", "cpu_cfs_quota_period", "static_cpu_manager", "cgroup_root"}));
    UVM_TRY(r.String("cgroup_root", c.kubelet_cgroup_root));
    if (c.kubelet_cgroup_root.empty() || c.kubelet_cgroup_root[0] != '/') {
      return r.Fail("cgroup_root",
                    fmt::format("must be an absolute path, got \"{}\"", c.kubelet_cgroup_root));
    }
    UVM_TRY(r.Bool("cpu_cfs_quota", c.kubelet.cpu_cfs_quota));
    UVM_TRY(r.Bool("static_cpu_manager", c.kubelet.static_cpu_manager));
    Millis period{c.kubelet.cpu_cfs_quota_period_us / 1000};
    UVM_TRY(r.Duration("cpu_cfs_quota_period", period));
    // The kernel takes CFS periods from 1 ms to 1 s.
    if (period < Millis(1) || period > Millis(1000)) {
      return r.Fail("cpu_cfs_quota_period", "must be between 1ms and 1s");
    }
    c.kubelet.cpu_cfs_quota_period_us = period.count() * 1000;
  }
  UVM_SECTION(node, "node");
  if (node) {
    TableReader r(*node, source, "node");
    UVM_TRY(r.Unknown({"containerd_config"}));
    UVM_TRY(r.String("containerd_config", c.node.containerd_config));
  }
  UVM_SECTION(pressure, "pressure");
  if (pressure) {
    TableReader r(*pressure, source, "pressure");
    UVM_TRY(r.Unknown({"interval", "shim_monitor_dir", "shim_timeout", "psi_trigger", "psi_trigger_stall",
                       "psi_trigger_window", "window", "min_span", "warning_time_left", "critical_time_left",
                       "warning_available_fraction", "critical_available_fraction", "warning_psi_full_avg10",
                       "critical_psi_full_avg10", "clear_hold", "log_mount_patterns"}));
    auto& p = c.pressure;
    UVM_TRY(r.Duration("interval", p.interval));
    UVM_TRY(r.String("shim_monitor_dir", p.shim_monitor_dir));
    UVM_TRY(r.Duration("shim_timeout", p.shim_timeout));
    UVM_TRY(r.Bool("psi_trigger", p.psi_trigger));
    UVM_TRY(r.Duration("psi_trigger_stall", p.psi_trigger_stall));
    UVM_TRY(r.Duration("psi_trigger_window", p.psi_trigger_window));
    UVM_TRY(r.Seconds("window", p.model.window));
    UVM_TRY(r.Seconds("min_span", p.model.min_span));
    UVM_TRY(r.Seconds("warning_time_left", p.model.warning_time_left));
    UVM_TRY(r.Seconds("critical_time_left", p.model.critical_time_left));
    UVM_TRY(r.Number("warning_available_fraction", p.model.warning_available_fraction));
    UVM_TRY(r.Number("critical_available_fraction", p.model.critical_available_fraction));
    UVM_TRY(r.Number("warning_psi_full_avg10", p.model.warning_psi_full_avg10));
    UVM_TRY(r.Number("critical_psi_full_avg10", p.model.critical_psi_full_avg10));
    UVM_TRY(r.Seconds("clear_hold", p.model.clear_hold));
    UVM_TRY(r.Strings("log_mount_patterns", p.model.log_mount_patterns));
    if (p.shim_monitor_dir.empty() || p.shim_monitor_dir[0] != '/') {
      return r.Fail("shim_monitor_dir",
                    fmt::format("must be an absolute path, got \"{}\"", p.shim_monitor_dir));
    }
    // The kernel takes trigger windows of 500 ms to 10 s, and a stall within the window
    // [S: kernel Documentation/accounting/psi.rst "Monitoring for pressure thresholds"].
    if (p.psi_trigger_window < Millis(500) || p.psi_trigger_window > Millis(10000)) {
      return r.Fail("psi_trigger_window", "must be between 500ms and 10s");
    }
    if (p.psi_trigger_stall > p.psi_trigger_window) {
      return r.Fail("psi_trigger_stall", "must not exceed psi_trigger_window");
    }
    if (auto st = sizer::ValidatePressureConfig(p.model); !st) {
      return Error{fmt::format("{}: {}", source, st.error().message)};
    }
  }
  UVM_SECTION(log, "log");
  if (log) {
    TableReader r(*log, source, "log");
    UVM_TRY(r.Unknown({"level"}));
    UVM_TRY(r.String("level", c.log.level));
    static const std::set<std::string> kLevels = {"error", "warning", "notice", "info", "debug"};
    if (!kLevels.count(c.log.level)) {
      return r.Fail("level",
                    fmt::format("invalid value \"{}\" (error, warning, notice, info, debug)", c.log.level));
    }
  }
#undef UVM_SECTION
  return {};
}

// Checks that every [handlers] entry names a known profile, after all files are applied (a drop-in may add
// the profile a later entry names).
Status ValidateHandlers(const DaemonConfig& c, std::string_view source) {
  sizer::ProfileCatalog catalog = sizer::ProfileCatalog::Builtin();
  for (const auto& p : c.profiles) catalog.Put(p);
  for (const auto& [handler, profile] : c.handlers) {
    auto st = catalog.MapHandler(handler, profile);
    if (!st) return Error{fmt::format("{}: handlers.{}", source, st.error().message)};
  }
  return {};
}

}  // namespace

Result<Millis> ParseDuration(std::string_view text) {
  // A subset of Go's time.ParseDuration: the units config files use.
  if (text.empty()) return Error{"empty duration"};
  int64_t total_us = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t digits = 0;
    while (digits < rest.size() &&
           (std::isdigit(static_cast<unsigned char>(rest[digits])) || rest[digits] == '.')) {
      ++digits;
    }
    if (digits == 0 || digits > 12)
      return Error{fmt::format("invalid duration \"{}\" (e.g. 30s, 500ms, 2m)", text)};
    double value = std::stod(std::string(rest.substr(0, digits)));
    rest.remove_prefix(digits);
    size_t unit_len = 0;
    while (unit_len < rest.size() && std::isalpha(static_cast<unsigned char>(rest[unit_len]))) ++unit_len;
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    double us_per = unit == "us"   ? 1
                    : unit == "ms" ? 1e3
                    : unit == "s"  ? 1e6
                    : unit == "m"  ? 60e6
                    : unit == "h"  ? 3600e6
                                   : -1;
    if (us_per < 0)
      return Error{fmt::format("invalid duration \"{}\": unknown unit \"{}\" (us, ms, s, m, h)", text, unit)};
    total_us += static_cast<int64_t>(value * us_per);
    if (total_us > int64_t{7} * 24 * 3600 * 1000000)
      return Error{fmt::format("duration \"{}\" is longer than a week", text)};
  }
  if (total_us < 1000) return Error{fmt::format("duration \"{}\" is shorter than 1ms", text)};
  return Millis(total_us / 1000);
}

Status ApplyConfigText(std::string_view toml_text, std::string_view source, DaemonConfig& config) {
  toml::table table;
  try {
    table = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return Error{
        fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column, e.description())};
  }
  DaemonConfig next = config;
  if (auto st = ApplyTable(table, source, next); !st) return st;
  config = std::move(next);
  return {};
}

Result<DaemonConfig> LoadConfig(const std::string& path, bool path_must_exist) {
  DaemonConfig config;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    auto text = ReadWholeFile(path);
    if (!text) return text.error();
    if (auto s = ApplyConfigText(*text, path, config); !s) return s.error();
  } else if (path_must_exist) {
    return Error{fmt::format("{}: cannot read: {}", path, std::strerror(errno))};
  }
  std::string dir = path.substr(0, path.rfind('/') == std::string::npos ? 0 : path.rfind('/'));
  std::string dropins = (dir.empty() ? "." : dir) + "/config.d";
  if (DIR* d = opendir(dropins.c_str())) {
    std::vector<std::string> names;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.size() > 5 && name.substr(name.size() - 5) == ".toml" && name[0] != '.') names.push_back(name);
    }
    closedir(d);
    std::sort(names.begin(), names.end());
    for (const auto& name : names) {
      std::string file = dropins + "/" + name;
      auto text = ReadWholeFile(file);
      if (!text) return text.error();
      if (auto s = ApplyConfigText(*text, file, config); !s) return s.error();
    }
  }
  if (auto s = ValidateHandlers(config, path); !s) return s.error();
  return config;
}

namespace {

template <typename Dur>
toml::table PressureTable(const DaemonConfig::Pressure& p, const Dur& dur) {
  auto secs = [&](std::chrono::seconds s) { return dur(Millis(s)); };
  toml::array patterns;
  for (const auto& m : p.model.log_mount_patterns) patterns.push_back(m);
  return toml::table{{"interval", dur(p.interval)},
                     {"shim_monitor_dir", p.shim_monitor_dir},
                     {"shim_timeout", dur(p.shim_timeout)},
                     {"psi_trigger", p.psi_trigger},
                     {"psi_trigger_stall", dur(p.psi_trigger_stall)},
                     {"psi_trigger_window", dur(p.psi_trigger_window)},
                     {"window", secs(p.model.window)},
                     {"min_span", secs(p.model.min_span)},
                     {"warning_time_left", secs(p.model.warning_time_left)},
                     {"critical_time_left", secs(p.model.critical_time_left)},
                     {"warning_available_fraction", p.model.warning_available_fraction},
                     {"critical_available_fraction", p.model.critical_available_fraction},
                     {"warning_psi_full_avg10", p.model.warning_psi_full_avg10},
                     {"critical_psi_full_avg10", p.model.critical_psi_full_avg10},
                     {"clear_hold", secs(p.model.clear_hold)},
                     {"log_mount_patterns", patterns}};
}

}  // namespace

std::string ConfigToToml(const DaemonConfig& c) {
  auto dur = [](Millis d) {
    if (d.count() % 60000 == 0) return fmt::format("{}m", d.count() / 60000);
    if (d.count() % 1000 == 0) return fmt::format("{}s", d.count() / 1000);
    return fmt::format("{}ms", d.count());
  };
  toml::table handlers;
  for (const auto& [h, p] : c.handlers) handlers.insert(h, p);
  toml::table profiles;
  for (const auto& p : c.profiles) {
    profiles.insert(
        p.name, toml::table{{"description", p.description},
                            {"base_vcpus", static_cast<double>(p.base_vcpus)},
                            {"base_memory_mib", static_cast<int64_t>(p.base_memory_mib)},
                            {"mode", p.mode == sizer::SizingMode::kStatic ? "static" : "dynamic"},
                            {"default_workload_mem_mib", static_cast<int64_t>(p.default_workload_mem_mib)},
                            {"default_workload_vcpus", static_cast<int64_t>(p.default_workload_vcpus)},
                            {"workload_mem_min_mib", static_cast<int64_t>(p.workload_mem_min_mib)},
                            {"shares_fallback", p.shares_fallback},
                            {"max_vcpus", static_cast<int64_t>(p.max_vcpus)},
                            {"max_memory_mib", static_cast<int64_t>(p.max_memory_mib)},
                            {"memory_block_mib", static_cast<int64_t>(p.memory_block_mib)},
                            {"sandbox_cgroup_only", p.sandbox_cgroup_only}});
  }
  toml::table root{
      {"cri", toml::table{{"endpoint", c.cri.endpoint},
                          {"resync_interval", dur(c.cri.resync_interval)},
                          {"poll_interval", dur(c.cri.poll_interval)},
                          {"call_timeout", dur(c.cri.call_timeout)}}},
      {"cgroups", toml::table{{"root", c.cgroups.root},
                              {"mode", c.cgroups.mode == CgroupMode::kEnforce ? "enforce" : "observe"},
                              {"read_interval", dur(c.cgroups.read_interval)}}},
      {"metrics", toml::table{{"listen", c.metrics.listen}}},
      {"api", toml::table{{"socket", c.api.socket}, {"group", c.api.group}}},
      {"handlers", handlers},
      {"profiles", profiles},
      {"host_overhead", toml::table{{"fixed", fmt::format("{}", c.host_overhead.fixed_bytes)},
                                    {"per_gib", fmt::format("{}", c.host_overhead.per_gib_bytes)}}},
      {"kubelet", toml::table{{"cpu_cfs_quota", c.kubelet.cpu_cfs_quota},
                              {"cpu_cfs_quota_period", dur(Millis(c.kubelet.cpu_cfs_quota_period_us / 1000))},
                              {"static_cpu_manager", c.kubelet.static_cpu_manager},
                              {"cgroup_root", c.kubelet_cgroup_root}}},
      {"node", toml::table{{"containerd_config", c.node.containerd_config}}},
      {"pressure", PressureTable(c.pressure, dur)},
      {"log", toml::table{{"level", c.log.level}}},
  };
  std::ostringstream out;
  out << root << '\n';
  return out.str();
}

}  // namespace uvm::daemon
