// Guest memory pressure as the core observes it (Reconciler::Tick, ObserveNow and their guest answers)
// against fake ports (tests/unit/daemon/fake_ports.h): a cgroup whose readings the test scripts, a guest
// endpoint that answers when the test says so, PSI triggers that fire on demand. The real kernel is in
// tests/integration/pressure_*_test.cc.
#include <chrono>
#include <functional>
#include <memory>

#include <gtest/gtest.h>

#include "daemon/config.h"
#include "daemon/psi_triggers.h"
#include "daemon/reconciler.h"
#include "fake_ports.h"
#include "metrics/daemon_metrics.h"

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;
using fake::kMib;

class PressureTest : public ::testing::Test {
 protected:
  PressureTest() : log_(Priority::kDebug, [this](std::string_view l) { lines_.emplace_back(l); }) {}

  std::unique_ptr<Reconciler> Make(sizer::PressureConfig model = {}) {
    return std::make_unique<Reconciler>(
        ReconcileSetup{.mode = CgroupMode::kObserve, .pressure = std::move(model)}, cgroups_, guest_,
        metrics_, log_, [this] { ++level_changes_; }, [this] { return now_; });
  }
  // PSI triggers that observe their pod at once, as the daemon wires them.
  std::unique_ptr<PsiTriggers> MakeTriggers(Reconciler& r,
                                            std::optional<PressureTriggerSpec> spec = PressureTriggerSpec{}) {
    return std::make_unique<PsiTriggers>(
        io_, cgroups_, log_, spec,
        [&r](const std::string& id, PsiTriggers::Clock::time_point woke) { r.ObserveNow(id, woke); });
  }
  static std::vector<TriggerTarget> Targets(const Reconciler& r) {
    std::vector<TriggerTarget> out;
    for (const auto& [id, pod] : r.table().by_sandbox()) {
      if (pod.watched())
        out.push_back({id, pod.detail.cgroup_parent, pod.summary().uid, "default/" + pod.summary().name});
    }
    return out;
  }
  // A VM pod the runtime lists; Discover() makes the core see it.
  void AddPod(const std::string& id, const std::string& uid, int64_t created = 1) {
    runtime_.sandboxes[id] = fake::KataCcPod(id, uid, 512 * kMib, 0, created);
  }
  void Discover(Reconciler& r) {
    r.Apply(FetchRuntime(runtime_, r.InspectedIds(), false, r.DynamicHandlers(), r.VmHandlers()));
  }
  void HostReading(const std::string& uid, int64_t usage, int64_t limit, int64_t shmem) {
    cgroups_.cgroups["/kubepods/burstable/pod" + uid] = CgroupReading{.memory_limit_bytes = limit,
                                                                      .memory_usage_bytes = usage,
                                                                      .shmem_bytes = shmem,
                                                                      .file_bytes = shmem,
                                                                      .anon_bytes = 8 * kMib,
                                                                      .oom_kills = 0};
  }
  // Advances the fake clock and runs one tick, delivering guest answers.
  void Step(Reconciler& r, std::chrono::seconds dt) {
    now_ += dt;
    r.Tick();
    io_.poll();
    io_.restart();
  }
  // Runs the loop until `done` holds (bounded: a broken core fails instead of hanging).
  bool RunUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
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
    return fake::Series(metrics_.Serialize(), name, labels);
  }
  static const sizer::PressureAssessment* Latest(const Reconciler& r, const std::string& id) {
    const PodState* pod = r.Find(id);
    return pod && pod->pressure ? &*pod->pressure : nullptr;
  }

  boost::asio::io_context io_;
  fake::Runtime runtime_;
  fake::Cgroups cgroups_;
  fake::Guest guest_{&io_};
  metrics::DaemonMetrics metrics_{"test", "node-1"};
  std::vector<std::string> lines_;
  Logger log_;
  int level_changes_ = 0;
  Reconciler::Clock::time_point now_{std::chrono::hours(1000)};
};

