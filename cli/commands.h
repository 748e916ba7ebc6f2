// The `uvm-sizer` subcommands. Each Add*Command registers one subcommand on `app`; when it runs, its
// callback stores the process exit status in `exit_code`: 0 done, 2 invalid input or usage (one message on
// stderr, nothing on stdout), 3 the runtime would refuse a pod (size only; output still printed).
#pragma once

namespace CLI {
class App;
}

namespace uvm::cli {

void AddSizeCommand(CLI::App& app, int& exit_code);
void AddCapacityCommand(CLI::App& app, int& exit_code);  // exit 2 also: --plot without gnuplot
void AddRuntimeClassCommand(CLI::App& app, int& exit_code);
void AddProfilesCommand(CLI::App& app, int& exit_code);
void AddDaemonCommands(CLI::App& app, int& exit_code);  // daemon, config print
void AddStatusCommand(CLI::App& app, int& exit_code);
void AddInspectCommand(CLI::App& app, int& exit_code);  // exit 1: a cgroup that cannot be read

}  // namespace uvm::cli
