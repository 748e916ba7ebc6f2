// The pressure watcher against fake ports: a cgroup whose readings the test scripts, a guest endpoint that
// answers when the test says so, and PSI triggers that fire on demand (TCP urgent data raises POLLPRI on
// a loopback socket, as the kernel raises it on a real trigger). The real kernel is in
// tests/integration/pressure_*_test.cc.
#include "daemon/pressure_watcher.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <memory>

#include <gtest/gtest.h>

#include "daemon/config.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;
constexpr int64_t kMib = 1 << 20;

// A connected TCP loopback pair: urgent data sent on `sender` makes `receiver` poll with POLLPRI.
struct UrgentPair {
  int sender = -1, receiver = -1;
  UrgentPair() {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if (bind(listener, sa, len) != 0 || listen(listener, 1) != 0 || getsockname(listener, sa, &len) != 0) {
      ADD_FAILURE() << "loopback listener";
    }
    sender = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(sender, sa, len) != 0) ADD_FAILURE() << "loopback connect";
    receiver = accept(listener, nullptr, nullptr);
    close(listener);
  }
  ~UrgentPair() {
    if (sender >= 0) close(sender);
    if (receiver >= 0) close(receiver);
  }
  void Fire() const { EXPECT_EQ(send(sender, "!", 1, MSG_OOB), 1); }
};

struct TriggerState {
  std::unique_ptr<UrgentPair> pair = std::make_unique<UrgentPair>();
  bool gone = false;
  bool closed = false;
};

class FakeTrigger final : public PressureTrigger {
 public:
  explicit FakeTrigger(std::shared_ptr<TriggerState> s) : s_(std::move(s)) {}
  ~FakeTrigger() override { s_->closed = true; }
  int fd() const override { return s_->pair->receiver; }
  bool Gone() const override {
    char c;
    (void)!recv(s_->pair->receiver, &c, 1, MSG_OOB | MSG_DONTWAIT);
    return s_->gone;
  }

 private:
  std::shared_ptr<TriggerState> s_;
};

class FakeCgroups final : public CgroupPort {
 public:
  Result<CgroupReading> ReadPod(const std::string& parent, const std::string& uid) override {
    ++reads;
    if (parent.find(uid) == std::string::npos) return Error{"another pod's cgroup"};
    if (unreadable) return Error{"cgroup is gone"};
    return cgroups[parent];
  }
  Result<WriteOutcome> RaiseMemoryLimit(const std::string&, int64_t) override { return Error{"not here"}; }
  Result<WriteOutcome> RaiseCpuQuota(const std::string&, int64_t, int64_t) override {
    return Error{"not here"};
  }
  Result<WriteOutcome> BoundKataOverhead(const std::string&, int64_t) override { return Error{"not here"}; }
  Result<std::unique_ptr<PressureTrigger>> AddMemoryPressureTrigger(
      const std::string& parent, const std::string&, const PressureTriggerSpec& spec) override {
    if (no_psi) return Error{"no cgroup2 directory for this cgroup, so no PSI"};
    specs.push_back(spec);
    auto s = std::make_shared<TriggerState>();
    triggers[parent] = s;
    return std::unique_ptr<PressureTrigger>(std::make_unique<FakeTrigger>(s));
  }
  std::map<std::string, CgroupReading> cgroups;
  std::map<std::string, std::shared_ptr<TriggerState>> triggers;
  std::vector<PressureTriggerSpec> specs;
  bool unreadable = false;
  bool no_psi = false;
  int reads = 0;
};

