#include "daemon/node_profiles.h"

#include "base/error_codes.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "sizer/formats/profiles_toml.h"
#include "sizer/kata_annotations.h"

namespace uvm::daemon {
namespace {

// Config files are small; a bound keeps a wrong path (a device, a huge log) from eating memory.
constexpr size_t kMaxFileBytes = size_t{16} << 20;

}  // namespace

Result<std::string> ReadWholeFile(const std::string& path) {
  auto fail = [&](int err) {
    return Error{.message = fmt::format("{}: cannot read: {}", path, std::strerror(err)),
                 .code = CodeFromErrno(err),
                 .sys_errno = err};
  };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(errno);
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      close(fd);
      return fail(err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > kMaxFileBytes) {
      close(fd);
      return Error{.message = fmt::format("{}: larger than {} MiB", path, kMaxFileBytes >> 20),
                   .code = ErrorCode::kResourceExhausted};
    }
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

uint32_t HostCpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

Result<NodeCatalog> BuildNodeCatalog(const DaemonConfig& config, const FileReader& read, uint32_t host_cpus) {
  // Profiles first, the handler mapping decided in full before it is applied: a "none" must be able to
  // remove a handler, which ProfileCatalog has no call for.
  sizer::ProfileCatalog builtin = sizer::ProfileCatalog::Builtin();
  NodeCatalog out;
  for (const auto& p : builtin.profiles()) out.catalog.Put(p);
  for (const auto& p : config.profiles) out.catalog.Put(p);
  std::map<std::string, std::string, std::less<>> mapping(builtin.handlers().begin(),
                                                          builtin.handlers().end());

  if (!config.node.containerd_config.empty()) {
    auto text = read(config.node.containerd_config);
    if (!text) {
      out.notes.push_back(fmt::format("{}; using built-in handler profiles", text.error().message));
    } else {
      auto runtimes = sizer::formats::ParseContainerdRuntimes(*text);
      if (!runtimes) {
        return Error{
            .message = fmt::format("{}: {}", config.node.containerd_config, runtimes.error().message),
            .code = ErrorCode::kInvalidInput};
      }
      for (const auto& rt : *runtimes) {
        NodeHandler& found = out.runtimes.emplace_back(
            NodeHandler{.handler = rt.handler, .runtime_type = rt.runtime_type, .kata = rt.is_kata()});
        if (!rt.is_kata()) continue;
        found.tried =
            rt.config_path.empty() ? KataDefaultConfigPaths() : std::vector<std::string>{rt.config_path};
        for (const auto& path : found.tried) {
          auto kata = read(path);
          if (!kata) continue;
          auto profile = sizer::formats::ProfileFromKataConfig(*kata, "node-" + rt.handler, host_cpus);
          if (!profile) {
            return Error{.message = fmt::format("{}: {}", path, profile.error().message),
                         .code = ErrorCode::kInvalidInput};
          }
          profile->description = fmt::format("derived from {} (handler {})", path, rt.handler);
          // Kata sees only the pod annotations containerd forwards: this runtime's pod_annotations.
          profile->forwarded_annotations = rt.pod_annotations;
          if (auto st = sizer::ValidateAnnotationPatterns(
                  *profile, "enable_annotations", fmt::format("runtimes.{}.pod_annotations", rt.handler));
              !st) {
            return Error{.message = fmt::format("{}: {}", config.node.containerd_config, st.error().message),
                         .code = ErrorCode::kInvalidInput};
          }
          mapping[rt.handler] = profile->name;
          out.notes.push_back(
              fmt::format("handler {}: profile {} derived from {}", rt.handler, profile->name, path));
          out.catalog.Put(std::move(*profile));
          found.kata_config = path;
          break;
        }
        if (found.kata_config.empty()) {
          auto kept = mapping.find(rt.handler);
          out.notes.push_back(fmt::format(
              "handler {}: no readable Kata configuration ({}); {}", rt.handler, fmt::join(found.tried, ", "),
              kept == mapping.end() ? std::string("no built-in profile either: not VM-isolated")
                                    : fmt::format("keeping the built-in profile {}", kept->second)));
        }
      }
    }
  }
  for (const auto& [handler, profile] : config.handlers) {
    if (profile == kNoProfile) {
      if (mapping.erase(handler) > 0)
        out.notes.push_back(fmt::format("handler {}: \"none\" in [handlers]: not VM-isolated", handler));
    } else {
      mapping[handler] = profile;
    }
  }
  for (const auto& [handler, profile] : mapping) {
    if (auto st = out.catalog.MapHandler(handler, profile); !st) {
      return Error{.message = st.error().message, .code = ErrorCode::kInvalidInput};
    }
  }
  return out;
}

}  // namespace uvm::daemon
