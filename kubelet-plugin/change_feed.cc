#include "kubelet-plugin/change_feed.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "kubelet-plugin/cri_client.h"
#include "kubelet-plugin/grpc_util.h"
#include "proto/containerd/events.pb.h"
#include "proto/containerd/events_service.grpc.pb.h"
#include "proto/cri.grpc.pb.h"

namespace uvm::cri {

std::string_view FeedModeName(FeedMode mode) {
  switch (mode) {
    case FeedMode::kCriEvents:
      return "cri-events";
    case FeedMode::kContainerdEvents:
      return "containerd-events";
    case FeedMode::kPoll:
      break;
  }
  return "poll";
}

namespace {

namespace pb = runtime::v1;
namespace ctrd = containerd::services::events::v1;
namespace ctrd_events = containerd::events;
using Clock = std::chrono::steady_clock;

// Any.type_url is "containerd.events.TaskStart" from containerd's typeurl (no "host/" prefix), or a full
// URL from other encoders: compare the part after the last '/'.
template <class Message>
bool UnpackAny(const google::protobuf::Any& any, Message* out) {
  std::string_view url = any.type_url();
  if (size_t slash = url.rfind('/'); slash != std::string_view::npos) url.remove_prefix(slash + 1);
  return url == Message::descriptor()->full_name() && out->ParseFromString(any.value());
}

template <class Message>
std::optional<std::string> IdFrom(const google::protobuf::Any& any,
                                  const std::string& (Message::*getter)() const) {
  Message message;
  if (!UnpackAny(any, &message)) return std::nullopt;
  return (message.*getter)();
}

// The object a containerd event is about, by topic (containerd events/exchange topics, v1.6.20:
// /tasks/{create,start,exit,delete,oom,...}, /containers/{create,update,delete}, 2.x /sandboxes/*).
std::optional<ChangeEvent> FromEnvelope(const ctrd::Envelope& envelope) {
  const std::string& topic = envelope.topic();
  const google::protobuf::Any& any = envelope.event();
  ChangeEvent out;
  out.what = topic;
  if (envelope.has_timestamp()) {
    out.timestamp_ns = envelope.timestamp().seconds() * 1'000'000'000 + envelope.timestamp().nanos();
  }
  std::optional<std::string> id;
  if (topic.rfind("/tasks/", 0) == 0) {
    out.kind = ChangeEvent::Kind::kTask;
    if (!id) id = IdFrom<ctrd_events::TaskCreate>(any, &ctrd_events::TaskCreate::container_id);
    if (!id) id = IdFrom<ctrd_events::TaskStart>(any, &ctrd_events::TaskStart::container_id);
    if (!id) id = IdFrom<ctrd_events::TaskExit>(any, &ctrd_events::TaskExit::container_id);
    if (!id) id = IdFrom<ctrd_events::TaskDelete>(any, &ctrd_events::TaskDelete::container_id);
    if (!id) id = IdFrom<ctrd_events::TaskOOM>(any, &ctrd_events::TaskOOM::container_id);
  } else if (topic.rfind("/containers/", 0) == 0) {
    out.kind = ChangeEvent::Kind::kTask;
    if (!id) id = IdFrom<ctrd_events::ContainerCreate>(any, &ctrd_events::ContainerCreate::id);
    if (!id) id = IdFrom<ctrd_events::ContainerDelete>(any, &ctrd_events::ContainerDelete::id);
  } else if (topic.rfind("/sandboxes/", 0) == 0) {
    out.kind = ChangeEvent::Kind::kSandbox;
    if (!id) id = IdFrom<ctrd_events::SandboxStart>(any, &ctrd_events::SandboxStart::id);
    if (!id) id = IdFrom<ctrd_events::SandboxStop>(any, &ctrd_events::SandboxStop::id);
  } else {
    return std::nullopt;
  }
  // An event type we do not decode (e.g. /tasks/exec-added) still says that something changed.
  out.id = id.value_or("");
  return out;
}

ChangeEvent FromCri(const pb::ContainerEventResponse& event) {
  ChangeEvent out;
  out.id = event.container_id();
  out.sandbox_id = event.pod_sandbox_status().id();
  out.kind = (!out.sandbox_id.empty() && (out.id.empty() || out.id == out.sandbox_id))
                 ? ChangeEvent::Kind::kSandbox
                 : ChangeEvent::Kind::kContainer;
  if (out.id.empty()) out.id = out.sandbox_id;
  out.what = pb::ContainerEventType_Name(event.container_event_type());
  out.timestamp_ns = event.created_at();
  return out;
}

// A server stream read on gRPC's callback threads; messages are converted there and queued for the feed
// thread, which alone runs user callbacks.
template <class Request, class Response>
class StreamReader final : public grpc::ClientReadReactor<Response> {
 public:
  using Convert = std::function<std::optional<ChangeEvent>(const Response&)>;
  StreamReader(Request initial, Convert convert, std::mutex& mutex, std::condition_variable& wake,
               std::deque<ChangeEvent>& queue)
      : request(std::move(initial)),
        convert_(std::move(convert)),
        mutex_(mutex),
        wake_(wake),
        queue_(queue) {}