TEST_F(PressureTest, HostOnlyPodPredictsTimeLeftAndLogsEachLevelChangeOnce) {
  auto r = Make();
  // 1000 MiB limit, 200 MiB used, tmpfs growing 1 MiB/s: the limit is reached 800 s after t0.
  int64_t t = 0;
  auto set = [&] { HostReading("u1", (200 + t) * kMib, 1000 * kMib, (100 + t) * kMib); };
  set();
  AddPod("sb1", "u1");
  Discover(*r);
  ASSERT_NE(Latest(*r, "sb1"), nullptr) << "a new pod is evaluated at once";
  EXPECT_EQ(Latest(*r, "sb1")->basis, sizer::PressureBasis::kHost);
  EXPECT_EQ(Matching("no Kata shim monitor socket at /fake/sb1/shim-monitor.sock").size(), 1u);
  bool saw_warning = false, saw_critical = false;
  for (t = 5; t <= 700; t += 5) {
    set();
    Step(*r, 5s);
    const auto* a = Latest(*r, "sb1");
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
  for (int i = 0; i < 12; ++i) Step(*r, 5s);
  EXPECT_EQ(Latest(*r, "sb1")->level, sizer::PressureLevel::kOk);
  EXPECT_EQ(Matching("memory pressure ok (was critical)").size(), 1u);
  EXPECT_FALSE(Value("uvm_sizer_pod_memory_exhaustion_seconds"));
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 0.0);
}

TEST_F(PressureTest, GuestEndpointGivesTheGuestViewPerMountSeriesAndAttribution) {
  auto r = Make();
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
  AddPod("sb1", "u1");
  Discover(*r);
  io_.poll();
  io_.restart();
  for (t = 5; t <= 60; t += 5) {
    set();
    Step(*r, 5s);
  }
  const auto* a = Latest(*r, "sb1");
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
  EXPECT_EQ(r->stats().guest_fetches, 13u);

  // The shim stops answering: counted and logged once a minute, not per tick; the model extrapolates.
  guest_.failing = true;
  Step(*r, 5s);
  Step(*r, 5s);
  EXPECT_EQ(r->stats().guest_errors, 2u);
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"pressure_guest_fetch\""}), 2.0);
  EXPECT_EQ(Matching("cannot read the guest's memory").size(), 1u);
  EXPECT_EQ(Latest(*r, "sb1")->basis, sizer::PressureBasis::kGuest) << "guest_grace keeps the basis";
  EXPECT_TRUE(Value("uvm_sizer_pod_guest_filesystem_bytes", {"uid=\"u1\"", "mount=\"/tmp\""}))
      << "mount series stay while the guest view is extrapolated";
}

TEST_F(PressureTest, APsiTriggerReevaluatesItsPodAtOnceAndAGoneOneIsDroppedQuietly) {
  auto r = Make();
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  HostReading("u2", 200 * kMib, 1000 * kMib, 0);
  AddPod("sb1", "u1");
  AddPod("sb2", "u2");
  Discover(*r);
  auto triggers = MakeTriggers(*r);
  triggers->Sync(Targets(*r));
  ASSERT_EQ(triggers->count(), 2u);
  ASSERT_EQ(cgroups_.specs.size(), 2u);
  EXPECT_EQ(DescribeTrigger(cgroups_.specs[0]), "some 150000 2000000");
  EXPECT_EQ(r->stats().evaluations, 2u);
  int reads = cgroups_.reads;

  // Memory stalls in pod 1: its PSI file reports full avg10 45 % and its trigger fires.
  cgroups_.cgroups["/kubepods/burstable/podu1"].memory_full_avg10 = 45.0;
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return r->stats().evaluations == 3; }));
  EXPECT_EQ(cgroups_.reads, reads + 1) << "only the pod whose trigger fired is read";
  EXPECT_EQ(cgroups_.reads_by_parent["/kubepods/burstable/podu1"], 2);
  EXPECT_EQ(triggers->stats().wakeups, 1u);
  EXPECT_EQ(r->stats().trigger_observations, 1u);
  ASSERT_TRUE(r->stats().last_trigger_to_publish);
  EXPECT_GE(r->stats().last_trigger_to_publish->count(), 0);
  EXPECT_EQ(Latest(*r, "sb1")->level, sizer::PressureLevel::kCritical);
  EXPECT_EQ(Latest(*r, "sb2")->level, sizer::PressureLevel::kOk);
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 2.0);
  EXPECT_EQ(Matching("PSI trigger fired; re-evaluated and published in").size(), 1u);

  // It fires again later: the wait was re-armed.
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return r->stats().evaluations == 4; }));

  // The pod's cgroup goes (POLLERR): the trigger is closed, nothing above debug is logged.
  size_t lines = lines_.size();
  auto state = cgroups_.triggers["/kubepods/burstable/podu2"];
  state->gone = true;
  state->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return triggers->stats().dropped == 1; }));
  EXPECT_TRUE(state->closed);
  EXPECT_EQ(triggers->count(), 1u);
  EXPECT_EQ(r->stats().evaluations, 4u) << "a gone trigger evaluates nothing";
  for (size_t i = lines; i < lines_.size(); ++i) EXPECT_EQ(lines_[i].rfind("<7>", 0), 0u) << lines_[i];
  // It is not armed again at once (a minute later at the earliest).
  int attempts = cgroups_.trigger_attempts;
  triggers->Sync(Targets(*r));
  EXPECT_EQ(cgroups_.trigger_attempts, attempts);
}

