#include "config/config.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <new>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "sizer/formats/profiles_toml.h"
#include "sizer/quantity.h"

namespace uvm::daemon {
namespace {

using Millis = std::chrono::milliseconds;
using Seconds = std::chrono::seconds;

constexpr size_t kQuoteBytes = 64;
// deploy/config.toml is wrapped at the repository's line length.
constexpr size_t kFileWidth = 110;

Error Invalid(std::string message) {
  return Error{.message = std::move(message), .code = ErrorCode::kInvalidInput};
}

std::string Describe(const toml::node& n) {
  return sizer::formats::DescribeTomlValue(n);
}

std::string TomlNumber(double v) {
  std::string s = fmt::format("{}", v);
  // "10" would read back as an integer; TOML floats need a fraction or an exponent.
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string TomlStrings(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + QuoteText(values[i]);
  return out + "]";
}

std::string TomlBytes(int64_t bytes) {
  return QuoteText(sizer::Quantity::FromInt(bytes, sizer::QuantityFormat::kBinarySI).String());
}

// --- typed readers of one TOML value; errors are reasons without the key -------------------------------

Result<std::string> ReadString(const toml::node& n) {
  if (!n.is_string()) return Invalid(fmt::format("must be a string, got {}", Describe(n)));
  return std::string(n.as_string()->get());
}

Status CheckAbsolutePath(const std::string& v) {
  if (v.empty() || v[0] != '/')
    return Invalid(fmt::format("must be an absolute path, got {}", QuoteText(v, kQuoteBytes)));
  return {};
}

// The key factories. `get` is a generic lambda returning the field for a const or mutable config.
using StringCheck = Status (*)(const std::string&);

template <class Get>
ConfigKey StringKey(std::string_view path, ApplyWhen apply, std::string_view example, std::string_view doc,
                    Get get, StringCheck check = nullptr) {
  return {.path = path,
          .type = "string",
          .doc = doc,
          .apply = apply,
          .example = example,
          .print = [get](const DaemonConfig& c) { return QuoteText(get(c)); },
          .parse = [get, check](const toml::node& n, DaemonConfig& c) -> Status {
            auto v = ReadString(n);
            if (!v) return v.error();
            if (check) UVM_TRY(check(*v));
            get(c) = std::move(*v);
            return {};
          }};
}

template <class Get>
ConfigKey DurationKey(std::string_view path, ApplyWhen apply, std::string_view example, std::string_view doc,
                      Get get, Millis min = Millis(1), Millis max = std::chrono::hours(24 * 7)) {
  return {.path = path,
          .type = "duration",
          .doc = doc,
          .apply = apply,
          .example = example,
          .print = [get](const DaemonConfig& c) { return QuoteText(FormatDuration(get(c))); },
          .parse = [get, min, max](const toml::node& n, DaemonConfig& c) -> Status {
            auto text = ReadString(n);
            if (!text) return text.error();
            auto d = ParseDuration(*text);
            if (!d) return d.error();
            if (*d < min || *d > max) {
              return Invalid(fmt::format("must be between {} and {}, got {}", FormatDuration(min),
                                         FormatDuration(max), QuoteText(*text, kQuoteBytes)));
            }
            get(c) = *d;
            return {};
          }};
}

// Whole seconds: the pressure model's unit.
template <class Get>
ConfigKey SecondsKey(std::string_view path, std::string_view example, std::string_view doc, Get get) {
  return {.path = path,
          .type = "duration (whole seconds)",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return QuoteText(FormatDuration(get(c))); },
          .parse = [get](const toml::node& n, DaemonConfig& c) -> Status {
            auto text = ReadString(n);
            if (!text) return text.error();
            auto d = ParseDuration(*text);
            if (!d) return d.error();
            if (d->count() % 1000 != 0)
              return Invalid(fmt::format("must be whole seconds, got {} ms", d->count()));
            get(c) = std::chrono::duration_cast<Seconds>(*d);
            return {};
          }};
}

template <class Get>
ConfigKey BoolKey(std::string_view path, std::string_view example, std::string_view doc, Get get) {
  return {.path = path,
          .type = "bool",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return std::string(get(c) ? "true" : "false"); },
          .parse = [get](const toml::node& n, DaemonConfig& c) -> Status {
            if (!n.is_boolean()) return Invalid(fmt::format("must be true or false, got {}", Describe(n)));
            get(c) = n.as_boolean()->get();
            return {};
          }};
}

template <class Get>
ConfigKey NumberKey(std::string_view path, std::string_view example, std::string_view doc, Get get) {
  return {.path = path,
          .type = "number",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return TomlNumber(get(c)); },
          .parse = [get](const toml::node& n, DaemonConfig& c) -> Status {
            double v = 0;
            if (n.is_floating_point()) {
              v = n.as_floating_point()->get();
            } else if (n.is_integer()) {
              v = static_cast<double>(n.as_integer()->get());
            } else {
              return Invalid(fmt::format("must be a number, got {}", Describe(n)));
            }
            if (!std::isfinite(v))
              return Invalid(fmt::format("must be a finite number, got {}", Describe(n)));
            get(c) = v;
            return {};
          }};
}

