#include "bench/startup/bench_cgroups.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "base/error_codes.h"
#include "bench/startup/run_plan.h"
#include "cgroups/fs.h"

namespace uvm::startup {
namespace {

namespace fs = std::filesystem;

Status WriteControl(const fs::path& dir, const std::string& name, const std::string& value) {
  auto dirfd = cgroups::OpenDir(dir.string());
  if (!dirfd.ok()) return dirfd.error();
  std::string display = (dir / name).string();
  auto fd = cgroups::OpenControlFile(dirfd->get(), name, O_WRONLY, display);
  if (!fd.ok()) return fd.error();
  return cgroups::PwriteAll(fd->get(), value, display);
}

bool HasFile(const fs::path& path) {
  std::error_code ec;
  return fs::exists(path, ec);
}

std::string Relative(const std::string& cgroup_path) {
  std::string out = cgroup_path;
  while (!out.empty() && out.front() == '/') out.erase(out.begin());
  return out;
}

// rmdir every directory beneath and including `dir`, deepest first; EBUSY (tasks still leaving) is
// retried until `deadline`.
Status RemoveDirTree(const fs::path& dir, std::chrono::steady_clock::time_point deadline) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  for (;;) {
    std::vector<fs::path> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
    }
    dirs.push_back(dir);
    std::sort(dirs.begin(), dirs.end(), [](const fs::path& a, const fs::path& b) {
      return std::distance(a.begin(), a.end()) > std::distance(b.begin(), b.end());
    });
    int busy_errno = 0;
    std::string busy;
    for (const fs::path& d : dirs) {
      if (::rmdir(d.c_str()) != 0 && errno != ENOENT) {
        busy_errno = errno;
        busy = d.string();
      }
    }
    if (busy_errno == 0) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return SysError(busy_errno, fmt::format("rmdir {}: {}", busy, std::strerror(busy_errno)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

Result<BenchCgroups> BenchCgroups::Detect() {
  auto mountinfo = cgroups::ReadWholeFile("/proc/self/mountinfo");
  if (!mountinfo.ok()) return mountinfo.error();
  std::vector<std::string> mounts;
  for (std::string& m : CgroupMountPoints(*mountinfo)) {
    if (m.rfind("/sys/fs/cgroup", 0) == 0) mounts.push_back(std::move(m));
  }
  if (mounts.empty())
    return Error{.message = "no cgroup hierarchy mounted beneath /sys/fs/cgroup",
                 .code = ErrorCode::kNotFound};
  return BenchCgroups(std::move(mounts));
}

Status BenchCgroups::CreatePod(const PodCgroupSpec& spec) const {
  const std::string relative = Relative(spec.cgroup_parent);
  for (const std::string& mount : mounts_) {
    const fs::path root(mount);
    const fs::path dir = root / relative;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) {
      return SysError(ec.value(), fmt::format("mkdir {}: {}", dir.string(), ec.message()));
    }
    const bool v2 = HasFile(root / "cgroup.controllers");
    if (v2) {
      // Hybrid hosts' unified tree has no controllers: nothing to limit there.
      auto controllers = cgroups::ReadWholeFile((root / "cgroup.controllers").string());
      if (!controllers.ok() || controllers->find("memory") == std::string::npos) continue;
      fs::path level = root;
      for (const fs::path& component : fs::path(relative)) {
        // The controllers must be enabled on every ancestor for the pod cgroup to get memory.max/cpu.max.
        (void)WriteControl(level, "cgroup.subtree_control", "+cpu +memory +pids");
        level /= component;
      }
      if (spec.memory_limit_bytes) {
        if (Status s = WriteControl(dir, "memory.max", std::to_string(*spec.memory_limit_bytes)); !s.ok())
          return s;
      }
      const std::string quota = spec.cpu_quota_us ? std::to_string(*spec.cpu_quota_us) : "max";
      if (Status s = WriteControl(dir, "cpu.max", fmt::format("{} {}", quota, spec.cpu_period_us)); !s.ok())
        return s;
      // runc's shares -> weight (libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value).
      if (Status s =
              WriteControl(dir, "cpu.weight", std::to_string(1 + ((spec.cpu_shares - 2) * 9999) / 262142));
          !s.ok())
        return s;
      continue;
    }
    if (HasFile(root / "memory.limit_in_bytes") && spec.memory_limit_bytes) {
      if (Status s = WriteControl(dir, "memory.limit_in_bytes", std::to_string(*spec.memory_limit_bytes));
          !s.ok())
        return s;
    }
    if (HasFile(root / "cpu.cfs_period_us")) {
      if (Status s = WriteControl(dir, "cpu.cfs_period_us", std::to_string(spec.cpu_period_us)); !s.ok())
        return s;
      if (spec.cpu_quota_us) {
        if (Status s = WriteControl(dir, "cpu.cfs_quota_us", std::to_string(*spec.cpu_quota_us)); !s.ok())
          return s;
      }
      if (Status s = WriteControl(dir, "cpu.shares", std::to_string(spec.cpu_shares)); !s.ok()) return s;
    }
  }
  return {};
}

Status BenchCgroups::RemovePod(const std::string& cgroup_parent, int patience_ms) const {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(patience_ms);
  Status first;
  for (const std::string& mount : mounts_) {
    Status s = RemoveDirTree(fs::path(mount) / Relative(cgroup_parent), deadline);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Status BenchCgroups::RemoveTree(const std::string& root, int patience_ms) const {
  return RemovePod(root, patience_ms);
}

bool BenchCgroups::Exists(const std::string& cgroup_path) const {
  for (const std::string& mount : mounts_) {
    if (HasFile(fs::path(mount) / Relative(cgroup_path))) return true;
  }
  return false;
}

}  // namespace uvm::startup
