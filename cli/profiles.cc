// `uvm-sizer profiles`: the built-in profiles, or the profiles a node's Kata and containerd files imply.
#include <unistd.h>

#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/error_codes.h"
#include "cli/commands.h"
#include "cli/io.h"
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
          {"sandbox_cgroup_only", p.sandbox_cgroup_only}};
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

uint32_t HostCpus() {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
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

  auto derive = [&](const std::string& path, const std::string& handler) -> Result<sizer::Profile> {
    auto text = ReadInput(path);
    if (!text) return text.error();
    std::string name = handler.empty() ? "node" : "node-" + handler;
    auto p = sizer::formats::ProfileFromKataConfig(*text, name, HostCpus());
    if (!p) return WithMessage(p.error(), fmt::format("{}: {}", path, p.error().message));
    p->description = "derived from " + path;
    return p;
  };

  if (!opt.containerd_config.empty()) {
    auto text = ReadInput(opt.containerd_config);
    if (!text) return fail(text.error().message);
    auto runtimes = sizer::formats::ParseContainerdRuntimes(*text);
    if (!runtimes) return fail(fmt::format("{}: {}", opt.containerd_config, runtimes.error().message));
    for (const auto& rt : *runtimes) {
      if (!rt.is_kata()) {
        notes.push_back(
            fmt::format("handler {} ({}) is not Kata: not VM-isolated", rt.handler, rt.runtime_type));
        continue;
      }
      std::string path = !opt.kata_config.empty() ? opt.kata_config : rt.config_path;
      if (path.empty()) {
        notes.push_back(
            fmt::format("handler {} has no ConfigPath: Kata uses its default configuration", rt.handler));
        continue;
      }
      auto p = derive(path, rt.handler);
      if (!p) return fail(p.error().message);
      rows.emplace_back(rt.handler, std::move(*p));
    }
  } else if (!opt.kata_config.empty()) {
    auto p = derive(opt.kata_config, "");
    if (!p) return fail(p.error().message);
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
                  "containerd's config.toml: derive a profile for each Kata handler from its ConfigPath");
  cmd->add_option("-o,--output", opt->output, "text or json")->capture_default_str();
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