TEST_F(PressureTest, ATriggerForAPodNoLongerWatchedObservesNothing) {
  auto r = Make();
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  AddPod("sb1", "u1");
  Discover(*r);
  uint64_t evaluations = r->stats().evaluations;
  r->ObserveNow("unknown-sandbox");
  EXPECT_EQ(r->stats().evaluations, evaluations);
  ReconcileSetup next{.mode = CgroupMode::kObserve};
  next.catalog = sizer::ProfileCatalog{};
  r->Reconfigure(next);
  int reads = cgroups_.reads;
  r->ObserveNow("sb1");
  EXPECT_EQ(cgroups_.reads, reads);
  EXPECT_EQ(r->stats().evaluations, evaluations);
  EXPECT_FALSE(Value("uvm_sizer_pod_pressure_level"));
}

TEST_F(PressureTest, PodsThatGoAreForgottenAndALateGuestAnswerPublishesNothing) {
  auto r = Make();
  guest_.auto_answer = false;
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  AddPod("sb1", "u1");
  Discover(*r);
  auto triggers = MakeTriggers(*r);
  triggers->Sync(Targets(*r));
  ASSERT_EQ(guest_.pending.size(), 1u);
  EXPECT_EQ(Latest(*r, "sb1"), nullptr) << "nothing until the guest answered";
  // A second observation while the first fetch is out waits for it (samples stay in order).
  r->Tick();
  EXPECT_EQ(guest_.pending.size(), 1u);
  auto trigger = cgroups_.triggers["/kubepods/burstable/podu1"];
  runtime_.sandboxes.clear();
  Discover(*r);
  triggers->Sync(Targets(*r));
  EXPECT_EQ(r->table().size(), 0u);
  EXPECT_EQ(triggers->count(), 0u);
  EXPECT_TRUE(trigger->closed);
  EXPECT_FALSE(r->HasWatched()) << "the daemon pauses the tick";
  guest_.Answer();
  io_.poll();
  EXPECT_EQ(metrics_.PodCount(), 0u) << metrics_.Serialize();
  EXPECT_EQ(r->stats().evaluations, 0u);
  EXPECT_TRUE(guest_.pending.empty()) << "no observation was queued for a pod that went";
}

TEST_F(PressureTest, APendingTriggerObservationRunsOnceTheFetchCompletes) {
  auto r = Make();
  guest_.auto_answer = false;
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  AddPod("sb1", "u1");
  Discover(*r);
  auto triggers = MakeTriggers(*r);
  triggers->Sync(Targets(*r));
  cgroups_.triggers["/kubepods/burstable/podu1"]->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return triggers->stats().wakeups == 1; }));
  EXPECT_EQ(guest_.fetches, 1);
  guest_.Answer();
  EXPECT_EQ(guest_.fetches, 2) << "the trigger's observation follows the one in flight";
  EXPECT_FALSE(r->stats().last_trigger_to_publish) << "not published yet";
  guest_.Answer();
  EXPECT_EQ(r->stats().evaluations, 2u);
  EXPECT_TRUE(r->stats().last_trigger_to_publish);
  EXPECT_EQ(Value("uvm_sizer_pod_guest_memory_available_bytes"), 1500.0 * kMib);
}

