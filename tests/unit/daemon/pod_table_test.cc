// The pod table's one rule for which sandbox of a pod (uid) is exported, and its uid index under churn.
#include "daemon/pod_table.h"

#include <gtest/gtest.h>

namespace uvm::daemon {
namespace {

SandboxSummary Sandbox(const std::string& id, const std::string& uid, int64_t created_at_ns) {
  return {.id = id,
          .name = "web",
          .namespace_ = "default",
          .uid = uid,
          .runtime_handler = "kata-cc",
          .ready = true,
          .created_at_ns = created_at_ns};
}

TEST(PodTable, OneRecordPerSandbox) {
  PodTable t;
  bool inserted = false;
  PodState& a = t.Upsert(Sandbox("sb1", "u1", 1), &inserted);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(a.summary().id, "sb1");
  EXPECT_EQ(a.phase, PodPhase::kDiscovered);
  a.notes.push_back("kept");
  PodState& again = t.Upsert(Sandbox("sb1", "u1", 1), &inserted);
  EXPECT_FALSE(inserted);
  EXPECT_EQ(&again, &a);
  EXPECT_EQ(again.notes, std::vector<std::string>{"kept"});
  t.Upsert(Sandbox("sb2", "u1", 2));
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Find("sb1"), &a);
  EXPECT_EQ(t.Find("nope"), nullptr);
  const PodTable& ct = t;
  EXPECT_EQ(ct.Find("sb1"), &a);
}

TEST(PodTable, TheExportedSandboxOfAUidIsTheNewestThenTheGreaterId) {
  PodTable t;
  EXPECT_EQ(t.Exported("u1"), nullptr);
  t.Upsert(Sandbox("b-old", "u1", 100));
  EXPECT_EQ(t.Exported("u1")->summary().id, "b-old");
  // Newer by created_at wins, whatever its id sorts as.
  t.Upsert(Sandbox("a-new", "u1", 200));
  EXPECT_EQ(t.Exported("u1")->summary().id, "a-new");
  // An older one that shows up late does not take over.
  t.Upsert(Sandbox("z-older", "u1", 50));
  EXPECT_EQ(t.Exported("u1")->summary().id, "a-new");
  // A tie on created_at: the greater id.
  t.Upsert(Sandbox("c-tie", "u1", 200));
  EXPECT_EQ(t.Exported("u1")->summary().id, "c-tie");
  t.Upsert(Sandbox("0-tie", "u1", 200));
  EXPECT_EQ(t.Exported("u1")->summary().id, "c-tie");
  EXPECT_TRUE(t.IsExported(*t.Find("c-tie")));
  EXPECT_FALSE(t.IsExported(*t.Find("a-new")));
  // Other uids are their own.
  t.Upsert(Sandbox("x", "u2", 1));
  EXPECT_EQ(t.Exported("u2")->summary().id, "x");
  EXPECT_TRUE(t.IsExported(*t.Find("x")));
  PodState* mutable_exported = t.Exported("u1");
  ASSERT_NE(mutable_exported, nullptr);
  EXPECT_EQ(mutable_exported, t.Find("c-tie"));
}

TEST(PodTable, EraseKeepsTheUidIndexRight) {
  PodTable t;
  t.Upsert(Sandbox("old", "u1", 1));
  t.Upsert(Sandbox("new", "u1", 2));
  t.Upsert(Sandbox("other", "u2", 1));
  EXPECT_EQ(t.Erase("new"), "u1");
  EXPECT_EQ(t.Exported("u1")->summary().id, "old") << "the remaining sandbox is the pod's again";
  EXPECT_EQ(t.Erase("new"), "") << "unknown: nothing";
  EXPECT_EQ(t.Erase("never"), "");
  EXPECT_EQ(t.Erase("old"), "u1");
  EXPECT_EQ(t.Exported("u1"), nullptr);
  EXPECT_EQ(t.Exported("u2")->summary().id, "other");
  EXPECT_EQ(t.size(), 1u);
  // A uid whose sandboxes all went and that comes back starts clean.
  t.Upsert(Sandbox("back", "u1", 3));
  EXPECT_EQ(t.Exported("u1")->summary().id, "back");
  EXPECT_EQ(t.Erase("other"), "u2");
  EXPECT_EQ(t.Exported("u2"), nullptr);
  EXPECT_EQ(t.size(), 1u);
}

TEST(PodTable, ChurnLeavesNothingBehind) {
  PodTable t;
  for (int wave = 0; wave < 10; ++wave) {
    for (int i = 0; i < 100; ++i) {
      std::string uid = "u" + std::to_string(i);
      t.Upsert(Sandbox(uid + "-" + std::to_string(wave), uid, wave));
    }
    for (int i = 0; i < 100; ++i) {
      std::string uid = "u" + std::to_string(i);
      ASSERT_EQ(t.Exported(uid)->summary().id, uid + "-" + std::to_string(wave));
      if (wave > 0) {
        EXPECT_EQ(t.Erase(uid + "-" + std::to_string(wave - 1)), uid);
      }
    }
    EXPECT_EQ(t.size(), 100u);
  }
  for (int i = 0; i < 100; ++i) t.Erase("u" + std::to_string(i) + "-9");
  EXPECT_EQ(t.size(), 0u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(t.Exported("u" + std::to_string(i)), nullptr);
}

TEST(PodState, WatchedMeansVmIsolatedInspectedAndACgroup) {
  PodState pod;
  EXPECT_FALSE(pod.watched());
  pod.profile = "aks-kata-cc-2048";
  EXPECT_TRUE(pod.vm_isolated());
  EXPECT_FALSE(pod.watched()) << "not inspected yet";
  pod.inspected = true;
  EXPECT_FALSE(pod.watched()) << "no cgroup parent";
  pod.detail.cgroup_parent = "/kubepods/podu1";
  EXPECT_TRUE(pod.watched());
  pod.profile.reset();
  EXPECT_FALSE(pod.watched());
  EXPECT_STREQ(PhaseName(PodPhase::kApplied), "applied");
  EXPECT_STREQ(PhaseName(PodPhase::kGone), "gone");
}

}  // namespace
}  // namespace uvm::daemon
