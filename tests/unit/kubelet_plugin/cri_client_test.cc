// CRI client and change feed behaviour that needs no containerd: endpoints, error codes, deadlines and
// cancellation against sockets that misbehave, conversions against the shared fake runtime
// (tests/support/fake_cri.h), and both event sources against in-process fake servers
// (CRI events cannot be had from containerd 1.6, which does not implement them).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include "kubelet-plugin/change_feed.h"
#include "kubelet-plugin/cri_client.h"
#include "proto/containerd/events.pb.h"
#include "proto/containerd/events_service.grpc.pb.h"
#include "proto/cri.grpc.pb.h"
#include "tests/support/fake_cri.h"

namespace uvm::cri {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// A private temp dir for sockets, removed at the end.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/uvmtest-kp.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A unix socket that is listening but never accepts: connects succeed, nothing ever answers.
class SilentSocket {
 public:
  explicit SilentSocket(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(fd_, 16), 0);
  }
  ~SilentSocket() { ::close(fd_); }

 private:
  int fd_ = -1;
};

TEST(EndpointTest, AcceptedSpellings) {
  EXPECT_EQ(*NormalizeEndpoint("unix:///run/containerd/containerd.sock"),
            "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(*NormalizeEndpoint("unix:/run/containerd/containerd.sock"),
            "unix:///run/containerd/containerd.sock");
  EXPECT_EQ(*NormalizeEndpoint("/run/crio/crio.sock"), "unix:///run/crio/crio.sock");
}

TEST(EndpointTest, OthersAreRefusedNamingTheValue) {
  for (const char* bad : {"", "tcp://127.0.0.1:1234", "containerd.sock", "unix://relative.sock", "unix:"}) {
    auto r = NormalizeEndpoint(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.error().message, HasSubstr(fmt::format("\"{}\"", bad)));
  }
  auto tcp = CriClient::Create({.endpoint = "tcp://x:1"});
  ASSERT_FALSE(tcp.ok());
  EXPECT_EQ(tcp.error().code, ErrorCode::kInvalidInput);
  auto no_timeout = CriClient::Create({.endpoint = "/x.sock", .call_timeout = 0ms});
  ASSERT_FALSE(no_timeout.ok());
  EXPECT_EQ(no_timeout.error().code, ErrorCode::kInvalidInput);
}

TEST(CriClientErrorsTest, NoRuntimeIsUnavailableAndNamesTheEndpoint) {
  TempDir dir;
  auto client = CriClient::Create({.endpoint = dir / "absent.sock"});
  ASSERT_TRUE(client.ok()) << client.error().message;
  auto version = (*client)->Version();
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().code, ErrorCode::kUnavailable) << version.error().message;
  EXPECT_TRUE(IsRuntimeDown(version.error()));
  EXPECT_THAT(version.error().message,
              HasSubstr("CRI Version on unix://" + (dir / "absent.sock") + " failed: UNAVAILABLE"));
}

TEST(CriClientErrorsTest, ARuntimeThatNeverAnswersHitsTheDeadline) {
  TempDir dir;
  SilentSocket silent(dir / "silent.sock");
  auto client = CriClient::Create({.endpoint = dir / "silent.sock", .call_timeout = 300ms});
  ASSERT_TRUE(client.ok());
  auto list = (*client)->ListPodSandbox();
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().code, ErrorCode::kDeadline) << list.error().message;
  EXPECT_EQ(GrpcCodeName(list.error().grpc_code), "DEADLINE_EXCEEDED");
  EXPECT_TRUE(IsRuntimeDown(list.error()));
}