TEST_F(PressureTest, OnePodUidExportsTheNewestSandboxOnly) {
  auto r = Make();
  // The old sandbox's VM stalls; the new one (created later) is fine. The pod's series are the new one's.
  runtime_.sandboxes["old"] = fake::KataCcPod("old", "u1", 512 * kMib, 0, 1);
  runtime_.sandboxes["old"].cgroup_parent = "/kubepods/burstable/podu1/old";
  cgroups_.cgroups["/kubepods/burstable/podu1/old"] = CgroupReading{
      .memory_limit_bytes = 1000 * kMib, .memory_usage_bytes = 200 * kMib, .memory_full_avg10 = 45.0};
  AddPod("new", "u1", 2);
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  Discover(*r);
  ASSERT_NE(Latest(*r, "old"), nullptr);
  EXPECT_EQ(Latest(*r, "old")->level, sizer::PressureLevel::kCritical);
  EXPECT_EQ(Latest(*r, "new")->level, sizer::PressureLevel::kOk);
  EXPECT_EQ(metrics_.PodCount(), 1u);
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 0.0);
  EXPECT_EQ(r->table().Exported("u1"), r->Find("new"));
  Step(*r, 5s);
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 0.0);
  // The new one goes first (a failed restart): the old one is the pod's again.
  runtime_.sandboxes.erase("new");
  Discover(*r);
  EXPECT_EQ(Value("uvm_sizer_pod_pressure_level"), 2.0);
}

TEST_F(PressureTest, WithoutPsiTheTriggersSaySoOnceAndTheTickStillObserves) {
  cgroups_.no_psi = true;
  auto r = Make();
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  HostReading("u2", 200 * kMib, 1000 * kMib, 0);
  AddPod("sb1", "u1");
  AddPod("sb2", "u2");
  Discover(*r);
  auto triggers = MakeTriggers(*r);
  triggers->Sync(Targets(*r));
  EXPECT_EQ(triggers->count(), 0u);
  EXPECT_EQ(cgroups_.trigger_attempts, 2);
  EXPECT_EQ(Matching("no PSI trigger \"some 150000 2000000\"").size(), 1u);
  // Retried a minute later at the earliest, not at every sync.
  triggers->Sync(Targets(*r));
  EXPECT_EQ(cgroups_.trigger_attempts, 2);
  Step(*r, 5s);
  Step(*r, 5s);
  EXPECT_EQ(r->stats().evaluations, 6u);
  // Triggers switched off by a reload: none registered, none attempted.
  triggers->Reconfigure(std::nullopt, Targets(*r));
  EXPECT_EQ(cgroups_.trigger_attempts, 2);
  EXPECT_EQ(triggers->count(), 0u);
}

TEST_F(PressureTest, AnUnreadableCgroupIsCountedAndTheGuestViewStillServes) {
  auto r = Make();
  cgroups_.unreadable.insert("/kubepods/burstable/podu1");
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  AddPod("sb1", "u1");
  Discover(*r);
  io_.poll();
  ASSERT_NE(Latest(*r, "sb1"), nullptr);
  EXPECT_EQ(Latest(*r, "sb1")->basis, sizer::PressureBasis::kGuest);
  EXPECT_EQ(Matching("cannot read its cgroup").size(), 1u);
  EXPECT_EQ(Value("uvm_sizer_errors_total", {"cause=\"cgroup_read\""}), 1.0);
  EXPECT_EQ(Value("uvm_sizer_pod_guest_memory_available_bytes"), 1500.0 * kMib);
}

TEST_F(PressureTest, NewModelSettingsRestartTheWindows) {
  auto r = Make();
  guest_.auto_answer = false;
  HostReading("u1", 200 * kMib, 1000 * kMib, 0);
  guest_.guests["sb1"] = {.mem_total_bytes = 2048 * kMib, .mem_available_bytes = 1500 * kMib};
  AddPod("sb1", "u1");
  Discover(*r);
  guest_.Answer();
  Step(*r, 5s);
  guest_.Answer();
  ASSERT_EQ(r->Find("sb1")->pressure_window.window_size(), 2u);
  Step(*r, 5s);  // a fetch is out when the reload comes
  ASSERT_EQ(guest_.pending.size(), 1u);
  sizer::PressureConfig model;
  model.clear_hold = 10s;
  r->Reconfigure(ReconcileSetup{.mode = CgroupMode::kObserve, .pressure = model});
  EXPECT_EQ(Matching("pressure: new model settings; growth windows start over").size(), 1u);
  EXPECT_EQ(r->Find("sb1")->pressure_window.window_size(), 0u);
  uint64_t evaluations = r->stats().evaluations;
  guest_.Answer();
  EXPECT_EQ(r->stats().evaluations, evaluations) << "the answer began under the old model";
  Step(*r, 5s);
  guest_.Answer();
  EXPECT_EQ(r->Find("sb1")->pressure_window.window_size(), 1u);
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
