// The kubelet's reservations from its configuration file and from the flags AKS writes.
#include "sizer/formats/kubelet_config.h"

#include <gtest/gtest.h>

#include <string>

namespace uvm::sizer::formats {
namespace {

constexpr int64_t kMi = 1 << 20;

TEST(KubeletConfiguration, ReadsReservationsAndHardEviction) {
  auto parsed = ParseKubeletConfiguration(R"(apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
kubeReserved:
  cpu: 100m
  memory: 1638Mi
  pid: "1000"
systemReserved: {memory: 500Mi, cpu: "0.5"}
evictionHard:
  memory.available: 750Mi
  nodefs.available: 10%
cgroupDriver: systemd
)");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (KubeletReservations{.kube_reserved_memory_bytes = 1638 * kMi,
                                          .system_reserved_memory_bytes = 500 * kMi,
                                          .kube_reserved_cpu_millis = 100,
                                          .system_reserved_cpu_millis = 500,
                                          .eviction_hard_memory_bytes = 750 * kMi}));
}

TEST(KubeletConfiguration, JsonAndPercentages) {
  auto parsed = ParseKubeletConfiguration(
      R"({"kind":"KubeletConfiguration","evictionHard":{"memory.available":"5%"}})");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_FALSE(parsed->eviction_hard_memory_bytes.has_value());
  EXPECT_EQ(parsed->eviction_hard_memory_percent, 5.0);
}

TEST(KubeletConfiguration, EvictionHardWithoutMemoryMeansNoMemoryThreshold) {
  // Setting evictionHard replaces the defaults: memory.available left out is 0, not 100Mi.
  auto parsed = ParseKubeletConfiguration("evictionHard:\n  nodefs.available: 10%\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->eviction_hard_memory_bytes, 0);
  // Not set at all: nothing recorded, so the kubelet's default applies downstream.
  auto empty = ParseKubeletConfiguration("kind: KubeletConfiguration\n");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->eviction_hard_memory_bytes.has_value());
  EXPECT_FALSE(empty->eviction_hard_memory_percent.has_value());
}

TEST(KubeletConfiguration, BadValuesNameTheField) {
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"kubeReserved:\n  memory: 1.5.5Gi\n", "kubeReserved.memory: invalid quantity \"1.5.5Gi\""},
           Case{"systemReserved:\n  cpu: -1\n", "systemReserved.cpu: \"-1\" is negative"},
           Case{"evictionHard:\n  memory.available: 150%\n",
                "evictionHard.memory.available: \"150%\" is not a percentage"},
           Case{"kubeReserved: [1, 2]\n", "kubeReserved: expected a map of strings"},
           Case{"- just\n- a list\n", "expected a map at the top level"},
           Case{"kubeReserved: {memory: 1Gi\n", "KubeletConfiguration: "},
       }) {
    auto parsed = ParseKubeletConfiguration(c.text);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(parsed.error().message.find(c.expected), std::string::npos) << parsed.error().message;
  }
}

TEST(KubeletConfiguration, DeepNestingIsRefusedNotACrash) {
  std::string deep(100000, '[');
  auto parsed = ParseKubeletConfiguration(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("nested deeper than 64 levels"), std::string::npos)
      << parsed.error().message;
}

// Found by fuzz_kubelet_config: after these inputs' first document yaml-cpp 0.7 reports an endless run of
// empty ones; the reader must answer (with the first document's verdict) rather than loop.
TEST(KubeletConfiguration, InputThatNeverEndsItsDocumentsIsAnswered) {
  using namespace std::string_literals;
  for (const std::string& hostile : {
           "\n,"s,
           ",apiVersion: kubelet.config.k\007\024\001uration\nkubeReserve: 100m\n"
           "  menfig.k\007\024\001\000\340`\000\000betble: 10%\n"s,
       }) {
    auto parsed = ParseKubeletConfiguration(hostile);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidInput);
      EXPECT_NE(parsed.error().message.find("KubeletConfiguration"), std::string::npos)
          << parsed.error().message;
    } else {
      EXPECT_EQ(parsed->kube_reserved_memory_bytes, 0);
    }
  }
}

TEST(KubeletFlags, ReadsAksDefaultKubeletFile) {
  // /etc/default/kubelet as AKS writes it (one KUBELET_FLAGS line among others).
  auto parsed = ParseKubeletFlags(
      "KUBELET_OPTS=\n"
      "KUBELET_FLAGS=--address=0.0.0.0 --anonymous-auth=false --eviction-hard=memory.available<750Mi,"
      "nodefs.available<10%,nodefs.inodesFree<5% --kube-reserved=cpu=100m,memory=1638Mi,pid=1000 "
      "--max-pods=110\n"
      "KUBELET_NODE_LABELS=agentpool=nodepool1\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (KubeletReservations{.kube_reserved_memory_bytes = 1638 * kMi,
                                          .kube_reserved_cpu_millis = 100,
                                          .eviction_hard_memory_bytes = 750 * kMi}));
}

TEST(KubeletFlags, SeparateValueQuotesAndLastOneWins) {
  auto parsed = ParseKubeletFlags(
      "kubelet --system-reserved \"memory=1Gi\" --kube-reserved=memory=1Gi --kube-reserved=memory=2Gi "
      "--eviction-hard='memory.available<5%'");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->system_reserved_memory_bytes, 1024 * kMi);
  EXPECT_EQ(parsed->kube_reserved_memory_bytes, 2048 * kMi);
  EXPECT_EQ(parsed->eviction_hard_memory_percent, 5.0);
}

TEST(KubeletFlags, AFlagReplacesTheWholeFieldOfTheFileAndLeavesTheRest) {
  KubeletReservations file{.kube_reserved_memory_bytes = 1024 * kMi,
                           .system_reserved_memory_bytes = 512 * kMi,
                           .kube_reserved_cpu_millis = 100,
                           .eviction_hard_memory_percent = 5.0};
  auto parsed = ParseKubeletFlags("--kube-reserved=memory=2Gi --eviction-hard=memory.available<750Mi", file);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(*parsed, (KubeletReservations{.kube_reserved_memory_bytes = 2048 * kMi,
                                          .system_reserved_memory_bytes = 512 * kMi,
                                          .kube_reserved_cpu_millis = 0,
                                          .eviction_hard_memory_bytes = 750 * kMi}));
  auto none = ParseKubeletFlags("--max-pods=110", file);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, file);
}

TEST(KubeletFlags, BadValuesNameTheFlag) {
  auto bad_quantity = ParseKubeletFlags("--kube-reserved=memory=lots");
  ASSERT_FALSE(bad_quantity.ok());
  EXPECT_NE(bad_quantity.error().message.find("--kube-reserved.memory: invalid quantity \"lots\""),
            std::string::npos)
      << bad_quantity.error().message;
  auto bad_pair = ParseKubeletFlags("--eviction-hard=memory.available=750Mi");
  ASSERT_FALSE(bad_pair.ok());
  EXPECT_NE(bad_pair.error().message.find("--eviction-hard: \"memory.available=750Mi\" has no '<'"),
            std::string::npos)
      << bad_pair.error().message;
}

}  // namespace
}  // namespace uvm::sizer::formats
