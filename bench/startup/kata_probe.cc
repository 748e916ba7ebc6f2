#include "bench/startup/kata_probe.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "base/error_codes.h"
#include "guest/exposition.h"

namespace uvm::startup {
namespace {

std::vector<std::string_view> SplitNul(std::string_view text) {
  std::vector<std::string_view> out;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\0', begin);
    if (end == std::string_view::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return out;
}

std::string_view Basename(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// "2048M", "2G", "2048" (MiB, qemu's default unit), "2147483648B"? -> MiB.
std::optional<uint32_t> MibOf(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) return std::nullopt;
  std::string_view unit = text.substr(static_cast<size_t>(ptr - text.data()));
  uint64_t mib = 0;
  if (unit.empty() || unit == "M" || unit == "m" || unit == "MiB") {
    mib = value;
  } else if (unit == "G" || unit == "g" || unit == "GiB") {
    mib = value * 1024;
  } else if (unit == "K" || unit == "k") {
    mib = value / 1024;
  } else {
    return std::nullopt;
  }
  if (mib > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(mib);
}

std::optional<uint32_t> UintOf(std::string_view text) {
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// "size=2048M,slots=10,maxmem=8G" -> the value of `key`; a bare first item counts as `bare_key`.
std::optional<std::string_view> OptionValue(std::string_view list, std::string_view key, bool bare_first) {
  size_t begin = 0;
  bool first = true;
  while (begin <= list.size()) {
    size_t end = list.find(',', begin);
    if (end == std::string_view::npos) end = list.size();
    std::string_view item = list.substr(begin, end - begin);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (first && bare_first) return item;
    } else if (item.substr(0, eq) == key) {
      return item.substr(eq + 1);
    }
    first = false;
    begin = end + 1;
  }
  return std::nullopt;
}

// The value of `flag` in argv ("-m 2048M" or "--memory=size=…").
std::optional<std::string_view> ArgValue(const std::vector<std::string_view>& argv, std::string_view flag) {
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == flag && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].size() > flag.size() && argv[i].starts_with(flag) && argv[i][flag.size()] == '=') {
      return argv[i].substr(flag.size() + 1);
    }
  }
  return std::nullopt;
}

}  // namespace

Result<KataTimings> KataTimingsFromShimMetrics(std::string_view exposition) {
  auto parsed = guest::ParseExpositionText(exposition, "shim-monitor /metrics");
  if (!parsed.ok()) return parsed.error();
  KataTimings out;
  for (const guest::Sample& s : parsed->samples) {
    const std::string* action = s.FindLabel("action");
    if (!action) continue;
    if (s.name == "kata_shim_rpc_durations_histogram_milliseconds_sum" && *action == "create") {
      out.shim_create_ms = s.value;
    } else if (s.name == "kata_shim_agent_rpc_durations_histogram_milliseconds_sum") {
      if (*action == "grpc.CreateSandboxRequest") out.agent_create_sandbox_ms = s.value;
      if (*action == "grpc.CreateContainerRequest") out.agent_create_container_ms = s.value;
      if (*action == "grpc.StartContainerRequest") out.agent_start_container_ms = s.value;
    }
  }
  return out;
}

Result<uint64_t> ProcStartTicks(std::string_view stat_text) {
  size_t close = stat_text.rfind(')');
  if (close == std::string_view::npos) return InvalidInput("/proc/<pid>/stat: no \")\" after the comm field");
  // After ") " come field 3 (state) onwards: starttime is field 22, the 20th from here.
  std::string_view rest = stat_text.substr(close + 1);
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    if (pos >= end) break;
    ++field;
    if (field == 22) {
      std::string_view token = rest.substr(pos, end - pos);
      while (!token.empty() && token.back() == '\n') token.remove_suffix(1);
      uint64_t ticks = 0;
      auto [ptr, ec] = std::from_chars(token.data(), token.data() + token.size(), ticks);
      if (ec != std::errc() || ptr != token.data() + token.size()) {
        return InvalidInput(fmt::format("/proc/<pid>/stat: starttime {:?} is not a number", token));
      }
      return ticks;
    }
    pos = end;
  }
  return InvalidInput(fmt::format("/proc/<pid>/stat: only {} fields, starttime is field 22", field));
}

