#include "cli/io.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cli {
namespace {

// What a path is, without following a final symbolic link when `follow` is false.
enum class PathType { kDirectory, kOther };

Result<PathType> TypeOf(const std::string& path, bool follow) {
  struct stat st {};
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) != 0) {
    int err = errno;
    if (err == ENOENT) return SysError(err, fmt::format("{}: the path does not exist", path));
    return SysError(err, fmt::format("{}: cannot be accessed: {}", path, std::strerror(err)));
  }
  return S_ISDIR(st.st_mode) ? PathType::kDirectory : PathType::kOther;
}

// Go's filepath.Ext: the suffix from the final '.' of the last element, dot included ("" when none), so
// a file named ".yaml" has the extension ".yaml".
std::string_view Extension(std::string_view name) {
  auto dot = name.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : name.substr(dot);
}

bool IsManifestName(std::string_view name) {
  // cli-runtime pkg/resource/builder.go: FileExtensions = {".json", ".yaml", ".yml"}.
  auto ext = Extension(name);
  return ext == ".json" || ext == ".yaml" || ext == ".yml";
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.ends_with('/') ? dir + name : dir + "/" + name;
}

Result<std::vector<std::string>> SortedEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    int err = errno;
    return SysError(err, fmt::format("{}: cannot read the directory: {}", dir, std::strerror(err)));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0)
    return SysError(err, fmt::format("{}: cannot read the directory: {}", dir, std::strerror(err)));
  // filepath.Walk visits each directory's names sorted as Go strings: bytewise.
  std::sort(names.begin(), names.end());
  return names;
}

// filepath.Walk below `dir`, keeping what ExpandPathsToFileVisitors keeps. `skipped_subdirectories`
// counts the directories left out because `recursive` is false, for the hint of an empty result.
Status Walk(const std::string& dir, bool recursive, std::vector<std::string>& out,
            int& skipped_subdirectories) {
  auto names = SortedEntries(dir);
  if (!names) return names.error();
  for (const auto& name : *names) {
    std::string path = Join(dir, name);
    // Walk hands its callback lstat results: a symbolic link is never a directory there.
    auto type = TypeOf(path, /*follow=*/false);
    if (!type) return type.error();
    if (*type == PathType::kDirectory) {
      if (!recursive) {
        ++skipped_subdirectories;
        continue;
      }
      if (auto st = Walk(path, recursive, out, skipped_subdirectories); !st) return st;
      continue;
    }
    if (IsManifestName(name)) out.push_back(std::move(path));
  }
  return {};
}

}  // namespace

std::string DisplayName(const std::string& path) {
  return path == "-" ? "<stdin>" : path;
}

Result<std::string> ReadInput(const std::string& path, size_t max_bytes) {
  const bool is_stdin = path == "-";
  const std::string name = DisplayName(path);
  int fd = is_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return SysError(err, fmt::format("{}: cannot read: {}", name, std::strerror(err)));
  }
  struct Closer {
    int fd;
    bool owned;
    ~Closer() {
      if (owned) ::close(fd);
    }
  } closer{fd, !is_stdin};
  auto too_big = [&] {
    return Error{.message = fmt::format("{}: larger than {} bytes, the most one input may be; split it into "
                                        "smaller files",
                                        name, max_bytes),
                 .code = ErrorCode::kResourceExhausted};
  };

  std::string text;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return SysError(EISDIR, fmt::format("{}: cannot read: is a directory", name));
    // A regular file's size is known: refuse a huge one without reading it.
    if (S_ISREG(st.st_mode)) {
      if (static_cast<uint64_t>(st.st_size) > max_bytes) return too_big();
      text.reserve(static_cast<size_t>(st.st_size));
    }
  }
  // Read at most max_bytes + 1 bytes: the one past the limit tells a too-large pipe from a full one.
  std::array<char, 1 << 16> chunk;
  for (;;) {
    size_t want = std::min(chunk.size(), max_bytes + 1 - text.size());
    if (want == 0) return too_big();
    ssize_t n = ::read(fd, chunk.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      return SysError(err, fmt::format("{}: read failed: {}", name, std::strerror(err)));
    }
    if (n == 0) break;
    // Grow by doubling as append would, but straight to the cap once doubling would reach it: a pipe at
    // the limit must not cost twice the limit in memory.
    size_t needed = text.size() + static_cast<size_t>(n);
    if (needed > text.capacity()) {
      size_t grown = std::max(needed, 2 * text.capacity());
      text.reserve(grown >= max_bytes ? max_bytes + 1 : grown);
    }
    text.append(chunk.data(), static_cast<size_t>(n));
  }
  if (text.size() > max_bytes) return too_big();
  return text;
}

Result<std::vector<std::string>> ExpandInputPaths(const std::vector<std::string>& args, bool recursive) {
  std::vector<std::string> out;
  bool stdin_used = false;
  for (const auto& arg : args) {
    if (arg == "-") {
      // builder.go Stdin(): StdinMultiUseError, "standard input cannot be used for multiple arguments".
      if (stdin_used) return InvalidInput("- (standard input) may be given only once");
      stdin_used = true;
      out.push_back(arg);
      continue;
    }
    if (arg.empty()) return InvalidInput("an empty file name was given");
    // builder.go Path(): os.Stat, which follows a link given on the command line.
    auto type = TypeOf(arg, /*follow=*/true);
    if (!type) return type.error();
    if (*type != PathType::kDirectory) {
      // "Don't check extension if the filepath was passed explicitly" (ExpandPathsToFileVisitors).
      out.push_back(arg);
      continue;
    }
    size_t before = out.size();
    int skipped = 0;
    if (auto st = Walk(arg, recursive, out, skipped); !st) return st.error();
    if (out.size() == before) {
      return InvalidInput(fmt::format("{}: no .json, .yaml or .yml file in this directory{}", arg,
                                      skipped > 0 ? " (-R reads its subdirectories too)" : ""));
    }
  }
  return out;
}

}  // namespace uvm::cli
