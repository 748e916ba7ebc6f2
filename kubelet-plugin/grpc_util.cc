#include "kubelet-plugin/grpc_util.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "base/error_codes.h"

namespace uvm::cri {
namespace {

constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK",        "CANCELLED",      "UNKNOWN",           "INVALID_ARGUMENT",   "DEADLINE_EXCEEDED",
    "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED",   "OUT_OF_RANGE",   "UNIMPLEMENTED",     "INTERNAL",           "UNAVAILABLE",
    "DATA_LOSS", "UNAUTHENTICATED"};

// For messages only: callers decide on Error::code.
std::string_view CodeName(grpc::StatusCode code) {
  return GrpcCodeName(static_cast<int>(code));
}

}  // namespace

std::string_view GrpcCodeName(int grpc_code) {
  if (grpc_code < 0 || static_cast<size_t>(grpc_code) >= kCodeNames.size()) return "UNKNOWN";
  return kCodeNames[static_cast<size_t>(grpc_code)];
}

bool IsRuntimeDown(const Error& error) {
  return error.code == ErrorCode::kUnavailable || error.code == ErrorCode::kDeadline;
}

Result<std::string> NormalizeEndpoint(const std::string& endpoint) {
  std::string path;
  if (endpoint.rfind("unix://", 0) == 0) {
    path = endpoint.substr(7);
  } else if (endpoint.rfind("unix:", 0) == 0) {
    path = endpoint.substr(5);
  } else if (!endpoint.empty() && endpoint.front() == '/') {
    path = endpoint;
  } else {
    return InvalidInput(fmt::format(
        "CRI endpoint {:?}: expected unix:///path/to/socket or an absolute socket path", endpoint));
  }
  if (path.empty() || path.front() != '/') {
    return InvalidInput(fmt::format("CRI endpoint {:?}: the socket path must be absolute", endpoint));
  }
  return "unix://" + path;
}

namespace internal {

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& target, std::chrono::milliseconds min_backoff,
                                           std::chrono::milliseconds max_backoff) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // A failed call is reported, not retried behind the caller's back: the daemon has its own backoff and
  // resync, and a retried RunPodSandbox would not be idempotent.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  const int min_ms = static_cast<int>(std::max<int64_t>(1, min_backoff.count()));
  const int max_ms = static_cast<int>(std::max<int64_t>(min_ms, max_backoff.count()));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, min_ms);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_ms);
  // gRPC core uses this one as the deadline of one connection attempt, not as a delay: a unix socket
  // connects or fails at once, so it only matters for a runtime too busy to finish the HTTP/2 handshake.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::max(min_ms, 1000));
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

Error StatusError(std::string_view service, std::string_view method, std::string_view endpoint,
                  const grpc::Status& status) {
  std::string message = status.error_message();
  if (message.size() > 512) message = message.substr(0, 512) + "...";
  return Error{.message = fmt::format("{} {} on {} failed: {}: {}", service, method, endpoint,
                                      CodeName(status.error_code()), message),
               .code = CodeFromGrpcStatus(static_cast<int>(status.error_code())),
               .grpc_code = static_cast<int>(status.error_code())};
}

bool CallRegistry::Add(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  if (shut_down_) return false;
  contexts_.insert(context);
  return true;
}

void CallRegistry::Remove(grpc::ClientContext* context) {
  std::lock_guard lock(mutex_);
  contexts_.erase(context);
}

void CallRegistry::CancelAll() {
  std::lock_guard lock(mutex_);
  for (grpc::ClientContext* context : contexts_) context->TryCancel();
}

void CallRegistry::Shutdown() {
  std::lock_guard lock(mutex_);
  shut_down_ = true;
  for (grpc::ClientContext* context : contexts_) context->TryCancel();
}

bool CallRegistry::shut_down() const {
  std::lock_guard lock(mutex_);
  return shut_down_;
}

}  // namespace internal
}  // namespace uvm::cri
