// The real `uvm-sizer daemon` with 250 VM pods (DESIGN.md budget: RSS < 25 MiB, steady state < 0.5 % of
// one core). This binary serves the pods from its fake CRI server (a child process, tests/support/fake_cri.h)
// with an empty cgroup_parent, so the daemon reads and writes no cgroup (and watches no pressure): the
// numbers are the daemon's own, without the kernel's cgroup reads. It starts the daemon on a temp config,
// waits until /metrics has 250 uvm_sizer_pod_uvm_vcpus series, reads VmRSS/VmHWM from /proc/<pid>/status,
// then measures the daemon's CPU time (utime + stime of all its threads, /proc/<pid>/stat) over the steady
// state: polls every 2 s, a full resync every 30 s, no scrapes during the window.
//
// The window is 60 s by default; --uvm_steady_seconds=N or UVM_BENCH_STEADY_SECONDS=N changes it (0 skips
// it; at most 60, so that the run stays under 70 s). One repetition whatever --benchmark_repetitions says.
//
// BM_DaemonCgroupReads/20 counts what the kernel sees instead: 20 VM pods over the cgroup tree of files, the
// daemon run under `strace -f -y` (openat, openat2, read, pread64, readv), and every syscall on a file of the
// tree during the steady window, per pod per minute. UVM_BENCH_DAEMON=<path> runs another uvm-sizer binary
// (e.g. an older build, for a before/after pair in one run).
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>

#include "tests/support/fake_cri.h"

#ifndef UVM_SIZER_BINARY
#error "UVM_SIZER_BINARY must name the uvm-sizer executable"
#endif

namespace uvm::bench {
namespace {

using testing::FakeCriProcess;
using testing::FakePodCgroups;
using testing::TempDir;

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kPods = 250;
constexpr int kReadPods = 20;
constexpr int kMaxSteadySeconds = 60;

Result<uint16_t> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return Error{fmt::format("bind 127.0.0.1:0: {}", std::strerror(errno))};
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET /metrics over HTTP/1.0 (the server closes when done); the body, or an error.
Result<std::string> Scrape(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{fmt::format("socket: {}", std::strerror(errno))};
  timeval tv{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return Error{fmt::format("connect 127.0.0.1:{}: {}", port, std::strerror(errno))};
  }
  std::string req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return Error{"short write of the request"};
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  auto body = out.find("\r\n\r\n");
  if (body == std::string::npos) return Error{"no HTTP response"};
  return out.substr(body + 4);
}

size_t CountSeries(const std::string& text, std::string_view family) {
  std::string prefix = std::string(family) + "{";
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.starts_with(prefix) ? 1 : 0;
  return n;
}

// The value of the series written exactly as `series` (name and labels); 0 when absent.
double Value(const std::string& text, std::string_view series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(series) && line.size() > series.size() && line[series.size()] == ' ')
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return 0;
}

// "VmRSS:     12345 kB" -> bytes.
std::optional<double> StatusBytes(pid_t pid, std::string_view key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == ':') {
      return std::strtod(line.c_str() + key.size() + 1, nullptr) * 1024.0;
    }
  }
  return std::nullopt;
}

