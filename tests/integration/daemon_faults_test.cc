// Issue 8 "Faults and load it must survive", against the real `uvm-sizer daemon` binary: a private
// containerd 1.6 + runc (handlers kata and kata-cc are runc underneath) SIGKILLed while pods come and go,
// a storm of SIGHUPs with broken files, 1,000 pods of the shared fake CRI in waves, a scrape storm with watch
// streams cut abruptly, a full tmpfs under the API socket, a pod cgroup removed under the daemon and a cgroup
// write the kernel refuses. Only what anyone outside the daemon can see is checked: /metrics, the API on the
// unix socket, the daemon's stderr journal lines and /proc/<pid>.
//
// Every test prints its duration ("[ measure  ]" lines) and what it measured, for the closing note.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "guest/exposition.h"
#include "kubelet-plugin/api/api_server.h"
#include "tests/integration/daemon_process.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/fake_cri.h"
#include "tests/support/http_client.h"

namespace uvm::testing {
namespace {

// The test and the daemon it starts are built alike (one tree, one UVM_SIZER_SANITIZE).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizedDaemon = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitizedDaemon = true;
#else
constexpr bool kSanitizedDaemon = false;
#endif
#else
constexpr bool kSanitizedDaemon = false;
#endif

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;
constexpr int64_t kMib = 1 << 20;

// The daemon's journal wording this file relies on (daemon/daemon.cc).
constexpr std::string_view kReloadedLine = "configuration reloaded";
constexpr std::string_view kRefusedLine = "new configuration refused";
constexpr std::string_view kApiFailedLine = "API unavailable";
// The lead's event-loop lag histogram (issue 8): how late each daemon timer fired.
constexpr std::string_view kLagFamily = "uvm_sizer_event_loop_lag_seconds";

// --- What the daemon shows from outside.

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

size_t FdCount(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = fs::directory_iterator(fmt::format("/proc/{}/fd", pid), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// VmRSS of /proc/<pid>/status in bytes, 0 when unreadable.
double RssBytes(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::strtod(line.c_str() + 6, nullptr) * 1024;
  }
  return 0;
}

// Running (a zombie, not yet reaped by its parent, is not).
bool Alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// The end of a journal, for failure messages.
std::string Tail(const std::string& log, size_t bytes = 6000) {
  return log.size() > bytes ? "..." + log.substr(log.size() - bytes) : log;
}

size_t CountLines(const std::string& log, std::string_view needle) {
  size_t n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

// Warning and error lines (sd-daemon prefixes <4>, <3>) that contain every one of `needles`.
size_t CountProblemLines(const std::string& log, const std::vector<std::string>& needles) {
  size_t n = 0;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("<3>") && !line.starts_with("<4>")) continue;
    n += std::all_of(needles.begin(), needles.end(),
                     [&](const std::string& s) { return line.find(s) != std::string::npos; })
             ? 1
             : 0;
  }
  return n;
}

struct Scraped {
  bool ok = false;
  std::vector<guest::Sample> samples;
  // The uids of every per-pod series (any family with a uid label).
  std::set<std::string> uids() const {
    std::set<std::string> out;
    for (const auto& s : samples)
      if (const std::string* uid = s.FindLabel("uid")) out.insert(*uid);
    return out;
  }
  size_t per_pod_series() const {
    return static_cast<size_t>(
        std::count_if(samples.begin(), samples.end(), [](const auto& s) { return s.FindLabel("uid"); }));
  }
  size_t count(std::string_view name) const {
    return static_cast<size_t>(
        std::count_if(samples.begin(), samples.end(), [&](const auto& s) { return s.name == name; }));
  }
  // Sum of `name` over the series whose labels include `labels`.
  double sum(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    double total = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
        const std::string* got = s.FindLabel(kv.first);
        return got && *got == kv.second;
      });
      if (match) total += s.value;
    }
    return total;
  }
};

Scraped Scrape(const DaemonProcess& d) {
  Scraped out;
  auto body = d.Scrape();
  if (!body) return out;
  auto parsed = guest::ParseExpositionText(*body, "/metrics");
  if (!parsed) return out;
  out.ok = true;
  out.samples = std::move(parsed->samples);
  return out;
}

std::set<std::string> ApiUids(const DaemonProcess& d, bool* ok = nullptr) {
  std::set<std::string> out;
  auto view = api::FetchStatus(d.api_socket(), milliseconds(3000));
  if (ok) *ok = view.ok();
  if (!view) return out;
  for (const auto& p : view->pods) out.insert(p.uid);
  return out;
}

std::optional<api::PodView> ApiPod(const DaemonProcess& d, const std::string& uid) {
  auto view = api::FetchStatus(d.api_socket(), milliseconds(3000));
  if (!view) return std::nullopt;
  for (const auto& p : view->pods)
    if (p.uid == uid) return p;
  return std::nullopt;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<int64_t> ReadNumber(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text == "max") return std::nullopt;
  return std::strtoll(text.c_str(), nullptr, 10);
}

// The daemon's config with `from` replaced by `to` (first occurrence; the text must be there).
Status RewriteConfig(const DaemonProcess& d, const std::string& from, const std::string& to) {
  std::string text = ReadText(d.config_path());
  auto at = text.find(from);
  if (at == std::string::npos) return Error{fmt::format("{:?} not in {}", from, d.config_path())};
  text.replace(at, from.size(), to);
  std::ofstream(d.config_path(), std::ios::trunc) << text;
  return {};
}

// SIGHUP, then waits until the daemon has written one more reload or refusal line than before.
bool ReloadAndWait(const DaemonProcess& d, milliseconds timeout = milliseconds(5000)) {
  auto handled = [&] {
    std::string log = d.Log();
    return CountLines(log, kReloadedLine) + CountLines(log, kRefusedLine);
  };
  size_t before = handled();
  d.Signal(SIGHUP);
  return DaemonProcess::WaitFor([&] { return handled() > before; }, timeout);
}

