#include "daemon/capacity.h"

#include "base/error_codes.h"

#include <glob.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "sizer/formats/kubelet_config.h"
#include "sizer/formats/manifest.h"

namespace uvm::daemon {
namespace {

constexpr int64_t kMib = 1 << 20;

Error Invalid(std::string message) {
  return Error{.message = std::move(message), .code = ErrorCode::kInvalidInput};
}

bool IsGlobPattern(const std::string& path) {
  return path.find_first_of("*?[") != std::string::npos;
}

// The files a capacity.shapes entry names, sorted (as glob(3) sorts them).
Result<std::vector<std::string>> ExpandShapePattern(const std::string& pattern,
                                                    std::vector<std::string>& notes) {
  if (!IsGlobPattern(pattern)) return std::vector<std::string>{pattern};
  glob_t g{};
  int rc = glob(pattern.c_str(), GLOB_ERR, nullptr, &g);
  std::vector<std::string> files;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) files.emplace_back(g.gl_pathv[i]);
  }
  globfree(&g);
  if (rc == GLOB_NOMATCH) {
    notes.push_back(fmt::format("capacity.shapes: \"{}\" matches no file", pattern));
    return files;
  }
  if (rc != 0) {
    return Error{.message = fmt::format("capacity.shapes: \"{}\": cannot list the files it matches", pattern),
                 .code = ErrorCode::kUnavailable};
  }
  return files;
}

}  // namespace

const char* AllocatableSourceName(AllocatableSource source) {
  switch (source) {
    case AllocatableSource::kConfig:
      return "config";
    case AllocatableSource::kKubeletConfig:
      return "kubelet-config";
    case AllocatableSource::kKubeletFlags:
      return "kubelet-flags";
    case AllocatableSource::kKubeletDefaults:
      return "kubelet-defaults";
  }
  return "?";
}

Result<MachineFacts> ReadMachineFacts() {
  MachineFacts facts;
  auto meminfo = ReadWholeFile("/proc/meminfo");
  if (!meminfo) return meminfo.error();
  // "MemTotal:       16373892 kB" (proc(5)); the kubelet's memory capacity is the same number
  // (cadvisor machine.GetMachineMemoryCapacity reads MemTotal).
  std::string_view text = *meminfo;
  auto at = text.find("MemTotal:");
  if (at == std::string_view::npos) return Error{"/proc/meminfo: no MemTotal line"};
  std::string_view rest = text.substr(at + 9);
  rest.remove_prefix(std::min(rest.find_first_not_of(' '), rest.size()));
  int64_t kib = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (ec != std::errc() || kib <= 0 || kib > (INT64_MAX >> 10))
    return Error{fmt::format("/proc/meminfo: MemTotal: cannot read \"{}\"", rest.substr(0, rest.find('\n')))};
  facts.memory_total_bytes = kib << 10;
  facts.online_cpus = HostCpus();
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof(host) - 1) == 0) facts.hostname = host;
  return facts;
}