TEST(CriClientErrorsTest, CancelInFlightEndsAWaitingCallAndLaterCallsStillRun) {
  TempDir dir;
  SilentSocket silent(dir / "silent.sock");
  auto client = CriClient::Create({.endpoint = dir / "silent.sock", .call_timeout = 60s});
  ASSERT_TRUE(client.ok());
  Result<std::vector<SandboxSummary>> result = Error{"not run"};
  std::thread call([&] { result = (*client)->ListPodSandbox(); });
  // Cancel until the call has registered and returned (it may not have started at the first try).
  std::atomic<bool> done = false;
  std::thread canceller([&] {
    while (!done) {
      (*client)->CancelInFlight();
      std::this_thread::sleep_for(20ms);
    }
  });
  call.join();
  done = true;
  canceller.join();
  ASSERT_FALSE(result.ok());
  // A cancelled call is kUnavailable (no answer); the message says it was cancelled.
  EXPECT_EQ(result.error().code, ErrorCode::kUnavailable) << result.error().message;
  EXPECT_THAT(result.error().message, HasSubstr("failed: CANCELLED"));
}

TEST(CriClientErrorsTest, AfterShutdownEveryCallFailsAtOnce) {
  TempDir dir;
  SilentSocket silent(dir / "silent.sock");
  auto client = CriClient::Create({.endpoint = dir / "silent.sock", .call_timeout = 60s});
  ASSERT_TRUE(client.ok());
  (*client)->Shutdown();
  auto list = (*client)->ListPodSandbox();
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().code, ErrorCode::kUnavailable) << list.error().message;
  EXPECT_THAT(list.error().message, HasSubstr("failed: CANCELLED: client shut down"));
}

TEST(CriClientErrorsTest, RuntimeDownIsDecidedByTheCodeNotTheText) {
  // Text that reads like a gRPC failure classifies nothing: only the code does.
  EXPECT_FALSE(IsRuntimeDown(Error{"CRI Version on unix:///x failed: UNAVAILABLE: no"}));
  EXPECT_TRUE(IsRuntimeDown(Error{.message = "anything", .code = ErrorCode::kUnavailable}));
  EXPECT_TRUE(IsRuntimeDown(Error{.message = "anything", .code = ErrorCode::kDeadline}));
  EXPECT_FALSE(IsRuntimeDown(Error{.message = "anything", .code = ErrorCode::kNotFound}));
}

// --- The shared fake runtime, for conversions containerd 1.6 cannot be made to show.

// A runtime without verbose info (as CRI-O's differs): resources only from the sandbox annotations.
testing::FakeSandbox SandboxWithoutVerboseInfo() {
  return {.id = "sb",
          .name = "web",
          .namespace_ = "shop",
          .uid = "u-1",
          .attempt = 2,
          .handler = "kata",
          .created_at_ns = 99,
          .annotations = {{"io.kubernetes.cri.sandbox-memory", "268435456"}},
          .verbose_info = false};
}

std::unique_ptr<testing::FakeCriServer> StartFake(const std::string& path) {
  auto server = testing::FakeCriServer::Start(path);
  EXPECT_TRUE(server.ok()) << server.error().message;
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(CriClientFakeTest, AnApiOtherThanV1IsAFailedPrecondition) {
  TempDir dir;
  auto fake = StartFake(dir / "rt.sock");
  ASSERT_NE(fake, nullptr);
  fake->set_api_version("v1alpha2");
  auto client = CriClient::Create({.endpoint = dir / "rt.sock"});
  ASSERT_TRUE(client.ok());
  auto version = (*client)->Version();
  ASSERT_FALSE(version.ok());
  EXPECT_EQ(version.error().code, ErrorCode::kUnsupported) << version.error().message;
  EXPECT_THAT(version.error().message, HasSubstr("\"v1alpha2\""));
  fake->set_api_version("v1");
  ASSERT_TRUE((*client)->Version().ok());
}

TEST(CriClientFakeTest, StatusWithoutVerboseInfoFallsBackToAnnotations) {
  TempDir dir;
  auto fake = StartFake(dir / "rt.sock");
  ASSERT_NE(fake, nullptr);
  fake->Upsert(SandboxWithoutVerboseInfo());
  auto client = CriClient::Create({.endpoint = dir / "rt.sock"});
  ASSERT_TRUE(client.ok());
  auto detail = (*client)->PodSandboxStatus("sb");
  ASSERT_TRUE(detail.ok()) << detail.error().message;
  EXPECT_EQ(detail->summary.id, "sb");
  EXPECT_EQ(detail->summary.name, "web");
  EXPECT_EQ(detail->summary.namespace_, "shop");
  EXPECT_EQ(detail->summary.uid, "u-1");
  EXPECT_EQ(detail->summary.attempt, 2u);
  EXPECT_TRUE(detail->summary.ready());
  EXPECT_EQ(detail->summary.created_at_ns, 99);
  EXPECT_EQ(detail->summary.runtime_handler, "kata");
  EXPECT_EQ(detail->resources, (LinuxResources{0, 0, 0, 256 * 1024 * 1024}));
  EXPECT_EQ(detail->resources_source, "annotations");
  EXPECT_EQ(detail->overhead, std::nullopt);
  EXPECT_EQ(detail->cgroup_parent, "");
  auto missing = (*client)->PodSandboxStatus("other");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound) << missing.error().message;
  // The runtime's own code stays with the error, for reports that count failures by it.
  EXPECT_EQ(missing.error().grpc_code, 5);
  EXPECT_EQ(GrpcCodeName(missing.error().grpc_code), "NOT_FOUND");
  EXPECT_EQ(GrpcCodeName(99), "UNKNOWN");
  EXPECT_FALSE(IsRuntimeDown(missing.error()));
}

