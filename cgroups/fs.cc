#include "cgroups/fs.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {
namespace {

std::string ErrnoText(int err) {
  if (err == ELOOP) return "a symbolic link is on the path (refused: symlinks are never followed)";
  if (err == EXDEV) return "the path escapes its root (refused)";
  return std::strerror(err);
}

Result<UniqueFd> WalkBeneath(int root_dirfd, std::string_view relative, std::string_view display) {
  UniqueFd current(fcntl(root_dirfd, F_DUPFD_CLOEXEC, 0));
  if (!current.valid()) {
    int err = errno;
    return SysError(err, fmt::format("{}: dup: {}", display, std::strerror(err)));
  }
  while (!relative.empty()) {
    size_t slash = relative.find('/');
    std::string comp(relative.substr(0, slash));
    relative.remove_prefix(slash == std::string_view::npos ? relative.size() : slash + 1);
    if (comp.empty() || comp == "." || comp == "..") {
      return SysError(EXDEV, fmt::format("{}: refused: component {} (path traversal)", display, comp));
    }
    // O_NOFOLLOW makes a symlink component fail (ELOOP, or ENOTDIR together with O_DIRECTORY).
    int fd = openat(current.get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == ENOTDIR) {
        return SysError(
            err, fmt::format("{}: {} is not a directory or is a symbolic link (refused)", display, comp));
      }
      return SysError(err, fmt::format("{}: {}", display, ErrnoText(err)));
    }
    current.reset(fd);
  }
  return current;
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

UniqueFd::~UniqueFd() {
  reset();
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
}

Result<UniqueFd> OpenDirBeneath(int root_dirfd, std::string_view relative, std::string_view display,
                                BeneathMethod method) {
  if (!relative.empty() && relative.front() == '/') {
    return SysError(EXDEV,
                    fmt::format("{}: refused: absolute path where a relative one is required", display));
  }
  if (method == BeneathMethod::kComponentWalk) return WalkBeneath(root_dirfd, relative, display);
  std::string path = relative.empty() ? std::string(".") : std::string(relative);
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  long fd = syscall(SYS_openat2, root_dirfd, path.c_str(), &how, sizeof(how));
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  int err = errno;
  // ENOSYS: kernel before 5.6; EPERM: a seccomp filter that predates openat2 (Docker's old profiles).
  if (method == BeneathMethod::kAuto && (err == ENOSYS || err == EPERM)) {
    return WalkBeneath(root_dirfd, relative, display);
  }
  return SysError(err, fmt::format("{}: {}", display, ErrnoText(err)));
}

Result<UniqueFd> OpenDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return SysError(err, fmt::format("{}: {}", path, std::strerror(err)));
  }
  return UniqueFd(fd);
}

Result<UniqueFd> OpenControlFile(int dirfd, std::string_view name, int flags, std::string_view display) {
  std::string n(name);
  int fd = openat(dirfd, n.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    int err = errno;
    return SysError(err, fmt::format("{}/{}: {}", display, name, ErrnoText(err)));
  }
  return UniqueFd(fd);
}

Result<std::string_view> PreadAll(int fd, std::string& buffer, std::string_view display) {
  if (buffer.size() < 4096) buffer.resize(4096);
  size_t used = 0;
  while (true) {
    if (used == buffer.size()) buffer.resize(buffer.size() * 2);
    ssize_t n = pread(fd, buffer.data() + used, buffer.size() - used, static_cast<off_t>(used));
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      // ENODEV: the cgroup was removed while we kept its file open (code kGone).
      if (err == ENODEV) return SysError(err, fmt::format("{}: the cgroup is gone (ENODEV)", display));
      return SysError(err, fmt::format("{}: read: {}", display, std::strerror(err)));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  return std::string_view(buffer.data(), used);
}

Status PwriteAll(int fd, std::string_view value, std::string_view display) {
  while (true) {
    ssize_t n = pwrite(fd, value.data(), value.size(), 0);
    int err = errno;
    if (n < 0 && err == EINTR) continue;
    if (n < 0) return SysError(err, fmt::format("{}: write {:?}: {}", display, value, std::strerror(err)));
    if (static_cast<size_t>(n) != value.size()) {
      return Error{
          fmt::format("{}: write {:?}: short write ({} of {} bytes)", display, value, n, value.size())};
    }
    return {};
  }
}

Result<std::string> ReadWholeFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return SysError(err, fmt::format("{}: {}", path, std::strerror(err)));
  }
  std::string buffer;
  auto text = PreadAll(fd.get(), buffer, path);
  if (!text) return text.error();
  return std::string(*text);
}

}  // namespace uvm::cgroups
