// PSI trigger fds on their own (no pod state): arming, wakeups, re-arming, the cgroup going away, a changed
// spec and Stop, with fake triggers that fire on demand (tests/unit/daemon/fake_ports.h). How a wakeup
// becomes an observation is in pressure_test.cc; the kernel's own triggers are in tests/integration/.
#include "daemon/psi_triggers.h"

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fake_ports.h"

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;

class PsiTriggersTest : public ::testing::Test {
 protected:
  PsiTriggersTest() : log_(Priority::kDebug, [this](std::string_view l) { lines_.emplace_back(l); }) {}

  std::unique_ptr<PsiTriggers> Make(std::optional<PressureTriggerSpec> spec = PressureTriggerSpec{}) {
    return std::make_unique<PsiTriggers>(io_, cgroups_, log_, spec,
                                         [this](const std::string& id, PsiTriggers::Clock::time_point woke) {
                                           fired_.push_back(id);
                                           EXPECT_LE(woke, PsiTriggers::Clock::now());
                                         });
  }
  static TriggerTarget Target(const std::string& id, const std::string& uid) {
    return {id, "/kubepods/burstable/pod" + uid, uid, "default/web-" + uid};
  }
  bool RunUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      io_.restart();
      io_.run_one_for(10ms);
    }
    return done();
  }
  std::shared_ptr<fake::TriggerState> Of(const std::string& uid) {
    return cgroups_.triggers["/kubepods/burstable/pod" + uid];
  }
  size_t Matching(std::string_view fragment) const {
    return std::count_if(lines_.begin(), lines_.end(),
                         [&](const auto& l) { return l.find(fragment) != l.npos; });
  }

  boost::asio::io_context io_;
  fake::Cgroups cgroups_;
  std::vector<std::string> lines_;
  Logger log_;
  std::vector<std::string> fired_;
};

TEST_F(PsiTriggersTest, AWakeupNamesItsSandboxAndTheWaitIsRearmed) {
  auto t = Make();
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(t->count(), 2u);
  ASSERT_EQ(cgroups_.specs.size(), 2u);
  EXPECT_EQ(DescribeTrigger(cgroups_.specs[0]), "some 150000 2000000");
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(cgroups_.trigger_attempts, 2) << "armed triggers are kept";
  Of("u2")->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return fired_.size() == 1; }));
  EXPECT_EQ(fired_[0], "sb2");
  Of("u2")->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return fired_.size() == 2; }));
  EXPECT_EQ(fired_[1], "sb2");
  EXPECT_EQ(t->stats().wakeups, 2u);
  EXPECT_EQ(t->stats().dropped, 0u);
}

TEST_F(PsiTriggersTest, AGoneCgroupDropsItsTriggerQuietlyAndAnUnlistedSandboxClosesIt) {
  auto t = Make();
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  size_t lines = lines_.size();
  auto gone = Of("u1");
  gone->gone = true;
  gone->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return t->stats().dropped == 1; }));
  EXPECT_TRUE(gone->closed);
  EXPECT_TRUE(fired_.empty()) << "a gone trigger observes nothing";
  EXPECT_EQ(t->count(), 1u);
  for (size_t i = lines; i < lines_.size(); ++i) EXPECT_EQ(lines_[i].rfind("<7>", 0), 0u) << lines_[i];
  // The sandbox leaves the watch set: its trigger is closed.
  auto other = Of("u2");
  t->Sync({});
  EXPECT_TRUE(other->closed);
  EXPECT_EQ(t->count(), 0u);
  other->pair->Fire();
  RunUntil([&] { return !fired_.empty(); });
  EXPECT_TRUE(fired_.empty()) << "a closed trigger fires nothing";
}

TEST_F(PsiTriggersTest, WithoutPsiTheFailureIsLoggedOnceAndNotRetriedAtEverySync) {
  cgroups_.no_psi = true;
  auto t = Make();
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(t->count(), 0u);
  EXPECT_EQ(cgroups_.trigger_attempts, 2);
  EXPECT_EQ(Matching("no PSI trigger \"some 150000 2000000\" on pod default/web-u1"), 1u);
  EXPECT_EQ(Matching("such pods are evaluated at every tick only"), 1u);
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(cgroups_.trigger_attempts, 2) << "retried a minute later at the earliest";
  // A new pod is tried at once; its failure is only a debug line.
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2"), Target("sb3", "u3")});
  EXPECT_EQ(cgroups_.trigger_attempts, 3);
  EXPECT_EQ(Matching("no PSI trigger \"some"), 1u);
  EXPECT_EQ(Matching("pod default/web-u3: no PSI trigger"), 1u);
}

TEST_F(PsiTriggersTest, AChangedSpecReregistersEveryTriggerAndNoneSwitchesThemOff) {
  auto t = Make();
  t->Sync({Target("sb1", "u1")});
  auto first = Of("u1");
  t->Reconfigure(PressureTriggerSpec{}, {Target("sb1", "u1")});
  EXPECT_FALSE(first->closed) << "the same spec keeps the trigger";
  EXPECT_EQ(cgroups_.trigger_attempts, 1);
  PressureTriggerSpec full{.full = true, .stall = 100ms, .window = 1s};
  t->Reconfigure(full, {Target("sb1", "u1")});
  EXPECT_TRUE(first->closed);
  ASSERT_EQ(cgroups_.specs.size(), 2u);
  EXPECT_EQ(DescribeTrigger(cgroups_.specs[1]), "full 100000 1000000");
  EXPECT_EQ(t->count(), 1u);
  first->pair->Fire();
  Of("u1")->pair->Fire();
  ASSERT_TRUE(RunUntil([&] { return fired_.size() == 1; }));
  RunUntil([&] { return fired_.size() > 1; });
  EXPECT_EQ(fired_.size(), 1u) << "only the new trigger fires";
  // Switched off by a reload: nothing registered, nothing attempted.
  auto second = Of("u1");
  t->Reconfigure(std::nullopt, {Target("sb1", "u1")});
  EXPECT_TRUE(second->closed);
  EXPECT_EQ(t->count(), 0u);
  t->Sync({Target("sb1", "u1")});
  EXPECT_EQ(cgroups_.trigger_attempts, 2);
}

TEST_F(PsiTriggersTest, SetPortSendsLaterRegistrationsToTheNewPortAndStopEndsEverything) {
  auto t = Make();
  t->Sync({Target("sb1", "u1")});
  fake::Cgroups other;
  t->SetPort(other);
  t->Sync({Target("sb1", "u1"), Target("sb2", "u2")});
  EXPECT_EQ(cgroups_.trigger_attempts, 1) << "armed triggers keep their fds";
  EXPECT_EQ(other.trigger_attempts, 1);
  EXPECT_EQ(t->count(), 2u);
  auto kept = Of("u1");
  t->Stop();
  EXPECT_TRUE(kept->closed);
  EXPECT_TRUE(other.triggers["/kubepods/burstable/podu2"]->closed);
  EXPECT_EQ(t->count(), 0u);
  t->Sync({Target("sb1", "u1")});
  EXPECT_EQ(t->count(), 0u) << "nothing after Stop";
  t.reset();  // before `other`, which owns the state its trigger reports to
}

}  // namespace
}  // namespace uvm::daemon