// Answers on the io_context, at once (auto_answer) or when the test calls Answer().
class FakeGuest final : public GuestPort {
 public:
  explicit FakeGuest(boost::asio::io_context& io) : io_(io) {}
  bool HasEndpoint(const std::string& id) override { return guests.count(id) > 0; }
  std::string Describe(const std::string& id) const override { return "/fake/" + id + "/shim-monitor.sock"; }
  void Fetch(const std::string& id, Done done) override {
    ++fetches;
    Result<sizer::GuestObservation> r =
        failing ? Result<sizer::GuestObservation>(Error{"shim-monitor: connection refused"})
                : Result<sizer::GuestObservation>(guests.at(id));
    if (auto_answer) {
      boost::asio::post(io_, [done = std::move(done), r]() mutable { done(std::move(r)); });
    } else {
      pending.emplace_back(std::move(done), std::move(r));
    }
  }
  void Answer() {
    while (!pending.empty()) {
      auto [done, r] = std::move(pending.front());
      pending.pop_front();
      done(std::move(r));
    }
  }
  std::map<std::string, sizer::GuestObservation> guests;
  std::deque<std::pair<Done, Result<sizer::GuestObservation>>> pending;
  bool auto_answer = true;
  bool failing = false;
  int fetches = 0;

 private:
  boost::asio::io_context& io_;
};

PressureTarget Target(const std::string& id, const std::string& uid, int64_t created = 1) {
  return {.summary = {.id = id,
                      .name = "web-" + uid,
                      .namespace_ = "default",
                      .uid = uid,
                      .runtime_handler = "kata-cc",
                      .ready = true,
                      .created_at_ns = created},
          .cgroup_parent = "/kubepods/burstable/pod" + uid};
}

// The value of the series of `name` whose labels include every `k="v"` in `labels`; nullopt when absent.
std::optional<double> Series(const std::string& text, const std::string& name,
                             const std::vector<std::string>& labels) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all =
        std::all_of(labels.begin(), labels.end(), [&](const auto& l) { return line.find(l) != line.npos; });
    if (all) return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return std::nullopt;
}

class PressureWatcherTest : public ::testing::Test {
 protected:
  PressureWatcherTest() : log_(Priority::kDebug, [this](std::string_view l) { lines_.emplace_back(l); }) {}

  std::unique_ptr<PressureWatcher> Make(PressureWatcherOptions options = Options()) {
    return std::make_unique<PressureWatcher>(
        io_, std::move(options), cgroups_, guest_, metrics_, log_, [this] { ++level_changes_; },
        [this] { return now_; });
  }
  static PressureWatcherOptions Options() {
    // An interval that never elapses during a test: the test drives evaluations itself.
    return PressureWatcherOptions{.interval = 1h, .model = {}, .trigger = PressureTriggerSpec{}};
  }
  void HostReading(const std::string& uid, int64_t usage, int64_t limit, int64_t shmem) {
    cgroups_.cgroups["/kubepods/burstable/pod" + uid] = CgroupReading{.memory_limit_bytes = limit,
                                                                      .memory_usage_bytes = usage,
                                                                      .shmem_bytes = shmem,
                                                                      .file_bytes = shmem,
                                                                      .anon_bytes = 8 * kMib,
                                                                      .oom_kills = 0};
  }
  // Advances the fake clock and evaluates every pod, delivering guest answers.
  void Step(PressureWatcher& w, std::chrono::seconds dt) {
    now_ += dt;
    w.EvaluateAll();
    io_.poll();
    io_.restart();
  }
  // Runs the loop until `done` holds (bounded: a broken watcher fails instead of hanging).
  bool RunUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 200 && !done(); ++i) {
      io_.run_one_for(10ms);
      io_.restart();
    }
    return done();
  }
  std::vector<std::string> Matching(std::string_view fragment) const {
    std::vector<std::string> out;
    for (const auto& l : lines_)
      if (l.find(fragment) != l.npos) out.push_back(l);
    return out;
  }
  std::optional<double> Value(const std::string& name, std::vector<std::string> labels = {"uid=\"u1\""}) {
    return Series(metrics_.Serialize(), name, labels);
  }

  boost::asio::io_context io_;
  FakeCgroups cgroups_;
  FakeGuest guest_{io_};
  metrics::DaemonMetrics metrics_{"test"};
  std::vector<std::string> lines_;
  Logger log_;
  int level_changes_ = 0;
  PressureWatcher::Clock::time_point now_{std::chrono::hours(1000)};
};

