// The daemon's one clock on a real io_context with short intervals. Only order and counts are asserted
// (never how long something took): each wait is bounded generously so that a broken scheduler fails
// instead of hanging, and a loaded machine only makes the test slower.
#include "daemon/scheduler.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;

class SchedulerTest : public ::testing::Test {
 protected:
  // Runs the loop until `done` holds, for at most 10 s.
  bool RunUntil(const std::function<bool()>& done) {
    auto give_up = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < give_up) {
      io_.restart();
      io_.run_one_for(10ms);
    }
    return done();
  }
  // Runs whatever falls due in `d` (used only to show that nothing does).
  void RunFor(std::chrono::milliseconds d) {
    io_.restart();
    io_.run_for(d);
  }
  std::function<void()> Record(const std::string& name) {
    return [this, name] { ran_.push_back(name); };
  }
  size_t Runs(const std::string& name) const { return std::count(ran_.begin(), ran_.end(), name); }

  boost::asio::io_context io_;
  std::vector<std::string> ran_;
  std::vector<Scheduler::Clock::duration> lags_;
  Scheduler scheduler_{io_, [this](Scheduler::Clock::duration lag) { lags_.push_back(lag); }};
};

TEST_F(SchedulerTest, JobsDueTogetherRunInOneWakeupInTheOrderAdded) {
  scheduler_.Add("a", 20ms, Record("a"));
  scheduler_.Add("b", 20ms, Record("b"));
  // The loop is busy past both deadlines (and past a whole interval): one wakeup runs both, once each.
  std::this_thread::sleep_for(60ms);
  ASSERT_TRUE(RunUntil([&] { return !ran_.empty(); }));
  EXPECT_EQ(scheduler_.wakeups(), 1u);
  EXPECT_EQ(ran_, (std::vector<std::string>{"a", "b"})) << "no catch-up runs after a stall";
  // Both restarted their cadence from the same instant, so they keep sharing wakeups.
  ASSERT_TRUE(RunUntil([&] { return Runs("b") >= 4; }));
  EXPECT_EQ(Runs("a"), Runs("b"));
  EXPECT_EQ(scheduler_.wakeups(), Runs("a"));
  for (size_t i = 0; i + 1 < ran_.size(); i += 2) EXPECT_EQ(ran_[i], "a") << i;
  EXPECT_EQ(lags_.size(), ran_.size()) << "every run reports its lag";
  for (auto lag : lags_) EXPECT_GE(lag.count(), 0);
}

TEST_F(SchedulerTest, PausedJobsCostNoWakeups) {
  auto idle = scheduler_.Add("idle", 1ms, Record("idle"), /*paused=*/true);
  EXPECT_TRUE(scheduler_.paused(idle));
  RunFor(50ms);
  EXPECT_EQ(scheduler_.wakeups(), 0u);
  EXPECT_TRUE(ran_.empty());

  auto busy = scheduler_.Add("busy", 2ms, Record("busy"));
  ASSERT_TRUE(RunUntil([&] { return Runs("busy") >= 3; }));
  scheduler_.Pause(busy);
  uint64_t wakeups = scheduler_.wakeups();
  size_t runs = ran_.size();
  RunFor(50ms);
  EXPECT_EQ(scheduler_.wakeups(), wakeups) << "every job paused: the timer is not armed";
  EXPECT_EQ(ran_.size(), runs);
  EXPECT_EQ(Runs("idle"), 0u);

  scheduler_.Resume(busy);
  ASSERT_TRUE(RunUntil([&] { return ran_.size() > runs; }));
  EXPECT_EQ(Runs("idle"), 0u);
  for (auto lag : lags_) EXPECT_GE(lag.count(), 0);
}

