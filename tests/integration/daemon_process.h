// The real `uvm-sizer daemon` binary in a test: its own config dir, metrics port, API socket and log file;
// signals, SIGKILL and restarts; /metrics read through our exposition parser. The process is killed and
// its directory removed when the object goes, whatever happened in the test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "base/result.h"

namespace uvm::testing {

struct DaemonOptions {
  std::string cri_endpoint;
  std::string mode = "observe";  // [cgroups] mode
  std::string kubelet_cgroup_root = "/";
  std::string poll_interval = "500ms";
  std::string cgroups_toml;  // more [cgroups] keys, e.g. "read_interval = \"500ms\"\n"
  std::string api_socket;    // "" = api.sock in the daemon's own dir
  std::string node_toml;     // more [node] keys, e.g. "name = \"node-a\"\n"
  std::string extra_toml;    // appended to the generated config (other sections)
};

class DaemonProcess {
 public:
  // Writes the config, starts the daemon and waits until /metrics answers (up to 10 s).
  static Result<std::unique_ptr<DaemonProcess>> Start(const DaemonOptions& options);
  ~DaemonProcess();

  // /metrics body, or an error when the daemon does not answer.
  Result<std::string> Scrape() const;
  // The value of `metric` with exactly these labels among its labels (others may be present); nullopt when
  // absent.
  std::optional<double> Value(const std::string& metric,
                              const std::map<std::string, std::string>& labels = {}) const;
  // Polls `condition` every 100 ms until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

  void Signal(int signo) const;
  // Waits for the process to exit; its exit status (128 + signal when killed), nullopt on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // SIGKILL, then start again with the same config, port and socket.
  Status KillAndRestart();

  const std::string& config_path() const { return config_path_; }
  const std::string& api_socket() const { return api_socket_; }
  uint16_t metrics_port() const { return port_; }
  std::string Log() const;  // everything the daemon wrote to stderr so far
  pid_t pid() const { return pid_; }

 private:
  DaemonProcess() = default;
  Status Spawn();
  Status WaitForMetrics(std::chrono::milliseconds timeout) const;

  std::string dir_, config_path_, api_socket_, log_path_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace uvm::testing