// A byte count written as a Kubernetes quantity ("86Mi") or an integer, within 0..max_bytes.
template <class Get>
ConfigKey BytesKey(std::string_view path, std::string_view example, std::string_view doc, int64_t max_bytes,
                   Get get) {
  return {.path = path,
          .type = "quantity",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return TomlBytes(get(c)); },
          .parse = [get, max_bytes](const toml::node& n, DaemonConfig& c) -> Status {
            std::string text;
            if (n.is_integer()) {
              text = std::to_string(n.as_integer()->get());
            } else if (n.is_string()) {
              text = n.as_string()->get();
            } else {
              return Invalid(fmt::format("must be a quantity like \"86Mi\", got {}", Describe(n)));
            }
            auto q = sizer::Quantity::Parse(text);
            if (!q) return Invalid(q.error().message);
            if (q->IsNegative())
              return Invalid(fmt::format("must not be negative, got {}", QuoteText(text, kQuoteBytes)));
            if (*q > sizer::Quantity::FromInt(max_bytes)) {
              return Invalid(
                  fmt::format("must be at most {}, got {}",
                              sizer::Quantity::FromInt(max_bytes, sizer::QuantityFormat::kBinarySI).String(),
                              QuoteText(text, kQuoteBytes)));
            }
            get(c) = q->Value();
            return {};
          }};
}

template <class Get>
ConfigKey StringsKey(std::string_view path, std::string_view example, std::string_view doc, Get get,
                     Status (*check)(const std::string&) = nullptr) {
  return {.path = path,
          .type = "array of strings",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return TomlStrings(get(c)); },
          .parse = [get, check](const toml::node& n, DaemonConfig& c) -> Status {
            if (!n.is_array())
              return Invalid(fmt::format("must be an array of strings, got {}", Describe(n)));
            std::vector<std::string> values;
            for (const auto& e : *n.as_array()) {
              if (!e.is_string()) {
                return Invalid(fmt::format("must be an array of strings, got an element {}", Describe(e)));
              }
              values.emplace_back(e.as_string()->get());
              if (check) UVM_TRY(check(values.back()));
            }
            get(c) = std::move(values);
            return {};
          }};
}

// A string that must be one of `names`.
template <class Get>
ConfigKey ChoiceKey(std::string_view path, std::string_view example, std::string_view doc,
                    std::vector<std::string_view> names, Get get) {
  return {.path = path,
          .type = "string",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return QuoteText(get(c)); },
          .parse = [get, names](const toml::node& n, DaemonConfig& c) -> Status {
            auto v = ReadString(n);
            if (!v) return v.error();
            if (std::find(names.begin(), names.end(), *v) == names.end()) {
              return Invalid(
                  fmt::format("invalid value {} ({})", QuoteText(*v, kQuoteBytes), fmt::join(names, ", ")));
            }
            get(c) = std::move(*v);
            return {};
          }};
}

// An optional Kubernetes quantity: "" (the default) is unset. `milli` reads it as CPU (millicores, "15500m"
// or "15.5"), else as bytes ("60Gi"); at most `max`, never negative.
template <class Get>
ConfigKey OptionalQuantityKey(std::string_view path, std::string_view example, std::string_view doc,
                              bool milli, int64_t max, Get get) {
  auto print = [milli](int64_t v) {
    return QuoteText(milli ? sizer::Quantity::FromMilli(v).String()
                           : sizer::Quantity::FromInt(v, sizer::QuantityFormat::kBinarySI).String());
  };
  return {
      .path = path,
      .type = milli ? "CPU quantity or \"\" (unset)" : "quantity or \"\" (unset)",
      .doc = doc,
      .apply = ApplyWhen::kLive,
      .example = example,
      .print = [get, print](const DaemonConfig& c) { return get(c) ? print(*get(c)) : QuoteText(""); },
      .parse = [get, milli, max, print](const toml::node& n, DaemonConfig& c) -> Status {
        std::string text;
        if (n.is_integer()) {
          text = std::to_string(n.as_integer()->get());
        } else if (n.is_string()) {
          text = n.as_string()->get();
        } else {
          return Invalid(fmt::format("must be a quantity like {} or \"\", got {}",
                                     milli ? "\"15500m\"" : "\"60Gi\"", Describe(n)));
        }
        if (text.empty()) {
          get(c).reset();
          return {};
        }
        auto q = sizer::Quantity::Parse(text);
        if (!q) return Invalid(q.error().message);
        if (q->IsNegative())
          return Invalid(fmt::format("must not be negative, got {}", QuoteText(text, kQuoteBytes)));
        bool too_big = milli ? (q->MilliValueOverflows() || q->MilliValue() > max)
                             : (*q > sizer::Quantity::FromInt(max));
        if (too_big)
          return Invalid(fmt::format("must be at most {}, got {}", print(max), QuoteText(text, kQuoteBytes)));
        get(c) = milli ? q->MilliValue() : q->Value();
        return {};
      }};
}

