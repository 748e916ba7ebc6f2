#include "cgroups/systemd.h"

#include <systemd/sd-bus.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {
namespace {

struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

Status CheckUnitName(std::string_view unit) {
  bool ok = !unit.empty() && unit.size() <= 256;
  for (char c : unit) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
                c == '_' || c == '.' || c == '-' || c == '@' || c == '\\');
  }
  auto ends = [&](std::string_view s) {
    return unit.size() > s.size() && unit.substr(unit.size() - s.size()) == s;
  };
  if (!ok || !(ends(".slice") || ends(".scope") || ends(".service"))) {
    return InvalidInput(
        fmt::format("systemd unit {}: not a slice, scope or service unit name", QuoteForError(unit)));
  }
  return {};
}

std::string BusError(int r, const sd_bus_error* e) {
  if (e && sd_bus_error_is_set(e)) return fmt::format("{}: {}", e->name, e->message ? e->message : "");
  return std::strerror(-r);
}

// A D-Bus error name is the protocol's error code (D-Bus specification, "Message Types: ERROR"), not
// text for people: the names systemd and the bus daemon answer SetUnitProperties with
// (org.freedesktop.systemd1(5); dbus-protocol.h DBUS_ERROR_*). Without a name (a local failure), or for a
// name not listed, the errno sd-bus returned decides (it maps unknown names to EIO: internal).
ErrorCode CodeFromBus(int r, const sd_bus_error* e) {
  if (e && sd_bus_error_is_set(e) && e->name) {
    struct Name {
      std::string_view name;
      ErrorCode code;
    };
    static constexpr Name kNames[] = {
        {"org.freedesktop.systemd1.NoSuchUnit", ErrorCode::kNotFound},
        {"org.freedesktop.DBus.Error.ServiceUnknown", ErrorCode::kUnavailable},
        {"org.freedesktop.DBus.Error.NameHasNoOwner", ErrorCode::kUnavailable},
        {"org.freedesktop.DBus.Error.Disconnected", ErrorCode::kUnavailable},
        {"org.freedesktop.DBus.Error.NoServer", ErrorCode::kUnavailable},
        {"org.freedesktop.DBus.Error.NoReply", ErrorCode::kDeadline},
        {"org.freedesktop.DBus.Error.Timeout", ErrorCode::kDeadline},
        {"org.freedesktop.DBus.Error.TimedOut", ErrorCode::kDeadline},
        {"org.freedesktop.DBus.Error.AccessDenied", ErrorCode::kPermission},
        {"org.freedesktop.DBus.Error.AuthFailed", ErrorCode::kPermission},
        {"org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", ErrorCode::kPermission},
        {"org.freedesktop.DBus.Error.InvalidArgs", ErrorCode::kInvalidInput},
        {"org.freedesktop.DBus.Error.UnknownMethod", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.UnknownObject", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.UnknownInterface", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.UnknownProperty", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.PropertyReadOnly", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.NotSupported", ErrorCode::kUnsupported},
        {"org.freedesktop.DBus.Error.NoMemory", ErrorCode::kResourceExhausted},
        {"org.freedesktop.DBus.Error.LimitsExceeded", ErrorCode::kResourceExhausted},
    };
    for (const Name& n : kNames) {
      if (n.name == e->name) return n.code;
    }
  }
  return CodeFromErrno(-r);
}

}  // namespace

uint64_t CpuQuotaPerSecUSec(const CpuQuota& quota) {
  return QuotaPerPeriod(quota.quota_us, quota.period_us, 1000000);
}

