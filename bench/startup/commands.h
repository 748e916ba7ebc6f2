// The subcommands of uvm-sizer-startup, each registered by the library that owns it; main.cc only wires
// them. A subcommand's callback stores its exit status (0 ok, 1 failed run, 2 bad usage or input) in
// *exit_code and never throws.
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace uvm::startup {

// `run`: drive a CRI runtime and write a result directory (run.cc, uvm_startup_runner).
void AddRunCommand(CLI::App& app, int* exit_code);
// `report DIR`, `compare A B` (report_commands.cc, uvm_startup_model).
void AddReportCommands(CLI::App& app, int* exit_code);
// `scrape --kubelet URL --containerd URL` (node_metrics.cc, uvm_startup_node_metrics).
void AddScrapeCommand(CLI::App& app, int* exit_code);

}  // namespace uvm::startup
