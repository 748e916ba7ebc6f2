// The journal logger: priority prefixes, the once-a-minute rate limit per cause, and forgetting the causes of
// a sandbox that went (so that pod churn does not grow the table).
#include "daemon/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;

class LoggerTest : public ::testing::Test {
 protected:
  LoggerTest()
      : log_(
            Priority::kInfo, [this](std::string_view l) { lines_.emplace_back(l); },
            [this] { return now_; }) {}
  std::vector<std::string> lines_;
  Logger::Clock::time_point now_{std::chrono::hours(1000)};
  Logger log_;
};

TEST_F(LoggerTest, LinesCarryTheirPriorityAndDebugIsFilteredAtInfo) {
  log_.Log(Priority::kWarning, "w");
  log_.Log(Priority::kDebug, "d");
  log_.Log(Priority::kError, "e");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_EQ(lines_[0].rfind("<4>", 0), 0u) << lines_[0];
  EXPECT_EQ(lines_[1].rfind("<3>", 0), 0u) << lines_[1];
  EXPECT_EQ(PriorityFromName("debug"), Priority::kDebug);
  EXPECT_EQ(PriorityFromName("nonsense"), Priority::kInfo);
}

TEST_F(LoggerTest, ACauseIsLoggedOnceAMinuteAndSaysWhatItSuppressed) {
  for (int i = 0; i < 5; ++i) log_.LogCause(Priority::kWarning, "cgroup-read:sb1", "cannot read");
  EXPECT_EQ(lines_.size(), 1u);
  now_ += 61s;
  log_.LogCause(Priority::kWarning, "cgroup-read:sb1", "cannot read");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[1].find("(4 more like this suppressed)"), std::string::npos) << lines_[1];
  EXPECT_EQ(log_.cause_count(), 1u);
}

TEST_F(LoggerTest, ForgetCausesPrunesEveryCauseOfThatSubjectOnly) {
  log_.LogCause(Priority::kWarning, "inspect:sb1", "a");
  log_.LogCause(Priority::kWarning, "cgroup-read:sb1", "b");
  log_.LogCause(Priority::kWarning, "cgroup-write:memory limit:sb1", "c");
  log_.LogCause(Priority::kWarning, "cgroup-read:sb10", "d");  // another sandbox whose id extends sb1's
  log_.LogCause(Priority::kWarning, "cgroup-read:xsb1", "e");  // and one whose id ends like it
  log_.LogCause(Priority::kWarning, "cri-down", "f");
  log_.LogCause(Priority::kWarning, "sb1", "g");  // no kind: not keyed by the subject
  ASSERT_EQ(log_.cause_count(), 7u);
  log_.ForgetCauses("sb1");
  EXPECT_EQ(log_.cause_count(), 4u);
  // The forgotten causes log again at once; the kept ones are still rate-limited.
  size_t n = lines_.size();
  log_.LogCause(Priority::kWarning, "cgroup-read:sb1", "b");
  log_.LogCause(Priority::kWarning, "cgroup-read:sb10", "d");
  log_.LogCause(Priority::kWarning, "cri-down", "f");
  EXPECT_EQ(lines_.size(), n + 1);
  log_.ForgetCauses("unknown");
  log_.ForgetCauses("");
  EXPECT_EQ(log_.cause_count(), 5u);
}

}  // namespace
}  // namespace uvm::daemon
