// The daemon's node ledger (issue 10 item 3; README "Capacity model"): what it needs besides the pod
// table, read when the configuration is (re)loaded, and the ledger's pods, built from the pod table. The
// ledger itself is the pure one (sizer/capacity.h), the same that `uvm-sizer capacity` computes.
//
// What the daemon cannot see: CRI carries no memory requests, so the daemon has the host view only. A pod
// that is not VM-isolated counts by what its cgroup uses now (LedgerPod::memory_usage_bytes); a pod's CPU
// request is read back from its sandbox's cpu_shares (below).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "daemon/node_profiles.h"
#include "daemon/pod_table.h"
#include "sizer/capacity.h"

namespace uvm::daemon {

// What the machine says, read at start and on SIGHUP.
struct MachineFacts {
  int64_t memory_total_bytes = 0;  // /proc/meminfo MemTotal
  uint32_t online_cpus = 1;
  std::string hostname;
};

// Reads /proc/meminfo, the online CPUs and the hostname. Errors name the file.
Result<MachineFacts> ReadMachineFacts();

// Where the allocatable of each resource came from.
enum class AllocatableSource {
  kConfig,           // [capacity] allocatable_*
  kKubeletConfig,    // node.kubelet_config (and node.kubelet_flags over it, where both exist)
  kKubeletFlags,     // node.kubelet_flags alone
  kKubeletDefaults,  // capacity less the kubelet's defaults (100Mi eviction threshold)
};
const char* AllocatableSourceName(AllocatableSource source);  // "config", "kubelet-config", ...

struct NodeCapacity {
  std::string node;
  sizer::NodeAllocatable allocatable;
  // Where memory and CPU came from (pods: from the config, else unknown = 0, no limit counted).
  AllocatableSource memory_source = AllocatableSource::kKubeletDefaults;
  AllocatableSource cpu_source = AllocatableSource::kKubeletDefaults;
  // For people: "kubelet-flags /etc/default/kubelet", "config (memory, cpu), kubelet-config /path".
  std::string allocatable_source;
  std::vector<sizer::Shape> shapes;
  std::vector<std::string> notes;  // for the log (sources skipped, globs without a match)
};

// The text of a kubelet file, or nullopt when it does not exist (or its key is empty).
struct KubeletFileText {
  std::string path;
  std::optional<std::string> text;
};

// Pure: allocatable = the [capacity] overrides, else the KubeletConfiguration file with the flags file's
// flags over it (the kubelet's own precedence: a flag replaces the field it sets; either file alone counts
// too), else the kubelet's defaults, each applied to the machine's capacity (AllocatableFromCapacity). A
// file that does not parse is an error naming its config key and path ("node.kubelet_config:
// /var/lib/kubelet/config.yaml: evictionHard: ..."); a file that is there counts even when it sets nothing.
Result<NodeCapacity> ResolveAllocatable(const DaemonConfig::Capacity& overrides,
                                        const KubeletFileText& kubelet_config,
                                        const KubeletFileText& kubelet_flags, const MachineFacts& machine);

// Reads the kubelet's files (a missing one is the next source) and the shape manifests of
// capacity.shapes: a plain path must exist; a glob pattern without a match is a note. Each pod of a shape
// file becomes one shape named by its object's name (metadata.name), sized with `catalog` (the node's
// handler profiles), the config's kubelet options and host overhead model, and the RuntimeClasses of its
// own file: as `uvm-sizer size` sizes it. Errors name the key and the file: a shape file that does not
// parse or holds no pod, two shapes of one name.
Result<NodeCapacity> LoadNodeCapacity(const DaemonConfig& config, const sizer::ProfileCatalog& catalog,
                                      const MachineFacts& machine, const FileReader& read = ReadWholeFile);

// CRI gives a sandbox's CPU request only as cpu_shares (the kubelet's MilliCPUToShares: millis * 1024 /
// 1000, at least 2): read back as shares * 1000 / 1024, an approximation (1500m -> 1536 -> 1500m, but 1m
// and none both give 2 shares, read as 0).
int64_t CpuRequestMillisFromShares(int64_t cpu_shares);

// One pod of the table as the ledger counts it: VM pods by their UVM and the model's and measured host
// overhead; every pod's memory request unknown (CRI has none), counted by its cgroup usage; its CPU
// request from cpu_shares; its declared overhead from CRI.
sizer::LedgerPod LedgerPodFrom(const PodState& pod);
// Every pod of the table, one per uid (its exported sandbox: a recreated sandbox is not counted twice).
std::vector<sizer::LedgerPod> LedgerPodsFrom(const PodTable& table);

// The VMM's host overhead as measured: pod cgroup usage - guest memory in use (guest MemTotal -
// MemAvailable), at least 0. nullopt without both readings.
std::optional<int64_t> MeasuredHostOverhead(std::optional<int64_t> pod_cgroup_usage_bytes,
                                            const std::optional<sizer::GuestObservation>& guest);

}  // namespace uvm::daemon
