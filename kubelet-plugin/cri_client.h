// A CRI (runtime.v1) client for the daemon, the CLI and the tests. Returns plain structs (types.h); no
// protobuf or gRPC type appears in this header.
//
//   auto client = uvm::cri::CriClient::Create({.endpoint = "unix:///run/containerd/containerd.sock"});
//   if (!client.ok()) ...                          // only a malformed endpoint fails here: no I/O yet
//   auto version = (*client)->Version();           // fails unless runtime_api_version == "v1"
//   auto pods = (*client)->ListPodSandbox();
//   auto detail = (*client)->PodSandboxStatus(pods->front().id);   // verbose: cgroup_parent, resources
//
// One long-lived gRPC channel per client: it reconnects by itself with capped backoff (initial/min
// `min_reconnect_backoff`, max `max_reconnect_backoff`), so a runtime restart needs no new client; while
// the runtime is down every call fails fast with UNAVAILABLE (calls do not wait for a connection) or, at
// worst, when its deadline passes. Every call carries a deadline. Messages up to 16 MiB both ways (the
// kubelet's limit). Thread-safe: calls may run concurrently from several threads.
//
// Errors: uvm::Error whose code is the gRPC status mapped by CodeFromGrpcStatus (base/error_codes.h:
// UNAVAILABLE and CANCELLED kUnavailable, DEADLINE_EXCEEDED kDeadline, NOT_FOUND kNotFound, UNIMPLEMENTED
// kUnsupported, ...) and whose message, for people, reads
//   "CRI <Method> on <endpoint> failed: <CODE>: <gRPC message>"      e.g. "... failed: UNAVAILABLE: ..."
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "kubelet-plugin/types.h"

namespace uvm::cri {

// "DEADLINE_EXCEEDED" for 4: the name of a gRPC status code (Error::grpc_code); "UNKNOWN" out of range.
std::string_view GrpcCodeName(int grpc_code);

// The runtime could not be reached or gave no answer (code kUnavailable: UNAVAILABLE, or a call we
// cancelled) or did not answer in time (kDeadline: DEADLINE_EXCEEDED).
bool IsRuntimeDown(const Error& error);

struct CriClientOptions {
  // "unix:///path", "unix:/path" or an absolute socket path.
  std::string endpoint = "unix:///run/containerd/containerd.sock";
  // Deadline of status, list and stats calls.
  std::chrono::milliseconds call_timeout{2000};
  // Deadline of RunPodSandbox, CreateContainer, Stop*, Remove* (the kubelet's --runtime-request-timeout is
  // 2 min; Kata boots a VM in RunPodSandbox).
  std::chrono::milliseconds lifecycle_timeout{120000};
  std::chrono::milliseconds min_reconnect_backoff{100};
  std::chrono::milliseconds max_reconnect_backoff{1000};
};

// "unix:///x" for any accepted spelling; an error naming the value for anything else.
Result<std::string> NormalizeEndpoint(const std::string& endpoint);

class CriClient {
 public:
  static Result<std::unique_ptr<CriClient>> Create(const CriClientOptions& options);
  virtual ~CriClient() = default;

  virtual const std::string& endpoint() const = 0;

  // Version, checked: code kUnsupported unless runtime_api_version is "v1".
  virtual Result<VersionInfo> Version() = 0;

  virtual Result<std::vector<SandboxSummary>> ListPodSandbox(bool ready_only = false) = 0;
  // PodSandboxStatus(verbose=true), verbose info parsed by ParseSandboxInfo, annotations as fallback.
  virtual Result<SandboxDetail> PodSandboxStatus(const std::string& sandbox_id) = 0;
  // All containers, or those of one sandbox.
  virtual Result<std::vector<ContainerSummary>> ListContainers(const std::string& sandbox_id = "") = 0;
  virtual Result<ContainerDetail> ContainerStatus(const std::string& container_id) = 0;
  // ListContainerStats filtered by sandbox ("" = all). Costs ~1 ms per container on containerd (it asks
  // every shim): do not call it every tick.
  virtual Result<std::vector<ContainerStatsSample>> ListContainerStats(
      const std::string& sandbox_id = "") = 0;
  virtual Result<std::vector<SandboxStatsSample>> ListPodSandboxStats(const std::string& sandbox_id = "") = 0;

  // Lifecycle, as the kubelet drives it (tests, demo). The image must already be in the runtime.
  virtual Result<std::string> RunPodSandbox(const PodSandboxSpec& spec) = 0;
  virtual Status StopPodSandbox(const std::string& sandbox_id) = 0;
  virtual Status RemovePodSandbox(const std::string& sandbox_id) = 0;
  virtual Result<std::string> CreateContainer(const std::string& sandbox_id, const ContainerSpec& spec,
                                              const PodSandboxSpec& sandbox) = 0;
  virtual Status StartContainer(const std::string& container_id) = 0;
  virtual Status StopContainer(const std::string& container_id, std::chrono::seconds grace) = 0;
  virtual Status RemoveContainer(const std::string& container_id) = 0;

  // ImageService (lifecycle deadline: a pull can take long). ImageStatus: the image id, or nullopt when
  // the runtime does not have the image (an answer, not an error). PullImage: the image ref it pulled.
  virtual Result<std::optional<std::string>> ImageStatus(const std::string& image) = 0;
  virtual Result<std::string> PullImage(const std::string& image, const PodSandboxSpec& sandbox) = 0;
  virtual Status RemoveImage(const std::string& image) = 0;

  // Cancels every call in flight (they return CANCELLED); later calls work as usual.
  virtual void CancelInFlight() = 0;
  // Cancels every call in flight and fails every later one with CANCELLED at once (SIGTERM).
  virtual void Shutdown() = 0;
};

}  // namespace uvm::cri