Result<NodeCapacity> ResolveAllocatable(const DaemonConfig::Capacity& overrides,
                                        const KubeletFileText& kubelet_config,
                                        const KubeletFileText& kubelet_flags, const MachineFacts& machine) {
  NodeCapacity out;
  sizer::KubeletReservations reservations;
  AllocatableSource from = AllocatableSource::kKubeletDefaults;
  std::string from_text = "kubelet-defaults (MemTotal and online CPUs, 100Mi eviction threshold)";
  bool need_files = !overrides.allocatable_memory_bytes || !overrides.allocatable_cpu_millis;
  // Both files count where both exist: the kubelet reads its --config file, then its flags override the
  // fields they set.
  std::vector<std::string> files;
  if (need_files && kubelet_config.text) {
    auto r = sizer::formats::ParseKubeletConfiguration(*kubelet_config.text);
    if (!r)
      return Invalid(fmt::format("node.kubelet_config: {}: {}", kubelet_config.path, r.error().message));
    reservations = *r;
    from = AllocatableSource::kKubeletConfig;
    files.push_back(fmt::format("kubelet-config {}", kubelet_config.path));
  }
  if (need_files && kubelet_flags.text) {
    auto r = sizer::formats::ParseKubeletFlags(*kubelet_flags.text, reservations);
    if (!r) return Invalid(fmt::format("node.kubelet_flags: {}: {}", kubelet_flags.path, r.error().message));
    if (files.empty()) from = AllocatableSource::kKubeletFlags;
    files.push_back(fmt::format("kubelet-flags {}", kubelet_flags.path));
    reservations = *r;
  }
  if (!files.empty()) from_text = fmt::format("{}", fmt::join(files, " + "));
  sizer::NodeAllocatable derived =
      sizer::AllocatableFromCapacity(machine.memory_total_bytes, int64_t{machine.online_cpus} * 1000,
                                     overrides.allocatable_pods.value_or(0), reservations);
  out.allocatable = derived;
  out.memory_source = out.cpu_source = from;
  std::vector<std::string> overridden;
  if (overrides.allocatable_memory_bytes) {
    out.allocatable.memory_bytes = *overrides.allocatable_memory_bytes;
    out.memory_source = AllocatableSource::kConfig;
    overridden.emplace_back("memory");
  }
  if (overrides.allocatable_cpu_millis) {
    out.allocatable.cpu_millis = *overrides.allocatable_cpu_millis;
    out.cpu_source = AllocatableSource::kConfig;
    overridden.emplace_back("cpu");
  }
  if (overrides.allocatable_pods) overridden.emplace_back("pods");
  if (!need_files) {
    out.allocatable_source = fmt::format("config ({})", fmt::join(overridden, ", "));
  } else if (!overridden.empty()) {
    out.allocatable_source = fmt::format("config ({}), {}", fmt::join(overridden, ", "), from_text);
  } else {
    out.allocatable_source = from_text;
  }
  return out;
}

Result<NodeCapacity> LoadNodeCapacity(const DaemonConfig& config, const sizer::ProfileCatalog& catalog,
                                      const MachineFacts& machine, const FileReader& read) {
  std::vector<std::string> notes;
  // A missing file is the next source; any other failure to read it is the operator's to fix.
  auto read_optional = [&](std::string_view key, const std::string& path) -> Result<KubeletFileText> {
    KubeletFileText file{.path = path, .text = std::nullopt};
    if (path.empty()) return file;
    auto text = read(path);
    if (text) {
      file.text = std::move(*text);
    } else if (text.error().code == ErrorCode::kNotFound) {
      notes.push_back(fmt::format("{}: {} does not exist: not counted in allocatable", key, path));
    } else {
      return Error{.message = fmt::format("{}: {}", key, text.error().message), .code = text.error().code};
    }
    return file;
  };
  // Both overridden: the kubelet's files are not needed, so not read.
  bool need_files = !config.capacity.allocatable_memory_bytes || !config.capacity.allocatable_cpu_millis;
  auto kubelet_config = read_optional("node.kubelet_config", need_files ? config.node.kubelet_config : "");
  if (!kubelet_config) return kubelet_config.error();
  auto kubelet_flags = read_optional("node.kubelet_flags", need_files ? config.node.kubelet_flags : "");
  if (!kubelet_flags) return kubelet_flags.error();
  auto capacity = ResolveAllocatable(config.capacity, *kubelet_config, *kubelet_flags, machine);
  if (!capacity) return capacity.error();
  capacity->node = config.node.name.empty() ? machine.hostname : config.node.name;
  capacity->notes = std::move(notes);

  sizer::SizingContext context{.catalog = catalog, .kubelet = config.kubelet, .host = config.host_overhead};
  context.host_cpus = machine.online_cpus;
  std::map<std::string, std::string> shape_files;  // name -> the file that defined it
  for (const auto& pattern : config.capacity.shapes) {
    auto files = ExpandShapePattern(pattern, capacity->notes);
    if (!files) return files.error();
    for (const auto& file : *files) {
      auto text = read(file);
      if (!text)
        return Error{.message = fmt::format("capacity.shapes: {}", text.error().message),
                     .code = text.error().code};
      auto manifest = sizer::formats::ParseManifest(*text);
      if (!manifest) return Invalid(fmt::format("capacity.shapes: {}: {}", file, manifest.error().message));
      if (manifest->pods.empty())
        return Invalid(fmt::format("capacity.shapes: {}: holds no pod-bearing object", file));
      sizer::SizingContext ctx = context;
      ctx.runtime_classes = manifest->runtime_classes;
      for (const auto& pod : manifest->pods) {
        auto sizing = sizer::SizePod(pod, ctx);
        if (!sizing) return Invalid(fmt::format("capacity.shapes: {}: {}", file, sizing.error().message));
        const std::string& name = pod.ref.name;
        if (auto [it, fresh] = shape_files.emplace(name, file); !fresh) {
          return Invalid(fmt::format("capacity.shapes: {}: a second shape named \"{}\" (the first is in {})",
                                     file, name, it->second));
        }
        if (sizing->refusal) {
          capacity->notes.push_back(
              fmt::format("capacity.shapes: {}: the runtime would refuse shape \"{}\": {}", file, name,
                          *sizing->refusal));
        }
        capacity->shapes.push_back(
            sizer::Shape{.name = name, .pod = sizer::LedgerPodFromSizing(pod, *sizing)});
      }
    }
  }
  return capacity;
}