  void Begin() {
    this->StartRead(&message_);
    this->StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // OnDone follows with the status
    std::optional<ChangeEvent> event = convert_(message_);
    if (event) {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(*event));
      wake_.notify_all();
    }
    this->StartRead(&message_);
  }
  void OnDone(const grpc::Status& status) override {
    std::lock_guard lock(mutex_);
    status_ = status;
    done_ = true;
    wake_.notify_all();
  }
  // Guarded by the feed's mutex.
  bool done() const { return done_; }
  const grpc::Status& status() const { return status_; }

  grpc::ClientContext context;
  Request request;

 private:
  Convert convert_;
  std::mutex& mutex_;
  std::condition_variable& wake_;
  std::deque<ChangeEvent>& queue_;
  Response message_;
  bool done_ = false;
  grpc::Status status_;
};

enum class Outcome { kStopped, kUnimplemented, kFailed, kBroke };

class GrpcChangeFeed final : public ChangeFeed {
 public:
  GrpcChangeFeed(const ChangeFeedOptions& options, std::string target, OnChange on_change, OnMode on_mode)
      : options_(options),
        target_(std::move(target)),
        on_change_(std::move(on_change)),
        on_mode_(std::move(on_mode)),
        channel_(internal::MakeChannel(target_, options.min_backoff, options.max_backoff)),
        cri_(pb::RuntimeService::NewStub(channel_)),
        events_(ctrd::Events::NewStub(channel_)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~GrpcChangeFeed() override { Stop(); }

  FeedMode mode() const override {
    std::lock_guard lock(mutex_);
    return mode_;
  }

  void Stop() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (active_ != nullptr) active_->TryCancel();
      wake_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    std::chrono::milliseconds backoff = options_.min_backoff;
    while (!Stopping()) {
      bool unimplemented = true;
      std::string why;
      bool healthy = false;  // a stream was established before it ended
      if (options_.try_cri_events) {
        auto [outcome, detail] = RunCri();
        if (outcome == Outcome::kStopped) break;
        healthy |= outcome == Outcome::kBroke;
        unimplemented &= outcome == Outcome::kUnimplemented;
        why = detail;
        if (outcome == Outcome::kBroke) SetMode(FeedMode::kPoll, detail);
      }
      if (!healthy && options_.try_containerd_events) {
        auto [outcome, detail] = RunContainerd(why);
        if (outcome == Outcome::kStopped) break;
        healthy |= outcome == Outcome::kBroke;
        unimplemented &= outcome == Outcome::kUnimplemented;
        why = why.empty() ? detail : why + "; " + detail;
        if (outcome == Outcome::kBroke) SetMode(FeedMode::kPoll, detail);
      }
      std::chrono::milliseconds pause = backoff;
      if (healthy) {
        backoff = options_.min_backoff;
        pause = options_.min_backoff;
      } else if (unimplemented) {
        SetMode(FeedMode::kPoll, why);
        pause = options_.reprobe_interval;
      } else {
        SetMode(FeedMode::kPoll, why);
        backoff = std::min(options_.max_backoff, backoff * 2);
      }
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, pause, [this] { return stopping_; });
    }
    SetMode(FeedMode::kPoll, "stopped");
  }

  std::pair<Outcome, std::string> RunCri() {
    using Reader = StreamReader<pb::GetEventsRequest, pb::ContainerEventResponse>;
    auto reader = std::make_unique<Reader>(
        pb::GetEventsRequest{}, [](const pb::ContainerEventResponse& e) { return std::optional(FromCri(e)); },
        mutex_, wake_, queue_);
    return Pump(*reader, FeedMode::kCriEvents, "GetContainerEvents", "CRI", "",
                [&] { cri_->async()->GetContainerEvents(&reader->context, &reader->request, reader.get()); });
  }