// An optional count: an integer, or "" (the default) for unset.
template <class Get>
ConfigKey OptionalCountKey(std::string_view path, std::string_view example, std::string_view doc, int64_t max,
                           Get get) {
  return {.path = path,
          .type = "integer or \"\" (unset)",
          .doc = doc,
          .apply = ApplyWhen::kLive,
          .example = example,
          .print = [get](const DaemonConfig& c) { return get(c) ? std::to_string(*get(c)) : QuoteText(""); },
          .parse = [get, max](const toml::node& n, DaemonConfig& c) -> Status {
            if (n.is_string() && n.as_string()->get().empty()) {
              get(c).reset();
              return {};
            }
            if (!n.is_integer())
              return Invalid(fmt::format("must be an integer or \"\", got {}", Describe(n)));
            int64_t v = n.as_integer()->get();
            if (v < 1 || v > max) return Invalid(fmt::format("must be between 1 and {}, got {}", max, v));
            get(c) = v;
            return {};
          }};
}

Status CheckUnixEndpoint(const std::string& v) {
  if (v.rfind("unix://", 0) != 0 || v.size() <= 7 || v[7] != '/') {
    return Invalid(fmt::format("must be unix:///path, got {}", QuoteText(v, kQuoteBytes)));
  }
  return {};
}

Status CheckHostPort(const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon + 1 == v.size()) {
    return Invalid(fmt::format("must be host:port, got {}", QuoteText(v, kQuoteBytes)));
  }
  return {};
}

Status CheckSocketPath(const std::string& v) {
  // sockaddr_un.sun_path holds 108 bytes with the terminating NUL.
  if (v.empty() || v[0] != '/' || v.size() > 107) {
    return Invalid(
        fmt::format("must be an absolute path of at most 107 bytes, got {}", QuoteText(v, kQuoteBytes)));
  }
  return {};
}

Status CheckAbsoluteOrEmpty(const std::string& v) {
  return v.empty() ? Status() : CheckAbsolutePath(v);
}

#define UVM_FIELD(member) \
  [](auto& c) -> auto& {  \
    return c.member;      \
  }

