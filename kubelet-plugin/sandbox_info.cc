#include "kubelet-plugin/sandbox_info.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/error_codes.h"

namespace uvm::cri {
namespace {

using json = nlohmann::json;

// CRI messages are capped at 16 MiB (the kubelet's maxMsgSize); nothing larger is a real sandbox info.
constexpr size_t kMaxInfoBytes = 16u << 20;
constexpr size_t kMaxShownValue = 80;

// Scalars verbatim (cut), containers by kind only: dump() recurses, and a hostile document nests deeply.
std::string Shown(const json& value) {
  if (value.is_array()) return fmt::format("an array of {}", value.size());
  if (value.is_object()) return fmt::format("an object of {} keys", value.size());
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShownValue) text = text.substr(0, kMaxShownValue) + "...";
  return text;
}

std::string ShownText(std::string_view text) {
  std::string out = fmt::format("{:?}", text.substr(0, kMaxShownValue));
  if (text.size() > kMaxShownValue) out += "...";
  return out;
}

const json* Find(const json& root, std::initializer_list<const char*> path) {
  const json* node = &root;
  for (const char* key : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(key);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string PathName(std::string_view prefix, std::initializer_list<const char*> path) {
  std::string out(prefix);
  for (const char* key : path) {
    out += '.';
    out += key;
  }
  return out;
}

// Smallest value each field may take: sizes, periods and shares are never negative; a CFS quota of -1 is
// the cgroup spelling of "unlimited" (the kubelet sends 0 for that, but runtimes echo cgroup values).
struct FieldRule {
  const char* name;
  int64_t LinuxResources::*member;
  int64_t min;
};
constexpr FieldRule kFields[] = {
    {"cpu_period", &LinuxResources::cpu_period, 0},
    {"cpu_quota", &LinuxResources::cpu_quota, -1},
    {"cpu_shares", &LinuxResources::cpu_shares, 0},
    {"memory_limit_in_bytes", &LinuxResources::memory_limit_in_bytes, 0},
};

// A JSON integer that fits int64 (Go's encoding/json writes int64 as plain integers; a float, string,
// bool or null there is not what containerd writes).
std::optional<int64_t> AsInt64(const json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) return value.get<int64_t>();
  if (value.is_number_unsigned()) {
    auto u = value.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
  }
  return std::nullopt;
}

// A LinuxContainerResources JSON object (snake_case keys, zero values omitted as Go's omitempty does).
// nullopt without a warning when absent or null; nullopt with a warning when unusable.
std::optional<LinuxResources> ResourcesAt(const json& root, std::initializer_list<const char*> path,
                                          std::vector<std::string>& warnings) {
  const json* node = Find(root, path);
  if (node == nullptr || node->is_null()) return std::nullopt;
  const std::string where = PathName("info", path);
  if (!node->is_object()) {
    warnings.push_back(fmt::format("{}: expected an object, got {}; ignored", where, Shown(*node)));
    return std::nullopt;
  }
  LinuxResources out;
  for (const FieldRule& field : kFields) {
    auto it = node->find(field.name);
    if (it == node->end()) continue;
    std::optional<int64_t> number = AsInt64(*it);
    if (!number) {
      warnings.push_back(fmt::format("{}.{}: expected an integer in int64 range, got {}; {} ignored", where,
                                     field.name, Shown(*it), where));
      return std::nullopt;
    }
    if (*number < field.min) {
      warnings.push_back(fmt::format("{}.{}: {} is below the minimum {}; {} ignored", where, field.name,
                                     *number, field.min, where));
      return std::nullopt;
    }
    out.*field.member = *number;
  }
  return out;
}

std::optional<std::string> StringAt(const json& root, std::initializer_list<const char*> path,
                                    std::vector<std::string>& warnings) {
  const json* node = Find(root, path);
  if (node == nullptr || node->is_null()) return std::nullopt;
  if (!node->is_string()) {
    warnings.push_back(
        fmt::format("{}: expected a string, got {}; ignored", PathName("info", path), Shown(*node)));
    return std::nullopt;
  }
  return node->get<std::string>();
}

// Resources or overhead by precedence; records the winning key path.
void PickResources(const json& root, const char* which, std::optional<LinuxResources>& out,
                   std::string& source, std::vector<std::string>& warnings) {
  const std::initializer_list<const char*> paths[] = {
      {which, "linux"},                                // 2.x top level, current after a resize
      {"config", "linux", which},                      // 1.6 and 2.x: the config as received
      {"sandboxMetadata", "Config", "linux", which}};  // 2.x store metadata
  for (const auto& path : paths) {
    if (auto found = ResourcesAt(root, path, warnings)) {
      out = found;
      source = PathName("info", path);
      return;
    }
  }
}

std::optional<int64_t> ParseAnnotationInt(std::string_view text) {
  int64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

Result<SandboxInfo> ParseUnchecked(std::string_view json_text) {
  if (json_text.size() > kMaxInfoBytes) {
    return Error{.message = fmt::format("sandbox info: {} bytes is more than the {} a CRI message can carry",
                                        json_text.size(), kMaxInfoBytes),
                 .code = ErrorCode::kResourceExhausted};
  }
  json root = json::parse(json_text.begin(), json_text.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded())
    return InvalidInput(fmt::format("sandbox info: not valid JSON: {}", ShownText(json_text)));
  if (!root.is_object())
    return InvalidInput(fmt::format("sandbox info: expected a JSON object, got {}", Shown(root)));

  SandboxInfo info;
  PickResources(root, "resources", info.resources, info.resources_source, info.warnings);
  PickResources(root, "overhead", info.overhead, info.overhead_source, info.warnings);
  if (!info.resources) {
    if (const json* annotations = Find(root, {"runtimeSpec", "annotations"});
        annotations != nullptr && annotations->is_object()) {
      std::map<std::string, std::string> strings;
      for (const auto& [key, value] : annotations->items()) {
        if (value.is_string()) strings.emplace(key, value.get<std::string>());
      }
      if (auto found = ResourcesFromAnnotations(strings, "info.runtimeSpec.annotations", &info.warnings)) {
        info.resources = found;
        info.resources_source = "info.runtimeSpec.annotations";
      }
    }
  }

  for (const auto& path :
       {std::initializer_list<const char*>{"config", "linux", "cgroup_parent"},
        std::initializer_list<const char*>{"sandboxMetadata", "Config", "linux", "cgroup_parent"}}) {
    if (auto parent = StringAt(root, path, info.warnings); parent && !parent->empty()) {
      info.cgroup_parent = std::move(parent);
      break;
    }
  }

  if (const json* pid = Find(root, {"pid"}); pid != nullptr && !pid->is_null()) {
    std::optional<int64_t> number = AsInt64(*pid);
    if (!number || *number < 0 || *number > std::numeric_limits<uint32_t>::max()) {
      info.warnings.push_back(fmt::format("info.pid: expected a uint32, got {}; ignored", Shown(*pid)));
    } else if (*number > 0) {  // 0: no task
      info.pid = number;
    }
  }
  info.process_status = StringAt(root, {"processStatus"}, info.warnings);
  info.runtime_type = StringAt(root, {"runtimeType"}, info.warnings);
  info.runtime_handler = StringAt(root, {"runtimeHandler"}, info.warnings);
  if (!info.runtime_handler)
    info.runtime_handler = StringAt(root, {"sandboxMetadata", "RuntimeHandler"}, info.warnings);
  return info;
}

}  // namespace

Result<SandboxInfo> ParseSandboxInfo(std::string_view json_text) {
  try {
    return ParseUnchecked(json_text);
  } catch (const std::exception& e) {  // allocation failure; nlohmann itself is told not to throw
    return Error{fmt::format("sandbox info: {}", e.what())};
  }
}

std::optional<LinuxResources> ResourcesFromAnnotations(const std::map<std::string, std::string>& annotations,
                                                       std::string_view source,
                                                       std::vector<std::string>* warnings) {
  // containerd pkg/cri/annotations (v1.6.20): SandboxCPUPeriod, SandboxCPUQuota, SandboxCPUShares,
  // SandboxMem.
  struct Key {
    const char* name;
    const FieldRule& rule;
  };
  const Key keys[] = {{"io.kubernetes.cri.sandbox-cpu-period", kFields[0]},
                      {"io.kubernetes.cri.sandbox-cpu-quota", kFields[1]},
                      {"io.kubernetes.cri.sandbox-cpu-shares", kFields[2]},
                      {"io.kubernetes.cri.sandbox-memory", kFields[3]}};
  try {
    LinuxResources out;
    bool any = false;
    for (const Key& key : keys) {
      auto it = annotations.find(key.name);
      if (it == annotations.end()) continue;
      any = true;
      std::optional<int64_t> number = ParseAnnotationInt(it->second);
      std::string problem;
      if (!number) {
        problem = "is not a decimal int64";
      } else if (*number < key.rule.min) {
        problem = fmt::format("is below the minimum {}", key.rule.min);
      }
      if (!problem.empty()) {
        if (warnings != nullptr) {
          warnings->push_back(fmt::format("{}[{}]: {} {}; sandbox resources from annotations ignored", source,
                                          key.name, ShownText(it->second), problem));
        }
        return std::nullopt;
      }
      out.*key.rule.member = *number;
    }
    if (!any) return std::nullopt;
    return out;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void ApplyVerboseInfo(const std::map<std::string, std::string>& info, SandboxDetail& detail) {
  try {
    if (auto it = info.find("info"); it != info.end()) {
      Result<SandboxInfo> parsed = ParseSandboxInfo(it->second);
      if (!parsed.ok()) {
        detail.warnings.push_back(parsed.error().message);
      } else {
        SandboxInfo& s = *parsed;
        if (s.cgroup_parent) detail.cgroup_parent = *s.cgroup_parent;
        detail.resources = s.resources;
        detail.overhead = s.overhead;
        detail.resources_source = s.resources_source;
        detail.overhead_source = s.overhead_source;
        detail.pid = s.pid;
        if (s.process_status) detail.process_status = *s.process_status;
        if (s.runtime_type) detail.runtime_type = *s.runtime_type;
        if (detail.summary.runtime_handler.empty() && s.runtime_handler) {
          detail.summary.runtime_handler = *s.runtime_handler;
        }
        for (std::string& w : s.warnings) detail.warnings.push_back(std::move(w));
      }
    }
    if (!detail.resources) {
      if (auto found =
              ResourcesFromAnnotations(detail.summary.annotations, "annotations", &detail.warnings)) {
        detail.resources = found;
        detail.resources_source = "annotations";
      }
    }
  } catch (const std::exception& e) {
    detail.warnings.push_back(fmt::format("sandbox info: {}", e.what()));
  }
}

}  // namespace uvm::cri
