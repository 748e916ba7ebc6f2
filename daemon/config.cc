#include "daemon/config.h"

#include "base/error_codes.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "daemon/node_profiles.h"

namespace uvm::daemon {
namespace {

// The drop-in file names of `dir` in lexical order; a missing directory has none.
Result<std::vector<std::string>> DropInNames(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  std::vector<std::string> names;
  if (!d) {
    if (errno == ENOENT) return names;
    return Error{.message = fmt::format("{}: cannot list: {}", dir, std::strerror(errno)),
                 .code = CodeFromErrno(errno),
                 .sys_errno = errno};
  }
  while (dirent* e = readdir(d.get())) {
    std::string_view name = e->d_name;
    if (name.size() > 5 && name.ends_with(".toml") && name[0] != '.') names.emplace_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

Result<DaemonConfig> LoadConfig(const std::string& path, bool path_must_exist) {
  DaemonConfig config;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    auto text = ReadWholeFile(path);
    if (!text) return text.error();
    UVM_TRY(ApplyConfigText(*text, path, config));
  } else if (errno != ENOENT || path_must_exist) {
    // Only "no such file" at the default path means "run on defaults"; EACCES there is the operator's.
    return Error{.message = fmt::format("{}: cannot read: {}", path, std::strerror(errno)),
                 .code = CodeFromErrno(errno),
                 .sys_errno = errno};
  }
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "" : path.substr(0, slash));
  std::string dropins = dir + "/config.d";
  auto names = DropInNames(dropins);
  if (!names) return names.error();
  for (const auto& name : *names) {
    std::string file = dropins + "/" + name;
    auto text = ReadWholeFile(file);
    if (!text) return text.error();
    UVM_TRY(ApplyConfigText(*text, file, config));
  }
  UVM_TRY(ValidateConfig(config, path));
  return config;
}

}  // namespace uvm::daemon