std::vector<ConfigKey> MakeKeys() {
  constexpr auto kLive = ApplyWhen::kLive;
  constexpr auto kRestart = ApplyWhen::kRestart;
  std::vector<ConfigKey> keys;
  keys.push_back(StringKey("cri.endpoint", kRestart, R"("unix:///run/k3s/containerd/containerd.sock")",
                           "The container runtime's CRI socket.", UVM_FIELD(cri.endpoint),
                           CheckUnixEndpoint));
  keys.push_back(DurationKey("cri.resync_interval", kLive, R"("1m")",
                             "Every sandbox is inspected again this often, whatever the change feed says.",
                             UVM_FIELD(cri.resync_interval)));
  keys.push_back(DurationKey("cri.poll_interval", kLive, R"("5s")",
                             "ListPodSandbox this often (containerd 1.6 has no CRI events; its own event "
                             "stream also triggers a look).",
                             UVM_FIELD(cri.poll_interval)));
  keys.push_back(DurationKey("cri.call_timeout", kLive, R"("5s")", "Deadline of every CRI call.",
                             UVM_FIELD(cri.call_timeout)));

  keys.push_back(StringKey("cgroups.root", kRestart, R"("/host/sys/fs/cgroup")",
                           "Where the cgroup hierarchies are mounted.", UVM_FIELD(cgroups.root),
                           CheckAbsolutePath));
  keys.push_back(
      {.path = "cgroups.mode",
       .type = "observe or enforce",
       .doc = "observe: compute and report, write nothing. enforce: raise a VM pod's cgroup memory "
              "limit to its host memory need and its CPU quota to its vCPUs when the kubelet's are "
              "lower (never lowers, never touches pods that are not VM-isolated).",
       .apply = kLive,
       .example = R"("enforce")",
       .print = [](const DaemonConfig& c) { return QuoteText(CgroupModeName(c.cgroups.mode)); },
       .parse = [](const toml::node& n, DaemonConfig& c) -> Status {
         auto v = ReadString(n);
         if (!v) return v.error();
         if (*v == "observe") {
           c.cgroups.mode = CgroupMode::kObserve;
         } else if (*v == "enforce") {
           c.cgroups.mode = CgroupMode::kEnforce;
         } else {
           return Invalid(fmt::format("invalid value {} (observe or enforce)", QuoteText(*v, kQuoteBytes)));
         }
         return {};
       }});
  keys.push_back(DurationKey("cgroups.read_interval", kLive, R"("30s")",
                             "How often each known pod's cgroup is read (usage series) and, in enforce mode, "
                             "checked again; new pods are read at once.",
                             UVM_FIELD(cgroups.read_interval)));

  keys.push_back(StringKey("metrics.listen", kRestart, R"("127.0.0.1:9843")",
                           "host:port of the Prometheus /metrics endpoint.", UVM_FIELD(metrics.listen),
                           CheckHostPort));

  keys.push_back(StringKey("api.socket", kRestart, R"("/run/uvm-sizer/api.sock")",
                           "The daemon's gRPC API (uvmsizer.v1), mode 0660; `uvm-sizer status` talks to it.",
                           UVM_FIELD(api.socket), CheckSocketPath));
  keys.push_back(StringKey("api.group", kRestart, R"("kube")",
                           "Group that owns the socket (empty: root's group).", UVM_FIELD(api.group)));

  keys.push_back(
      BytesKey("host_overhead.fixed", R"("100Mi")",
               "Host memory of the VMM, shim and virtiofsd per UVM, fixed part. Measure your nodes.",
               int64_t{1} << 40, UVM_FIELD(host_overhead.fixed_bytes)));
  keys.push_back(BytesKey("host_overhead.per_gib", R"("5Mi")",
                          "The same host memory per GiB of guest RAM (the default is 4.4Mi, rounded up to a "
                          "whole byte).",
                          int64_t{1} << 30, UVM_FIELD(host_overhead.per_gib_bytes)));

  keys.push_back(BoolKey("kubelet.cpu_cfs_quota", "false",
                         "The kubelet's --cpu-cfs-quota: pods with a CPU limit get a CFS quota.",
                         UVM_FIELD(kubelet.cpu_cfs_quota)));
  keys.push_back({.path = "kubelet.cpu_cfs_quota_period",
                  .type = "duration (1ms..1s)",
                  .doc = "The kubelet's --cpu-cfs-quota-period.",
                  .apply = kLive,
                  .example = R"("50ms")",
                  .print =
                      [](const DaemonConfig& c) {
                        return QuoteText(
                            FormatDuration(std::chrono::microseconds(c.kubelet.cpu_cfs_quota_period_us)));
                      },
                  .parse = [](const toml::node& n, DaemonConfig& c) -> Status {
                    auto text = ReadString(n);
                    if (!text) return text.error();
                    auto period = ParseCfsQuotaPeriod(*text);
                    if (!period) return period.error();
                    c.kubelet.cpu_cfs_quota_period_us = period->count();
                    return {};
                  }});
  keys.push_back(
      BoolKey("kubelet.static_cpu_manager", "true",
              "The node runs the static CPU manager: integer-CPU Guaranteed pods get no CFS quota.",
              UVM_FIELD(kubelet.static_cpu_manager)));
  keys.push_back(StringKey("kubelet.cgroup_root", kLive, R"("/kube")",
                           "The kubelet's --cgroup-root: pod cgroups (cgroup_parent) must lie beneath "
                           "<cgroup_root>/kubepods.",
                           UVM_FIELD(kubelet_cgroup_root), CheckAbsolutePath));

  keys.push_back(StringKey("node.containerd_config", kLive, R"("/etc/containerd/kata.toml")",
                           "containerd's config, read at start and on SIGHUP to find each Kata handler's "
                           "configuration.toml (empty: built-in handler profiles only).",
                           UVM_FIELD(node.containerd_config), CheckAbsoluteOrEmpty));

  keys.push_back(StringKey("node.name", kRestart, R"("aks-nodepool1-12345678-vmss000000")",
                           "The node's name: the `node` label of every series and the ledger's node (empty: "
                           "the hostname, read at start; set it where the kubelet runs with "
                           "--hostname-override).",
                           UVM_FIELD(node.name)));
  keys.push_back(StringKey("node.kubelet_config", kLive, R"("/etc/kubernetes/kubelet-config.yaml")",
                           "The kubelet's KubeletConfiguration file (kubeReserved, systemReserved, "
                           "evictionHard): the first source of allocatable after the [capacity] overrides. "
                           "Missing: the next source; empty: not read.",
                           UVM_FIELD(node.kubelet_config), CheckAbsoluteOrEmpty));
  keys.push_back(
      StringKey("node.kubelet_flags", kLive, R"("/etc/sysconfig/kubelet")",
                "A file of kubelet flags (--kube-reserved, --system-reserved, --eviction-hard), as "
                "AKS writes it: a flag given here overrides that field of the KubeletConfiguration "
                "file, as the kubelet's flags do. Missing: not counted; empty: not read.",
                UVM_FIELD(node.kubelet_flags), CheckAbsoluteOrEmpty));

  keys.push_back(StringsKey("capacity.shapes", R"(["/etc/uvm-sizer/shapes/*.yaml"])",
                            "Manifests (absolute paths or glob patterns) of the pod shapes whose fit the "
                            "daemon reports, each sized with this node's handler profiles as `uvm-sizer "
                            "size` does; one shape per pod they hold, named by its object's name.",
                            UVM_FIELD(capacity.shapes), CheckAbsolutePath));
  keys.push_back(OptionalQuantityKey("capacity.allocatable_memory", R"("60Gi")",
                                     "Overrides the node's allocatable memory (\"\": from the kubelet's "
                                     "files, else MemTotal less the kubelet's default eviction threshold).",
                                     /*milli=*/false, int64_t{1} << 50,
                                     UVM_FIELD(capacity.allocatable_memory_bytes)));
  keys.push_back(OptionalQuantityKey("capacity.allocatable_cpu", R"("15500m")",
                                     "Overrides the node's allocatable CPU (\"\": from the kubelet's files, "
                                     "else the online CPUs).",
                                     /*milli=*/true, int64_t{1} << 40,
                                     UVM_FIELD(capacity.allocatable_cpu_millis)));
  keys.push_back(
      OptionalCountKey("capacity.allocatable_pods", "110",
                       "The kubelet's --max-pods (\"\": no pod-count limit is counted; the kubelet's "
                       "files are not read for it).",
                       int64_t{1} << 20, UVM_FIELD(capacity.allocatable_pods)));

  keys.push_back(DurationKey("pressure.interval", kLive, R"("10s")",
                             "How often each VM pod is evaluated (a PSI trigger evaluates its pod at once).",
                             UVM_FIELD(pressure.interval)));
  keys.push_back(StringKey("pressure.shim_monitor_dir", kLive, R"("/run/kata")",
                           "Where the Kata shims' monitor sockets live: <dir>/<sandbox-id>/shim-monitor.sock "
                           "(runtime-rs: /run/kata). A pod without one is judged from its host cgroup alone "
                           "(usage against limit).",
                           UVM_FIELD(pressure.shim_monitor_dir), CheckAbsolutePath));
  keys.push_back(DurationKey("pressure.shim_timeout", kLive, R"("1s")",
                             "Deadline of one GET /metrics on a shim's monitor socket.",
                             UVM_FIELD(pressure.shim_timeout)));
  keys.push_back(
      BoolKey("pressure.psi_trigger", "false",
              "A PSI trigger on each VM pod cgroup's memory.pressure (cgroup v2 tree): re-evaluate "
              "the pod as soon as its tasks stall on memory for psi_trigger_stall within "
              "psi_trigger_window.",
              UVM_FIELD(pressure.psi_trigger)));
  keys.push_back(
      DurationKey("pressure.psi_trigger_stall", kLive, R"("200ms")",
                  "Stall time within the window that fires the trigger (at most psi_trigger_window).",
                  UVM_FIELD(pressure.psi_trigger_stall)));
  // [S: kernel Documentation/accounting/psi.rst "Monitoring for pressure thresholds"]: windows of 500ms..10s.
  keys.push_back(DurationKey("pressure.psi_trigger_window", kLive, R"("4s")",
                             "The trigger's window: the kernel takes 500ms..10s, processes without "
                             "CAP_SYS_RESOURCE only multiples of 2s.",
                             UVM_FIELD(pressure.psi_trigger_window), Millis(500), Millis(10000)));
  keys.push_back(SecondsKey("pressure.window", R"("10m")",
                            "The growth rate is fitted over this rolling window.",
                            UVM_FIELD(pressure.model.window)));
  keys.push_back(SecondsKey("pressure.min_span", R"("1m")",
                            "No prediction until the window's samples span at least this.",
                            UVM_FIELD(pressure.model.min_span)));
  keys.push_back(SecondsKey("pressure.warning_time_left", R"("30m")",
                            "Warning when memory is predicted to run out within this.",
                            UVM_FIELD(pressure.model.warning_time_left)));
  keys.push_back(SecondsKey("pressure.critical_time_left", R"("5m")",
                            "Critical when memory is predicted to run out within this (at most "
                            "warning_time_left).",
                            UVM_FIELD(pressure.model.critical_time_left)));
  keys.push_back(NumberKey("pressure.warning_available_fraction", "0.2",
                           "Warning when less than this fraction of the memory is left.",
                           UVM_FIELD(pressure.model.warning_available_fraction)));
  keys.push_back(
      NumberKey("pressure.critical_available_fraction", "0.05",
                "Critical when less than this fraction is left (at most warning_available_fraction).",
                UVM_FIELD(pressure.model.critical_available_fraction)));
  keys.push_back(NumberKey("pressure.warning_psi_full_avg10", "20.0",
                           "Warning when the pod's tasks all stall on memory more than this percent of the "
                           "time (PSI full avg10).",
                           UVM_FIELD(pressure.model.warning_psi_full_avg10)));
  keys.push_back(NumberKey("pressure.critical_psi_full_avg10", "50.0",
                           "Critical likewise (at least warning_psi_full_avg10, at most 100).",
                           UVM_FIELD(pressure.model.critical_psi_full_avg10)));
  keys.push_back(SecondsKey("pressure.clear_hold", R"("1m")",
                            "A level is left only after this long with every rule clear by a margin.",
                            UVM_FIELD(pressure.model.clear_hold)));
  keys.push_back(StringsKey("pressure.log_mount_patterns", R"(["/var/log", "/logs"])",
                            "Guest mounts whose path contains one of these count as logs, not plain files.",
                            UVM_FIELD(pressure.model.log_mount_patterns)));

  keys.push_back(ChoiceKey("log.level", R"("debug")", "The journal's lowest priority shown.",
                           {"error", "warning", "notice", "info", "debug"}, UVM_FIELD(log.level)));
  return keys;
}

