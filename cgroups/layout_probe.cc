// Layout detection that looks at the machine (mountinfo, directory listings).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/error_codes.h"
#include "cgroups/fs.h"
#include "cgroups/layout.h"
#include "cgroups/parsers.h"

namespace uvm::cgroups {
namespace {

bool HasFile(int dirfd, const char* name) {
  struct stat st;
  return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

Result<CgroupLayout> ProbeLayout(const std::string& root) {
  auto root_fd = OpenDir(root);
  if (!root_fd) return root_fd.error();
  CgroupLayout layout;
  if (HasFile(root_fd->get(), "cgroup.controllers")) {
    layout.kind = LayoutKind::kV2;
    layout.unified = root;
    return layout;
  }
  int dup_fd = fcntl(root_fd->get(), F_DUPFD_CLOEXEC, 0);
  std::unique_ptr<DIR, int (*)(DIR*)> dir(fdopendir(dup_fd), closedir);
  if (!dir) {
    int err = errno;
    close(dup_fd);
    return SysError(err, fmt::format("{}: {}", root, std::strerror(err)));
  }
  bool any_v1 = false;
  std::string base = root.size() > 1 && root.back() == '/' ? root.substr(0, root.size() - 1) : root;
  while (dirent* e = readdir(dir.get())) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    // Co-mounted hierarchies come with convenience symlinks (cpu -> cpu,cpuacct): skip links, use the
    // real directory, whose name lists the controllers.
    if (fstatat(root_fd->get(), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) continue;
    std::string path = base + "/" + std::string(name);
    if (name == "unified") {
      auto sub = OpenDir(path);
      if (sub && HasFile(sub->get(), "cgroup.procs")) layout.unified = path;
      continue;
    }
    for (size_t start = 0; start <= name.size();) {
      size_t comma = name.find(',', start);
      std::string_view c =
          name.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
      if (c == "memory" && layout.memory_v1.empty()) layout.memory_v1 = path;
      if (c == "cpu" && layout.cpu_v1.empty()) layout.cpu_v1 = path;
      if (c == "cpuacct" && layout.cpuacct_v1.empty()) layout.cpuacct_v1 = path;
      any_v1 = any_v1 || c == "memory" || c == "cpu" || c == "cpuacct";
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  if (!any_v1) {
    return Error{.message = fmt::format(
                     "{}: not a cgroup tree (no cgroup.controllers, no memory/cpu/cpuacct directory)", root),
                 .code = ErrorCode::kNotFound};
  }
  layout.kind = layout.unified.empty() ? LayoutKind::kV1 : LayoutKind::kHybrid;
  return layout;
}

Result<CgroupLayout> DetectLayout(const std::string& root) {
  auto mountinfo = ReadWholeFile("/proc/self/mountinfo");
  if (!mountinfo) return mountinfo.error();
  auto layout = LayoutFromMountInfo(*mountinfo, root);
  if (layout) return layout;
  auto probed = ProbeLayout(root);
  if (probed) return probed;
  // The probe's code: it looked at the tree itself (a missing root is kNotFound, an unreadable one
  // kPermission).
  return WithMessage(probed.error(), fmt::format("{}; {}", layout.error().message, probed.error().message));
}

}  // namespace uvm::cgroups
