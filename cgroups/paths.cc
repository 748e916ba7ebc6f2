#include "cgroups/paths.h"

#include <vector>

#include <fmt/format.h>

#include "base/error_codes.h"
#include "cgroups/parsers.h"

namespace uvm::cgroups {
namespace {

bool IsNameByte(char c, bool allow_colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || (allow_colon && c == ':');
}

Error Refuse(std::string_view what, std::string_view value, std::string_view rule) {
  return InvalidInput(fmt::format("{} {}: refused: {}", what, QuoteForError(value), rule));
}

// Splits "a/b/c" into components; empty components are kept so callers can refuse "//".
std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The byte- and component-level rules shared by every path we accept. `path` has no leading "/".
Status CheckComponents(std::string_view what, std::string_view original, std::string_view path,
                       bool allow_colon) {
  for (char c : original) {
    if (c == '\0') return Refuse(what, original, "contains a NUL byte");
  }
  for (std::string_view comp : Split(path)) {
    if (comp.empty()) return Refuse(what, original, "empty path component (\"//\" or a trailing \"/\")");
    if (comp == "." || comp == "..")
      return Refuse(what, original, "\".\" or \"..\" component (path traversal)");
    if (comp.size() > kMaxComponentBytes) {
      return Refuse(what, original, fmt::format("a component is longer than {} bytes", kMaxComponentBytes));
    }
    for (char c : comp) {
      if (!IsNameByte(c, allow_colon)) {
        return Refuse(what, original,
                      fmt::format("byte {} outside [A-Za-z0-9._-]", QuoteForError(std::string_view(&c, 1))));
      }
    }
  }
  return {};
}

Status CheckLength(std::string_view what, std::string_view value, size_t max) {
  if (value.empty()) return Refuse(what, value, "empty");
  if (value.size() > max) return Refuse(what, value, fmt::format("longer than {} bytes", max));
  return {};
}

// A pod UID as the kubelet spells it in cgroup names: a UUID, or a config hash for static pods.
bool IsUidBytes(std::string_view uid, char dash) {
  if (uid.empty() || uid.size() > kMaxIdBytes) return false;
  for (char c : uid) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == dash;
    if (!ok) return false;
  }
  return true;
}

bool SameUid(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] == '_' ? '-' : a[i];
    char y = b[i] == '_' ? '-' : b[i];
    if (x != y) return false;
  }
  return true;
}

Status CheckSandboxId(std::string_view id) {
  if (id.empty()) return {};
  if (id.size() > kMaxIdBytes)
    return Refuse("sandbox id", id, fmt::format("longer than {} bytes", kMaxIdBytes));
  for (char c : id) {
    if (c == '\0') return Refuse("sandbox id", id, "contains a NUL byte");
    if (c == '/') return Refuse("sandbox id", id, "contains \"/\" (must be one plain name)");
    if (!IsNameByte(c, false)) return Refuse("sandbox id", id, "byte outside [A-Za-z0-9._-]");
  }
  if (id.front() == '.' || id.front() == '-') {
    return Refuse("sandbox id", id, "starts with \".\" or \"-\" (path traversal or option-like)");
  }
  return {};
}

}  // namespace

Result<std::string> KataOverheadPath(std::string_view sandbox_id) {
  if (sandbox_id.empty()) return Refuse("sandbox id", sandbox_id, "empty");
  if (auto st = CheckSandboxId(sandbox_id); !st) return st.error();
  return fmt::format("kata_overhead/{}", sandbox_id);
}

Result<std::string> ExpandSystemdSlice(std::string_view slice) {
  static constexpr std::string_view kSuffix = ".slice";
  if (slice.size() <= kSuffix.size() || slice.substr(slice.size() - kSuffix.size()) != kSuffix) {
    return Refuse("systemd slice", slice, "not a \"<name>.slice\" unit name");
  }
  if (slice.size() > kMaxComponentBytes) {
    return Refuse("systemd slice", slice, fmt::format("longer than {} bytes", kMaxComponentBytes));
  }
  std::string_view name = slice.substr(0, slice.size() - kSuffix.size());
  if (name == "-") return std::string();  // the root slice
  for (char c : name) {
    if (!IsNameByte(c, true)) {
      return Refuse("systemd slice", slice,
                    fmt::format("byte {} outside [A-Za-z0-9:_.-]", QuoteForError(std::string_view(&c, 1))));
    }
  }
  if (name.front() == '-' || name.back() == '-' || name.find("--") != std::string_view::npos) {
    return Refuse("systemd slice", slice, "empty part between \"-\" separators");
  }
  std::string out;
  for (size_t dash = name.find('-'); dash != std::string_view::npos; dash = name.find('-', dash + 1)) {
    out += name.substr(0, dash);
    out += ".slice/";
  }
  out += slice;
  // Every prefix repeats: 255 bytes of "a-a-a-..." expand quadratically.
  if (out.size() > kMaxRelativePathBytes) {
    return Refuse("systemd slice", slice, fmt::format("expands beyond {} bytes", kMaxRelativePathBytes));
  }
  return out;
}

Status ValidateRelativeCgroupPath(std::string_view path) {
  if (auto st = CheckLength("cgroup path", path, kMaxRelativePathBytes); !st) return st;
  if (path.front() == '/')
    return Refuse("cgroup path", path, "absolute (must be relative to a hierarchy root)");
  return CheckComponents("cgroup path", path, path, true);
}

