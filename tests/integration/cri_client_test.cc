// The CRI client and the change feed against a real private containerd 1.6 + runc (see
// tests/integration/harness/containerd_fixture.h): what the daemon relies on to discover and size pods.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "kubelet-plugin/change_feed.h"
#include "kubelet-plugin/cri_client.h"
#include "tests/integration/harness/containerd_fixture.h"

namespace uvm::testing {
namespace {

using namespace std::chrono_literals;
using cri::LinuxResources;
using ::testing::HasSubstr;

constexpr int64_t kMib = 1024 * 1024;
const LinuxResources kResources{
    .cpu_period = 100000, .cpu_quota = 150000, .cpu_shares = 1536, .memory_limit_in_bytes = 512 * kMib};
const LinuxResources kOverhead{
    .cpu_period = 100000, .cpu_quota = 25000, .cpu_shares = 256, .memory_limit_in_bytes = 160 * kMib};

// Collects change-feed output for assertions from the test thread.
class FeedRecorder {
 public:
  void OnChange(const cri::ChangeEvent& event) {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    cv_.notify_all();
  }
  void OnMode(cri::FeedMode mode, const std::string& detail) {
    std::lock_guard lock(mutex_);
    modes_.push_back(mode);
    details_.push_back(detail);
    cv_.notify_all();
  }
  // Waits until `pred(events, modes)` holds or `limit` passes; true when it holds.
  template <class Pred>
  bool WaitFor(std::chrono::milliseconds limit, Pred pred) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, limit, [&] { return pred(events_, modes_); });
  }
  bool WaitForMode(cri::FeedMode mode, std::chrono::milliseconds limit) {
    return WaitFor(limit,
                   [&](const auto&, const auto& modes) { return !modes.empty() && modes.back() == mode; });
  }
  bool WaitForId(const std::string& id, std::chrono::milliseconds limit) {
    return WaitFor(limit, [&](const auto& events, const auto&) {
      return std::any_of(events.begin(), events.end(), [&](const cri::ChangeEvent& e) { return e.id == id; });
    });
  }
  std::vector<std::string> Details() {
    std::lock_guard lock(mutex_);
    return details_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<cri::ChangeEvent> events_;
  std::vector<cri::FeedMode> modes_;
  std::vector<std::string> details_;
};

std::unique_ptr<cri::CriClient> NewClient(const std::string& endpoint) {
  auto client = cri::CriClient::Create({.endpoint = endpoint, .call_timeout = 2000ms});
  EXPECT_TRUE(client.ok()) << client.error().message;
  return client.ok() ? std::move(*client) : nullptr;
}

class CriClientTest : public ContainerdTest {};

TEST_F(CriClientTest, VersionReportsContainerdOnCriV1) {
  auto version = containerd().cri().Version();
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version->runtime_name, "containerd");
  EXPECT_EQ(version->runtime_api_version, "v1");
  EXPECT_FALSE(version->runtime_version.empty());
}

TEST_F(CriClientTest, KataCcPodIsListedWithItsHandlerAndDetailFromVerboseInfo) {
  auto pod = containerd().CreatePod(
      {.name = "kata-cc",
       .handler = "kata-cc",
       .resources = kResources,
       .overhead = kOverhead,
       .annotations = {{"io.katacontainers.config.hypervisor.default_memory", "768"}}});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  auto client = NewClient(containerd().endpoint());
  ASSERT_NE(client, nullptr);

  auto list = client->ListPodSandbox();
  ASSERT_TRUE(list.ok()) << list.error().message;
  auto it = std::find_if(list->begin(), list->end(), [&](const auto& s) { return s.id == pod->sandbox_id; });
  ASSERT_NE(it, list->end());
  EXPECT_EQ(it->runtime_handler, "kata-cc");
  EXPECT_TRUE(it->ready());
  EXPECT_EQ(it->uid, pod->uid);
  EXPECT_EQ(it->namespace_, "default");
  EXPECT_EQ(it->name, pod->spec.name);
  EXPECT_GT(it->created_at_ns, 0);
  EXPECT_EQ(it->annotations.at("io.katacontainers.config.hypervisor.default_memory"), "768");

  auto detail = client->PodSandboxStatus(pod->sandbox_id);
  ASSERT_TRUE(detail.ok()) << detail.error().message;
  EXPECT_EQ(detail->summary.runtime_handler, "kata-cc");
  EXPECT_EQ(detail->cgroup_parent, pod->cgroup_parent);
  ASSERT_TRUE(detail->resources.has_value());
  EXPECT_EQ(*detail->resources, kResources);
  ASSERT_TRUE(detail->overhead.has_value());
  EXPECT_EQ(*detail->overhead, kOverhead);
  EXPECT_EQ(detail->resources_source, "info.config.linux.resources");
  EXPECT_EQ(detail->overhead_source, "info.config.linux.overhead");
  EXPECT_EQ(detail->process_status, "running");
  EXPECT_EQ(detail->runtime_type, "io.containerd.runc.v2");
  ASSERT_TRUE(detail->pid.has_value());
  EXPECT_GT(*detail->pid, 0);
  EXPECT_TRUE(detail->warnings.empty()) << detail->warnings.front();

  // Only ready sandboxes when asked; a stopped one drops out of that list but stays in the full one.
  ASSERT_TRUE(client->StopPodSandbox(pod->sandbox_id).ok());
  auto ready = client->ListPodSandbox(/*ready_only=*/true);
  ASSERT_TRUE(ready.ok()) << ready.error().message;
  EXPECT_TRUE(
      std::none_of(ready->begin(), ready->end(), [&](const auto& s) { return s.id == pod->sandbox_id; }));
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
  auto gone = client->PodSandboxStatus(pod->sandbox_id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ErrorCode::kNotFound) << gone.error().message;
}