int64_t CpuRequestMillisFromShares(int64_t cpu_shares) {
  // kubelet pkg/kubelet/cm/helpers_linux.go: MilliCPUToShares = milli * 1024 / 1000, at least MinShares 2.
  if (cpu_shares <= 2) return 0;
  return cpu_shares * 1000 / 1024;
}

sizer::LedgerPod LedgerPodFrom(const PodState& pod) {
  const auto& s = pod.summary();
  const auto& d = pod.detail;
  sizer::LedgerPod p;
  p.ref = {.kind = "Pod", .namespace_ = s.namespace_, .name = s.name};
  p.uid = s.uid;
  p.handler = s.runtime_handler;
  p.vm_isolated = pod.vm_isolated();
  p.refused = pod.sizing.kata.refusal.has_value();
  if (d.resources) p.cpu_request_millis = CpuRequestMillisFromShares(d.resources->cpu_shares);
  if (d.overhead) {
    sizer::DeclaredOverhead declared = sizer::DeclaredFromCri(*d.overhead);
    p.overhead_memory_bytes = declared.memory_bytes;
    p.overhead_cpu_millis = declared.cpu_millis;
  }
  if (p.vm_isolated && pod.sizing.kata.uvm) {
    p.uvm_memory_bytes = static_cast<int64_t>(pod.sizing.kata.uvm->memory_mib) * kMib;
    if (pod.sizing.host_memory_bytes)
      p.host_overhead_model_bytes = std::max<int64_t>(0, *pod.sizing.host_memory_bytes - p.uvm_memory_bytes);
    p.host_overhead_measured_bytes = pod.host_overhead_measured_bytes;
    // No memory limit in the sandbox's resources: the kubelet sets none on the pod cgroup.
    p.pod_cgroup_memory_unlimited = !d.resources || d.resources->memory_limit_in_bytes <= 0;
  }
  if (pod.cgroup) p.memory_usage_bytes = pod.cgroup->memory_usage_bytes;
  return p;
}

std::vector<sizer::LedgerPod> LedgerPodsFrom(const PodTable& table) {
  std::vector<sizer::LedgerPod> out;
  out.reserve(table.size());
  for (const auto& [id, pod] : table.by_sandbox()) {
    if (table.IsExported(pod)) out.push_back(LedgerPodFrom(pod));
  }
  return out;
}

std::optional<int64_t> MeasuredHostOverhead(std::optional<int64_t> pod_cgroup_usage_bytes,
                                            const std::optional<sizer::GuestObservation>& guest) {
  if (!pod_cgroup_usage_bytes || !guest) return std::nullopt;
  int64_t in_use = guest->mem_total_bytes - guest->mem_available_bytes;
  return std::max<int64_t>(0, *pod_cgroup_usage_bytes - std::max<int64_t>(0, in_use));
}

}  // namespace uvm::daemon