TEST_F(SchedulerTest, ResumeCanRunAtOnce) {
  auto hourly = scheduler_.Add("hourly", std::chrono::milliseconds(1h), Record("hourly"), /*paused=*/true);
  scheduler_.Resume(hourly);
  RunFor(30ms);
  EXPECT_TRUE(ran_.empty()) << "resumed: next run one interval from now";
  scheduler_.Pause(hourly);
  scheduler_.Resume(hourly, /*run_now=*/true);
  EXPECT_TRUE(ran_.empty()) << "not inside the call";
  ASSERT_TRUE(RunUntil([&] { return Runs("hourly") == 1; }));
  RunFor(30ms);
  EXPECT_EQ(Runs("hourly"), 1u);
}

TEST_F(SchedulerTest, RunSoonRunsOnTheNextTurnThenKeepsTheCadence) {
  auto hourly = scheduler_.Add("hourly", std::chrono::milliseconds(1h), Record("hourly"));
  auto other = scheduler_.Add("other", std::chrono::milliseconds(1h), Record("other"));
  scheduler_.RunSoon(hourly);
  EXPECT_TRUE(ran_.empty()) << "not inside the call";
  ASSERT_TRUE(RunUntil([&] { return Runs("hourly") == 1; }));
  EXPECT_EQ(scheduler_.wakeups(), 1u);
  RunFor(30ms);
  EXPECT_EQ(Runs("hourly"), 1u) << "then an hour again";
  EXPECT_EQ(Runs("other"), 0u) << "only that job";
  // Twice before the loop turns: still one run.
  scheduler_.RunSoon(other);
  scheduler_.RunSoon(other);
  ASSERT_TRUE(RunUntil([&] { return Runs("other") == 1; }));
  RunFor(30ms);
  EXPECT_EQ(Runs("other"), 1u);
}

TEST_F(SchedulerTest, SetIntervalTakesEffectFromNow) {
  auto job = scheduler_.Add("job", std::chrono::milliseconds(1h), Record("job"));
  RunFor(20ms);
  EXPECT_TRUE(ran_.empty());
  scheduler_.SetInterval(job, 2ms);
  ASSERT_TRUE(RunUntil([&] { return Runs("job") >= 3; }));
  scheduler_.SetInterval(job, std::chrono::milliseconds(1h));
  size_t runs = Runs("job");
  RunFor(30ms);
  EXPECT_EQ(Runs("job"), runs);
  scheduler_.SetInterval(job, std::chrono::milliseconds(1h));  // unchanged: nothing moves
  RunFor(10ms);
  EXPECT_EQ(Runs("job"), runs);
}

TEST_F(SchedulerTest, NothingRunsAfterStop) {
  scheduler_.Add("fast", 1ms, Record("fast"));
  ASSERT_TRUE(RunUntil([&] { return Runs("fast") >= 1; }));
  scheduler_.Stop();
  size_t runs = ran_.size();
  uint64_t wakeups = scheduler_.wakeups();
  RunFor(30ms);
  EXPECT_EQ(ran_.size(), runs);
  EXPECT_EQ(scheduler_.wakeups(), wakeups);
  scheduler_.Add("late", 1ms, Record("late"));
  RunFor(30ms);
  EXPECT_EQ(Runs("late"), 0u);
}

TEST_F(SchedulerTest, AJobMayAddAndChangeJobsWhileItRuns) {
  // The parent's callable is small (two pointers), so std::function keeps it inline in the job: adding
  // jobs from inside it must not move the callable that is running.
  Scheduler* scheduler = &scheduler_;
  std::vector<std::string>* ran = &ran_;
  scheduler_.Add("parent", 2ms, [scheduler, ran] {
    if (std::count(ran->begin(), ran->end(), "parent") == 0) {
      for (int i = 0; i < 16; ++i) {
        scheduler->Add("child", 2ms, [ran] { ran->push_back("child"); });
      }
    }
    ran->push_back("parent");  // reads the captures after the Adds
  });
  ASSERT_TRUE(RunUntil([&] { return Runs("child") >= 32; }));
  EXPECT_GE(Runs("parent"), 2u);
}

}  // namespace
}  // namespace uvm::daemon