TEST_F(CriClientTest, PodWithoutResourcesHasNone) {
  auto pod = containerd().CreatePod({.name = "plain", .handler = "runc"});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  auto detail = containerd().cri().PodSandboxStatus(pod->sandbox_id);
  ASSERT_TRUE(detail.ok()) << detail.error().message;
  EXPECT_EQ(detail->summary.runtime_handler, "runc");
  EXPECT_FALSE(detail->resources.has_value());
  EXPECT_FALSE(detail->overhead.has_value());
  EXPECT_EQ(detail->cgroup_parent, pod->cgroup_parent);
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

TEST_F(CriClientTest, ChangeFeedFallsBackToContainerdEventsAndReportsANewSandbox) {
  FeedRecorder recorder;
  auto feed = cri::ChangeFeed::Start(
      {.endpoint = containerd().endpoint()}, [&](const cri::ChangeEvent& e) { recorder.OnChange(e); },
      [&](cri::FeedMode m, const std::string& d) { recorder.OnMode(m, d); });
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  ASSERT_TRUE(recorder.WaitForMode(cri::FeedMode::kContainerdEvents, 10s));
  // containerd 1.6 does not implement CRI events; the feed said why it fell back.
  auto details = recorder.Details();
  EXPECT_TRUE(std::any_of(details.begin(), details.end(),
                          [](const std::string& d) { return d.find("UNIMPLEMENTED") != std::string::npos; }));

  auto pod = containerd().CreatePod({.name = "feed", .handler = "kata", .resources = kResources});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  // The daemon sizes a pod within 3 s of RunPodSandbox; the feed's part must be well under that.
  EXPECT_TRUE(recorder.WaitForId(pod->sandbox_id, 1s)) << "no event for sandbox " << pod->sandbox_id;

  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
  const auto before_stop = std::chrono::steady_clock::now();
  (*feed)->Stop();
  // SIGTERM must stop the daemon within 2 s, the feed's stream included.
  EXPECT_LT(std::chrono::steady_clock::now() - before_stop, 2s);
  EXPECT_EQ((*feed)->mode(), cri::FeedMode::kPoll);
}

TEST_F(CriClientTest, CallsFailFastWhileContainerdIsDownAndTheSameClientWorksAfterARestart) {
  auto pod = containerd().CreatePod(
      {.name = "survivor", .handler = "kata-cc", .resources = kResources, .overhead = kOverhead});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  auto client = NewClient(containerd().endpoint());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Version().ok());
  FeedRecorder recorder;
  auto feed = cri::ChangeFeed::Start(
      {.endpoint = containerd().endpoint()}, [&](const cri::ChangeEvent& e) { recorder.OnChange(e); },
      [&](cri::FeedMode m, const std::string& d) { recorder.OnMode(m, d); });
  ASSERT_TRUE(feed.ok()) << feed.error().message;
  ASSERT_TRUE(recorder.WaitForMode(cri::FeedMode::kContainerdEvents, 10s));

  ASSERT_TRUE(containerd().StopContainerd().ok());
  const auto start = std::chrono::steady_clock::now();
  auto down = client->ListPodSandbox();
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(down.ok());
  EXPECT_TRUE(cri::IsRuntimeDown(down.error())) << down.error().message;
  EXPECT_THAT(down.error().message, HasSubstr(containerd().endpoint()));
  // The call deadline (2 s) bounds a call to a dead runtime; not waiting for a connection makes it fail
  // at once.
  EXPECT_LT(took, 2500ms);
  EXPECT_TRUE(recorder.WaitForMode(cri::FeedMode::kPoll, 5s));

  ASSERT_TRUE(containerd().StartContainerd().ok());
  // The channel reconnects on its own (backoff capped at 1 s): no new client.
  Result<std::vector<cri::SandboxSummary>> up = Error{"not tried"};
  for (int i = 0; i < 100 && !up.ok(); ++i) {
    up = client->ListPodSandbox();
    if (!up.ok()) std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(up.ok()) << up.error().message;
  EXPECT_TRUE(std::any_of(up->begin(), up->end(), [&](const auto& s) { return s.id == pod->sandbox_id; }));
  // The feed re-subscribes by itself and asks for a resync.
  EXPECT_TRUE(recorder.WaitForMode(cri::FeedMode::kContainerdEvents, 10s));
  EXPECT_TRUE(recorder.WaitFor(10s, [](const auto& events, const auto&) {
    return std::count_if(events.begin(), events.end(), [](const cri::ChangeEvent& e) {
             return e.kind == cri::ChangeEvent::Kind::kResync;
           }) >= 2;
  }));
  (*feed)->Stop();
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
}

TEST_F(CriClientTest, ContainerStatsAreFilteredBySandbox) {
  auto pod = containerd().CreatePod(
      {.name = "stats", .handler = "kata-cc", .resources = kResources, .overhead = kOverhead});
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  const LinuxResources limit{
      .cpu_period = 100000, .cpu_quota = 100000, .cpu_shares = 1024, .memory_limit_in_bytes = 256 * kMib};
  auto hog = containerd().StartContainer(*pod, "hog", {"--hog", "64"}, limit);
  ASSERT_TRUE(hog.ok()) << hog.error().message;
  auto other = containerd().CreatePod({.name = "other", .handler = "runc"});
  ASSERT_TRUE(other.ok()) << other.error().message;
  auto idle = containerd().StartContainer(*other, "idle");
  ASSERT_TRUE(idle.ok()) << idle.error().message;

  auto& client = containerd().cri();
  auto containers = client.ListContainers(pod->sandbox_id);
  ASSERT_TRUE(containers.ok()) << containers.error().message;
  ASSERT_EQ(containers->size(), 1u);
  EXPECT_EQ(containers->front().id, *hog);
  EXPECT_EQ(containers->front().sandbox_id, pod->sandbox_id);
  EXPECT_EQ(containers->front().name, "hog");
  EXPECT_EQ(containers->front().state, cri::ContainerState::kRunning);

  auto status = client.ContainerStatus(*hog);
  ASSERT_TRUE(status.ok()) << status.error().message;
  ASSERT_TRUE(status->resources.has_value());
  EXPECT_EQ(status->resources->memory_limit_in_bytes, 256 * kMib);
  EXPECT_EQ(status->resources->cpu_quota, 100000);

  // The hog touches its 64 MiB right after start; give it a moment to finish.
  Result<std::vector<cri::ContainerStatsSample>> stats = Error{"not tried"};
  for (int i = 0; i < 50; ++i) {
    stats = client.ListContainerStats(pod->sandbox_id);
    ASSERT_TRUE(stats.ok()) << stats.error().message;
    if (stats->size() == 1 && stats->front().working_set_bytes.value_or(0) >= 64 * kMib) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(stats->size(), 1u);
  const cri::ContainerStatsSample& s = stats->front();
  EXPECT_EQ(s.id, *hog);
  EXPECT_EQ(s.name, "hog");
  ASSERT_TRUE(s.working_set_bytes.has_value());
  EXPECT_GE(*s.working_set_bytes, static_cast<uint64_t>(64 * kMib));
  EXPECT_LT(*s.working_set_bytes, static_cast<uint64_t>(256 * kMib));
  ASSERT_TRUE(s.usage_bytes.has_value());
  EXPECT_GE(*s.usage_bytes, *s.working_set_bytes);
  // containerd fills the writable layer from its snapshot usage (refreshed every 10 s: 0 at first).
  EXPECT_TRUE(s.writable_layer_used_bytes.has_value());
  EXPECT_FALSE(s.writable_layer_mountpoint.empty());

  auto all = client.ListContainerStats();
  ASSERT_TRUE(all.ok()) << all.error().message;
  EXPECT_TRUE(std::any_of(all->begin(), all->end(), [&](const auto& c) { return c.id == *idle; }));

  // Pod-level stats come from the pod cgroup: the hog is in it.
  auto pod_stats = client.ListPodSandboxStats(pod->sandbox_id);
  ASSERT_TRUE(pod_stats.ok()) << pod_stats.error().message;
  ASSERT_EQ(pod_stats->size(), 1u);
  EXPECT_EQ(pod_stats->front().sandbox_id, pod->sandbox_id);
  EXPECT_GE(pod_stats->front().working_set_bytes.value_or(0), static_cast<uint64_t>(64 * kMib));
  EXPECT_GE(pod_stats->front().process_count.value_or(0), 1u);

  ASSERT_TRUE(client.StopContainer(*hog, 5s).ok());
  ASSERT_TRUE(client.RemoveContainer(*hog).ok());
  ASSERT_TRUE(containerd().RemovePod(*pod).ok());
  ASSERT_TRUE(containerd().RemovePod(*other).ok());
}

}  // namespace
}  // namespace uvm::testing
