// uvm-sizer-startup: pod startup-latency profiling by runtime class (bench/startup/README.md).
#include <CLI/CLI.hpp>

#include "bench/startup/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"uvm-sizer-startup: pod startup latency by runtime class, with the UVM the sizer predicts"};
  app.require_subcommand(1);
  int exit_code = 0;
  uvm::startup::AddRunCommand(app, &exit_code);
  uvm::startup::AddReportCommands(app, &exit_code);
  uvm::startup::AddScrapeCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
