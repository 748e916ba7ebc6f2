// Plain C++ views of what the container runtime reports over CRI. The daemon and the sizer use these and
// never see protobuf types; kubelet-plugin/cri_client.cc converts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace uvm::cri {

// CRI LinuxContainerResources, the part uvm-sizer needs (runtime.v1 fields 1-4). 0 means "not set" for
// each field, as the kubelet sends it (a pod without a memory limit has memory_limit_in_bytes 0).
struct LinuxResources {
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit_in_bytes = 0;
  bool operator==(const LinuxResources&) const = default;
};

enum class SandboxState { kReady, kNotReady };
enum class ContainerState { kCreated, kRunning, kExited, kUnknown };

// One sandbox as ListPodSandbox (or PodSandboxStatus) shows it.
struct SandboxSummary {
  std::string id;
  std::string name;
  std::string namespace_;
  std::string uid;
  uint32_t attempt = 0;
  SandboxState state = SandboxState::kNotReady;
  std::string runtime_handler;  // "" = the runtime's default handler
  int64_t created_at_ns = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  bool ready() const { return state == SandboxState::kReady; }
};

// PodSandboxStatus(verbose=true): the summary plus what the runtime's verbose info (or, failing that, the
// sandbox annotations) says about the pod's cgroup and resources.
struct SandboxDetail {
  SandboxSummary summary;
  std::string cgroup_parent;                // LinuxPodSandboxConfig.cgroup_parent, "" when unknown
  std::optional<LinuxResources> resources;  // LinuxPodSandboxConfig.resources (overhead excluded)
  std::optional<LinuxResources> overhead;   // LinuxPodSandboxConfig.overhead (what the pod declared)
  std::optional<int64_t> pid;               // the sandbox task's host pid (containerd), absent when none
  std::string process_status;               // containerd task status: running, created, stopped, ...
  std::string runtime_type;                 // e.g. io.containerd.kata.v2, io.containerd.runc.v2
  // Where resources/overhead came from, for logs: "info.resources", "info.config.linux.resources",
  // "info.sandboxMetadata.Config.linux.resources", "info.runtimeSpec.annotations", "annotations", "".
  std::string resources_source;
  std::string overhead_source;
  // Values the runtime sent that could not be used (each names the key path and the value).
  std::vector<std::string> warnings;
};

struct ContainerSummary {
  std::string id;
  std::string sandbox_id;
  std::string name;
  uint32_t attempt = 0;
  ContainerState state = ContainerState::kUnknown;
  std::string image;
  int64_t created_at_ns = 0;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct ContainerDetail {
  ContainerSummary summary;
  std::optional<LinuxResources> resources;  // ContainerStatus.resources.linux (cri-api v0.25+)
  int64_t started_at_ns = 0;
  int64_t finished_at_ns = 0;
  int32_t exit_code = 0;
  std::string reason;
  std::string message;
};

// One ListContainerStats entry. A value the runtime did not send is nullopt (not 0).
struct ContainerStatsSample {
  std::string id;
  std::string name;
  int64_t timestamp_ns = 0;  // of the memory sample
  std::optional<uint64_t> working_set_bytes;
  std::optional<uint64_t> usage_bytes;
  std::optional<uint64_t> rss_bytes;
  std::optional<uint64_t> available_bytes;
  std::optional<uint64_t> cpu_usage_core_nanoseconds;
  // containerd refreshes snapshot usage every stats_collect_period (10 s): 0 right after start.
  std::optional<uint64_t> writable_layer_used_bytes;
  std::optional<uint64_t> writable_layer_inodes_used;
  std::string writable_layer_mountpoint;
};

// One ListPodSandboxStats entry (Linux part): read by the runtime from the pod cgroup (cgroup_parent).
struct SandboxStatsSample {
  std::string sandbox_id;
  std::string name;
  std::string namespace_;
  std::string uid;
  int64_t timestamp_ns = 0;
  std::optional<uint64_t> working_set_bytes;
  std::optional<uint64_t> usage_bytes;
  std::optional<uint64_t> available_bytes;
  std::optional<uint64_t> cpu_usage_core_nanoseconds;
  std::optional<uint64_t> process_count;
  std::vector<ContainerStatsSample> containers;
};

struct VersionInfo {
  std::string runtime_name;         // "containerd"
  std::string runtime_version;      // "1.6.20~ds1"
  std::string runtime_api_version;  // "v1"
};

// What the kubelet sends in RunPodSandbox, reduced to what tests and the demo need.
struct PodSandboxSpec {
  std::string name;
  std::string namespace_;
  std::string uid;
  uint32_t attempt = 0;
  std::string runtime_handler;
  std::string cgroup_parent;  // e.g. "/kubepods/burstable/pod<uid>" (cgroupfs driver)
  std::string log_directory;
  // true: NamespaceMode NODE for the network, with an empty hostname (a hostNetwork pod); the only kind
  // that runs without CNI.
  bool host_network = true;
  std::string hostname;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<LinuxResources> resources;
  std::optional<LinuxResources> overhead;
};

struct ContainerSpec {
  std::string name;
  uint32_t attempt = 0;
  std::string image;  // must already be in the runtime's image store (no pulls)
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> envs;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<LinuxResources> resources;
  int64_t oom_score_adj = 0;
  std::string log_path;  // relative to the sandbox log directory
};

}  // namespace uvm::cri
