// Issue 5 on the real kernel, end to end: the real `uvm-sizer daemon` binary watches a kata-cc pod of a
// private containerd 1.6 (tests/integration/harness/containerd_fixture.h: the pod cgroup is made the
// kubelet's way under a unique --cgroup-root), with no Kata shim monitor socket, so it judges the pod
// from its host cgroup alone.
//   - A process that joins the pod's v1 memory cgroup writes a tmpfs file at a known rate until the
//     cgroup's limit OOM-kills it (tmpfs pages are charged to the writer's memory cgroup and cannot be
//     reclaimed without swap): the daemon's predicted time left is compared with when the limit really hit.
//   - A process that joins the pod's cgroups stalls on memory (page-cache churn through a small limit):
//     the daemon's PSI trigger on the unified tree re-evaluates the pod at once. The time from the
//     kernel firing (seen on a second, identical trigger of our own) to the daemon's line is printed.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "guest/exposition.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
constexpr int64_t kMib = 1 << 20;
constexpr long kTmpfsMagic = 0x01021994;  // TMPFS_MAGIC, linux/magic.h

// The pod cgroup dir the fixture made in the hierarchy whose path contains "/<name>/" ("memory",
// "unified"), or "" when the host has none.
std::string PodDir(const Pod& pod, const std::string& name) {
  for (const auto& d : pod.pod_cgroup_dirs) {
    if (d.find("/" + name + "/") != std::string::npos) return d;
  }
  return "";
}

// Both values from one scrape: level and time left (nullopt when absent), plus OOM kills.
struct Reading {
  std::optional<double> level, seconds_left, oom_kills;
};
Reading Read(const DaemonProcess& d, const std::string& uid) {
  Reading r;
  auto body = d.Scrape();
  if (!body) return r;
  auto parsed = guest::ParseExpositionText(*body, "/metrics");
  if (!parsed) return r;
  for (const auto& s : parsed->samples) {
    const std::string* u = s.FindLabel("uid");
    if (!u || *u != uid) continue;
    if (s.name == "uvm_sizer_pod_pressure_level") r.level = s.value;
    if (s.name == "uvm_sizer_pod_memory_exhaustion_seconds") r.seconds_left = s.value;
    if (s.name == "uvm_sizer_pod_oom_kills_total") r.oom_kills = s.value;
  }
  return r;
}

// A child process of the test: SIGKILLed and reaped when the object goes, whatever happened.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() { Kill(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  pid_t pid() const { return pid_; }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  void Reaped() { pid_ = -1; }

 private:
  pid_t pid_;
};

struct RemoveFile {
  std::string path;
  ~RemoveFile() {
    if (!path.empty()) unlink(path.c_str());
  }
};