// utime + stime of every thread of the process, in seconds (proc(5): fields 14 and 15, after the comm).
std::optional<double> CpuSeconds(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  if (fields.size() < 13) return std::nullopt;
  double ticks = std::strtod(fields[11].c_str(), nullptr) + std::strtod(fields[12].c_str(), nullptr);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The daemon, killed and reaped whatever happens.
class DaemonChild {
 public:
  ~DaemonChild() {
    if (pid_ <= 0) return;
    // strace detaches from its tracee when it is signalled: stop the daemon itself first.
    if (traced_) {
      if (pid_t d = TracedPid(); d > 0) ::kill(d, SIGKILL);
    }
    ::kill(pid_, SIGTERM);
    auto deadline = Clock::now() + 3s;
    while (Clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(20ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  // With `strace_out`, the daemon runs under strace writing there (pid() is then strace's).
  Status Spawn(const std::string& config, const std::string& log, const std::string& strace_out = "") {
    const char* binary = std::getenv("UVM_BENCH_DAEMON") ? std::getenv("UVM_BENCH_DAEMON") : UVM_SIZER_BINARY;
    std::vector<std::string> args = {binary, "daemon", "--config", config};
    traced_ = !strace_out.empty();
    if (traced_) {
      args.insert(args.begin(), {"/usr/bin/strace", "-f", "-qq", "-y", "-e",
                                 "trace=openat,openat2,read,pread64,readv", "-o", strace_out});
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) return Error{fmt::format("{}: {}", log, std::strerror(errno))};
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
      ::close(log_fd);
      return Error{fmt::format("fork: {}", std::strerror(errno))};
    }
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      ::dup2(log_fd, STDERR_FILENO);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(log_fd);
    return {};
  }
  bool Alive() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // The daemon's pid (under strace: strace's child, once it has started it; else -1).
  pid_t pid() const { return traced_ ? TracedPid() : pid_; }

 private:
  pid_t TracedPid() const {
    std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid_, pid_));
    pid_t child = -1;
    in >> child;
    return child;
  }

  pid_t pid_ = -1;
  bool traced_ = false;
};

// A cgroup v2 tree of regular files (cgroups/ probes it as one: cgroup.controllers at the root) holding
// each fake pod's cgroup, the files copied from the v2 fixture pod with the kubelet's limits written in.
Status BuildCgroupTree(const std::string& root, int pods) {
  namespace fs = std::filesystem;
  const fs::path fixture = fs::path(UVM_FIXTURES_DIR) / "cgroups/v2-cgroupfs";
  const fs::path fixture_pod = fixture / "kubepods/burstable/pod1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
  std::error_code ec;
  fs::create_directories(root, ec);
  for (const char* f : {"cgroup.controllers", "cgroup.procs"})
    fs::copy_file(fixture / f, fs::path(root) / f, ec);
  if (ec) return Error{fmt::format("{}: {}", root, ec.message())};
  for (const auto& pod : FakePodCgroups(pods)) {
    fs::path dir = fs::path(root + pod.cgroup_parent);
    fs::create_directories(dir, ec);
    for (const auto& e : fs::directory_iterator(fixture_pod, ec)) {
      if (e.is_regular_file()) fs::copy_file(e.path(), dir / e.path().filename(), ec);
    }
    if (ec) return Error{fmt::format("{}: {}", dir.string(), ec.message())};
    std::ofstream(dir / "memory.max") << pod.memory_limit_bytes << "\n";
    std::ofstream(dir / "memory.current") << pod.memory_limit_bytes / 3 << "\n";
    std::ofstream(dir / "cpu.max") << pod.cpu_quota_us << " 100000\n";
  }
  return {};
}

std::string Tail(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 600 ? all.substr(all.size() - 600) : all;
}

// Lines of an strace log naming a file under `root` (as a path argument, or an fd shown by -y).
size_t CountSyscallsUnder(const std::string& strace_log, const std::string& root) {
  std::ifstream in(strace_log);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(root) != std::string::npos ? 1 : 0;
  return n;
}

void BM_DaemonRss(benchmark::State& state, int steady_seconds, bool cgroup_tree, int pods, bool strace) {
  for (auto _ : state) {
    // Short: the shim-monitor socket paths under it must fit a unix socket address (108 bytes).
    TempDir dir("uvmbd");
    if (!dir.ok()) {
      state.SkipWithError("mkdtemp failed");
      break;
    }
    std::string cgroup_root = dir.path() + "/cgroup";
    if (cgroup_tree) {
      if (auto st = BuildCgroupTree(cgroup_root, pods); !st) {
        state.SkipWithError(st.error().message.c_str());
        break;
      }
    }
    auto server = FakeCriProcess::Start(dir.path(), {.pods = pods, .cgroup_parents = cgroup_tree});
    if (!server) {
      state.SkipWithError(server.error().message.c_str());
      break;
    }
    auto port = FreePort();
    if (!port) {
      state.SkipWithError(port.error().message.c_str());
      break;
    }
    std::string config = dir.path() + "/config.toml";
    std::string log = dir.path() + "/daemon.log";
    {
      std::ofstream out(config);
      out << fmt::format(
          "[cri]\nendpoint = \"{}\"\npoll_interval = \"2s\"\n"
          "[metrics]\nlisten = \"127.0.0.1:{}\"\n"
          "[api]\nsocket = \"{}/api.sock\"\n"
          "[node]\ncontainerd_config = \"{}/absent-containerd-config.toml\"\n"
          "[kubelet]\ncgroup_root = \"/\"\n"
          "[pressure]\nshim_monitor_dir = \"{}/s\"\n",
          server->get()->endpoint(), *port, dir.path(), dir.path(), dir.path());
      // Regular files cannot carry PSI triggers; the 5 s pressure ticks still read every pod.
      if (cgroup_tree) out << fmt::format("psi_trigger = false\n[cgroups]\nroot = \"{}\"\n", cgroup_root);
    }
    DaemonChild daemon;
    auto started = Clock::now();
    std::string strace_log = strace ? dir.path() + "/daemon.strace" : "";
    if (auto st = daemon.Spawn(config, log, strace_log); !st) {
      state.SkipWithError(st.error().message.c_str());
      break;
    }
    auto cpu_at_start = CpuSeconds(daemon.pid());
    // All 250 pods discovered, inspected, sized and published.
    bool ready = false;
    auto deadline = started + 10s;
    while (Clock::now() < deadline && daemon.Alive()) {
      if (auto body = Scrape(*port);
          body && CountSeries(*body, "uvm_sizer_pod_uvm_vcpus") == static_cast<size_t>(pods)) {
        ready = true;
        break;
      }
      std::this_thread::sleep_for(100ms);
    }
    if (!ready) {
      std::string why =
          fmt::format("no {} uvm_sizer_pod_uvm_vcpus series within 10 s; daemon log: {}", pods, Tail(log));
      state.SkipWithError(why.c_str());
      break;
    }
    double ready_s = std::chrono::duration<double>(Clock::now() - started).count();
    auto rss = StatusBytes(daemon.pid(), "VmRSS");
    auto hwm = StatusBytes(daemon.pid(), "VmHWM");
    auto cpu0 = CpuSeconds(daemon.pid());
    if (!rss || !hwm || !cpu0) {
      state.SkipWithError("cannot read /proc/<daemon>/status or stat");
      break;
    }
    constexpr double kMib = 1 << 20;
    state.counters["pods"] = pods;
    state.counters["ready_s"] = ready_s;
    state.counters["startup_cpu_s"] = *cpu0 - cpu_at_start.value_or(0);
    state.counters["rss_ready_MiB"] = *rss / kMib;
    size_t syscalls0 = strace ? CountSyscallsUnder(strace_log, cgroup_root) : 0;
    if (steady_seconds > 0) {
      auto t0 = Clock::now();
      std::this_thread::sleep_for(std::chrono::seconds(steady_seconds));
      if (strace) {
        double minutes = std::chrono::duration<double>(Clock::now() - t0).count() / 60.0;
        double syscalls = static_cast<double>(CountSyscallsUnder(strace_log, cgroup_root) - syscalls0);
        state.counters["cgroup_syscalls_per_pod_per_min"] = syscalls / pods / minutes;
      }
      auto cpu1 = CpuSeconds(daemon.pid());
      double wall = std::chrono::duration<double>(Clock::now() - t0).count();
      if (!daemon.Alive() || !cpu1) {
        std::string why = fmt::format("the daemon died during the steady state; log: {}", Tail(log));
        state.SkipWithError(why.c_str());
        break;
      }
      state.counters["steady_s"] = wall;
      state.counters["steady_cpu_s"] = *cpu1 - *cpu0;
      state.counters["steady_cpu_pct_of_core"] = 100.0 * (*cpu1 - *cpu0) / wall;
      // After polls and full resyncs: what the daemon settles at.
      if (auto r = StatusBytes(daemon.pid(), "VmRSS")) rss = r;
      if (auto h = StatusBytes(daemon.pid(), "VmHWM")) hwm = h;
      if (auto body = Scrape(*port)) {
        state.counters["series_after"] = static_cast<double>(CountSeries(*body, "uvm_sizer_pod_uvm_vcpus"));
        // With the cgroup tree every pod's cgroup was read: 250 usage series (0 without it).
        state.counters["usage_series_after"] =
            static_cast<double>(CountSeries(*body, "uvm_sizer_pod_cgroup_memory_usage_bytes"));
        state.counters["cgroup_read_errors"] = Value(*body, "uvm_sizer_errors_total{cause=\"cgroup_read\"}");
      }
    }
    state.counters["rss_MiB"] = *rss / kMib;
    state.counters["hwm_MiB"] = *hwm / kMib;
    // Shared-library pages (RssFile) are part of VmRSS; RssAnon is the daemon's own heap and stacks.
    if (auto a = StatusBytes(daemon.pid(), "RssAnon")) state.counters["rss_anon_MiB"] = *a / kMib;
    if (auto f = StatusBytes(daemon.pid(), "RssFile")) state.counters["rss_file_MiB"] = *f / kMib;
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - started).count());
  }
}
int SteadySeconds(int& argc, char** argv) {
  std::optional<int> value;
  if (const char* env = std::getenv("UVM_BENCH_STEADY_SECONDS")) value = std::atoi(env);
  constexpr std::string_view kFlag = "--uvm_steady_seconds=";
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with(kFlag)) {
      value = std::atoi(argv[i] + kFlag.size());
      continue;
    }
    argv[out++] = argv[i];
  }
  argc = out;
  return std::clamp(value.value_or(kMaxSteadySeconds), 0, kMaxSteadySeconds);
}

}  // namespace
}  // namespace uvm::bench

int main(int argc, char** argv) {
  if (int rc = uvm::testing::MaybeServeFakeCri(argc, argv); rc >= 0) return rc;
  int steady = uvm::bench::SteadySeconds(argc, argv);
  benchmark::Initialize(&argc, argv);
  // One run (a daemon start and up to 60 s of watching) is the measurement: no repetitions.
  struct Run {
    const char* name;
    bool tree;
    int pods;
    bool strace;
  };
  for (const Run& r : {Run{"BM_DaemonRss/250", false, uvm::bench::kPods, false},
                       Run{"BM_DaemonRssCgroupTree/250", true, uvm::bench::kPods, false},
                       Run{"BM_DaemonCgroupReads/20", true, uvm::bench::kReadPods, true}}) {
    benchmark::RegisterBenchmark(r.name, uvm::bench::BM_DaemonRss, steady, r.tree, r.pods, r.strace)
        ->Iterations(1)
        ->Repetitions(1)
        ->UseManualTime()
        ->Unit(benchmark::kSecond);
  }
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