// Stats where the runtime leaves values out: they must stay "unknown", not become 0.
TEST(CriClientFakeTest, StatsTheRuntimeLeftOutStayUnknown) {
  TempDir dir;
  auto fake = StartFake(dir / "rt.sock");
  ASSERT_NE(fake, nullptr);
  fake->set_container_stats({{.id = "c1", .name = "app", .memory_timestamp_ns = 7, .working_set_bytes = 0}});
  auto client = CriClient::Create({.endpoint = dir / "rt.sock"});
  ASSERT_TRUE(client.ok());
  auto stats = (*client)->ListContainerStats("sb");
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(fake->last_stats_filter(), "sb");
  ASSERT_EQ(stats->size(), 1u);
  const ContainerStatsSample& s = stats->front();
  EXPECT_EQ(s.id, "c1");
  EXPECT_EQ(s.name, "app");
  EXPECT_EQ(s.timestamp_ns, 7);
  EXPECT_EQ(s.working_set_bytes, 0u) << "present and zero";
  EXPECT_EQ(s.usage_bytes, std::nullopt);
  EXPECT_EQ(s.cpu_usage_core_nanoseconds, std::nullopt);
  EXPECT_EQ(s.writable_layer_used_bytes, std::nullopt);
}

// --- Fake runtimes for the change feed.

struct FeedLog {
  std::mutex mutex;
  std::condition_variable cv;
  std::vector<ChangeEvent> events;
  std::vector<std::pair<FeedMode, std::string>> modes;

  ChangeFeed::OnChange Changes() {
    return [this](const ChangeEvent& e) {
      std::lock_guard lock(mutex);
      events.push_back(e);
      cv.notify_all();
    };
  }
  ChangeFeed::OnMode Modes() {
    return [this](FeedMode m, const std::string& d) {
      std::lock_guard lock(mutex);
      modes.emplace_back(m, d);
      cv.notify_all();
    };
  }
  template <class Pred>
  bool Wait(Pred pred, std::chrono::milliseconds limit = 10s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, limit, [&] { return pred(); });
  }
  bool HasEvent(ChangeEvent::Kind kind, const std::string& id) {
    return std::any_of(events.begin(), events.end(),
                       [&](const auto& e) { return e.kind == kind && e.id == id; });
  }
};

