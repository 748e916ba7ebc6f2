#include "tests/support/prometheus_process.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>
#include <vector>

#include "tests/support/http_client.h"

namespace uvm::testing {

using namespace std::chrono_literals;

PrometheusProcess::~PrometheusProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    bool exited = false;
    for (int i = 0; i < 100 && !exited; ++i) {
      exited = ::waitpid(pid_, &status, WNOHANG) == pid_;
      if (!exited) std::this_thread::sleep_for(50ms);
    }
    if (!exited) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status PrometheusProcess::MakeDir(std::string_view prefix) {
  std::string tmpl = fmt::format("/tmp/{}-XXXXXX", prefix);
  if (!::mkdtemp(tmpl.data())) return Error{fmt::format("mkdtemp {}: {}", tmpl, std::strerror(errno))};
  dir_ = tmpl;
  return {};
}

Status PrometheusProcess::Start(const std::string& prometheus_bin, const std::string& config,
                                std::chrono::milliseconds patience) {
  if (dir_.empty()) UVM_TRY(MakeDir("uvm-prometheus"));
  auto port = FreeLoopbackPort();
  if (!port) return port.error();
  port_ = *port;
  std::string config_path = dir_ + "/prometheus.yml";
  std::ofstream(config_path) << config;
  log_ = dir_ + "/prometheus.log";
  std::vector<std::string> args{prometheus_bin, "--config.file=" + config_path,
                                "--storage.tsdb.path=" + dir_ + "/data",
                                fmt::format("--web.listen-address=127.0.0.1:{}", port_), "--log.level=info"};
  pid_t pid = ::fork();
  if (pid < 0) return Error{fmt::format("fork: {}", std::strerror(errno))};
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a crashed or killed test
    int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    if (::chdir(dir_.c_str()) != 0) ::_exit(126);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Error{fmt::format("prometheus exited early (status {}):\n{}", status, LogTail())};
    }
    auto r = HttpGet("127.0.0.1", port_, "/-/ready", 2000);
    if (r && r->status == 200) return {};
    std::this_thread::sleep_for(100ms);
  }
  return Error{fmt::format("prometheus not ready on port {}:\n{}", port_, LogTail())};
}

std::string PrometheusProcess::url() const {
  return fmt::format("http://127.0.0.1:{}", port_);
}

std::string PrometheusProcess::LogTail() const {
  std::ifstream in(log_);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 4000 ? all.substr(all.size() - 4000) : all;
}

}  // namespace uvm::testing
