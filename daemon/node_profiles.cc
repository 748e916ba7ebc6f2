#include "daemon/node_profiles.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "sizer/formats/profiles_toml.h"

namespace uvm::daemon {

Result<std::string> ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot read: {}", path, std::strerror(errno))};
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

Result<NodeCatalog> BuildNodeCatalog(const DaemonConfig& config, const FileReader& read, uint32_t host_cpus) {
  NodeCatalog out{.catalog = sizer::ProfileCatalog::Builtin()};
  for (const auto& p : config.profiles) out.catalog.Put(p);

  if (!config.node.containerd_config.empty()) {
    auto text = read(config.node.containerd_config);
    if (!text) {
      out.notes.push_back(fmt::format("{}; using built-in handler profiles", text.error().message));
    } else {
      auto runtimes = sizer::formats::ParseContainerdRuntimes(*text);
      if (!runtimes)
        return Error{fmt::format("{}: {}", config.node.containerd_config, runtimes.error().message)};
      for (const auto& rt : *runtimes) {
        if (!rt.is_kata()) continue;
        std::vector<std::string> candidates =
            rt.config_path.empty() ? KataDefaultConfigPaths() : std::vector<std::string>{rt.config_path};
        bool derived = false;
        for (const auto& path : candidates) {
          auto kata = read(path);
          if (!kata) continue;
          auto profile = sizer::formats::ProfileFromKataConfig(*kata, "node-" + rt.handler, host_cpus);
          if (!profile) return Error{fmt::format("{}: {}", path, profile.error().message)};
          profile->description = fmt::format("derived from {} (handler {})", path, rt.handler);
          out.catalog.Put(*profile);
          if (auto st = out.catalog.MapHandler(rt.handler, profile->name); !st) return st.error();
          out.notes.push_back(
              fmt::format("handler {}: profile {} derived from {}", rt.handler, profile->name, path));
          derived = true;
          break;
        }
        if (!derived) {
          out.notes.push_back(
              fmt::format("handler {}: no readable Kata configuration ({}); keeping the built-in profile",
                          rt.handler, fmt::join(candidates, ", ")));
        }
      }
    }
  }
  for (const auto& [handler, profile] : config.handlers) {
    if (auto st = out.catalog.MapHandler(handler, profile); !st) return st.error();
  }
  return out;
}

}  // namespace uvm::daemon