// In the forked child only async-signal-safe calls: the parent runs gRPC threads.
void JoinCgroup(const char* procs) {
  int fd = open(procs, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0", 1) != 1) _exit(10);
  close(fd);
}

class PressureDaemon : public ContainerdTest {
 protected:
  std::unique_ptr<DaemonProcess> StartDaemon(const std::string& pressure_toml) {
    sbs_ = std::filesystem::temp_directory_path() / ("uvm-no-shims-" + std::to_string(getpid()));
    auto d = DaemonProcess::Start(
        {.cri_endpoint = containerd().endpoint(),
         .mode = "observe",
         .kubelet_cgroup_root = containerd().kubelet_cgroup_root(),
         .extra_toml = "[pressure]\nshim_monitor_dir = \"" + sbs_.string() + "\"\n" + pressure_toml});
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? std::move(*d) : nullptr;
  }
  std::filesystem::path sbs_;
};

TEST_F(PressureDaemon, TmpfsWritesInAVmPodArePredictedWarnedAboutAndClearedWhenDeleted) {
  struct statfs fs {};
  if (statfs("/dev/shm", &fs) != 0 || fs.f_type != kTmpfsMagic)
    GTEST_SKIP() << "/dev/shm is not a tmpfs here";
  // Thresholds scaled down so that the whole story takes ~40 s: warning below 20 s left, critical below
  // 8 s, a prediction once the window spans 5 s, ok again 2 s after every rule is clear.
  auto daemon = StartDaemon(
      "interval = \"1s\"\nwindow = \"60s\"\nmin_span = \"5s\"\nwarning_time_left = \"20s\"\n"
      "critical_time_left = \"8s\"\nclear_hold = \"2s\"\npsi_trigger = false\n");
  ASSERT_TRUE(daemon);
  // kata-cc pod, limits 96 MiB + declared overhead 32 MiB: the kubelet's pod cgroup limit is 128 MiB.
  auto pod = containerd().CreatePod({.name = "tmpfs",
                                     .handler = "kata-cc",
                                     .resources = cri::LinuxResources{100000, 100000, 1024, 96 * kMib},
                                     .overhead = cri::LinuxResources{100000, 10000, 128, 32 * kMib}});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  std::string memory = PodDir(*pod, "memory");
  if (memory.empty()) GTEST_SKIP() << "no v1 memory hierarchy on this host";
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return Read(*daemon, pod->uid).level.has_value(); }, milliseconds(5000)))
      << "the daemon never evaluated the VM pod\n"
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("no Kata shim monitor socket"), std::string::npos)
      << "host view, and it says so";

  // The writer: joins the pod's memory cgroup, offers itself to the OOM killer first, and writes
  // 64 KiB every 1/64 s (4 MiB/s) to a tmpfs file until the cgroup's limit kills it.
  constexpr int64_t kRate = 4 * kMib;
  constexpr int64_t kChunk = 64 * 1024;
  RemoveFile file{"/dev/shm/uvm-pressure-" + std::to_string(getpid())};
  std::string procs = memory + "/cgroup.procs";
  std::vector<char> chunk(kChunk, 'f');
  pid_t pid = fork();
  if (pid == 0) {
    JoinCgroup(procs.c_str());
    int adj = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (adj >= 0) {
      (void)!write(adj, "1000", 4);
      close(adj);
    }
    int out = open(file.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) _exit(11);
    timespec next{};
    clock_gettime(CLOCK_MONOTONIC, &next);
    const long period_ns = static_cast<long>(1000000000LL * kChunk / kRate);
    for (;;) {
      if (write(out, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) _exit(12);
      next.tv_nsec += period_ns;
      while (next.tv_nsec >= 1000000000L) {
        next.tv_nsec -= 1000000000L;
        ++next.tv_sec;
      }
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
    }
  }
  ASSERT_GT(pid, 0);
  Child writer(pid);
  auto started = Clock::now();
  std::atomic<bool> dead{false};
  Clock::time_point died{};
  int wait_status = 0;
  std::thread reaper([&] {
    if (waitpid(pid, &wait_status, 0) == pid) {
      died = Clock::now();
      dead = true;
    }
  });
  struct Join {
    std::thread& t;
    Child& c;
    ~Join() {
      if (t.joinable()) {
        kill(c.pid(), SIGKILL);
        t.join();
      }
      c.Reaped();
    }
  } join{reaper, writer};

  struct Point {
    Clock::time_point at;
    Reading r;
  };
  std::vector<Point> points;
  // Bounded: 128 MiB at 4 MiB/s fills in ~32 s.
  while (!dead && Clock::now() - started < std::chrono::seconds(90)) {
    points.push_back({Clock::now(), Read(*daemon, pod->uid)});
    std::this_thread::sleep_for(milliseconds(200));
  }
  ASSERT_TRUE(dead.load()) << "the writer was not stopped by the cgroup limit within 90 s\n" << daemon->Log();
  reaper.join();
  ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
      << "the writer should be OOM-killed at the limit, status " << wait_status;
  double fill_seconds = std::chrono::duration<double>(died - started).count();

  // Prediction error against the moment the limit really hit. Only points with >= 10 s to go: the
  // daemon's sample is up to one interval (1 s) older than the scrape.
  std::vector<double> errors;
  std::optional<Clock::time_point> first_warning, first_critical;
  for (const auto& p : points) {
    if (p.r.level >= 1.0 && !first_warning) first_warning = p.at;
    if (p.r.level >= 2.0 && !first_critical) first_critical = p.at;
    double truth = std::chrono::duration<double>(died - p.at).count();
    if (!p.r.seconds_left || truth < 10.0) continue;
    errors.push_back((*p.r.seconds_left - truth) / truth);
  }
  ASSERT_GE(errors.size(), 10u) << "too few predictions\n" << daemon->Log();
  std::vector<double> abs_errors;
  for (double e : errors) abs_errors.push_back(std::fabs(e));
  std::sort(abs_errors.begin(), abs_errors.end());
  double median = abs_errors[abs_errors.size() / 2];
  double worst = abs_errors.back();
  std::cout << "[ measure  ] tmpfs 4 MiB/s into a 128 MiB pod cgroup: limit hit after " << fill_seconds
            << " s; predicted time left vs truth over " << errors.size()
            << " scrapes with >= 10 s to go: median |error| " << median * 100 << " %, worst " << worst * 100
            << " % (signed first " << errors.front() * 100 << " %, last " << errors.back() * 100 << " %)\n";
  EXPECT_LE(worst, 0.25) << "uvm_sizer_pod_memory_exhaustion_seconds off by more than 25 %";
  ASSERT_TRUE(first_warning) << daemon->Log();
  ASSERT_TRUE(first_critical) << daemon->Log();
  EXPECT_LT(*first_warning, *first_critical);
  EXPECT_LT(*first_critical, died) << "critical must come before the limit";
  std::cout << "[ measure  ] warning " << std::chrono::duration<double>(died - *first_warning).count()
            << " s and critical " << std::chrono::duration<double>(died - *first_critical).count()
            << " s before the limit\n";
  std::string log = daemon->Log();
  EXPECT_NE(log.find("memory pressure warning (was ok)"), std::string::npos) << log;
  auto critical_at = log.find("memory pressure critical (was warning)");
  ASSERT_NE(critical_at, std::string::npos) << log;
  std::string line = log.substr(critical_at, log.find('\n', critical_at) - critical_at);
  EXPECT_NE(line.find("basis host"), std::string::npos) << line;
  EXPECT_NE(line.find("time left ~"), std::string::npos) << line;
  EXPECT_NE(line.find("raise the memory limit"), std::string::npos) << line;
  std::cout << "[ journal  ] " << line << "\n";
  EXPECT_TRUE(
      DaemonProcess::WaitFor([&] { return Read(*daemon, pod->uid).oom_kills >= 1.0; }, milliseconds(5000)))
      << "the OOM kill shows in uvm_sizer_pod_oom_kills_total";
  // `uvm-sizer status` shows the level, on what it is based, and the advice.
  auto status = RunProcess({UVM_SIZER_BIN, "status", "--socket", daemon->api_socket(), "-o", "json"});
  ASSERT_EQ(status.exit_code, 0) << status.err;
  bool listed = false;
  auto json = nlohmann::json::parse(status.out);
  for (const auto& p : json["pods"]) {
    if (p["uid"] != pod->uid) continue;
    listed = true;
    EXPECT_EQ(p["pressure"]["level"], "critical") << p.dump();
    EXPECT_EQ(p["pressure"]["basis"], "host") << p.dump();
    EXPECT_NE(p["pressure"]["advice"].get<std::string>().find("raise the memory limit"), std::string::npos);
  }
  EXPECT_TRUE(listed) << status.out;

  // The file goes (its pages are uncharged): back to ok, and no time left predicted.
  ASSERT_EQ(unlink(file.path.c_str()), 0);
  file.path.clear();
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] {
        auto r = Read(*daemon, pod->uid);
        return r.level == 0.0 && !r.seconds_left;
      },
      milliseconds(15000)))
      << daemon->Log();
  EXPECT_NE(daemon->Log().find("memory pressure ok (was critical)"), std::string::npos);
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