// A CRI runtime with GetContainerEvents (what containerd 2.x and CRI-O offer): sends one event, then
// holds the stream open until the client goes away.
class FakeCriEvents final : public runtime::v1::RuntimeService::Service {
 public:
  grpc::Status GetContainerEvents(grpc::ServerContext* context, const runtime::v1::GetEventsRequest*,
                                  grpc::ServerWriter<runtime::v1::ContainerEventResponse>* writer) override {
    runtime::v1::ContainerEventResponse event;
    event.set_container_id("ctr-1");
    event.set_container_event_type(runtime::v1::CONTAINER_STARTED_EVENT);
    event.set_created_at(1234);
    event.mutable_pod_sandbox_status()->set_id("sandbox-1");
    writer->Write(event);
    while (!context->IsCancelled()) std::this_thread::sleep_for(10ms);
    return grpc::Status::CANCELLED;
  }
};

// containerd 1.6: no CRI events (the default UNIMPLEMENTED), events on its own service.
class FakeContainerdEvents final : public containerd::services::events::v1::Events::Service {
 public:
  grpc::Status Subscribe(grpc::ServerContext* context,
                         const containerd::services::events::v1::SubscribeRequest* request,
                         grpc::ServerWriter<containerd::services::events::v1::Envelope>* writer) override {
    {
      std::lock_guard lock(mutex);
      filters.assign(request->filters().begin(), request->filters().end());
    }
    containerd::events::TaskStart start;
    start.set_container_id("sandbox-2");
    start.set_pid(42);
    containerd::services::events::v1::Envelope envelope;
    envelope.set_namespace_("k8s.io");
    envelope.set_topic("/tasks/start");
    envelope.mutable_timestamp()->set_seconds(5);
    // containerd's typeurl names the type without a host part.
    envelope.mutable_event()->set_type_url("containerd.events.TaskStart");
    envelope.mutable_event()->set_value(start.SerializeAsString());
    writer->Write(envelope);
    envelope.set_topic("/containers/delete");
    containerd::events::ContainerDelete gone;
    gone.set_id("ctr-9");
    envelope.mutable_event()->set_type_url("containerd.events.ContainerDelete");
    envelope.mutable_event()->set_value(gone.SerializeAsString());
    writer->Write(envelope);
    while (!context->IsCancelled()) std::this_thread::sleep_for(10ms);
    return grpc::Status::CANCELLED;
  }
  std::mutex mutex;
  std::vector<std::string> filters;
};

std::unique_ptr<grpc::Server> Serve(const std::string& path, std::vector<grpc::Service*> services) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + path, grpc::InsecureServerCredentials());
  for (grpc::Service* s : services) builder.RegisterService(s);
  return builder.BuildAndStart();
}

TEST(ChangeFeedTest, UsesCriEventsWhereTheRuntimeHasThem) {
  TempDir dir;
  FakeCriEvents cri;
  FakeContainerdEvents ctrd;
  auto server = Serve(dir / "rt.sock", {&cri, &ctrd});
  ASSERT_NE(server, nullptr);
  FeedLog log;
  auto feed = ChangeFeed::Start({.endpoint = dir / "rt.sock"}, log.Changes(), log.Modes());
  ASSERT_TRUE(feed.ok());
  ASSERT_TRUE(log.Wait([&] { return log.HasEvent(ChangeEvent::Kind::kContainer, "ctr-1"); }));
  ASSERT_TRUE(log.Wait([&] { return !log.modes.empty() && log.modes.back().first == FeedMode::kCriEvents; }));
  ASSERT_TRUE(log.Wait([&] { return log.HasEvent(ChangeEvent::Kind::kResync, ""); }));
  {
    std::lock_guard lock(log.mutex);
    auto it =
        std::find_if(log.events.begin(), log.events.end(), [](const auto& e) { return e.id == "ctr-1"; });
    EXPECT_EQ(it->sandbox_id, "sandbox-1");
    EXPECT_EQ(it->what, "CONTAINER_STARTED_EVENT");
    EXPECT_EQ(it->timestamp_ns, 1234);
  }
  EXPECT_EQ((*feed)->mode(), FeedMode::kCriEvents);
  (*feed)->Stop();
  std::lock_guard lock(ctrd.mutex);
  EXPECT_TRUE(ctrd.filters.empty()) << "containerd events are not needed when CRI has them";
  server->Shutdown();
}

