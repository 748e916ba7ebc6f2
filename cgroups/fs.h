// File descriptor plumbing for cgroupfs: RAII fds, opening a directory strictly beneath another, and
// reading/writing control files by fd. Every cgroupfs access of this library goes through here.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::cgroups {

// Owns one file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// How OpenDirBeneath resolves: openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS) (Linux 5.6+), or one
// openat(O_NOFOLLOW | O_DIRECTORY) per component. kAuto tries openat2 and walks when the kernel (or a
// seccomp filter) refuses the syscall itself.
enum class BeneathMethod { kAuto, kOpenat2, kComponentWalk };

// Opens directory `relative` (components already validated: no "..", no leading "/") beneath the
// directory `root_dirfd`, following no symbolic link anywhere on the way. `display` names the path in
// errors. A symlink gives an error saying so. Every error carries its errno and code
// (base/error_codes.h), so callers tell a missing directory (ENOENT: kNotFound) from a refused one (ELOOP,
// EXDEV, ENOTDIR: kInvalidInput).
Result<UniqueFd> OpenDirBeneath(int root_dirfd, std::string_view relative, std::string_view display,
                                BeneathMethod method = BeneathMethod::kAuto);

// Opens an absolute directory (a hierarchy root) as a directory fd.
Result<UniqueFd> OpenDir(const std::string& path);

// Opens control file `name` in `dirfd` (no symlink followed) with `flags` (O_RDONLY, O_WRONLY, O_RDWR).
Result<UniqueFd> OpenControlFile(int dirfd, std::string_view name, int flags, std::string_view display);

// Reads a whole cgroupfs/procfs file from offset 0 with pread into `buffer` (reused between calls: one
// allocation per handle, not per read). cgroupfs files are seq_files, which regenerate their content for
// a read at offset 0, so a kept fd sees fresh values every time. Returns a view into `buffer`.
// A read of a removed cgroup's file fails with code kGone (ENODEV); every error carries its errno.
Result<std::string_view> PreadAll(int fd, std::string& buffer, std::string_view display);

// Writes `value` at offset 0 in one call, as cgroupfs wants (a value split across writes is two values).
// The kernel refusing the value is EINVAL (kInvalidInput); a removed cgroup ENODEV (kGone).
Status PwriteAll(int fd, std::string_view value, std::string_view display);

// Reads a whole regular file by path (e.g. /proc/self/mountinfo).
Result<std::string> ReadWholeFile(const std::string& path);

}  // namespace uvm::cgroups
