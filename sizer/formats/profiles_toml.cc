#include "sizer/formats/profiles_toml.h"

#include <cmath>
#include <cstdint>
#include <exception>
#include <limits>
#include <new>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "base/error_codes.h"
#include "base/quote.h"
#include "sizer/kata_annotations.h"

namespace uvm::sizer::formats {
namespace {

std::string Join(std::string_view prefix, std::string_view key) {
  return prefix.empty() ? TomlKeyText(key) : fmt::format("{}.{}", prefix, TomlKeyText(key));
}

// A TOML value for a message, shortened: files may hold long strings.
std::string DescribeValue(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string: {
      std::string_view s = n.as_string()->get();
      return s.size() > 64 ? QuoteText(s.substr(0, 64)) + "..." : QuoteText(s);
    }
    case toml::node_type::integer:
      return std::to_string(n.as_integer()->get());
    case toml::node_type::floating_point:
      return fmt::format("{}", n.as_floating_point()->get());
    case toml::node_type::boolean:
      return n.as_boolean()->get() ? "true" : "false";
    default:
      return "a date/time";
  }
}

Error Fail(std::string_view path, std::string_view what) {
  return InvalidInput(fmt::format("{}: {}", path, what));
}

Result<toml::table> Parse(std::string_view text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return InvalidInput(fmt::format("TOML syntax error at line {}, column {}: {}", where.line, where.column,
                                    e.description()));
  }
}

// Typed reads of one key; absent keys leave `out` untouched.
Status ReadString(const toml::table& t, std::string_view key, std::string_view prefix, std::string& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return {};
  if (!n->is_string())
    return Fail(Join(prefix, key), fmt::format("must be a string, got {}", DescribeValue(*n)));
  out = n->as_string()->get();
  return {};
}

Status ReadBool(const toml::table& t, std::string_view key, std::string_view prefix, bool& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return {};
  if (!n->is_boolean())
    return Fail(Join(prefix, key), fmt::format("must be true or false, got {}", DescribeValue(*n)));
  out = n->as_boolean()->get();
  return {};
}

template <class Int>
Status ReadInt(const toml::table& t, std::string_view key, std::string_view prefix, Int& out,
               int64_t min = std::numeric_limits<Int>::min()) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return {};
  constexpr auto kMax = static_cast<int64_t>(std::min<uint64_t>(std::numeric_limits<Int>::max(), INT64_MAX));
  if (!n->is_integer())
    return Fail(Join(prefix, key), fmt::format("must be a whole number, got {}", DescribeValue(*n)));
  int64_t v = n->as_integer()->get();
  if (v < min || v > kMax) {
    return Fail(Join(prefix, key), fmt::format("must be between {} and {}, got {}", min, kMax, v));
  }
  out = static_cast<Int>(v);
  return {};
}

// An integer or a float (Kata reads default_vcpus into a float32 since 3.x; older files have integers).
Status ReadNumber(const toml::table& t, std::string_view key, std::string_view prefix,
                  std::optional<double>& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return {};
  if (n->is_integer()) {
    out = static_cast<double>(n->as_integer()->get());
  } else if (n->is_floating_point() && std::isfinite(n->as_floating_point()->get())) {
    out = n->as_floating_point()->get();
  } else {
    return Fail(Join(prefix, key), fmt::format("must be a number, got {}", DescribeValue(*n)));
  }
  return {};
}

// An array of strings (enable_annotations, pod_annotations); absent leaves `out` untouched.
Status ReadStringArray(const toml::table& t, std::string_view key, std::string_view prefix,
                       std::vector<std::string>& out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return {};
  if (!n->is_array())
    return Fail(Join(prefix, key), fmt::format("must be an array of strings, got {}", DescribeValue(*n)));
  std::vector<std::string> values;
  size_t index = 0;
  for (const auto& item : *n->as_array()) {
    if (!item.is_string()) {
      return Fail(fmt::format("{}[{}]", Join(prefix, key), index),
                  fmt::format("must be a string, got {}", DescribeValue(item)));
    }
    values.emplace_back(item.as_string()->get());
    ++index;
  }
  out = std::move(values);
  return {};
}