#undef UVM_FIELD

const std::vector<ConfigSection>& Sections() {
  static const std::vector<ConfigSection> kSections = {
      {"cri", ""},
      {"cgroups", ""},
      {"metrics", ""},
      {"api", ""},
      {"handlers",
       "handler = \"profile\": wins over the profile derived from the node's Kata configuration.toml, which "
       "wins over the built-in default (kata -> aks-kata-256, kata-cc -> aks-kata-cc-2048); \"none\": the "
       "handler is not VM-isolated. Empty by default."},
      {"profiles", "Custom profiles, as in `uvm-sizer profiles -o json`."},
      {"host_overhead", ""},
      {"kubelet", "The node's kubelet settings that change what it sends the runtime."},
      {"node", ""},
      {"capacity",
       "The node ledger (README \"Capacity model\"): allocatable, what the pods commit on the host, and how "
       "many more pods of each shape fit. Allocatable = these overrides, else the KubeletConfiguration file, "
       "else the kubelet flags file, else MemTotal and the online CPUs less the kubelet's default 100Mi "
       "eviction threshold. The files and shapes are read at start and on SIGHUP."},
      {"pressure",
       "Guest memory pressure of every VM pod (observe and enforce mode alike): how fast files, logs and "
       "processes eat its memory, how long until it runs out, and a level ok / warning / critical."},
      {"log", ""},
  };
  return kSections;
}

