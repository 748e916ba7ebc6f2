// `uvm-sizer profiles`: the built-in profiles, or the profiles a node's Kata and containerd files imply
// (through the daemon's own walk, BuildNodeCatalog, so both give one answer).
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/error_codes.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "daemon/node_profiles.h"
#include "sizer/formats/profiles_toml.h"
#include "sizer/profile.h"

namespace uvm::cli {
namespace {

using nlohmann::json;

struct ProfilesOptions {
  std::string kata_config;
  std::string containerd_config;
  std::string output = "text";
};

json ToJson(const sizer::Profile& p) {
  return {{"name", p.name},
          {"description", p.description},
          {"base_vcpus", p.base_vcpus},
          {"base_memory_mib", p.base_memory_mib},
          {"mode", p.mode == sizer::SizingMode::kStatic ? "static" : "dynamic"},
          {"default_workload_mem_mib", p.default_workload_mem_mib},
          {"default_workload_vcpus", p.default_workload_vcpus},
          {"workload_mem_min_mib", p.workload_mem_min_mib},
          {"shares_fallback", p.shares_fallback},
          {"max_vcpus", p.max_vcpus},
          {"max_memory_mib", p.max_memory_mib},
          {"memory_block_mib", p.memory_block_mib},
          {"sandbox_cgroup_only", p.sandbox_cgroup_only},
          {"enabled_annotations", p.enabled_annotations},
          {"forwarded_annotations", p.forwarded_annotations},
          {"min_hypervisor_memory_mib", p.min_hypervisor_memory_mib}};
}

std::string Or(uint32_t v, const char* none) {
  return v == 0 ? none : std::to_string(v);
}

void PrintTable(const std::vector<std::pair<std::string, sizer::Profile>>& rows) {
  std::cout << fmt::format("{:<20} {:<18} {:>5} {:>9} {:<8} {:>12} {:>13} {:>8} {:<7}\n", "HANDLER",
                           "PROFILE", "VCPUS", "BASE MiB", "MODE", "DEFAULT MiB", "DEFAULT VCPU", "MIN MiB",
                           "SHARES");
  for (const auto& [handler, p] : rows) {
    std::cout << fmt::format("{:<20} {:<18} {:>5} {:>9} {:<8} {:>12} {:>13} {:>8} {:<7}\n",
                             handler.empty() ? "-" : handler, p.name, p.base_vcpus, p.base_memory_mib,
                             p.mode == sizer::SizingMode::kStatic ? "static" : "dynamic",
                             Or(p.default_workload_mem_mib, "-"), Or(p.default_workload_vcpus, "-"),
                             Or(p.workload_mem_min_mib, "-"), p.shares_fallback ? "yes" : "no");
  }
}

int Run(const ProfilesOptions& opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer profiles: " << message << '\n';
    return 2;
  };
  if (opt.output != "text" && opt.output != "json")
    return fail(fmt::format("-o: unknown format \"{}\"", opt.output));
  std::vector<std::pair<std::string, sizer::Profile>> rows;  // handler (or "") -> profile
  std::vector<std::string> notes;

  if (!opt.containerd_config.empty()) {
    if (!opt.kata_config.empty()) {
      return fail(
          "--kata-config and --containerd-config: give one (containerd's config names each handler's "
          "Kata file)");
    }
    auto text = ReadInput(opt.containerd_config);
    if (!text) return fail(text.error().message);
    daemon::DaemonConfig config;
    config.node.containerd_config = opt.containerd_config;
    // The containerd config is read once (it may be stdin); Kata files as the daemon would read them.
    auto read = [&](const std::string& path) -> Result<std::string> {
      return path == opt.containerd_config ? Result<std::string>(*text) : ReadInput(path);
    };
    auto node = daemon::BuildNodeCatalog(config, read, daemon::HostCpus());
    if (!node) return fail(node.error().message);
    for (const auto& rt : node->runtimes) {
      if (!rt.kata) {
        notes.push_back(
            fmt::format("handler {} ({}) is not Kata: not VM-isolated", rt.handler, rt.runtime_type));
        continue;
      }
      if (const sizer::Profile* p = node->catalog.ForHandler(rt.handler)) rows.emplace_back(rt.handler, *p);
    }
    notes.insert(notes.end(), node->notes.begin(), node->notes.end());
  } else if (!opt.kata_config.empty()) {
    auto text = ReadInput(opt.kata_config);
    if (!text) return fail(text.error().message);
    auto p = sizer::formats::ProfileFromKataConfig(*text, "node", daemon::HostCpus());
    if (!p) return fail(fmt::format("{}: {}", opt.kata_config, p.error().message));
    p->description = "derived from " + opt.kata_config;
    rows.emplace_back("", std::move(*p));
  } else {
    auto catalog = sizer::ProfileCatalog::Builtin();
    for (const auto& p : catalog.profiles()) {
      std::string handlers;
      for (const auto& [h, name] : catalog.handlers()) {
        if (name == p.name) handlers += (handlers.empty() ? "" : ",") + h;
      }
      rows.emplace_back(handlers, p);
    }
  }

  if (opt.output == "json") {
    json out = {{"profiles", json::array()}, {"notes", notes}};
    for (const auto& [handler, p] : rows) {
      json j = ToJson(p);
      j["handlers"] = handler.empty() ? json::array() : json::array({handler});
      out["profiles"].push_back(j);
    }
    std::cout << out.dump(2) << '\n';
    return 0;
  }
  PrintTable(rows);
  for (const auto& [handler, p] : rows) std::cout << fmt::format("\n{}: {}", p.name, p.description);
  std::cout << '\n';
  for (const auto& n : notes) std::cout << "note: " << n << '\n';
  return 0;
}

}  // namespace

void AddProfilesCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<ProfilesOptions>();
  auto* cmd = app.add_subcommand("profiles",
                                 "List sizing profiles, or derive them from a node's Kata/containerd files");
  cmd->add_option("--kata-config", opt->kata_config, "a Kata configuration.toml to derive a profile from");
  cmd->add_option("--containerd-config", opt->containerd_config,
                  "containerd's config.toml: each Kata handler's profile as the daemon derives it (from its "
                  "ConfigPath, else Kata's default configuration files)");
  cmd->add_option("-o,--output", opt->output, "text or json")->capture_default_str();
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