TEST_F(PressureWatcherTest, HostOnlyPodPredictsTimeLeftAndLogsEachLevelChangeOnce) {
  auto w = Make();
  // 1000 MiB limit, 200 MiB used, tmpfs growing 1 MiB/s: the limit is reached 800 s after t0.
  int64_t t = 0;
  auto set = [&] { HostReading("u1", (200 + t) * kMib, 1000 * kMib, (100 + t) * kMib); };
  set();
  w->Update({Target("sb1", "u1")});
  ASSERT_NE(w->Latest("sb1"), nullptr) << "a new pod is evaluated at once";
  EXPECT_EQ(w->Latest("sb1")->basis, sizer::PressureBasis::kHost);
  EXPECT_EQ(Matching("no Kata shim monitor socket at /fake/sb1/shim-monitor.sock").size(), 1u);
  bool saw_warning = false, saw_critical = false;
  for (t = 5; t <= 700; t += 5) {
    set();
    Step(*w, 5s);
    const auto* a = w->Latest("sb1");
    ASSERT_NE(a, nullptr);
    if (a->seconds_left) {
      auto m = Value("uvm_sizer_pod_memory_exhaustion_seconds");
      ASSERT_TRUE(m) << "t=" << t;
      EXPECT_NEAR(*m, 800.0 - static_cast<double>(t), 8.0) << "t=" << t;
    }
    saw_warning = saw_warning || a->level == sizer::PressureLevel::kWarning;
    saw_critical = saw_critical || a->level == sizer::PressureLevel::kCritical;
    EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), static_cast<double>(a->level)) << "t=" << t;
  }
  EXPECT_TRUE(saw_warning);
  EXPECT_TRUE(saw_critical);
  auto warning = Matching("memory pressure warning (was ok)");
  auto critical = Matching("memory pressure critical (was warning)");
  ASSERT_EQ(warning.size(), 1u);
  ASSERT_EQ(critical.size(), 1u);
  // Pod, cause, rate, time left and advice a person can act on, on one line.
  EXPECT_NE(critical[0].find("pod default/web-u1"), std::string::npos) << critical[0];
  EXPECT_NE(critical[0].find("rate 1.0 MiB/s"), std::string::npos) << critical[0];
  EXPECT_NE(critical[0].find("time left ~"), std::string::npos) << critical[0];
  EXPECT_NE(critical[0].find("basis host"), std::string::npos) << critical[0];
  EXPECT_NE(critical[0].find("raise the memory limit"), std::string::npos) << critical[0];
  EXPECT_EQ(critical[0].rfind("<3>", 0), 0u) << "critical is logged at error priority";
  EXPECT_EQ(level_changes_, 2);
  EXPECT_EQ(Value("uvm_sizer_pressure_transitions_total", {"level=\"critical\""}), 1.0);
  auto growth =
      Value("uvm_sizer_pod_memory_growth_bytes_per_second", {"uid=\"u1\"", "cause=\"shared_memory\""});
  ASSERT_TRUE(growth) << metrics_.Serialize();
  EXPECT_NEAR(*growth, 1.0 * kMib, 0.05 * kMib);
  EXPECT_FALSE(Value("uvm_sizer_pod_guest_memory_available_bytes")) << "no guest view, no guest series";

  // The file goes: back to ok once every rule is clear for clear_hold (30 s), and the time left vanishes.
  HostReading("u1", 200 * kMib, 1000 * kMib, 100 * kMib);
  for (int i = 0; i < 12; ++i) Step(*w, 5s);
  EXPECT_EQ(w->Latest("sb1")->level, sizer::PressureLevel::kOk);
  EXPECT_EQ(Matching("memory pressure ok (was critical)").size(), 1u);
  EXPECT_FALSE(Value("uvm_sizer_pod_memory_exhaustion_seconds"));
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 0.0);
}