// Prints "[ measure  ] <test>: <seconds> s" when the test ends, however it ends.
class DurationPrinter {
 public:
  DurationPrinter() : start_(Clock::now()) {}
  ~DurationPrinter() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::cout << fmt::format("[ measure  ] {} took {:.1f} s\n", info ? info->name() : "?", Seconds(start_));
  }

 private:
  Clock::time_point start_;
};

// --- Children of this binary: API watch clients that the test SIGKILLs mid-stream.

constexpr std::string_view kWatchClientFlag = "--uvm-watch-client=";

// In the child: opens WatchPods or WatchPressure on the socket, writes one byte to stdout once the first
// event came, and keeps reading until killed.
int RunWatchClient(std::string_view spec) {
  auto colon = spec.find(':');
  std::string kind(spec.substr(0, colon));
  std::string socket(spec.substr(colon + 1));
  bool told = false;
  auto tell = [&] {
    if (told) return;
    told = true;
    [[maybe_unused]] ssize_t n = ::write(STDOUT_FILENO, "1", 1);
  };
  for (;;) {
    Status st = kind == "pods" ? api::WatchPods(socket, std::chrono::hours(1),
                                                [&](const std::string&, const api::PodView&) {
                                                  tell();
                                                  return true;
                                                })
                               : api::WatchPressure(socket, std::chrono::hours(1),
                                                    [&](const api::PodView&, const std::string&) {
                                                      tell();
                                                      return true;
                                                    });
    (void)st;
    std::this_thread::sleep_for(milliseconds(50));
  }
}

struct WatchChild {
  pid_t pid = -1;
  int out = -1;  // read end of the child's stdout
};

Result<WatchChild> SpawnWatchClient(const std::string& kind, const std::string& socket) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Error{"pipe2 failed"};
  std::string arg = fmt::format("{}{}:{}", kWatchClientFlag, kind, socket);
  pid_t pid = ::fork();
  if (pid < 0) return Error{"fork failed"};
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execl("/proc/self/exe", "watch-client", arg.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  return WatchChild{pid, fds[0]};
}

// --- Pods through containerd.

// The kata-cc pod of CRI.md §4.3: limits 1.5 CPU / 512 MiB, declared overhead 250m / 160 MiB.
PodOptions KataCcPod(const std::string& name) {
  return {.name = name,
          .handler = "kata-cc",
          .resources = cri::LinuxResources{100000, 150000, 1536, 512 * kMib},
          .overhead = cri::LinuxResources{100000, 25000, 256, 160 * kMib}};
}
PodOptions KataPod(const std::string& name) {
  return {.name = name,
          .handler = "kata",
          .resources = cri::LinuxResources{100000, 50000, 512, 256 * kMib},
          .overhead = cri::LinuxResources{100000, 10000, 102, 160 * kMib}};
}

std::string PodDir(const Pod& pod, const std::string& controller) {
  for (const auto& d : pod.pod_cgroup_dirs)
    if (d.starts_with("/sys/fs/cgroup/" + controller + "/")) return d;
  return "";
}

class DaemonFaults : public ContainerdTest {
 protected:
  bool started_ = false;

  // Without a CRI endpoint: on the private containerd, whose pods lie beneath its kubelet cgroup root.
  std::unique_ptr<DaemonProcess> StartDaemon(DaemonOptions options) {
    if (options.cri_endpoint.empty()) {
      options.cri_endpoint = containerd().endpoint();
      options.kubelet_cgroup_root = containerd().kubelet_cgroup_root();
    }
    auto d = DaemonProcess::Start(options);
    EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
    return d.ok() ? std::move(*d) : nullptr;
  }

  // Stops and removes every sandbox containerd knows (ready or not): what a test leaves behind would be
  // the next test's pods. Retries while containerd comes back after a kill.
  void RemoveAllSandboxes() {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto list = containerd().cri().ListPodSandbox();
      if (!list) {
        std::this_thread::sleep_for(milliseconds(200));
        continue;
      }
      for (const auto& s : *list) {
        (void)containerd().cri().StopPodSandbox(s.id);
        (void)containerd().cri().RemovePodSandbox(s.id);
      }
      auto again = containerd().cri().ListPodSandbox();
      if (again && again->empty()) return;
    }
  }

  void SetUp() override {
    ContainerdTest::SetUp();
    started_ = !HasFatalFailure();
  }
  void TearDown() override {
    if (started_) RemoveAllSandboxes();
  }

  // SIGKILL containerd (shims and pods keep running) and wait until it is gone.
  Status KillContainerd() {
    std::string pid_text = ReadText(containerd().base_dir() + "/containerd.pid");
    pid_t pid = static_cast<pid_t>(std::strtol(pid_text.c_str(), nullptr, 10));
    if (pid <= 0) return Error{"no containerd pid file"};
    if (::kill(pid, SIGKILL) != 0) return Error{fmt::format("kill {}: {}", pid, std::strerror(errno))};
    if (!DaemonProcess::WaitFor([&] { return !Alive(pid); }, milliseconds(5000)))
      return Error{"containerd survived SIGKILL"};
    return {};
  }

  // CreatePod, retried while containerd comes back after a kill (the client's channel reconnects with
  // backoff). A failed RunPodSandbox made nothing the fixture keeps: each attempt is a new pod.
  Result<Pod> CreatePodRetrying(const PodOptions& options) {
    Result<Pod> pod = Error{"not tried"};
    for (int attempt = 0; attempt < 15; ++attempt) {
      pod = containerd().CreatePod(options);
      if (pod) return pod;
      std::this_thread::sleep_for(milliseconds(200));
    }
    return pod;
  }

  // The uids containerd lists as ready: the live pod set.
  std::set<std::string> LiveUids() {
    std::set<std::string> out;
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto list = containerd().cri().ListPodSandbox(true);
      if (list) {
        for (const auto& s : *list) out.insert(s.uid);
        return out;
      }
      std::this_thread::sleep_for(milliseconds(200));
    }
    ADD_FAILURE() << "containerd does not answer ListPodSandbox";
    return out;
  }
};