bool IsVmmCommandLine(std::string_view cmdline) {
  std::vector<std::string_view> argv = SplitNul(cmdline);
  if (argv.empty()) return false;
  std::string_view prog = Basename(argv[0]);
  return prog.starts_with("qemu") || prog == "cloud-hypervisor" || prog == "firecracker";
}

std::optional<ObservedUvm> ObservedUvmFromCommandLine(std::string_view cmdline) {
  std::vector<std::string_view> argv = SplitNul(cmdline);
  if (argv.empty()) return std::nullopt;
  std::string_view prog = Basename(argv[0]);
  ObservedUvm out;
  if (prog.starts_with("qemu")) {
    // qemu-system-x86_64 -m 2048M,slots=10,maxmem=… -smp 1,cores=1,threads=1,sockets=4,maxcpus=4
    // (Kata's qemu.go: memory "<n>M", smp "<n>,cores=…"); "-m size=2048M" is the long spelling.
    out.source = "qemu -m/-smp";
    if (auto m = ArgValue(argv, "-m")) {
      auto size = OptionValue(*m, "size", true);
      if (size) out.memory_mib = MibOf(*size);
    }
    if (auto smp = ArgValue(argv, "-smp")) {
      auto cpus = OptionValue(*smp, "cpus", true);
      if (cpus) out.vcpus = UintOf(*cpus);
    }
  } else if (prog == "cloud-hypervisor") {
    // cloud-hypervisor --cpus boot=1,max=4 --memory size=2048M,shared=on,hotplug_method=…
    out.source = "cloud-hypervisor --memory/--cpus";
    if (auto m = ArgValue(argv, "--memory")) {
      auto size = OptionValue(*m, "size", false);
      if (size) out.memory_mib = MibOf(*size);
    }
    if (auto c = ArgValue(argv, "--cpus")) {
      auto boot = OptionValue(*c, "boot", false);
      if (boot) out.vcpus = UintOf(*boot);
    }
  } else {
    return std::nullopt;
  }
  return out;
}

MemRamp MemRampOf(const std::vector<std::pair<int64_t, uint64_t>>& samples, uint64_t target_bytes) {
  MemRamp out;
  for (const auto& [t, bytes] : samples) {
    if (bytes > out.peak_bytes) out.peak_bytes = bytes;
    if (target_bytes == 0) continue;
    if (!out.t50_ns && static_cast<double>(bytes) >= 0.5 * static_cast<double>(target_bytes)) out.t50_ns = t;
    if (!out.t90_ns && static_cast<double>(bytes) >= 0.9 * static_cast<double>(target_bytes)) out.t90_ns = t;
  }
  return out;
}

std::string CpuModelFromCpuinfo(std::string_view cpuinfo) {
  size_t pos = 0;
  while (pos < cpuinfo.size()) {
    size_t end = cpuinfo.find('\n', pos);
    if (end == std::string_view::npos) end = cpuinfo.size();
    std::string_view line = cpuinfo.substr(pos, end - pos);
    if (line.starts_with("model name")) {
      size_t colon = line.find(':');
      if (colon != std::string_view::npos) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
        return std::string(value);
      }
    }
    pos = end + 1;
  }
  return "";
}

std::optional<int64_t> MeminfoBytes(std::string_view meminfo, std::string_view key) {
  size_t pos = 0;
  while (pos < meminfo.size()) {
    size_t end = meminfo.find('\n', pos);
    if (end == std::string_view::npos) end = meminfo.size();
    std::string_view line = meminfo.substr(pos, end - pos);
    if (line.size() > key.size() && line.starts_with(key) && line[key.size()] == ':') {
      std::string_view value = line.substr(key.size() + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      int64_t kb = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), kb);
      if (ec != std::errc()) return std::nullopt;
      std::string_view unit = value.substr(static_cast<size_t>(ptr - value.data()));
      return unit == " kB" ? kb * 1024 : kb;
    }
    pos = end + 1;
  }
  return std::nullopt;
}

}  // namespace uvm::startup
