// uvm-sizer: what a VM-isolated pod really costs. The subcommands live in cli/*.cc.
#include <CLI/CLI.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"uvm-sizer: sizes Kata utility VMs for Kubernetes pods and reports what they really cost",
               "uvm-sizer"};
  app.set_version_flag("--version", std::string("uvm-sizer ") + UVM_SIZER_VERSION);
  app.require_subcommand(1);
  int exit_code = 0;
  uvm::cli::AddSizeCommand(app, exit_code);
  uvm::cli::AddCapacityCommand(app, exit_code);
  uvm::cli::AddRuntimeClassCommand(app, exit_code);
  uvm::cli::AddProfilesCommand(app, exit_code);
#ifdef UVM_HAVE_DAEMON
  uvm::cli::AddDaemonCommands(app, exit_code);
#endif
  uvm::cli::AddStatusCommand(app, exit_code);
  uvm::cli::AddInspectCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 with one message on stderr (help and --version exit 0).
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return exit_code;
}