// 1. containerd SIGKILLed and restarted 10 times in a row while pods are created and removed (some kills
// land in the middle of a RunPodSandbox): the daemon ends with exactly the live pod set, in the API and in
// the per-pod series, and its descriptors are back to where they started once every pod is gone.
TEST_F(DaemonFaults, ContainerdKilledTenTimesWhilePodsComeAndGoLeavesExactlyTheLivePodsAndNoLeakedFds) {
  DurationPrinter duration;
  auto daemon = StartDaemon({});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, seconds(10)))
      << Tail(daemon->Log());
  // Warm-up: one pod seen and gone, so that what the daemon opens once for good (cgroup hierarchy roots,
  // lazily made channels) is open before the baseline.
  {
    auto warm = containerd().CreatePod(KataCcPod("warmup"));
    ASSERT_TRUE(warm.ok()) << warm.error().message;
    ASSERT_TRUE(
        DaemonProcess::WaitFor([&] { return Scrape(*daemon).uids().count(warm->uid) > 0; }, seconds(10)))
        << Tail(daemon->Log());
    ASSERT_TRUE(containerd().RemovePod(*warm).ok());
    ASSERT_TRUE(DaemonProcess::WaitFor([&] { return Scrape(*daemon).uids().empty(); }, seconds(10)));
  }
  std::this_thread::sleep_for(seconds(1));
  const size_t fds_at_start = FdCount(daemon->pid());

  std::vector<Pod> kept;
  std::set<std::string> removed_uids;
  int created = 0, create_failed = 0, removed = 0;
  for (int round = 0; round < 10; ++round) {
    // Two pods while containerd is up, one of them removed again a round later.
    for (const auto& options :
         {KataCcPod(fmt::format("churn{}a", round)), KataPod(fmt::format("churn{}b", round))}) {
      auto pod = CreatePodRetrying(options);
      if (pod) {
        kept.push_back(*pod);
        ++created;
      } else {
        ++create_failed;
      }
    }
    if (kept.size() > 3) {
      Pod victim = kept.front();
      bool gone = false;
      for (int attempt = 0; attempt < 15 && !gone; ++attempt) {
        gone = containerd().RemovePod(victim).ok();
        if (!gone) std::this_thread::sleep_for(milliseconds(200));
      }
      if (gone) {
        removed_uids.insert(victim.uid);
        kept.erase(kept.begin());
        ++removed;
      }
    }
    // Odd rounds: the kill lands while a RunPodSandbox is in flight on another thread.
    std::optional<std::thread> racing;
    Result<Pod> raced = Error{"not run"};
    if (round % 2 == 1) {
      racing.emplace([&, round] { raced = containerd().CreatePod(KataPod(fmt::format("raced{}", round))); });
      std::this_thread::sleep_for(milliseconds(15 + 10 * round));
    }
    Status killed = KillContainerd();
    if (racing) {
      racing->join();
      if (raced) kept.push_back(*raced);  // else: containerd may still have made it; LiveUids() decides
    }
    ASSERT_TRUE(killed.ok()) << "round " << round << ": " << killed.error().message;
    ASSERT_TRUE(containerd().StartContainerd().ok()) << "round " << round;
  }
  std::cout << fmt::format("[ measure  ] churn: {} pods created, {} creates failed, {} removed, 10 kills\n",
                           created, create_failed, removed);

  // The live set is what containerd lists as ready now (a sandbox made by a killed RunPodSandbox may or
  // may not have survived containerd's restart).
  const std::set<std::string> live = LiveUids();
  ASSERT_FALSE(live.empty());
  for (const auto& uid : removed_uids) ASSERT_EQ(live.count(uid), 0u) << uid;
  std::set<std::string> api_uids, metric_uids;
  bool converged = DaemonProcess::WaitFor(
      [&] {
        api_uids = ApiUids(*daemon);
        Scraped s = Scrape(*daemon);
        metric_uids = s.uids();
        return s.sum("uvm_sizer_cri_up") == 1.0 && api_uids == live && metric_uids == live;
      },
      seconds(20));
  EXPECT_TRUE(converged) << fmt::format("live {} pods, API {}, per-pod series {}\n{}", live.size(),
                                        api_uids.size(), metric_uids.size(), Tail(daemon->Log()));
  EXPECT_EQ(daemon->Value("uvm_sizer_cri_up"), 1.0);

  // Every pod gone: no per-pod series, none in the API, and the descriptors are back.
  RemoveAllSandboxes();
  kept.clear();
  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return Scrape(*daemon).per_pod_series() == 0 && ApiUids(*daemon).empty(); }, seconds(10)))
      << Tail(daemon->Log());
  size_t fds_at_end = FdCount(daemon->pid());
  DaemonProcess::WaitFor(
      [&] {
        fds_at_end = FdCount(daemon->pid());
        return fds_at_end <= fds_at_start + 2 && fds_at_end + 2 >= fds_at_start;
      },
      seconds(10));
  std::cout << fmt::format("[ measure  ] daemon fds: {} at start, {} at the end\n", fds_at_start, fds_at_end);
  EXPECT_LE(fds_at_end, fds_at_start + 2);
  EXPECT_GE(fds_at_end + 2, fds_at_start);
  EXPECT_TRUE(Alive(daemon->pid()));
}