TEST_F(PressureWatcherTest, GuestEndpointGivesTheGuestViewPerMountSeriesAndAttribution) {
  auto w = Make();
  HostReading("u1", 600 * kMib, 3000 * kMib, 0);
  int64_t t = 0;
  auto set = [&] {
    sizer::GuestObservation g{.mem_total_bytes = 2048 * kMib, .mem_available_bytes = (1500 - 2 * t) * kMib};
    g.shmem_bytes = (50 + 2 * t) * kMib;
    g.anon_bytes = 100 * kMib;
    g.mounts = {
        {.mount = "/run/kata-containers/sandbox/shm", .device = "shm", .used_bytes = 0, .total_bytes = kMib},
        {.mount = "/tmp", .device = "tmpfs", .used_bytes = (10 + 2 * t) * kMib, .total_bytes = 1024 * kMib}};
    guest_.guests["sb1"] = g;
  };
  set();
  w->Update({Target("sb1", "u1")});
  io_.poll();
  io_.restart();
  for (t = 5; t <= 60; t += 5) {
    set();
    Step(*w, 5s);
  }
  const auto* a = w->Latest("sb1");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->basis, sizer::PressureBasis::kGuest);
  EXPECT_EQ(a->cause.kind, sizer::PressureCauseKind::kFilesystem);
  EXPECT_EQ(a->cause.mount, "/tmp");
  EXPECT_EQ(Value("uvm_sizer_pod_guest_memory_available_bytes"), static_cast<double>((1500 - 120) * kMib));
  EXPECT_EQ(Value("uvm_sizer_pod_guest_filesystem_bytes", {"uid=\"u1\"", "mount=\"/tmp\""}),
            static_cast<double>(130 * kMib));
  auto left = Value("uvm_sizer_pod_memory_exhaustion_seconds");
  ASSERT_TRUE(left);
  EXPECT_NEAR(*left, 1380.0 / 2.0, 10.0);
  EXPECT_EQ(Matching("memory pressure from the guest's own view").size(), 1u);
  EXPECT_TRUE(Matching("no Kata shim monitor socket").empty());
  EXPECT_EQ(guest_.fetches, 13);

  // The shim stops answering: counted and logged once a minute, not per tick; the model extrapolates.
  guest_.failing = true;
  Step(*w, 5s);
  Step(*w, 5s);
  EXPECT_EQ(w->stats().guest_errors, 2u);
  EXPECT_EQ(Matching("cannot read the guest's memory").size(), 1u);
  EXPECT_EQ(w->Latest("sb1")->basis, sizer::PressureBasis::kGuest) << "guest_grace keeps the basis";
  EXPECT_TRUE(Value("uvm_sizer_pod_guest_filesystem_bytes", {"uid=\"u1\"", "mount=\"/tmp\""}))
      << "mount series stay while the guest view is extrapolated";
}

TEST_F(PressureWatcherTest, APsiTriggerReevaluatesItsPodAtOnceAndAGoneOneIsDroppedQuietly) {
  auto w = Make();
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  HostReading("u2", 200 * kMib, 1000 * kMib, 0);
  w->Update({Target("sb1", "u1"), Target("sb2", "u2")});
  ASSERT_EQ(w->trigger_count(), 2u);
  ASSERT_EQ(cgroups_.specs.size(), 2u);
  EXPECT_EQ(DescribeTrigger(cgroups_.specs[0]), "some 150000 2000000");
  EXPECT_EQ(w->stats().evaluations, 2u);
  int reads = cgroups_.reads;

  // Memory stalls in pod 1: its PSI file reports full avg10 45 % and its trigger fires.
  cgroups_.cgroups["/kubepods/burstable/podu1"].memory_full_avg10 = 45.0;
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return w->stats().evaluations == 3; }));
  EXPECT_EQ(cgroups_.reads, reads + 1) << "only the pod whose trigger fired is read";
  EXPECT_EQ(w->stats().trigger_wakeups, 1u);
  ASSERT_TRUE(w->stats().last_trigger_to_publish);
  EXPECT_EQ(w->Latest("sb1")->level, sizer::PressureLevel::kCritical);
  EXPECT_EQ(w->Latest("sb2")->level, sizer::PressureLevel::kOk);
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 2.0);
  EXPECT_EQ(Matching("PSI trigger fired; re-evaluated and published in").size(), 1u);

  // It fires again later: the wait was re-armed.
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return w->stats().evaluations == 4; }));

  // The pod's cgroup goes (POLLERR): the trigger is closed, nothing above debug is logged.
  size_t lines = lines_.size();
  auto state = cgroups_.triggers["/kubepods/burstable/podu2"];
  state->gone = true;
  state->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return w->stats().triggers_dropped == 1; }));
  EXPECT_TRUE(state->closed);
  EXPECT_EQ(w->trigger_count(), 1u);
  EXPECT_EQ(w->stats().evaluations, 4u) << "a gone trigger evaluates nothing";
  for (size_t i = lines; i < lines_.size(); ++i) EXPECT_EQ(lines_[i].rfind("<7>", 0), 0u) << lines_[i];
}

