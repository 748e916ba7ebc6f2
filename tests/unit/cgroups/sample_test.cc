#include "cgroups/sample.h"

#include <poll.h>

#include <gtest/gtest.h>

#include "cgroups/psi.h"
#include "cgroups/systemd.h"

namespace uvm::cgroups {
namespace {

TEST(RaiseDecisions, MemoryCovers) {
  EXPECT_TRUE(MemoryLimitCovers(std::nullopt, 1)) << "unlimited covers everything";
  EXPECT_TRUE(MemoryLimitCovers(100, 100));
  EXPECT_FALSE(MemoryLimitCovers(99, 100));
}

TEST(RaiseDecisions, CpuCoversComparesRatesNotNumbers) {
  EXPECT_TRUE(CpuQuotaCovers(std::nullopt, 100000, {1, 1}));
  EXPECT_TRUE(CpuQuotaCovers(175000, 100000, {350000, 200000}));
  EXPECT_FALSE(CpuQuotaCovers(175000, 100000, {350001, 200000}));
  EXPECT_TRUE(CpuQuotaCovers(UINT64_MAX, 1000, {UINT64_MAX, 1000})) << "no overflow";
}

TEST(RaiseDecisions, Rounding) {
  EXPECT_EQ(RoundUpToPage(1, 4096), 4096u);
  EXPECT_EQ(RoundUpToPage(8192, 4096), 8192u);
  EXPECT_EQ(RoundUpToPage(UINT64_MAX, 4096), UINT64_MAX - 4095) << "no wrap at the top";
  EXPECT_EQ(QuotaPerPeriod(175000, 100000, 1000000), 1750000u);
  EXPECT_EQ(QuotaPerPeriod(1, 3, 1), 1u) << "rounded up";
  EXPECT_EQ(CpuQuotaPerSecUSec({175000, 100000}), 1750000u);
}

TEST(PsiTriggerSpec, FormatAndValidate) {
  EXPECT_EQ(FormatPsiTrigger({}), "some 150000 2000000");
  PsiTriggerSpec full{PsiStall::kFull, std::chrono::milliseconds(100), std::chrono::seconds(4)};
  EXPECT_EQ(FormatPsiTrigger(full), "full 100000 4000000");
  EXPECT_TRUE(ValidatePsiTriggerSpec(full));
  EXPECT_FALSE(ValidatePsiTriggerSpec({PsiStall::kSome, std::chrono::seconds(3), std::chrono::seconds(2)}));
  EXPECT_FALSE(
      ValidatePsiTriggerSpec({PsiStall::kSome, std::chrono::milliseconds(1), std::chrono::seconds(11)}));
  EXPECT_FALSE(
      ValidatePsiTriggerSpec({PsiStall::kSome, std::chrono::microseconds(0), std::chrono::seconds(2)}));
}

TEST(PsiTrigger, ClassifyGoneWinsOverFired) {
  EXPECT_EQ(PsiTrigger::Classify(POLLPRI), PsiEvent::kFired);
  EXPECT_EQ(PsiTrigger::Classify(POLLPRI | POLLERR), PsiEvent::kCgroupGone);
  EXPECT_EQ(PsiTrigger::Classify(0), PsiEvent::kNone);
}

TEST(WriteReport, SummaryNamesBeforeAfterAndWhy) {
  WriteReport r;
  r.changes.push_back({"/a/memory.max", "1", "2", true, "raised"});
  r.changes.push_back({"/a/memory.high", "max", "max", false, "unlimited"});
  EXPECT_TRUE(r.written());
  EXPECT_EQ(r.Summary(), "/a/memory.max 1 -> 2 (raised); /a/memory.high max unchanged (unlimited)");
}

}  // namespace
}  // namespace uvm::cgroups