  std::pair<Outcome, std::string> RunContainerd(const std::string& cri_failure) {
    using Reader = StreamReader<ctrd::SubscribeRequest, ctrd::Envelope>;
    ctrd::SubscribeRequest request;
    // containerd filters (filters/filter.go): terms joined by ',' must all match; the Envelope adaptor
    // knows namespace and topic.
    request.add_filters(fmt::format(R"(namespace=={},topic~="^/(tasks|containers|sandboxes)/")",
                                    options_.containerd_namespace));
    auto reader = std::make_unique<Reader>(std::move(request), &FromEnvelope, mutex_, wake_, queue_);
    return Pump(*reader, FeedMode::kContainerdEvents, "Events/Subscribe", "containerd", cri_failure,
                [&] { events_->async()->Subscribe(&reader->context, &reader->request, reader.get()); });
  }

  // Runs one stream until it ends or the feed stops; delivers its events on this thread.
  template <class Reader, class StartFn>
  // `fallback_reason` (why a preferred source was not used) goes into the mode detail.
  std::pair<Outcome, std::string> Pump(Reader& reader, FeedMode mode, std::string_view method,
                                       std::string_view service, const std::string& fallback_reason,
                                       StartFn&& start) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return {Outcome::kStopped, ""};
      active_ = &reader.context;
    }
    start();
    reader.Begin();
    bool established = false;
    const Clock::time_point probe_deadline = Clock::now() + options_.probe_window;
    std::unique_lock lock(mutex_);
    while (true) {
      auto ready = [&] { return stopping_ || reader.done() || !queue_.empty(); };
      if (established) {
        wake_.wait(lock, ready);
      } else {
        wake_.wait_until(lock, probe_deadline, ready);
      }
      // A message proves the stream is up; silence for the probe window is taken to mean the same.
      const bool got_message = !queue_.empty();
      Deliver(lock);
      if (reader.done()) break;
      if (stopping_) {
        reader.context.TryCancel();
        wake_.wait(lock, [&] { return reader.done(); });
        Deliver(lock);  // nothing is lost that already arrived; the caller is going away anyway
        active_ = nullptr;
        return {Outcome::kStopped, ""};
      }
      if (!established && (got_message || Clock::now() >= probe_deadline)) {
        established = true;
        lock.unlock();
        SetMode(mode,
                fallback_reason.empty()
                    ? fmt::format("{} {} stream open on {}", service, method, target_)
                    : fmt::format("{} {} stream open on {} ({})", service, method, target_, fallback_reason));
        if (on_change_) on_change_(ChangeEvent{.kind = ChangeEvent::Kind::kResync});
        lock.lock();
      }
    }
    active_ = nullptr;
    const grpc::Status status = reader.status();
    lock.unlock();
    Error error = internal::StatusError(service, method, target_, status);
    if (stopping_snapshot()) return {Outcome::kStopped, error.message};
    if (established) return {Outcome::kBroke, error.message};
    // UNIMPLEMENTED: this runtime has no such stream (containerd 1.6 without CRI events): re-probe slowly.
    if (error.code == ErrorCode::kUnsupported) return {Outcome::kUnimplemented, error.message};
    return {Outcome::kFailed, error.message};
  }

  // Runs queued callbacks without holding the lock (they may take a while; gRPC threads keep queueing).
  void Deliver(std::unique_lock<std::mutex>& lock) {
    while (!queue_.empty()) {
      ChangeEvent event = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      if (on_change_) on_change_(event);
      lock.lock();
    }
  }

  // Reports a change of mode, or of the reason for it (not every retry that fails the same way).
  void SetMode(FeedMode mode, const std::string& detail) {
    {
      std::lock_guard lock(mutex_);
      if (mode == mode_ && detail == last_detail_) return;
      mode_ = mode;
      last_detail_ = detail;
    }
    if (on_mode_) on_mode_(mode, detail);
  }

  bool Stopping() const {
    std::lock_guard lock(mutex_);
    return stopping_;
  }
  bool stopping_snapshot() const { return Stopping(); }

  const ChangeFeedOptions options_;
  const std::string target_;
  const OnChange on_change_;
  const OnMode on_mode_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RuntimeService::Stub> cri_;
  std::unique_ptr<ctrd::Events::Stub> events_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ChangeEvent> queue_;
  grpc::ClientContext* active_ = nullptr;
  bool stopping_ = false;
  FeedMode mode_ = FeedMode::kPoll;
  std::string last_detail_;
  std::thread thread_;
};

}  // namespace

Result<std::unique_ptr<ChangeFeed>> ChangeFeed::Start(const ChangeFeedOptions& options, OnChange on_change,
                                                      OnMode on_mode) {
  Result<std::string> target = NormalizeEndpoint(options.endpoint);
  if (!target.ok()) return target.error();
  return std::unique_ptr<ChangeFeed>(
      std::make_unique<GrpcChangeFeed>(options, *target, std::move(on_change), std::move(on_mode)));
}

}  // namespace uvm::cri