TEST_F(PressureWatcherTest, PodsThatGoAreForgottenAndALateGuestAnswerPublishesNothing) {
  auto w = Make();
  guest_.auto_answer = false;
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  w->Update({Target("sb1", "u1")});
  ASSERT_EQ(guest_.pending.size(), 1u);
  EXPECT_EQ(w->Latest("sb1"), nullptr) << "nothing until the guest answered";
  // A second evaluation while the first fetch is out waits for it (samples stay in order).
  w->EvaluateAll();
  EXPECT_EQ(guest_.pending.size(), 1u);
  auto trigger = cgroups_.triggers["/kubepods/burstable/podu1"];
  w->Update({});
  EXPECT_EQ(w->pod_count(), 0u);
  EXPECT_TRUE(trigger->closed);
  guest_.Answer();
  io_.poll();
  EXPECT_EQ(metrics_.PodCount(), 0u) << metrics_.Serialize();
  EXPECT_EQ(w->stats().evaluations, 0u);
}

TEST_F(PressureWatcherTest, APendingTriggerEvaluationRunsOnceTheFetchCompletes) {
  auto w = Make();
  guest_.auto_answer = false;
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  w->Update({Target("sb1", "u1")});
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return w->stats().trigger_wakeups == 1; }));
  EXPECT_EQ(guest_.fetches, 1);
  guest_.Answer();
  EXPECT_EQ(guest_.fetches, 2) << "the trigger's evaluation follows the one in flight";
  guest_.Answer();
  EXPECT_EQ(w->stats().evaluations, 2u);
  EXPECT_TRUE(w->stats().last_trigger_to_publish);
}

TEST_F(PressureWatcherTest, OneSandboxPerPodUidTheNewest) {
  auto w = Make();
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  w->Update({Target("old", "u1", 1), Target("new", "u1", 2)});
  EXPECT_EQ(w->pod_count(), 1u);
  EXPECT_NE(w->Latest("new"), nullptr);
  EXPECT_EQ(w->Latest("old"), nullptr);
}

TEST_F(PressureWatcherTest, WithoutPsiTheWatcherSaysSoOnceAndStillTicks) {
  cgroups_.no_psi = true;
  auto options = Options();
  options.interval = 20ms;
  auto w = Make(options);
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  HostReading("u2", 200 * kMib, 1000 * kMib, 0);
  w->Update({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(w->trigger_count(), 0u);
  EXPECT_EQ(Matching("no PSI trigger \"some 150000 2000000\"").size(), 1u);
  ASSERT_TRUE(RunUntil([&] { return w->stats().ticks >= 2; }));
  EXPECT_GE(w->stats().evaluations, 6u);
  // No VM pod left: no timer, so the loop has nothing to wake up for.
  w->Update({});
  io_.restart();
  auto ran = io_.run_for(50ms);
  EXPECT_LE(ran, 1u) << "at most the cancelled timer's completion";
  uint64_t ticks = w->stats().ticks;
  io_.restart();
  io_.run_for(50ms);
  EXPECT_EQ(w->stats().ticks, ticks);
}

TEST_F(PressureWatcherTest, AnUnreadableCgroupIsCountedAndTheGuestViewStillServes) {
  auto w = Make();
  cgroups_.unreadable = true;
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  w->Update({Target("sb1", "u1")});
  io_.poll();
  ASSERT_NE(w->Latest("sb1"), nullptr);
  EXPECT_EQ(w->Latest("sb1")->basis, sizer::PressureBasis::kGuest);
  EXPECT_EQ(Matching("cannot read cgroup").size(), 1u);
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"pressure_cgroup_read\""}), 1.0);
}

