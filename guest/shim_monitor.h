// Client of the Kata shim's monitor endpoint: HTTP/1.1 `GET /metrics` over the unix socket
// `<sandboxes_dir>/<sandbox-id>/shim-monitor.sock` [S: kata-containers src/runtime/pkg/containerd-shim-v2/
// shim_management.go SocketPath, GetSandboxesStoragePath "/run/vc/sbs" (Go runtime),
// GetSandboxesStoragePathRust "/run/kata" (runtime-rs); MetricsURL "/metrics"].
//
// Every call has a deadline (connect + request + response together) and a response size cap; errors are
// values naming the socket. No exceptions escape. Boost.Asio stays out of this header: the async calls
// take the daemon's io_context by reference and complete on it.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "sizer/pressure.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace uvm::guest {

struct ShimMonitorOptions {
  std::string sandboxes_dir = "/run/vc/sbs";  // runtime-rs: /run/kata
  // A scrape costs the shim one agent RPC (~3 ms avg per Kata's metrics design doc); 2 s leaves room for
  // a busy node without letting one stuck shim hold a tick.
  std::chrono::milliseconds timeout{2000};
  // Kata's design doc measures ~144 KiB for one sandbox's metrics; 4 MiB leaves room for guests with
  // many CPUs, disks and mounts.
  size_t max_response_bytes = 4u << 20;
};

// Longest sandbox id accepted (containerd ids are 64 hex characters).
inline constexpr size_t kMaxSandboxIdLength = 128;

// Checks the id before any path is built: 1..128 characters of [A-Za-z0-9._-], not starting with '.'
// or '-', no "..", so it can never leave the sandboxes directory.
Status ValidateSandboxId(std::string_view sandbox_id);

// `<sandboxes_dir>/<sandbox_id>/shim-monitor.sock`, after ValidateSandboxId and a check that it fits a
// unix socket address (107 bytes).
Result<std::string> ShimMonitorSocketPath(const ShimMonitorOptions& options, std::string_view sandbox_id);

// Blocking fetch of the /metrics body on a private io_context, bounded by options.timeout.
Result<std::string> FetchShimMetrics(const ShimMonitorOptions& options, std::string_view sandbox_id);

// Fetch + GuestObservationFromShimMetrics (sandbox_id filters kata-monitor style labels).
Result<sizer::GuestObservation> FetchGuestObservation(const ShimMonitorOptions& options,
                                                      std::string_view sandbox_id);

// Asynchronous fetch on `io`: `done` runs exactly once, on a thread running `io` (never inside this
// call), with the body or an error. The request holds what it needs; `options` and `sandbox_id` may go
// away after the call returns. Cancelled by its own deadline; stopping `io` drops it without calling
// `done`. `done` must not throw: it is called as from a noexcept function, so an exception escaping it
// ends the process (std::terminate) rather than unwinding through `io` or vanishing unseen.
// Error codes: kDeadline (the deadline passed), kNotFound (no socket: not a Kata sandbox, or its shim is
// gone; or a 404), kUnavailable (nobody listening, the shim closed early, a 5xx), kInvalidInput (a bad
// sandbox id, an unparsable response), kResourceExhausted (a response above max_response_bytes).
using ShimMetricsCallback = std::function<void(Result<std::string>)>;
void AsyncFetchShimMetrics(boost::asio::io_context& io, const ShimMonitorOptions& options,
                           std::string_view sandbox_id, ShimMetricsCallback done);

using GuestObservationCallback = std::function<void(Result<sizer::GuestObservation>)>;
void AsyncFetchGuestObservation(boost::asio::io_context& io, const ShimMonitorOptions& options,
                                std::string_view sandbox_id, GuestObservationCallback done);

}  // namespace uvm::guest