// 2. 100 SIGHUPs in about 10 s, every other one with a broken file: the daemon answers throughout, ends on
// the last good configuration and writes exactly one refusal line per broken file.
TEST_F(DaemonFaults, AHundredSighupsHalfWithBrokenFilesKeepServingAndEndOnTheLastGoodConfig) {
  DurationPrinter duration;
  TempDir dir("uvmtest-hup");
  ASSERT_TRUE(dir.ok());
  auto fake = FakeCriServer::Start(dir / "cri.sock");
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  (*fake)->Upsert(MakeFakeSandboxes(5, false));
  auto daemon = StartDaemon({.cri_endpoint = (*fake)->endpoint()});
  ASSERT_TRUE(daemon);
  const std::string good = ReadText(daemon->config_path());
  ASSERT_NE(good.find("mode = \"observe\""), std::string::npos);
  auto with_mode = [&](const std::string& mode) {
    std::string text = good;
    text.replace(text.find("mode = \"observe\""), 16, fmt::format("mode = \"{}\"", mode));
    return text;
  };
  // Broken in different ways: each must be refused with the old configuration kept. (".s" crashed the
  // daemon before issue 8: std::stod threw out of ParseDuration across the event loop.)
  auto with_key = [&](const std::string& section, const std::string& line) {
    std::string text = good;
    text.insert(text.find(section) + section.size(), line);
    return text;
  };
  auto replace_key = [&](const std::string& key_line_prefix, const std::string& value) {
    std::string text = good;
    auto at = text.find(key_line_prefix);
    auto eol = text.find('\n', at);
    text.replace(at, eol - at, key_line_prefix + value);
    return text;
  };
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"unknown key", with_key("[cgroups]\n", "mode_typo = \"enforce\"\n")},
      {"invalid mode", with_mode("enforcing")},
      {"not TOML", good + "\n[cri\n"},
      {"duration 1.2.3s", replace_key("resync_interval = ", "\"1.2.3s\"")},
      {"duration .s", replace_key("poll_interval = ", "\".s\"")},
      {"negative duration", replace_key("call_timeout = ", "\"-1s\"")},
  };

  // Another thread asks the daemon all along; every answer must come.
  std::atomic<bool> done = false;
  std::atomic<int> scrapes = 0, scrape_failures = 0, api_calls = 0, api_failures = 0;
  std::thread asker([&] {
    while (!done) {
      (Scrape(*daemon).ok ? scrapes : scrape_failures)++;
      bool ok = false;
      ApiUids(*daemon, &ok);
      (ok ? api_calls : api_failures)++;
      std::this_thread::sleep_for(milliseconds(20));
    }
  });

  constexpr int kSignals = 100;
  int refused_sent = 0, good_sent = 0;
  std::string last_good_mode;
  std::map<std::string, int> refused_by_kind;
  auto start = Clock::now();
  int handled = 0;
  for (int i = 0; i < kSignals; ++i) {
    // Paced at one per 100 ms: each signal is handled before the next (signals of one kind coalesce).
    std::this_thread::sleep_until(start + milliseconds(100 * i));
    if (i % 2 == 0) {
      last_good_mode = (i / 2) % 2 == 0 ? "observe" : "enforce";
      std::ofstream(daemon->config_path(), std::ios::trunc) << with_mode(last_good_mode);
      ++good_sent;
    } else {
      const auto& [kind, text] = bad[static_cast<size_t>(refused_sent) % bad.size()];
      std::ofstream(daemon->config_path(), std::ios::trunc) << text;
      ++refused_sent;
      ++refused_by_kind[kind];
    }
    if (!ReloadAndWait(*daemon)) break;
    ++handled;
  }
  const double took = Seconds(start);
  done = true;
  asker.join();
  std::cout << fmt::format(
      "[ measure  ] {} SIGHUPs handled in {:.1f} s; during them {} scrapes ({} failed), {} API calls ({} "
      "failed)\n",
      handled, took, scrapes.load(), scrape_failures.load(), api_calls.load(), api_failures.load());
  ASSERT_TRUE(Alive(daemon->pid())) << "the daemon died after " << handled << " SIGHUPs\n"
                                    << Tail(daemon->Log());
  ASSERT_EQ(handled, kSignals) << Tail(daemon->Log());
  EXPECT_EQ(scrape_failures, 0);
  EXPECT_EQ(api_failures, 0);
  EXPECT_GT(scrapes, 20);

  const std::string log = daemon->Log();
  EXPECT_EQ(CountLines(log, kRefusedLine), static_cast<size_t>(refused_sent)) << Tail(log);
  EXPECT_EQ(CountLines(log, kReloadedLine), static_cast<size_t>(good_sent)) << Tail(log);
  // Each refusal names the value it refused.
  EXPECT_EQ(CountLines(log, "\"enforcing\""), static_cast<size_t>(refused_by_kind["invalid mode"]));
  EXPECT_EQ(CountLines(log, "mode_typo"), static_cast<size_t>(refused_by_kind["unknown key"]));
  EXPECT_EQ(daemon->Value("uvm_sizer_errors_total", {{"cause", "config_reload"}}), refused_sent);
  // The last file was broken: the one before it is in force.
  auto view = api::FetchStatus(daemon->api_socket(), milliseconds(3000));
  ASSERT_TRUE(view.ok()) << view.error().message;
  EXPECT_EQ(view->cgroup_mode, last_good_mode);
  EXPECT_EQ(view->pods.size(), 5u);
}