TEST(ChangeFeedTest, FallsBackToContainerdEventsWhenCriHasNone) {
  TempDir dir;
  runtime::v1::RuntimeService::Service unimplemented_cri;
  FakeContainerdEvents ctrd;
  auto server = Serve(dir / "rt.sock", {&unimplemented_cri, &ctrd});
  FeedLog log;
  auto feed = ChangeFeed::Start({.endpoint = dir / "rt.sock"}, log.Changes(), log.Modes());
  ASSERT_TRUE(feed.ok());
  ASSERT_TRUE(log.Wait([&] {
    return log.HasEvent(ChangeEvent::Kind::kTask, "sandbox-2") &&
           log.HasEvent(ChangeEvent::Kind::kTask, "ctr-9");
  }));
  ASSERT_TRUE(
      log.Wait([&] { return !log.modes.empty() && log.modes.back().first == FeedMode::kContainerdEvents; }));
  {
    std::lock_guard lock(log.mutex);
    auto it =
        std::find_if(log.events.begin(), log.events.end(), [](const auto& e) { return e.id == "sandbox-2"; });
    EXPECT_EQ(it->what, "/tasks/start");
    EXPECT_EQ(it->timestamp_ns, 5'000'000'000);
  }
  {
    std::lock_guard lock(ctrd.mutex);
    ASSERT_EQ(ctrd.filters.size(), 1u);
    EXPECT_THAT(ctrd.filters[0], HasSubstr("namespace==k8s.io"));
  }
  (*feed)->Stop();
  EXPECT_EQ((*feed)->mode(), FeedMode::kPoll);
  server->Shutdown();
}

TEST(ChangeFeedTest, NoRuntimeMeansPollAndStopIsPrompt) {
  TempDir dir;
  FeedLog log;
  auto feed =
      ChangeFeed::Start({.endpoint = dir / "absent.sock", .max_backoff = 200ms}, log.Changes(), log.Modes());
  ASSERT_TRUE(feed.ok());
  ASSERT_TRUE(log.Wait([&] {
    return std::any_of(log.modes.begin(), log.modes.end(),
                       [](const auto& m) { return m.second.find("UNAVAILABLE") != std::string::npos; });
  }));
  EXPECT_EQ((*feed)->mode(), FeedMode::kPoll);
  (*feed)->Stop();
  std::lock_guard lock(log.mutex);
  EXPECT_TRUE(log.events.empty());
}

TEST(ChangeFeedTest, AStreamThatBreaksIsReopened) {
  TempDir dir;
  runtime::v1::RuntimeService::Service unimplemented_cri;
  FakeContainerdEvents ctrd;
  auto server = Serve(dir / "rt.sock", {&unimplemented_cri, &ctrd});
  FeedLog log;
  auto feed =
      ChangeFeed::Start({.endpoint = dir / "rt.sock", .max_backoff = 200ms}, log.Changes(), log.Modes());
  ASSERT_TRUE(feed.ok());
  ASSERT_TRUE(
      log.Wait([&] { return !log.modes.empty() && log.modes.back().first == FeedMode::kContainerdEvents; }));
  server->Shutdown(std::chrono::system_clock::now());  // cancels the stream
  server.reset();
  ASSERT_TRUE(log.Wait([&] { return log.modes.back().first == FeedMode::kPoll; }));
  FakeContainerdEvents again;
  auto restarted = Serve(dir / "rt.sock", {&unimplemented_cri, &again});
  ASSERT_NE(restarted, nullptr);
  ASSERT_TRUE(log.Wait([&] { return log.modes.back().first == FeedMode::kContainerdEvents; }));
  ASSERT_TRUE(log.Wait([&] {
    return std::count_if(log.events.begin(), log.events.end(),
                         [](const auto& e) { return e.kind == ChangeEvent::Kind::kResync; }) >= 2;
  }));
  (*feed)->Stop();
  restarted->Shutdown(std::chrono::system_clock::now());
}

}  // namespace
}  // namespace uvm::cri