Status OnlyKnownKeys(const toml::table& t, std::string_view prefix,
                     std::initializer_list<std::string_view> known) {
  for (const auto& [key, node] : t) {
    bool found = false;
    for (auto k : known) found = found || k == key.str();
    if (!found) return Fail(Join(prefix, key.str()), "unknown key");
  }
  return {};
}

// Reads a table of string values ([handlers], [runtime_class_aliases]).
Status ReadStringMap(const toml::table& root, std::string_view key,
                     std::map<std::string, std::string, std::less<>>& out) {
  const toml::node* n = root.get(key);
  if (n == nullptr) return {};
  if (!n->is_table()) return Fail(key, fmt::format("must be a table, got {}", DescribeValue(*n)));
  for (const auto& [k, v] : *n->as_table()) {
    if (!v.is_string())
      return Fail(Join(key, k.str()), fmt::format("must be a string, got {}", DescribeValue(v)));
    if (v.as_string()->get().empty()) return Fail(Join(key, k.str()), "must not be empty");
    out[std::string(k.str())] = v.as_string()->get();
  }
  return {};
}

}  // namespace

Result<Profile> ProfileFromTable(const toml::table& table, std::string name, std::string_view key_path) {
  UVM_TRY(OnlyKnownKeys(table, key_path,
                        {"description", "base_vcpus", "base_memory_mib", "mode", "default_workload_mem_mib",
                         "default_workload_vcpus", "workload_mem_min_mib", "shares_fallback", "max_vcpus",
                         "max_memory_mib", "memory_block_mib", "sandbox_cgroup_only", "enabled_annotations",
                         "forwarded_annotations", "min_hypervisor_memory_mib"}));
  Profile p;
  if (name.empty()) return Fail(key_path, "a profile needs a non-empty name");
  p.name = std::move(name);
  UVM_TRY(ReadString(table, "description", key_path, p.description));
  std::optional<double> base_vcpus;
  UVM_TRY(ReadNumber(table, "base_vcpus", key_path, base_vcpus));
  if (base_vcpus) {
    // Kata adds vCPUs in float32; a cap keeps the float exact for every whole count.
    if (*base_vcpus < 0 || *base_vcpus > 4096) {
      return Fail(Join(key_path, "base_vcpus"),
                  fmt::format("must be between 0 and 4096, got {}", *base_vcpus));
    }
    p.base_vcpus = static_cast<float>(*base_vcpus);
  }
  UVM_TRY(ReadInt(table, "base_memory_mib", key_path, p.base_memory_mib));
  std::string mode;
  UVM_TRY(ReadString(table, "mode", key_path, mode));
  if (mode == "static") {
    p.mode = SizingMode::kStatic;
  } else if (mode == "dynamic") {
    p.mode = SizingMode::kDynamic;
  } else if (table.contains("mode")) {
    return Fail(Join(key_path, "mode"), fmt::format("must be \"static\" or \"dynamic\", got \"{}\"", mode));
  }
  UVM_TRY(ReadInt(table, "default_workload_mem_mib", key_path, p.default_workload_mem_mib));
  UVM_TRY(ReadInt(table, "default_workload_vcpus", key_path, p.default_workload_vcpus));
  UVM_TRY(ReadInt(table, "workload_mem_min_mib", key_path, p.workload_mem_min_mib));
  UVM_TRY(ReadBool(table, "shares_fallback", key_path, p.shares_fallback));
  UVM_TRY(ReadInt(table, "max_vcpus", key_path, p.max_vcpus));
  UVM_TRY(ReadInt(table, "max_memory_mib", key_path, p.max_memory_mib));
  // Hot-plug rounds up to this block: zero would divide by zero.
  UVM_TRY(ReadInt(table, "memory_block_mib", key_path, p.memory_block_mib, 1));
  UVM_TRY(ReadBool(table, "sandbox_cgroup_only", key_path, p.sandbox_cgroup_only));
  UVM_TRY(ReadStringArray(table, "enabled_annotations", key_path, p.enabled_annotations));
  UVM_TRY(ReadStringArray(table, "forwarded_annotations", key_path, p.forwarded_annotations));
  UVM_TRY(ReadInt(table, "min_hypervisor_memory_mib", key_path, p.min_hypervisor_memory_mib));
  UVM_TRY(ValidateAnnotationPatterns(p, Join(key_path, "enabled_annotations"),
                                     Join(key_path, "forwarded_annotations")));
  return p;
}