// 3. 1,000 pods of the fake CRI (each with a pod cgroup of files the daemon reads) created and removed in
// waves of 100: the daemon's RSS after the churn is within 10 % of before, and no per-pod series is left.
//
// "Before" is measured after one warm-up wave of 100 pods has come and gone: the allocator keeps the heap
// it grew for the first wave (glibc does not return most freed memory to the kernel), and gRPC, protobuf
// and prometheus-cpp size their arenas and caches on first use. What the 1,000 pods must not do is grow
// it further: a leak of even 1 KiB per pod would show as ~1 MiB here.
TEST_F(DaemonFaults, AThousandPodsInWavesOfAHundredLeaveRssWithinTenPercentAndNoSeries) {
  DurationPrinter duration;
  TempDir dir("uvmtest-waves");
  ASSERT_TRUE(dir.ok());
  const std::string cgroup_root = dir / "cgroup";
  const fs::path fixture = fs::path(UVM_FIXTURES_DIR) / "cgroups/v2-cgroupfs";
  const fs::path fixture_pod = fixture / "kubepods/burstable/pod1c9e5a7e-3f1b-4a3e-9a57-2a8c0d3e4f51";
  std::error_code ec;
  fs::create_directories(cgroup_root, ec);
  // A cgroup v2 tree of regular files (cgroups/ probes it as one: cgroup.controllers at the root).
  for (const char* f : {"cgroup.controllers", "cgroup.procs"})
    fs::copy_file(fixture / f, fs::path(cgroup_root) / f, ec);
  ASSERT_FALSE(ec) << ec.message();
  auto make_cgroups = [&](int n, int first) {
    for (const auto& pod : FakePodCgroups(n, first)) {
      fs::path d = fs::path(cgroup_root + pod.cgroup_parent);
      fs::create_directories(d);
      for (const auto& e : fs::directory_iterator(fixture_pod))
        if (e.is_regular_file()) fs::copy_file(e.path(), d / e.path().filename());
      std::ofstream(d / "memory.max") << pod.memory_limit_bytes << "\n";
      std::ofstream(d / "memory.current") << pod.memory_limit_bytes / 3 << "\n";
      std::ofstream(d / "cpu.max") << pod.cpu_quota_us << " 100000\n";
    }
  };
  auto fake = FakeCriServer::Start(dir / "cri.sock");
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  auto daemon =
      StartDaemon({.cri_endpoint = (*fake)->endpoint(),
                   .cgroups_toml = fmt::format("root = \"{}\"\nread_interval = \"1s\"\n", cgroup_root),
                   .extra_toml = fmt::format("[pressure]\npsi_trigger = false\ninterval = \"1s\"\n"
                                             "shim_monitor_dir = \"{}\"\n",
                                             dir / "s")});
  ASSERT_TRUE(daemon);

  constexpr int kWave = 100;
  auto wave = [&](int index) -> bool {
    const int first = index * kWave;
    make_cgroups(kWave, first);
    auto pods = MakeFakeSandboxes(kWave, true, first);
    (*fake)->Upsert(pods);
    bool seen = DaemonProcess::WaitFor(
        [&] {
          auto s = Scrape(*daemon);
          return s.count("uvm_sizer_pod_uvm_vcpus") == kWave &&
                 s.count("uvm_sizer_pod_cgroup_memory_usage_bytes") == kWave;
        },
        seconds(20));
    EXPECT_TRUE(seen) << "wave " << index << ": not all " << kWave << " pods seen\n" << Tail(daemon->Log());
    // Let the pods live through a few cgroup reads and pressure ticks.
    std::this_thread::sleep_for(milliseconds(1200));
    (*fake)->Remove(pods);
    for (const auto& pod : FakePodCgroups(kWave, first)) fs::remove_all(cgroup_root + pod.cgroup_parent, ec);
    bool gone = DaemonProcess::WaitFor([&] { return Scrape(*daemon).per_pod_series() == 0; }, seconds(20));
    EXPECT_TRUE(gone) << "wave " << index << ": series left\n" << Tail(daemon->Log());
    return seen && gone;
  };
  ASSERT_TRUE(wave(0));  // the warm-up wave
  std::this_thread::sleep_for(seconds(1));
  const double rss_before = RssBytes(daemon->pid());
  const size_t fds_before = FdCount(daemon->pid());
  for (int w = 1; w <= 10; ++w) ASSERT_TRUE(wave(w));
  std::this_thread::sleep_for(seconds(1));
  const double rss_after = RssBytes(daemon->pid());
  const size_t fds_after = FdCount(daemon->pid());
  std::cout << fmt::format(
      "[ measure  ] daemon RSS {:.2f} MiB after the warm-up wave, {:.2f} MiB after 1,000 more pods ({:+.1f} "
      "%); fds {} -> {}\n",
      rss_before / kMib, rss_after / kMib, 100 * (rss_after - rss_before) / rss_before, fds_before,
      fds_after);
  ASSERT_GT(rss_before, 0);
  if (kSanitizedDaemon) {
    // ASan keeps freed memory in quarantine (256 MiB by design) to catch use-after-free: RSS then says
    // nothing about leaks, which LeakSanitizer checks in that run instead.
    std::cout << "[ note     ] sanitized daemon: the RSS bound is checked in the normal build only\n";
  } else {
    EXPECT_LE(rss_after, rss_before * 1.10);
  }
  EXPECT_EQ(Scrape(*daemon).per_pod_series(), 0u);
  EXPECT_TRUE(ApiUids(*daemon).empty());
  EXPECT_LE(fds_after, fds_before + 2);
}

// Quantile of a cumulative histogram (Prometheus histogram_quantile's linear interpolation in a bucket).
double Quantile(const std::vector<std::pair<double, double>>& buckets, double q) {
  if (buckets.empty() || buckets.back().second <= 0) return NAN;
  double rank = q * buckets.back().second;
  double lower_bound = 0, lower_count = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower_bound;
      if (count == lower_count) return le;
      return lower_bound + (le - lower_bound) * (rank - lower_count) / (count - lower_count);
    }
    lower_bound = le;
    lower_count = count;
  }
  return buckets.back().first;
}