TEST(PressureConfig, KeysAreReadValidatedAndPrintedBack) {
  DaemonConfig c;
  auto st = ApplyConfigText(R"(
[pressure]
interval = "1s"
shim_timeout = "500ms"
psi_trigger = false
psi_trigger_stall = "100ms"
psi_trigger_window = "4s"
window = "1m"
min_span = "5s"
warning_time_left = "30s"
critical_time_left = "10s"
warning_available_fraction = 0.2
critical_available_fraction = 0.05
warning_psi_full_avg10 = 5
critical_psi_full_avg10 = 20.5
clear_hold = "3s"
log_mount_patterns = ["/var/log", "/logs"]
)",
                            "test.toml", c);
  ASSERT_TRUE(st.ok()) << st.error().message;
  EXPECT_EQ(c.pressure.interval, 1000ms);
  EXPECT_EQ(c.pressure.shim_timeout, 500ms);
  EXPECT_FALSE(c.pressure.psi_trigger);
  EXPECT_EQ(c.pressure.psi_trigger_window, 4000ms);
  EXPECT_EQ(c.pressure.model.window, 60s);
  EXPECT_EQ(c.pressure.model.min_span, 5s);
  EXPECT_EQ(c.pressure.model.critical_time_left, 10s);
  EXPECT_EQ(c.pressure.model.warning_available_fraction, 0.2);
  EXPECT_EQ(c.pressure.model.warning_psi_full_avg10, 5.0);
  EXPECT_EQ(c.pressure.model.clear_hold, 3s);
  EXPECT_EQ(c.pressure.model.log_mount_patterns, (std::vector<std::string>{"/var/log", "/logs"}));
  DaemonConfig back;
  auto printed = ConfigToToml(c);
  ASSERT_TRUE(ApplyConfigText(printed, "printed", back).ok()) << printed;
  EXPECT_EQ(ConfigToToml(back), printed);

  struct Case {
    const char* toml;
    const char* message;
  };
  for (const Case& k : std::vector<Case>{
           {"[pressure]\nwindw = \"1m\"\n", "test.toml: pressure.windw: unknown key"},
           {"[pressure]\nwindow = \"1500ms\"\n",
            "test.toml: pressure.window: must be whole seconds, got 1500 ms"},
           {"[pressure]\ncritical_time_left = \"20m\"\n",
            "test.toml: pressure.critical_time_left 1200 s must be positive and not exceed "
            "pressure.warning_time_left 900 s"},
           {"[pressure]\nwarning_available_fraction = \"10%\"\n",
            "test.toml: pressure.warning_available_fraction: must be a number, got \"10%\""},
           {"[pressure]\npsi_trigger_window = \"20s\"\n",
            "test.toml: pressure.psi_trigger_window: must be between 500ms and 10s, got \"20s\""},
           {"[pressure]\nshim_monitor_dir = \"run/vc\"\n",
            "test.toml: pressure.shim_monitor_dir: must be an absolute path, got \"run/vc\""},
           {"[pressure]\nlog_mount_patterns = [1]\n",
            "test.toml: pressure.log_mount_patterns: must be an array of strings, got an element 1"},
       }) {
    DaemonConfig d;
    auto bad = ApplyConfigText(k.toml, "test.toml", d);
    ASSERT_FALSE(bad.ok()) << k.toml;
    EXPECT_EQ(bad.error().message, k.message);
  }
}

}  // namespace
}  // namespace uvm::daemon