TEST_F(PressureDaemon, ARealPsiTriggerReevaluatesThePodAtOnce) {
  // An interval that never elapses: any evaluation after the first comes from the trigger.
  auto daemon = StartDaemon(
      "interval = \"1h\"\npsi_trigger = true\npsi_trigger_stall = \"50ms\"\n"
      "psi_trigger_window = \"2s\"\n");
  ASSERT_TRUE(daemon);
  auto pod = containerd().CreatePod({.name = "psi",
                                     .handler = "kata-cc",
                                     .resources = cri::LinuxResources{100000, 100000, 1024, 16 * kMib},
                                     .overhead = cri::LinuxResources{100000, 10000, 128, 8 * kMib}});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  std::string memory = PodDir(*pod, "memory");
  std::string unified = PodDir(*pod, "unified");
  if (memory.empty() || unified.empty()) GTEST_SKIP() << "needs a v1 memory hierarchy and the unified tree";
  if (!std::filesystem::exists(unified + "/memory.pressure")) GTEST_SKIP() << "the kernel has no PSI";
  ASSERT_TRUE(
      DaemonProcess::WaitFor([&] { return Read(*daemon, pod->uid).level.has_value(); }, milliseconds(5000)))
      << daemon->Log();
  ASSERT_EQ(daemon->Log().find("no PSI trigger"), std::string::npos) << daemon->Log();

  // Our own trigger, identical to the daemon's, on the same cgroup: the kernel updates both in the same
  // pass, so its POLLPRI marks when the daemon's fired.
  int own = open((unified + "/memory.pressure").c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(own, 0) << std::strerror(errno);
  struct Close {
    int fd;
    ~Close() { close(fd); }
  } close_own{own};
  const char spec[] = "some 50000 2000000";
  ASSERT_EQ(write(own, spec, sizeof spec), static_cast<ssize_t>(sizeof spec)) << std::strerror(errno);
  // Quiet windows first, so that both triggers start from no stall.
  std::this_thread::sleep_for(milliseconds(2500));
  size_t log_offset = daemon->Log().size();

  // The churner: joins the pod (memory limit 24 MiB, and the unified cgroup PSI is accounted to),
  // writes 64 MiB of page cache and reads it round and round: reclaim on every pass is a memory stall.
  std::string data =
      std::filesystem::temp_directory_path().string() + "/uvm-psi-churn-" + std::to_string(getpid());
  RemoveFile remove_data{data};
  std::string mem_procs = memory + "/cgroup.procs", uni_procs = unified + "/cgroup.procs";
  std::vector<char> buf(kMib, 'p');
  pid_t pid = fork();
  if (pid == 0) {
    JoinCgroup(mem_procs.c_str());
    JoinCgroup(uni_procs.c_str());
    int fd = open(data.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) _exit(11);
    for (int i = 0; i < 64; ++i) {
      if (write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) _exit(12);
    }
    for (;;) {
      for (off_t off = 0; off < 64 * static_cast<off_t>(kMib); off += static_cast<off_t>(kMib)) {
        if (pread(fd, buf.data(), buf.size(), off) < 0) _exit(13);
      }
    }
  }
  ASSERT_GT(pid, 0);
  Child churner(pid);

  std::atomic<bool> fired{false};
  Clock::time_point fired_at{};
  std::thread watch([&] {
    pollfd p{.fd = own, .events = POLLPRI, .revents = 0};
    if (poll(&p, 1, 20000) == 1 && (p.revents & POLLPRI)) {
      fired_at = Clock::now();
      fired = true;
    }
  });
  // The daemon's line, seen by polling its log every millisecond (bounded).
  const std::string marker = "PSI trigger fired; re-evaluated and published in ";
  std::optional<Clock::time_point> logged_at;
  std::string line;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!logged_at && Clock::now() < deadline) {
    std::string log = daemon->Log();
    auto at = log.find(marker, log_offset);
    if (at != std::string::npos) {
      logged_at = Clock::now();
      auto start = log.rfind('\n', at);
      line = log.substr(start == std::string::npos ? 0 : start + 1, log.find('\n', at) - (start + 1));
      break;
    }
    std::this_thread::sleep_for(milliseconds(1));
  }
  watch.join();
  churner.Kill();
  ASSERT_TRUE(fired.load()) << "our trigger never fired: no memory stall in the pod?";
  ASSERT_TRUE(logged_at) << "the daemon never re-evaluated on its trigger\n" << daemon->Log();
  EXPECT_NE(line.find(pod->spec.name), std::string::npos) << line;
  EXPECT_TRUE(Read(*daemon, pod->uid).level.has_value());
  double ms = std::chrono::duration<double, std::milli>(*logged_at - fired_at).count();
  std::cout << "[ measure  ] PSI trigger fired -> daemon re-evaluated, published the metrics and logged: "
            << ms
            << " ms (kernel POLLPRI on our twin trigger to the line in the daemon's log, 1 ms log polling)\n"
            << "[ journal  ] " << line << "\n";
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

}  // namespace
}  // namespace uvm::testing