// The lag histogram's buckets (le, cumulative count), sorted by le; empty when the family is absent.
std::vector<std::pair<double, double>> LagBuckets(const Scraped& s) {
  std::vector<std::pair<double, double>> out;
  const std::string name = std::string(kLagFamily) + "_bucket";
  for (const auto& sample : s.samples) {
    if (sample.name != name) continue;
    const std::string* le = sample.FindLabel("le");
    if (!le) continue;
    out.emplace_back(*le == "+Inf" ? INFINITY : std::strtod(le->c_str(), nullptr), sample.value);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// 4. 50 clients scraping /metrics for 10 s while 20 API watch streams (WatchPods, WatchPressure) are
// opened and cut abruptly (their processes SIGKILLed mid-stream): the daemon lives, answers afterwards,
// and its event loop is never more than 1 s late (uvm_sizer_event_loop_lag_seconds).
TEST_F(DaemonFaults, AScrapeStormAndAbruptlyCutWatchStreamsKeepTheEventLoopOnTime) {
  DurationPrinter duration;
  TempDir dir("uvmtest-storm");
  ASSERT_TRUE(dir.ok());
  auto fake = FakeCriServer::Start(dir / "cri.sock");
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  (*fake)->Upsert(MakeFakeSandboxes(50, false));
  auto daemon = StartDaemon({.cri_endpoint = (*fake)->endpoint()});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return Scrape(*daemon).count("uvm_sizer_pod_uvm_vcpus") == 50; },
                                     seconds(10)))
      << Tail(daemon->Log());
  const auto lag_before = LagBuckets(Scrape(*daemon));

  constexpr int kScrapers = 50, kStreams = 20;
  constexpr auto kStorm = seconds(10);
  std::atomic<bool> done = false;
  std::atomic<int> scrapes = 0, failures = 0;
  std::vector<int> per_client(kScrapers, 0);
  std::vector<std::thread> scrapers;
  for (int c = 0; c < kScrapers; ++c) {
    scrapers.emplace_back([&, c] {
      while (!done) {
        auto r = HttpGet("127.0.0.1", daemon->metrics_port(), "/metrics", 10000);
        if (r && r->status == 200 && r->body.find("uvm_sizer_pod_uvm_vcpus") != std::string::npos) {
          ++scrapes;
          ++per_client[static_cast<size_t>(c)];
        } else {
          ++failures;
        }
      }
    });
  }
  // Streams in two rounds of 20: opened, first event received, then killed without a goodbye.
  int streams_cut = 0;
  auto storm_start = Clock::now();
  std::vector<WatchChild> children;
  auto reap = [&] {
    for (auto& ch : children) {
      if (ch.pid > 0) {
        ::kill(ch.pid, SIGKILL);
        ::waitpid(ch.pid, nullptr, 0);
      }
      if (ch.out >= 0) ::close(ch.out);
    }
    children.clear();
  };
  for (int round = 0; round < 2 && !HasFailure(); ++round) {
    for (int i = 0; i < kStreams; ++i) {
      auto ch = SpawnWatchClient(i % 2 == 0 ? "pods" : "pressure", daemon->api_socket());
      ASSERT_TRUE(ch.ok()) << ch.error().message;
      children.push_back(*ch);
    }
    for (auto& ch : children) {
      char byte = 0;
      // The first event of a stream (its snapshot of the current pods) proves it is open.
      pollfd p{ch.out, POLLIN, 0};
      EXPECT_EQ(::poll(&p, 1, 10000), 1) << "a watch stream got no first event within 10 s";
      EXPECT_EQ(::read(ch.out, &byte, 1), 1);
    }
    // A pod comes and goes while they watch, so the streams carry events when they are cut.
    auto extra = MakeFakeSandboxes(1, false, 1000 + round);
    (*fake)->Upsert(extra);
    std::this_thread::sleep_for(milliseconds(1500));
    streams_cut += static_cast<int>(children.size());
    reap();
    (*fake)->Remove(extra);
    std::this_thread::sleep_for(milliseconds(1000));
  }
  reap();
  std::this_thread::sleep_until(storm_start + kStorm);
  done = true;
  for (auto& t : scrapers) t.join();
  const double storm_s = Seconds(storm_start);

  ASSERT_TRUE(Alive(daemon->pid())) << Tail(daemon->Log());
  std::cout << fmt::format(
      "[ measure  ] storm: {} scrapes in {:.1f} s by {} clients ({:.0f}/s), {} failed; {} "
      "watch streams cut\n",
      scrapes.load(), storm_s, kScrapers, scrapes / storm_s, failures.load(), streams_cut);
  EXPECT_EQ(failures, 0);
  EXPECT_TRUE(std::all_of(per_client.begin(), per_client.end(), [](int n) { return n > 0; }))
      << "a client never got a scrape through";
  // It still answers everything afterwards, and a new stream works.
  EXPECT_TRUE(Scrape(*daemon).ok);
  bool api_ok = false;
  EXPECT_EQ(ApiUids(*daemon, &api_ok).size(), 50u);
  EXPECT_TRUE(api_ok);
  int events = 0;
  auto watched = api::WatchPods(daemon->api_socket(), milliseconds(5000),
                                [&](const std::string&, const api::PodView&) { return ++events < 50; });
  EXPECT_TRUE(watched.ok()) << watched.error().message;
  EXPECT_EQ(events, 50);

  // Event-loop lag over the storm: the histogram's growth since before it.
  const Scraped after = Scrape(*daemon);
  auto lag = LagBuckets(after);
  ASSERT_FALSE(lag.empty()) << kLagFamily << " is not exported (the lead's lag histogram is not merged yet?)";
  if (lag_before.size() == lag.size()) {
    for (size_t i = 0; i < lag.size(); ++i) lag[i].second -= lag_before[i].second;
  }
  const double total = lag.back().second;
  ASSERT_GT(total, 0) << "no timer fired during the storm";
  double max_bound = lag.back().first;
  for (const auto& [le, count] : lag) {
    if (count >= total) {
      max_bound = le;
      break;
    }
  }
  const double sum = after.sum(std::string(kLagFamily) + "_sum");
  std::cout << fmt::format(
      "[ measure  ] event loop lag during the storm: {:.0f} timer firings, p50 {:.4f} s, p99 {:.4f} s, max "
      "<= "
      "{} s (bucket bound); mean since start {:.4f} s\n",
      total, Quantile(lag, 0.5), Quantile(lag, 0.99), max_bound,
      sum / std::max(1.0, after.sum(std::string(kLagFamily) + "_count")));
  // Every firing at most 1 s late: the count in the largest bucket bounded by 1 s is the total.
  double within_1s = -1;
  for (const auto& [le, count] : lag)
    if (le <= 1.0) within_1s = count;
  ASSERT_GE(within_1s, 0) << kLagFamily << " has no bucket bounded by 1 s";
  EXPECT_EQ(within_1s, total) << "some timer fired more than 1 s late";
}

