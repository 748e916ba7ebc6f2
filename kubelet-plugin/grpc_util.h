// Internal to kubelet-plugin/: channel setup and status conversion shared by the CRI client and the
// change feed. Includes gRPC; never include it from a public header.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "base/result.h"
#include "kubelet-plugin/cri_client.h"

namespace uvm::cri::internal {

// 16 MiB both ways: the kubelet's maxMsgSize (pkg/kubelet/cri/remote: 1024*1024*16).
constexpr int kMaxMessageBytes = 16 * 1024 * 1024;

// One channel to a unix socket: no retries (the caller decides), reconnect backoff capped at
// `max_backoff`, starting at `min_backoff`.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, std::chrono::milliseconds min_backoff,
                                           std::chrono::milliseconds max_backoff);

// "CRI <method> on <endpoint> failed: <CODE>: <message>", with the code CodeFromGrpcStatus gives.
Error StatusError(std::string_view service, std::string_view method, std::string_view endpoint,
                  const grpc::Status& status);

// Contexts of the calls in flight, so that another thread can cancel them (SIGTERM).
class CallRegistry {
 public:
  // False after Shutdown(): the call must not start.
  bool Add(grpc::ClientContext* context);
  void Remove(grpc::ClientContext* context);
  void CancelAll();
  void Shutdown();
  bool shut_down() const;

 private:
  mutable std::mutex mutex_;
  std::set<grpc::ClientContext*> contexts_;
  bool shut_down_ = false;
};

class TrackedCall {
 public:
  TrackedCall(CallRegistry& registry, grpc::ClientContext* context)
      : registry_(registry), context_(context), added_(registry.Add(context)) {}
  ~TrackedCall() {
    if (added_) registry_.Remove(context_);
  }
  TrackedCall(const TrackedCall&) = delete;
  TrackedCall& operator=(const TrackedCall&) = delete;
  bool ok() const { return added_; }

 private:
  CallRegistry& registry_;
  grpc::ClientContext* context_;
  bool added_;
};

}  // namespace uvm::cri::internal