Result<ProfileFile> ParseProfileFile(std::string_view toml_text) {
  try {
    auto root = Parse(toml_text);
    if (!root) return root.error();
    UVM_TRY(OnlyKnownKeys(*root, "", {"profiles", "handlers", "runtime_class_aliases"}));
    ProfileFile out;
    if (const toml::node* profiles = root->get("profiles")) {
      if (!profiles->is_table())
        return Fail("profiles", fmt::format("must be a table, got {}", DescribeValue(*profiles)));
      for (const auto& [name, node] : *profiles->as_table()) {
        std::string path = Join("profiles", name.str());
        if (!node.is_table()) return Fail(path, fmt::format("must be a table, got {}", DescribeValue(node)));
        auto p = ProfileFromTable(*node.as_table(), std::string(name.str()), path);
        if (!p) return p.error();
        out.profiles.push_back(std::move(*p));
      }
    }
    UVM_TRY(ReadStringMap(*root, "handlers", out.handlers));
    UVM_TRY(ReadStringMap(*root, "runtime_class_aliases", out.runtime_class_aliases));
    // A typo in a handler's profile would otherwise surface only when a pod of that handler is sized.
    for (const auto& [handler, profile] : out.handlers) {
      bool known = FindBuiltinProfile(profile) != nullptr;
      for (const auto& p : out.profiles) known = known || p.name == profile;
      if (!known) {
        return Fail(Join("handlers", handler),
                    fmt::format("unknown profile \"{}\" (neither in this file nor built in)", profile));
      }
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Error{.message = "out of memory reading the profiles file", .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

// Defaults for keys a Kata configuration.toml leaves out, as the Go runtime applies them.
// Upstream kata-containers: src/runtime/pkg/katautils/config-settings.go.in (defaultVCPUCount = 1,
// defaultMemSize = 2048 MiB), src/runtime/virtcontainers/hypervisor.go (MinHypervisorMemory = 256: a
// default_memory below it means defaultMemSize), config.go hypervisor.defaultVCPUs() (0 means
// defaultVCPUCount; < 0 or > host CPUs means host CPUs) and defaultMaxVCPUs() (0 or >= host CPUs means host
// CPUs). Microsoft's fork (microsoft/kata-containers, commits 0ec34036bb "runtime: improved memory overhead
// management" and 9af9844bc7 "runtime: Allocate default workload vcpus") sets defaultVCPUCount = 0 and
// MinHypervisorMemory = 0 so that the base can be zero, and adds the [runtime] keys
// static_sandbox_default_workload_mem (uint32 MiB), static_sandbox_default_workload_vcpus (float32) and
// sandbox_workload_mem_min (uint32 MiB; checked in pkg/oci/utils.go SandboxConfig).
namespace {
struct KataDefaults {
  float vcpus;
  uint32_t min_memory_mib;
  bool shares_fallback;
};
constexpr KataDefaults kUpstream{.vcpus = 1, .min_memory_mib = 256, .shares_fallback = true};
constexpr KataDefaults kMicrosoft{.vcpus = 0, .min_memory_mib = 0, .shares_fallback = false};
constexpr uint32_t kKataDefaultMemoryMib = 2048;
}  // namespace

Result<Profile> ProfileFromKataConfig(std::string_view toml_text, std::string profile_name,
                                      uint32_t host_cpus) {
  return ProfileFromKataConfig(toml_text, std::move(profile_name), host_cpus, KataBuild::kDetect);
}

Result<Profile> ProfileFromKataConfig(std::string_view toml_text, std::string profile_name,
                                      uint32_t host_cpus, KataBuild build) {
  try {
    auto root = Parse(toml_text);
    if (!root) return root.error();

    const toml::node* hv_node = root->get("hypervisor");
    if (hv_node == nullptr)
      return Fail("hypervisor", "missing: a Kata configuration has one [hypervisor.<name>] table");
    if (!hv_node->is_table())
      return Fail("hypervisor", fmt::format("must be a table, got {}", DescribeValue(*hv_node)));
    const toml::table& hvs = *hv_node->as_table();
    if (hvs.size() != 1) {
      std::string names;
      for (const auto& [k, v] : hvs) names += (names.empty() ? "" : ", ") + TomlKeyText(k.str());
      // Kata ranges over a Go map here (updateRuntimeConfigHypervisor): with several, any may win.
      return Fail("hypervisor", hvs.empty() ? std::string("has no [hypervisor.<name>] table")
                                            : fmt::format("has {} tables ({}); Kata expects exactly one",
                                                          hvs.size(), names));
    }
    auto hv_it = hvs.begin();  // named: its proxy pair lives inside the iterator
    const toml::key& hv_name = hv_it->first;
    const toml::node& hv_value = hv_it->second;
    std::string hv_path = Join("hypervisor", hv_name.str());
    if (!hv_value.is_table())
      return Fail(hv_path, fmt::format("must be a table, got {}", DescribeValue(hv_value)));
    const toml::table& hv = *hv_value.as_table();

    static const toml::table kEmpty;
    const toml::table* rt = &kEmpty;
    if (const toml::node* n = root->get("runtime")) {
      if (!n->is_table()) return Fail("runtime", fmt::format("must be a table, got {}", DescribeValue(*n)));
      rt = n->as_table();
    }

    std::optional<double> vcpus;
    UVM_TRY(ReadNumber(hv, "default_vcpus", hv_path, vcpus));
    uint32_t max_vcpus = 0;
    UVM_TRY(ReadInt(hv, "default_maxvcpus", hv_path, max_vcpus, 0));
    uint32_t memory = 0;
    UVM_TRY(ReadInt(hv, "default_memory", hv_path, memory, 0));
    uint64_t max_memory = 0;
    UVM_TRY(ReadInt(hv, "default_maxmemory", hv_path, max_memory, 0));
    // katautils/config.go hypervisor.EnableAnnotations `toml:"enable_annotations"`; absent: none enabled.
    std::vector<std::string> enabled_annotations;
    UVM_TRY(ReadStringArray(hv, "enable_annotations", hv_path, enabled_annotations));

    bool static_mgmt = false;  // Go's zero value; upstream's Makefile ships DEFSTATICRESOURCEMGMT ?= false
    bool cgroup_only = false;  // likewise DEFSANDBOXCGROUPONLY ?= false
    UVM_TRY(ReadBool(*rt, "static_sandbox_resource_mgmt", "runtime", static_mgmt));
    UVM_TRY(ReadBool(*rt, "sandbox_cgroup_only", "runtime", cgroup_only));
    uint32_t workload_mem = 0;
    uint32_t workload_mem_min = 0;
    std::optional<double> workload_vcpus;
    UVM_TRY(ReadInt(*rt, "static_sandbox_default_workload_mem", "runtime", workload_mem, 0));
    UVM_TRY(ReadNumber(*rt, "static_sandbox_default_workload_vcpus", "runtime", workload_vcpus));
    UVM_TRY(ReadInt(*rt, "sandbox_workload_mem_min", "runtime", workload_mem_min, 0));
    if (workload_vcpus && (*workload_vcpus < 0 || *workload_vcpus > 4096)) {
      return Fail("runtime.static_sandbox_default_workload_vcpus",
                  fmt::format("must be between 0 and 4096, got {}", *workload_vcpus));
    }

    bool fork = build == KataBuild::kMicrosoft;
    if (build == KataBuild::kDetect) {
      fork = rt->contains("static_sandbox_default_workload_mem") ||
             rt->contains("static_sandbox_default_workload_vcpus") ||
             rt->contains("sandbox_workload_mem_min");
    }
    const KataDefaults& d = fork ? kMicrosoft : kUpstream;

    Profile p;
    p.name = std::move(profile_name);
    p.description = fmt::format("derived from a Kata configuration ({} defaults, [hypervisor.{}])",
                                fork ? "Microsoft fork" : "upstream", hv_name.str());
    // float32 comparisons, as hypervisor.defaultVCPUs() makes them.
    auto host = static_cast<float>(host_cpus);
    float v = vcpus ? static_cast<float>(*vcpus) : 0.0f;
    if (v < 0 || (host_cpus > 0 && v > host)) {
      if (host_cpus == 0) {
        return Fail(Join(hv_path, "default_vcpus"),
                    fmt::format("{} means all host CPUs, whose number is unknown", v));
      }
      p.base_vcpus = host;
    } else if (v == 0) {
      p.base_vcpus = d.vcpus;
    } else {
      p.base_vcpus = v;
    }
    p.base_memory_mib = memory < d.min_memory_mib ? kKataDefaultMemoryMib : memory;
    p.max_vcpus = (host_cpus > 0 && (max_vcpus == 0 || max_vcpus >= host_cpus)) ? host_cpus : max_vcpus;
    // 0 means the host's memory, which a text file cannot tell: "no cap known".
    p.max_memory_mib = static_cast<uint32_t>(std::min<uint64_t>(max_memory, UINT32_MAX));
    p.mode = static_mgmt ? SizingMode::kStatic : SizingMode::kDynamic;
    p.sandbox_cgroup_only = cgroup_only;
    p.shares_fallback = d.shares_fallback;
    p.min_hypervisor_memory_mib = d.min_memory_mib;
    p.enabled_annotations = std::move(enabled_annotations);
    UVM_TRY(ValidateAnnotationPatterns(p, Join(hv_path, "enable_annotations"), "forwarded_annotations"));
    if (fork) {
      p.default_workload_mem_mib = workload_mem;
      // Whole vCPUs in our model; Kata ceils base + workload once, so rounding a fraction up here is exact
      // whenever the base is whole.
      p.default_workload_vcpus =
          workload_vcpus ? static_cast<uint32_t>(std::ceil(static_cast<float>(*workload_vcpus))) : 0;
      p.workload_mem_min_mib = workload_mem_min;
    }
    return p;
  } catch (const std::bad_alloc&) {
    return Error{.message = "out of memory reading the Kata configuration",
                 .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

Result<std::vector<ContainerdRuntime>> ParseContainerdRuntimes(std::string_view toml_text) {
  try {
    auto root = Parse(toml_text);
    if (!root) return root.error();
    // containerd reads a file without `version` as version 1 (containerd 1.x and 2.x alike).
    int64_t version = 1;
    UVM_TRY(ReadInt(*root, "version", "", version));
    std::vector<std::string_view> path;
    if (version == 1) {
      path = {"plugins", "cri", "containerd", "runtimes"};
    } else if (version == 2) {
      path = {"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes"};
    } else if (version == 3) {
      path = {"plugins", "io.containerd.cri.v1.runtime", "containerd", "runtimes"};
    } else {
      return Fail("version",
                  fmt::format("unsupported containerd config version {} (1, 2 or 3 are known)", version));
    }
    std::vector<ContainerdRuntime> out;
    const toml::table* t = &*root;
    std::string where;
    for (auto step : path) {
      const toml::node* n = t->get(step);
      where = Join(where, step);
      if (n == nullptr) return out;  // no runtimes configured: containerd's built-in runc only
      if (!n->is_table()) return Fail(where, fmt::format("must be a table, got {}", DescribeValue(*n)));
      t = n->as_table();
    }
    for (const auto& [handler, node] : *t) {
      std::string rt_path = Join(where, handler.str());
      if (!node.is_table()) return Fail(rt_path, fmt::format("must be a table, got {}", DescribeValue(node)));
      const toml::table& entry = *node.as_table();
      ContainerdRuntime rt;
      rt.handler = std::string(handler.str());
      UVM_TRY(ReadString(entry, "runtime_type", rt_path, rt.runtime_type));
      if (const toml::node* options = entry.get("options")) {
        std::string opt_path = Join(rt_path, "options");
        if (!options->is_table())
          return Fail(opt_path, fmt::format("must be a table, got {}", DescribeValue(*options)));
        UVM_TRY(ReadString(*options->as_table(), "ConfigPath", opt_path, rt.config_path));
      }
      UVM_TRY(ReadStringArray(entry, "pod_annotations", rt_path, rt.pod_annotations));
      out.push_back(std::move(rt));
    }
    return out;
  } catch (const std::bad_alloc&) {
    return Error{.message = "out of memory reading the containerd configuration",
                 .code = ErrorCode::kResourceExhausted};
  } catch (const std::exception& e) {
    return Error{e.what()};
  }
}

std::string TomlKeyText(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key) {
    bare = bare && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-');
  }
  return bare ? std::string(key) : QuoteText(key);
}

std::string DescribeTomlValue(const toml::node& value) {
  return DescribeValue(value);
}

}  // namespace uvm::sizer::formats