// A tmpfs of our own, filled up (blocks and inodes) and unmounted when the object goes.
class FullTmpfs {
 public:
  explicit FullTmpfs(const std::string& dir) : dir_(dir) {
    fs::create_directories(dir_);
    if (::mount("uvmtest-full", dir_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                "size=64k,nr_inodes=16,mode=0755") != 0) {
      error_ = fmt::format("mount tmpfs on {}: {}", dir_, std::strerror(errno));
      return;
    }
    mounted_ = true;
    // Every inode, then every block.
    for (int i = 0;; ++i) {
      int fd = ::open(fmt::format("{}/fill-{}", dir_, i).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) break;
      ::close(fd);
    }
    int fd = ::open(fmt::format("{}/fill-0", dir_).c_str(), O_WRONLY | O_CLOEXEC);
    std::string block(4096, 'x');
    while (fd >= 0 && ::write(fd, block.data(), block.size()) > 0) {
    }
    if (fd >= 0) ::close(fd);
  }
  ~FullTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    ::rmdir(dir_.c_str());
  }
  const std::string& error() const { return error_; }
  bool full() const {
    int fd = ::open(fmt::format("{}/probe", dir_).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
    return fd < 0 && errno == ENOSPC;
  }

 private:
  std::string dir_, error_;
  bool mounted_ = false;
};

// 5. The API socket's directory is on a full filesystem: the daemon starts anyway, serves metrics, says
// once that the API is unavailable and counts it in uvm_sizer_errors_total{cause="api_listen"}.
TEST_F(DaemonFaults, AFullDiskUnderTheApiSocketIsLoggedOnceCountedAndMetricsStillServe) {
  DurationPrinter duration;
  TempDir dir("uvmtest-full");
  ASSERT_TRUE(dir.ok());
  FullTmpfs disk(dir / "run");
  ASSERT_TRUE(disk.error().empty()) << disk.error();
  ASSERT_TRUE(disk.full()) << "the tmpfs still takes files";
  auto daemon = StartDaemon({.api_socket = dir / "run/uvm-sizer.sock"});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor([&] { return daemon->Value("uvm_sizer_cri_up") == 1.0; }, seconds(10)))
      << Tail(daemon->Log());
  auto pod = containerd().CreatePod(KataCcPod("nodisk"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  // It goes on with its work: the pod is sized.
  EXPECT_TRUE(DaemonProcess::WaitFor([&] { return Scrape(*daemon).uids().count(pod->uid) > 0; }, seconds(10)))
      << Tail(daemon->Log());
  std::this_thread::sleep_for(seconds(2));  // more rounds, to see that the failure is not logged again
  const std::string log = daemon->Log();
  EXPECT_EQ(CountLines(log, kApiFailedLine), 1u) << Tail(log);
  // The line names the socket it could not make (gRPC's BuildAndStart does not tell why).
  EXPECT_EQ(CountProblemLines(log, {std::string(kApiFailedLine), daemon->api_socket()}), 1u) << Tail(log);
  EXPECT_GE(daemon->Value("uvm_sizer_errors_total", {{"cause", "api_listen"}}).value_or(0), 1.0);
  EXPECT_TRUE(Alive(daemon->pid()));
  EXPECT_FALSE(api::FetchStatus(daemon->api_socket(), milliseconds(1000)).ok());
}

// Moves every process of the cgroup subtree `dir` to `to` (a cgroup of the same hierarchy), then removes
// the subtree deepest first. What the kubelet's cleanup does to a pod cgroup, with a sandbox still listed.
Status EvacuateAndRemove(const fs::path& dir, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  std::vector<fs::path> dirs = {dir};
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
  for (const auto& d : dirs) {
    std::ifstream procs(d / "cgroup.procs");
    for (std::string pid; procs >> pid;) std::ofstream(to / "cgroup.procs") << pid << "\n";
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (::rmdir(it->c_str()) != 0 && errno != ENOENT)
      return Error{fmt::format("rmdir {}: {}", it->string(), std::strerror(errno))};
  }
  return {};
}

// 6a. A VM pod's cgroup is removed after the daemon has read it and before it writes (observe mode, then
// enforce on SIGHUP): one warning naming the pod however often it looks again, counted, no write, and the
// cgroup is not made again.
TEST_F(DaemonFaults, APodCgroupRemovedBeforeTheWriteIsLoggedOnceCountedAndNotRecreated) {
  DurationPrinter duration;
  auto pod = containerd().CreatePod(KataCcPod("vanishing"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  auto daemon = StartDaemon(
      {.cgroups_toml = "read_interval = \"500ms\"\n", .extra_toml = "[pressure]\ninterval = \"500ms\"\n"});
  ASSERT_TRUE(daemon);
  const std::map<std::string, std::string> uid = {{"uid", pod->uid}};
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] { return daemon->Value("uvm_sizer_pod_cgroup_memory_usage_bytes", uid).has_value(); }, seconds(10)))
      << Tail(daemon->Log());
  EXPECT_EQ(daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), 0.0);
  const double errors_before = Scrape(*daemon).sum("uvm_sizer_errors_total");
  // Discovery already warned about the pod's short declared overhead: only what comes after counts.
  const size_t log_offset = daemon->Log().size();

  // Gone in every hierarchy; the sandbox's processes wait in the test's top cgroup.
  const std::string relative = pod->cgroup_parent.substr(1);
  for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup")) {
    if (entry.is_symlink() || !entry.is_directory()) continue;
    fs::path top = entry.path() / containerd().cgroup_top();
    if (!fs::exists(top / "cgroup.procs")) continue;
    ASSERT_TRUE(EvacuateAndRemove(entry.path() / relative, top).ok()) << entry.path();
  }
  ASSERT_FALSE(fs::exists(PodDir(*pod, "memory")));
  ASSERT_TRUE(RewriteConfig(*daemon, "mode = \"observe\"", "mode = \"enforce\"").ok());
  ASSERT_TRUE(ReloadAndWait(*daemon)) << Tail(daemon->Log());

  EXPECT_TRUE(DaemonProcess::WaitFor(
      [&] { return Scrape(*daemon).sum("uvm_sizer_errors_total") > errors_before; }, seconds(5)))
      << Tail(daemon->Log());
  std::this_thread::sleep_for(seconds(3));  // six more reads and ticks
  ASSERT_TRUE(Alive(daemon->pid())) << Tail(daemon->Log());
  const std::string log = daemon->Log().substr(log_offset);
  EXPECT_EQ(CountProblemLines(log, {pod->spec.name}), 1u) << "expected one warning naming the pod\n"
                                                          << Tail(log);
  EXPECT_EQ(daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "ok"}}), 0.0);
  for (const auto& d : pod->pod_cgroup_dirs) EXPECT_FALSE(fs::exists(d)) << d << " was made again";
  auto view = ApiPod(*daemon, pod->uid);
  if (view) {
    EXPECT_NE(view->phase, "applied");
  }
  EXPECT_TRUE(Scrape(*daemon).ok);
}