Result<SystemdUnitWriter> SystemdUnitWriter::Connect(std::string_view address,
                                                     std::chrono::milliseconds timeout) {
  sd_bus* bus = nullptr;
  int r = 0;
  if (address.empty()) {
    r = sd_bus_open_system(&bus);
  } else {
    std::string addr(address);
    r = sd_bus_new(&bus);
    if (r >= 0) r = sd_bus_set_address(bus, addr.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(bus, 1);
    if (r >= 0) r = sd_bus_start(bus);
  }
  if (r < 0) {
    if (bus) sd_bus_flush_close_unref(bus);
    return SysError(-r, fmt::format("D-Bus {}: connect: {}", address.empty() ? "system bus" : address,
                                    std::strerror(-r)));
  }
  return SystemdUnitWriter(bus, timeout);
}

SystemdUnitWriter::SystemdUnitWriter(SystemdUnitWriter&& other) noexcept
    : bus_(std::exchange(other.bus_, nullptr)), timeout_(other.timeout_) {}

SystemdUnitWriter& SystemdUnitWriter::operator=(SystemdUnitWriter&& other) noexcept {
  if (this != &other) {
    if (bus_) sd_bus_flush_close_unref(bus_);
    bus_ = std::exchange(other.bus_, nullptr);
    timeout_ = other.timeout_;
  }
  return *this;
}

SystemdUnitWriter::~SystemdUnitWriter() {
  if (bus_) sd_bus_flush_close_unref(bus_);
}

Status SystemdUnitWriter::SetUnitProperties(std::string_view unit, const SystemdUnitLimits& limits) {
  if (auto st = CheckUnitName(unit); !st) return st;
  if (!limits.memory_max_bytes && !limits.cpu_quota_per_sec_usec) return {};
  std::string unit_str(unit);
  auto fail = [&](int r, const sd_bus_error* e = nullptr) {
    return Error{.message = fmt::format("systemd SetUnitProperties({}): {}", unit_str, BusError(r, e)),
                 .code = CodeFromBus(r, e),
                 .sys_errno = -r};
  };
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_call(bus_, &raw, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                         "org.freedesktop.systemd1.Manager", "SetUnitProperties");
  if (r < 0) return fail(r);
  MessagePtr msg(raw);
  // runtime=true: the change lives until the next reboot in /run, like the kubelet's own calls.
  r = sd_bus_message_append(msg.get(), "sb", unit_str.c_str(), 1);
  if (r >= 0) r = sd_bus_message_open_container(msg.get(), 'a', "(sv)");
  if (r >= 0 && limits.memory_max_bytes) {
    r = sd_bus_message_append(msg.get(), "(sv)", "MemoryMax", "t", *limits.memory_max_bytes);
  }
  if (r >= 0 && limits.cpu_quota_per_sec_usec) {
    r = sd_bus_message_append(msg.get(), "(sv)", "CPUQuotaPerSecUSec", "t", *limits.cpu_quota_per_sec_usec);
  }
  if (r >= 0) r = sd_bus_message_close_container(msg.get());
  if (r < 0) return fail(r);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus_, msg.get(), static_cast<uint64_t>(timeout_.count()) * 1000, &error, &reply);
  MessagePtr reply_ptr(reply);
  if (r < 0) {
    Error e = fail(r, &error);
    sd_bus_error_free(&error);
    return e;
  }
  sd_bus_error_free(&error);
  return {};
}

Result<WriteReport> SystemdUnitWriter::RaiseUnitLimits(std::string_view unit, const CgroupSample& current,
                                                       std::optional<uint64_t> memory_bytes,
                                                       std::optional<CpuQuota> cpu) {
  if (auto st = CheckUnitName(unit); !st) return st.error();
  WriteReport report;
  SystemdUnitLimits limits;
  auto text = [](std::optional<uint64_t> v) { return v ? std::to_string(*v) : std::string("infinity"); };
  if (memory_bytes) {
    long page = sysconf(_SC_PAGESIZE);
    uint64_t target = RoundUpToPage(*memory_bytes, page > 0 ? static_cast<uint64_t>(page) : 4096);
    std::string file = fmt::format("systemd {} MemoryMax", unit);
    report.before = report.after = current.memory_limit_bytes;
    if (MemoryLimitCovers(current.memory_limit_bytes, target)) {
      report.changes.push_back(
          {file, text(current.memory_limit_bytes), text(current.memory_limit_bytes), false,
           current.memory_limit_bytes
               ? fmt::format("already at or above the requested {} (never lowered)", target)
               : "unlimited (left unlimited)"});
    } else {
      limits.memory_max_bytes = target;
      report.after = target;
      report.changes.push_back({file, text(current.memory_limit_bytes), std::to_string(target), true,
                                fmt::format("raised to the requested {}", target)});
    }
  }
  if (cpu) {
    if (auto st = ValidateCpuQuota(*cpu); !st) return st.error();
    std::string file = fmt::format("systemd {} CPUQuotaPerSecUSec", unit);
    std::optional<uint64_t> cur_per_sec;
    if (current.cpu_quota_us && current.cpu_period_us) {
      cur_per_sec = CpuQuotaPerSecUSec({*current.cpu_quota_us, *current.cpu_period_us});
    }
    bool covers =
        !current.cpu_period_us || CpuQuotaCovers(current.cpu_quota_us, *current.cpu_period_us, *cpu);
    if (!memory_bytes) {
      report.before = report.after =
          cur_per_sec ? std::optional<uint64_t>(QuotaPerPeriod(*cur_per_sec, 1000000, cpu->period_us))
                      : std::nullopt;
    }
    if (covers) {
      report.changes.push_back({file, text(cur_per_sec), text(cur_per_sec), false,
                                cur_per_sec ? "already gives at least the requested CPU time (never lowered)"
                                            : "unlimited (left unlimited)"});
    } else {
      limits.cpu_quota_per_sec_usec = CpuQuotaPerSecUSec(*cpu);
      if (!memory_bytes) report.after = cpu->quota_us;
      report.changes.push_back(
          {file, text(cur_per_sec), std::to_string(*limits.cpu_quota_per_sec_usec), true,
           fmt::format("raised to the requested {} per {} µs", cpu->quota_us, cpu->period_us)});
    }
  }
  if (auto st = SetUnitProperties(unit, limits); !st) return st.error();
  return report;
}

}  // namespace uvm::cgroups