Result<PodCgroupPaths> ResolvePodCgroupPaths(std::string_view cgroup_parent, std::string_view sandbox_id,
                                             const PathRules& rules) {
  static constexpr std::string_view kWhat = "cgroup_parent";
  if (auto st = CheckLength(kWhat, cgroup_parent, kMaxCgroupParentBytes); !st) return st.error();
  if (auto st = CheckSandboxId(sandbox_id); !st) return st.error();

  PodCgroupPaths out;
  std::string_view uid;
  if (cgroup_parent.front() == '/') {
    out.driver = CgroupDriver::kCgroupfs;
    std::string_view rel = cgroup_parent.substr(1);
    if (auto st = CheckComponents(kWhat, cgroup_parent, rel, false); !st) return st.error();
    // Strip the kubelet's --cgroup-root, itself held to the same rules.
    std::string_view root = rules.kubelet_cgroup_root;
    while (!root.empty() && root.back() == '/') root.remove_suffix(1);
    if (!root.empty()) {
      if (root.front() != '/') return Refuse("kubelet cgroup root", root, "not an absolute path");
      if (auto st = CheckComponents("kubelet cgroup root", root, root.substr(1), false); !st)
        return st.error();
      std::string_view prefix = root.substr(1);
      if (rel.substr(0, prefix.size()) != prefix || rel.size() <= prefix.size() ||
          rel[prefix.size()] != '/') {
        return Refuse(kWhat, cgroup_parent,
                      fmt::format("outside the kubepods subtree (not under {}/kubepods)", root));
      }
      rel.remove_prefix(prefix.size() + 1);
    }
    std::vector<std::string_view> comps = Split(rel);
    if (comps.front() != "kubepods") {
      return Refuse(kWhat, cgroup_parent,
                    "outside the kubepods subtree (first component is not \"kubepods\")");
    }
    bool qos_class = comps.size() == 3 && (comps[1] == "burstable" || comps[1] == "besteffort");
    if (!qos_class && comps.size() != 2) {
      return Refuse(kWhat, cgroup_parent,
                    "not a pod cgroup (expected kubepods[/burstable|/besteffort]/pod<uid>)");
    }
    std::string_view pod = comps.back();
    if (pod.substr(0, 3) != "pod" || !IsUidBytes(pod.substr(3), '-')) {
      return Refuse(kWhat, cgroup_parent, "not a pod cgroup (last component is not pod<uid>)");
    }
    uid = pod.substr(3);
    out.pod = std::string(cgroup_parent.substr(1));
    if (!sandbox_id.empty()) out.sandbox = fmt::format("{}/{}", out.pod, sandbox_id);
  } else if (cgroup_parent.find('/') == std::string_view::npos && cgroup_parent.size() > 6 &&
             cgroup_parent.substr(cgroup_parent.size() - 6) == ".slice") {
    out.driver = CgroupDriver::kSystemd;
    if (auto st = CheckComponents(kWhat, cgroup_parent, cgroup_parent, false); !st) return st.error();
    auto expanded = ExpandSystemdSlice(cgroup_parent);
    if (!expanded) return Refuse(kWhat, cgroup_parent, expanded.error().message);
    std::string_view name = cgroup_parent.substr(0, cgroup_parent.size() - 6);
    std::vector<std::string_view> parts;
    for (size_t start = 0;;) {
      size_t dash = name.find('-', start);
      parts.push_back(name.substr(start, dash == std::string_view::npos ? dash : dash - start));
      if (dash == std::string_view::npos) break;
      start = dash + 1;
    }
    if (parts.front() != "kubepods") {
      return Refuse(kWhat, cgroup_parent, "outside the kubepods subtree (slice is not under kubepods.slice)");
    }
    bool qos_class = parts.size() == 3 && (parts[1] == "burstable" || parts[1] == "besteffort");
    if (!qos_class && parts.size() != 2) {
      return Refuse(kWhat, cgroup_parent,
                    "not a pod slice (expected kubepods[-burstable|-besteffort]-pod<uid>.slice)");
    }
    std::string_view pod = parts.back();
    if (pod.substr(0, 3) != "pod" || !IsUidBytes(pod.substr(3), '_')) {
      return Refuse(kWhat, cgroup_parent, "not a pod slice (last part is not pod<uid>)");
    }
    uid = pod.substr(3);
    out.pod = std::move(*expanded);
    out.systemd_unit = std::string(cgroup_parent);
    // containerd's systemd cgroup path "<slice>:cri-containerd:<id>" becomes this scope.
    if (!sandbox_id.empty()) out.sandbox = fmt::format("{}/cri-containerd-{}.scope", out.pod, sandbox_id);
  } else {
    if (auto st = CheckComponents(kWhat, cgroup_parent, cgroup_parent, false); !st) return st.error();
    return Refuse(kWhat, cgroup_parent, "neither an absolute cgroupfs path nor a systemd \"<name>.slice\"");
  }
  if (!rules.pod_uid.empty() && !SameUid(uid, rules.pod_uid)) {
    return Refuse(kWhat, cgroup_parent,
                  fmt::format("names another pod (pod UID is {}, expected {})", QuoteForError(uid),
                              QuoteForError(rules.pod_uid)));
  }
  out.pod_uid = std::string(uid);
  if (!sandbox_id.empty()) {
    auto kata_overhead = KataOverheadPath(sandbox_id);
    if (!kata_overhead) return kata_overhead.error();
    out.kata_overhead = std::move(*kata_overhead);
  }
  return out;
}

}  // namespace uvm::cgroups