const ConfigKey* FindKey(std::string_view path) {
  for (const ConfigKey& k : ConfigKeys()) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

bool IsSection(std::string_view name) {
  const auto& s = Sections();
  return std::any_of(s.begin(), s.end(), [&](const ConfigSection& x) { return x.name == name; });
}

Error Fail(std::string_view source, std::string_view path, std::string_view why) {
  return Invalid(fmt::format("{}: {}: {}", source, path, why));
}

// Checks between keys, on the whole result of a document.
Status CrossCheck(const DaemonConfig& c, std::string_view source) {
  const auto& p = c.pressure;
  if (p.psi_trigger_stall > p.psi_trigger_window) {
    return Fail(source, "pressure.psi_trigger_stall",
                fmt::format("{} must not exceed psi_trigger_window {}",
                            QuoteText(FormatDuration(p.psi_trigger_stall)),
                            QuoteText(FormatDuration(p.psi_trigger_window))));
  }
  if (auto st = sizer::ValidatePressureConfig(p.model); !st) {
    return Invalid(fmt::format("{}: {}", source, st.error().message));
  }
  return {};
}

Status ApplyHandlers(const toml::table& t, std::string_view source, DaemonConfig& c) {
  for (const auto& [handler, node] : t) {
    std::string path = fmt::format("handlers.{}", sizer::formats::TomlKeyText(handler.str()));
    auto v = ReadString(node);
    if (!v) return Fail(source, path, v.error().message);
    if (v->empty()) return Fail(source, path, "must name a profile or \"none\", got \"\"");
    c.handlers[std::string(handler.str())] = std::move(*v);
  }
  return {};
}

Status ApplyProfiles(const toml::table& t, std::string_view source, DaemonConfig& c) {
  for (const auto& [name, node] : t) {
    std::string path = fmt::format("profiles.{}", sizer::formats::TomlKeyText(name.str()));
    if (!node.is_table()) return Fail(source, path, fmt::format("must be a table, got {}", Describe(node)));
    if (name.str() == kNoProfile)
      return Fail(source, path, "\"none\" is reserved: [handlers] H = \"none\" means not VM-isolated");
    auto p = sizer::formats::ProfileFromTable(*node.as_table(), std::string(name.str()), path);
    if (!p) return Invalid(fmt::format("{}: {}", source, p.error().message));
    auto it =
        std::find_if(c.profiles.begin(), c.profiles.end(), [&](const auto& q) { return q.name == p->name; });
    if (it == c.profiles.end()) {
      c.profiles.push_back(std::move(*p));
    } else {
      *it = std::move(*p);
    }
  }
  return {};
}

Status ApplyTable(const toml::table& root, std::string_view source, DaemonConfig& c) {
  for (const auto& [name, node] : root) {
    std::string_view section = name.str();
    if (!IsSection(section)) return Fail(source, sizer::formats::TomlKeyText(section), "unknown key");
    if (!node.is_table())
      return Fail(source, section, fmt::format("must be a table, got {}", Describe(node)));
    const toml::table& table = *node.as_table();
    if (section == "handlers") {
      UVM_TRY(ApplyHandlers(table, source, c));
      continue;
    }
    if (section == "profiles") {
      UVM_TRY(ApplyProfiles(table, source, c));
      continue;
    }
    for (const auto& [key, value] : table) {
      std::string path = fmt::format("{}.{}", section, sizer::formats::TomlKeyText(key.str()));
      const ConfigKey* k = FindKey(path);
      if (k == nullptr) return Fail(source, path, "unknown key");
      if (auto st = k->parse(value, c); !st) return Fail(source, path, st.error().message);
    }
  }
  return CrossCheck(c, source);
}

// A profile's fields as TOML text, in the order of the [profiles.NAME] reader's documentation.
std::vector<std::pair<std::string_view, std::string>> ProfileFields(const sizer::Profile& p) {
  auto u = [](uint32_t v) { return std::to_string(v); };
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  auto strings = [](const std::vector<std::string>& list) {
    std::string out = "[";
    for (const auto& item : list) out += fmt::format("{}{}", out.size() > 1 ? ", " : "", QuoteText(item));
    return out + "]";
  };
  std::string vcpus = fmt::format("{}", p.base_vcpus);
  if (vcpus.find_first_of(".en") == std::string::npos) vcpus += ".0";
  return {{"description", QuoteText(p.description)},
          {"base_vcpus", vcpus},
          {"base_memory_mib", u(p.base_memory_mib)},
          {"mode", QuoteText(p.mode == sizer::SizingMode::kStatic ? "static" : "dynamic")},
          {"default_workload_mem_mib", u(p.default_workload_mem_mib)},
          {"default_workload_vcpus", u(p.default_workload_vcpus)},
          {"workload_mem_min_mib", u(p.workload_mem_min_mib)},
          {"shares_fallback", b(p.shares_fallback)},
          {"max_vcpus", u(p.max_vcpus)},
          {"max_memory_mib", u(p.max_memory_mib)},
          {"memory_block_mib", u(p.memory_block_mib)},
          {"sandbox_cgroup_only", b(p.sandbox_cgroup_only)},
          {"enabled_annotations", strings(p.enabled_annotations)},
          {"forwarded_annotations", strings(p.forwarded_annotations)},
          {"min_hypervisor_memory_mib", u(p.min_hypervisor_memory_mib)}};
}

std::string ProfileInline(const sizer::Profile& p) {
  std::string out = "{ ";
  bool first = true;
  for (const auto& [k, v] : ProfileFields(p)) {
    out += fmt::format("{}{} = {}", first ? "" : ", ", k, v);
    first = false;
  }
  return out + " }";
}

std::string_view SectionOf(std::string_view path) {
  return path.substr(0, path.find('.'));
}
std::string_view LeafOf(std::string_view path) {
  return path.substr(path.find('.') + 1);
}

// Appends `text` as "# "-prefixed lines of at most kFileWidth columns.
void AppendComment(std::string& out, std::string_view text) {
  std::string line = "#";
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find(' ', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(pos, end - pos);
    if (line.size() > 1 && line.size() + 1 + word.size() > kFileWidth) {
      out += line + "\n";
      line = "#";
    }
    line += " ";
    line += word;
    pos = end + 1;
  }
  if (line.size() > 1) out += line + "\n";
}

}  // namespace

