// "Something changed for sandbox/container X": the daemon's trigger to look again before the next poll.
//
// Sources, tried in this order each time the feed (re)connects:
//   1. CRI GetContainerEvents (cri-api v0.25+; containerd 1.6 answers UNIMPLEMENTED),
//   2. containerd's own event service on the same socket (containerd.services.events.v1.Events/Subscribe,
//      namespace k8s.io, topics /tasks/*, /containers/*, /sandboxes/*),
//   3. none: mode "poll" (the daemon's poll interval is then the only trigger).
// A stream counts as established when it is still open `probe_window` after it was started (neither
// source sends anything before the first event). When an established stream breaks, the feed retries with
// capped exponential backoff; when both sources are unimplemented it probes again every `reprobe_interval`.
// Events can be missed while no stream is open, so the feed sends a ChangeEvent{kind = kResync} each time
// a stream becomes established: the daemon lists everything then.
//
// Callbacks run on the feed's own thread, one at a time, never on a gRPC thread: keep them short (post
// into the event loop). Stop() (or the destructor) cancels the stream and joins within a few ms; it must
// not be called from a callback.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "base/result.h"

namespace uvm::cri {

enum class FeedMode {
  kPoll,              // no stream: connecting, runtime down, or no event source implemented
  kCriEvents,         // CRI GetContainerEvents
  kContainerdEvents,  // containerd Events/Subscribe
};
std::string_view FeedModeName(FeedMode mode);  // "poll", "cri-events", "containerd-events"

struct ChangeEvent {
  enum class Kind {
    kResync,     // a stream (re)started: anything may have changed meanwhile
    kSandbox,    // id is a sandbox id (CRI events with a pod_sandbox_status, /sandboxes/* topics)
    kContainer,  // id is a container id (CRI container events)
    kTask,       // id is a containerd container id: a sandbox's or a container's (containerd's id space)
  };
  Kind kind = Kind::kResync;
  std::string id;
  std::string sandbox_id;  // CRI events: the pod sandbox the container belongs to; else ""
  // What happened: the containerd topic ("/tasks/start", "/containers/delete", ...) or the CRI event type
  // ("CONTAINER_STARTED_EVENT", ...); "" for kResync.
  std::string what;
  int64_t timestamp_ns = 0;  // as the runtime stamped it; 0 when unknown
};

struct ChangeFeedOptions {
  std::string endpoint = "unix:///run/containerd/containerd.sock";
  std::string containerd_namespace = "k8s.io";
  std::chrono::milliseconds probe_window{300};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{2000};
  std::chrono::milliseconds reprobe_interval{60000};
  bool try_cri_events = true;
  bool try_containerd_events = true;
};

class ChangeFeed {
 public:
  using OnChange = std::function<void(const ChangeEvent&)>;
  // Mode changes (including the first one); `detail` says why (e.g. the status of a failed stream).
  using OnMode = std::function<void(FeedMode mode, const std::string& detail)>;

  // Starts the feed thread; an error only for a malformed endpoint.
  static Result<std::unique_ptr<ChangeFeed>> Start(const ChangeFeedOptions& options, OnChange on_change,
                                                   OnMode on_mode = nullptr);
  virtual ~ChangeFeed() = default;
  virtual FeedMode mode() const = 0;
  virtual void Stop() = 0;
};

}  // namespace uvm::cri
