#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "guest/exposition.h"
#include "tests/support/http_client.h"

namespace uvm::testing {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

Result<std::unique_ptr<DaemonProcess>> DaemonProcess::Start(const DaemonOptions& options) {
  std::unique_ptr<DaemonProcess> d(new DaemonProcess());
  std::string tmpl = (fs::temp_directory_path() / "uvm-daemon-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) return Error{"mkdtemp failed"};
  d->dir_ = tmpl;
  d->config_path_ = d->dir_ + "/config.toml";
  d->api_socket_ = options.api_socket.empty() ? d->dir_ + "/api.sock" : options.api_socket;
  d->log_path_ = d->dir_ + "/daemon.log";
  auto port = FreeLoopbackPort();
  if (!port) return port.error();
  d->port_ = *port;
  std::ofstream(d->config_path_) << fmt::format(
      "[cri]\nendpoint = \"{}\"\npoll_interval = \"{}\"\nresync_interval = \"5s\"\ncall_timeout = \"1s\"\n"
      "[cgroups]\nmode = \"{}\"\n{}[metrics]\nlisten = \"127.0.0.1:{}\"\n[api]\nsocket = \"{}\"\n"
      "[kubelet]\ncgroup_root = \"{}\"\n[node]\ncontainerd_config = \"{}/no-containerd-config.toml\"\n{}"
      "[log]\nlevel = \"debug\"\n{}\n",
      options.cri_endpoint, options.poll_interval, options.mode, options.cgroups_toml, d->port_,
      d->api_socket_, options.kubelet_cgroup_root, d->dir_, options.node_toml, options.extra_toml);
  if (auto st = d->Spawn(); !st) return st.error();
  if (auto st = d->WaitForMetrics(milliseconds(10000)); !st) {
    return Error{fmt::format("{}; daemon log:\n{}", st.error().message, d->Log())};
  }
  return d;
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

Status DaemonProcess::Spawn() {
  int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) return Error{"cannot open the daemon log"};
  pid_t pid = fork();
  if (pid == 0) {
    dup2(log, 1);
    dup2(log, 2);
    // If the test binary dies, so does the daemon.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    execl(UVM_SIZER_BIN, UVM_SIZER_BIN, "daemon", "--config", config_path_.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  close(log);
  if (pid < 0) return Error{"fork failed"};
  pid_ = pid;
  return {};
}

Status DaemonProcess::WaitForMetrics(milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto r = HttpGet("127.0.0.1", port_, "/metrics", 1000); r && r->status == 200) return {};
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_)
      return Error{fmt::format("the daemon exited (status {})", status)};
    std::this_thread::sleep_for(milliseconds(50));
  }
  return Error{"the daemon's /metrics did not answer"};
}

Result<std::string> DaemonProcess::Scrape() const {
  auto r = HttpGet("127.0.0.1", port_, "/metrics", 3000);
  if (!r) return r.error();
  if (r->status != 200) return Error{fmt::format("/metrics answered {}", r->status)};
  return r->body;
}

std::optional<double> DaemonProcess::Value(const std::string& metric,
                                           const std::map<std::string, std::string>& labels) const {
  auto body = Scrape();
  if (!body) return std::nullopt;
  auto parsed = guest::ParseExpositionText(*body, "/metrics");
  if (!parsed) return std::nullopt;
  for (const auto& s : parsed->samples) {
    if (s.name != metric) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      const std::string* got = s.FindLabel(k);
      if (!got || *got != v) match = false;
    }
    if (match) return s.value;
  }
  return std::nullopt;
}

bool DaemonProcess::WaitFor(const std::function<bool()>& condition, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(100));
  }
}

void DaemonProcess::Signal(int signo) const {
  if (pid_ > 0) kill(pid_, signo);
}

std::optional<int> DaemonProcess::WaitExit(milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return std::nullopt;
}

Status DaemonProcess::KillAndRestart() {
  Signal(SIGKILL);
  if (!WaitExit(milliseconds(5000))) return Error{"the daemon survived SIGKILL"};
  if (auto st = Spawn(); !st) return st;
  return WaitForMetrics(milliseconds(10000));
}

std::string DaemonProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace uvm::testing