// Sets a v1 CFS quota on a cgroup dir (made if missing) and puts the old one back when the object goes.
class QuotaGuard {
 public:
  QuotaGuard(fs::path dir, int64_t quota_us) : dir_(std::move(dir)) {
    fs::create_directories(dir_, ec_);
    before_ = ReadNumber(dir_ / "cpu.cfs_quota_us");
    std::ofstream(dir_ / "cpu.cfs_period_us") << 100000;
    std::ofstream(dir_ / "cpu.cfs_quota_us") << quota_us;
  }
  ~QuotaGuard() { std::ofstream(dir_ / "cpu.cfs_quota_us") << before_.value_or(-1); }
  bool holds(int64_t quota_us) const { return ReadNumber(dir_ / "cpu.cfs_quota_us") == quota_us; }

 private:
  fs::path dir_;
  std::error_code ec_;
  std::optional<int64_t> before_;
};

// 6b. The kernel refuses the daemon's write with EINVAL: in cgroup v1 a CFS quota above the parent's is
// EINVAL (tg_cfs_schedulable_down, kernel/sched/core.c: "quota > parent_quota ... return -EINVAL" when not
// on the default hierarchy). The pod's QoS parent (its own "besteffort" level here, which no other test
// uses) gets 2 CPUs; the pod asks for 1.75 and its UVM needs 3. One error line naming the pod however often
// the daemon retries, counted, the refused quota and its period left exactly as they were, and the pod
// not reported as applied. (A memory limit above memsw would be EINVAL too, but the daemon raises memsw
// first, as it should.)
TEST_F(DaemonFaults, ACgroupWriteTheKernelRefusesIsLoggedOnceCountedAndLeavesTheQuotaAsItWas) {
  DurationPrinter duration;
  const fs::path cpu_root = "/sys/fs/cgroup/cpu";
  if (!fs::exists(cpu_root / "cpu.cfs_quota_us")) GTEST_SKIP() << "no cgroup v1 cpu controller here";
  QuotaGuard parent(cpu_root / containerd().cgroup_top() / "kubepods/besteffort", 200000);
  ASSERT_TRUE(parent.holds(200000));
  PodOptions options = KataCcPod("refused");
  options.qos = "besteffort";
  auto pod = containerd().CreatePod(options);
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  const std::string cpu = PodDir(*pod, "cpu");
  ASSERT_FALSE(cpu.empty());
  ASSERT_EQ(ReadNumber(cpu + "/cpu.cfs_quota_us"), 175000);
  ASSERT_EQ(ReadNumber(cpu + "/cpu.cfs_period_us"), 100000);

  auto daemon = StartDaemon({.mode = "enforce",
                             .cgroups_toml = "read_interval = \"500ms\"\n",
                             .extra_toml = "[pressure]\ninterval = \"500ms\"\n"});
  ASSERT_TRUE(daemon);
  ASSERT_TRUE(DaemonProcess::WaitFor(
      [&] {
        return daemon->Value("uvm_sizer_cgroup_writes_total", {{"result", "error"}}) >= 1.0;
      },
      seconds(10)))
      << Tail(daemon->Log());
  std::this_thread::sleep_for(seconds(3));  // six more reads: each retries, none logs again
  ASSERT_TRUE(Alive(daemon->pid())) << Tail(daemon->Log());
  const std::string log = daemon->Log();
  EXPECT_EQ(CountProblemLines(log, {pod->spec.name, "cpu quota"}), 1u) << Tail(log);
  EXPECT_EQ(CountProblemLines(log, {pod->spec.name, "cpu quota", "Invalid argument"}) +
                CountProblemLines(log, {pod->spec.name, "cpu quota", "EINVAL"}),
            1u)
      << "the line names the kernel's answer\n"
      << Tail(log);
  EXPECT_GE(daemon->Value("uvm_sizer_errors_total", {{"cause", "cgroup_write"}}).value_or(0), 1.0);
  // Nothing half-applied: quota and period exactly as before, the parent untouched.
  EXPECT_EQ(ReadNumber(cpu + "/cpu.cfs_quota_us"), 175000);
  EXPECT_EQ(ReadNumber(cpu + "/cpu.cfs_period_us"), 100000);
  EXPECT_TRUE(parent.holds(200000));
  auto view = ApiPod(*daemon, pod->uid);
  ASSERT_TRUE(view) << "the pod is not in the API";
  EXPECT_NE(view->phase, "applied");
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

}  // namespace
}  // namespace uvm::testing

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with(uvm::testing::kWatchClientFlag))
      return uvm::testing::RunWatchClient(a.substr(uvm::testing::kWatchClientFlag.size()));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