std::span<const ConfigKey> ConfigKeys() {
  static const std::vector<ConfigKey> kKeys = MakeKeys();
  return kKeys;
}

std::span<const ConfigSection> ConfigSections() {
  return Sections();
}

Status ApplyConfigText(std::string_view toml_text, std::string_view source, DaemonConfig& config) {
  // toml++ reports syntax errors (and allocation failures) by exception: none may leave this function.
  try {
    toml::table table;
    try {
      table = toml::parse(toml_text, source);
    } catch (const toml::parse_error& e) {
      return Invalid(fmt::format("{}:{}:{}: {}", source, e.source().begin.line, e.source().begin.column,
                                 e.description()));
    }
    DaemonConfig next = config;
    UVM_TRY(ApplyTable(table, source, next));
    config = std::move(next);
    return {};
  } catch (const std::bad_alloc&) {
    return Error{.message = fmt::format("{}: out of memory reading the configuration", source),
                 .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{.message = fmt::format("{}: {}", source, e.what()), .code = ErrorCode::kInternal};
  }
}

Status ValidateConfig(const DaemonConfig& c, std::string_view source) {
  sizer::ProfileCatalog catalog = sizer::ProfileCatalog::Builtin();
  for (const auto& p : c.profiles) catalog.Put(p);
  for (const auto& [handler, profile] : c.handlers) {
    if (profile == kNoProfile || catalog.Find(profile) != nullptr) continue;
    std::vector<std::string> names;
    for (const auto& p : catalog.profiles()) names.push_back(p.name);
    names.emplace_back(kNoProfile);
    return Fail(source, fmt::format("handlers.{}", sizer::formats::TomlKeyText(handler)),
                fmt::format("unknown profile {} (known: {})", QuoteText(profile, kQuoteBytes),
                            fmt::join(names, ", ")));
  }
  return {};
}

std::string ConfigToToml(const DaemonConfig& c) {
  std::string out;
  for (const ConfigSection& s : Sections()) {
    if (s.name == "profiles") {
      for (const auto& p : c.profiles) {
        out += fmt::format("[profiles.{}]\n", sizer::formats::TomlKeyText(p.name));
        for (const auto& [k, v] : ProfileFields(p)) out += fmt::format("{} = {}\n", k, v);
        out += "\n";
      }
      continue;
    }
    out += fmt::format("[{}]\n", s.name);
    if (s.name == "handlers") {
      for (const auto& [h, p] : c.handlers)
        out += fmt::format("{} = {}\n", sizer::formats::TomlKeyText(h), QuoteText(p));
    }
    for (const ConfigKey& k : ConfigKeys()) {
      if (SectionOf(k.path) == s.name) out += fmt::format("{} = {}\n", LeafOf(k.path), k.print(c));
    }
    out += "\n";
  }
  out.pop_back();
  return out;
}

std::string DefaultConfigFileText() {
  const DaemonConfig defaults;
  std::string out;
  AppendComment(
      out,
      "uvm-sizer daemon configuration: /etc/uvm-sizer/config.toml, then /etc/uvm-sizer/config.d/*.toml "
      "in lexical order. Every key is listed with its built-in default, commented out: the daemon runs "
      "with no file. Unknown keys are errors. `uvm-sizer config print` shows the effective "
      "configuration; SIGHUP (`systemctl reload uvm-sizer`) reloads it, and a bad file is refused with "
      "the old one kept. Keys marked (restart) take effect at the next start only; every other key "
      "applies on reload.");
  AppendComment(
      out,
      "Generated from the key table in config/config.cc by `uvm-sizer config defaults`; a unit test "
      "keeps it in step.");
  for (const ConfigSection& s : Sections()) {
    out += "\n";
    if (s.name == "profiles") {
      AppendComment(out, s.doc);
      out +=
          "# Example:\n# [profiles.my-kata]\n# base_vcpus = 1\n# base_memory_mib = 512\n# mode = "
          "\"static\"\n";
      continue;
    }
    out += fmt::format("#[{}]\n", s.name);
    if (!s.doc.empty()) AppendComment(out, s.doc);
    if (s.name == "handlers") out += "# Example:\n# kata-cc = \"aks-2025\"\n";
    for (const ConfigKey& k : ConfigKeys()) {
      if (SectionOf(k.path) != s.name) continue;
      AppendComment(out,
                    k.apply == ApplyWhen::kRestart ? fmt::format("{} (restart)", k.doc) : std::string(k.doc));
      out += fmt::format("#{} = {}\n", LeafOf(k.path), k.print(defaults));
    }
  }
  return out;
}

std::vector<ConfigChange> DiffConfig(const DaemonConfig& before, const DaemonConfig& after) {
  std::vector<ConfigChange> out;
  for (const ConfigKey& k : ConfigKeys()) {
    std::string b = k.print(before), a = k.print(after);
    if (b != a) out.push_back({std::string(k.path), std::move(b), std::move(a), k.apply == ApplyWhen::kLive});
  }
  // Dynamic tables: entry by entry, in name order; an absent side reads "(unset)".
  auto diff_maps = [&out](std::string_view prefix, const std::map<std::string, std::string, std::less<>>& b,
                          const std::map<std::string, std::string, std::less<>>& a) {
    std::vector<std::string> names;
    for (const auto& [n, v] : b) names.push_back(n);
    for (const auto& [n, v] : a) {
      if (!b.contains(n)) names.push_back(n);
    }
    std::sort(names.begin(), names.end());
    for (const auto& n : names) {
      auto bi = b.find(n);
      auto ai = a.find(n);
      std::string bv = bi == b.end() ? "(unset)" : bi->second;
      std::string av = ai == a.end() ? "(unset)" : ai->second;
      if (bv != av)
        out.push_back({fmt::format("{}.{}", prefix, sizer::formats::TomlKeyText(n)), std::move(bv),
                       std::move(av), true});
    }
  };
  auto handlers = [](const DaemonConfig& c) {
    std::map<std::string, std::string, std::less<>> m;
    for (const auto& [h, p] : c.handlers) m[h] = QuoteText(p);
    return m;
  };
  auto profiles = [](const DaemonConfig& c) {
    std::map<std::string, std::string, std::less<>> m;
    for (const auto& p : c.profiles) m[p.name] = ProfileInline(p);
    return m;
  };
  diff_maps("handlers", handlers(before), handlers(after));
  diff_maps("profiles", profiles(before), profiles(after));
  return out;
}

std::string DescribeChanges(const std::vector<ConfigChange>& changes) {
  std::vector<std::string> live, restart;
  for (const auto& ch : changes) {
    (ch.live ? live : restart).push_back(fmt::format("{} {} -> {}", ch.key, ch.before, ch.after));
  }
  std::string out = "SIGHUP: configuration reloaded: ";
  if (changes.empty()) return out + "no key changed";
  out += live.empty() ? "nothing to apply live" : fmt::format("{}", fmt::join(live, ", "));
  if (!restart.empty()) out += fmt::format("; needs a restart to apply: {}", fmt::join(restart, ", "));
  return out;
}

}  // namespace uvm::daemon
