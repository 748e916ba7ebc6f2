// `uvm-sizer daemon`, `uvm-sizer config print` and `uvm-sizer config defaults`.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "daemon/config.h"
#include "daemon/daemon.h"

namespace uvm::cli {
namespace {

struct DaemonFlags {
  std::string config = daemon::kDefaultConfigPath;
  std::string log_level;
};

void AddConfigFlag(CLI::App& cmd, DaemonFlags& flags) {
  cmd.add_option("--config", flags.config,
                 "config file; config.d/*.toml beside it are applied after it in lexical order")
      ->capture_default_str();
}

}  // namespace

void AddDaemonCommands(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<DaemonFlags>();
  auto* run = app.add_subcommand("daemon", "Run the node agent (as a systemd service, or in the foreground)");
  AddConfigFlag(*run, *flags);
  run->add_option("--log-level", flags->log_level,
                  "error, warning, notice, info or debug (overrides [log] level)")
      ->check(CLI::IsMember({"error", "warning", "notice", "info", "debug"}));
  run->callback([flags, run, &exit_code] {
    daemon::DaemonOptions options{.config_path = flags->config,
                                  .config_path_given = run->count("--config") > 0};
    if (!flags->log_level.empty()) options.log_level = daemon::PriorityFromName(flags->log_level);
    exit_code = daemon::RunDaemon(options);
  });

  auto* config = app.add_subcommand("config", "Show the daemon's configuration");
  config->require_subcommand(1);
  auto* print =
      config->add_subcommand("print", "Print the effective configuration (defaults + file + config.d)");
  AddConfigFlag(*print, *flags);
  print->callback([flags, print, &exit_code] {
    auto c = daemon::LoadConfig(flags->config, print->count("--config") > 0);
    if (!c) {
      std::cerr << "uvm-sizer config print: " << c.error().message << '\n';
      exit_code = 2;
      return;
    }
    std::cout << daemon::ConfigToToml(*c);
    exit_code = 0;
  });
  // deploy/config.toml is this output: regenerate it with `uvm-sizer config defaults > deploy/config.toml`.
  auto* defaults = config->add_subcommand(
      "defaults", "Print every key commented out with its default and doc line (deploy/config.toml)");
  defaults->callback([&exit_code] {
    std::cout << daemon::DefaultConfigFileText();
    exit_code = 0;
  });
}

}  // namespace uvm::cli
