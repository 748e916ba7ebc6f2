// The pure part of layout detection (the parsers target: fuzzed with the mountinfo parser).
#include "cgroups/layout.h"

#include <algorithm>

#include <fmt/format.h>

#include "base/error_codes.h"
#include "cgroups/parsers.h"

namespace uvm::cgroups {

std::string_view LayoutName(LayoutKind kind) {
  switch (kind) {
    case LayoutKind::kV1:
      return "v1";
    case LayoutKind::kV2:
      return "v2";
    case LayoutKind::kHybrid:
      return "hybrid";
  }
  return "unknown";
}

Result<CgroupLayout> LayoutFromMountInfo(std::string_view mountinfo, std::string_view root) {
  auto mounts = ParseCgroupMounts(mountinfo);
  if (!mounts) return mounts.error();
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  auto beneath = [&](const std::string& mount_point) {
    if (root == "/") return true;
    return mount_point == root ||
           (mount_point.size() > root.size() && mount_point.compare(0, root.size(), root) == 0 &&
            mount_point[root.size()] == '/');
  };
  CgroupLayout layout;
  bool any_v1 = false;
  // A hierarchy can be mounted more than once (bind mounts, containers); the first mount wins, as in
  // file order the host's own mounts come first.
  for (const CgroupMount& m : *mounts) {
    if (!beneath(m.mount_point)) continue;
    if (m.v2) {
      if (layout.unified.empty()) layout.unified = m.mount_point;
      continue;
    }
    auto has = [&](std::string_view c) {
      return std::find(m.controllers.begin(), m.controllers.end(), c) != m.controllers.end();
    };
    if (has("memory") && layout.memory_v1.empty()) layout.memory_v1 = m.mount_point;
    if (has("cpu") && layout.cpu_v1.empty()) layout.cpu_v1 = m.mount_point;
    if (has("cpuacct") && layout.cpuacct_v1.empty()) layout.cpuacct_v1 = m.mount_point;
    any_v1 = any_v1 || has("memory") || has("cpu") || has("cpuacct");
  }
  if (!any_v1 && layout.unified.empty()) {
    return Error{.message = fmt::format(
                     "mountinfo: no cgroup or cgroup2 mount with the memory or cpu controller beneath {}",
                     QuoteForError(root)),
                 .code = ErrorCode::kNotFound};
  }
  layout.kind = !any_v1 ? LayoutKind::kV2 : layout.unified.empty() ? LayoutKind::kV1 : LayoutKind::kHybrid;
  return layout;
}

}  // namespace uvm::cgroups
