// Kata shim monitor metrics → the pressure model's guest observation. Pure (text in, values out).
//
// What the shim serves on GET /metrics [S: kata-containers src/runtime/pkg/containerd-shim-v2/
// shim_management.go serveMetrics: the shim's own families, then the agent's text as it came over ttrpc,
// re-encoded with expfmt TypeTextPlain; no sandbox_id label — kata-monitor adds `sandbox_id`, `cri_uid`,
// `cri_name`, `cri_namespace` when it aggregates (src/runtime/pkg/kata-monitor/metrics.go)].
//
// The guest families we read [S: kata-containers src/agent/src/metrics.rs]:
//   kata_guest_meminfo{item}        gauge, from procfs::Meminfo. Values are BYTES: the procfs crate
//                                   multiplies /proc/meminfo's kB by 1024 [S: eminence/procfs meminfo.rs
//                                   convert_to_kibibytes]; Kata's docs/design/kata-2-0-metrics.md still
//                                   says "same unit as /proc" (KiB), which the code does not do.
//       items used: mem_total, mem_available (required), anon_pages, shmem, cached
//   kata_guest_filesystem_bytes{mount,device,item}   gauge, item = total | used | available, from statfs
//                                   (used = total - f_bfree). Added upstream in 2026 (commits 6c66724,
//                                   5a00053): older agents have no such family, and it covers only
//                                   ext4/xfs/btrfs/vfat/overlay, read-write, one mount per device — tmpfs
//                                   mounts are NOT reported; an overlay whose upper dir sits on a tmpfs is.
//   kata_guest_vm_stat{item}        gauge, from /proc/vmstat; item oom_kill (guest OOM kills, a counter
//                                   that starts over when the VM restarts).
#pragma once

#include <string_view>

#include "base/result.h"
#include "sizer/pressure.h"

namespace uvm::guest {

// Metric and label names, exactly as upstream writes them.
inline constexpr std::string_view kMeminfoFamily = "kata_guest_meminfo";
inline constexpr std::string_view kFilesystemBytesFamily = "kata_guest_filesystem_bytes";
inline constexpr std::string_view kVmStatFamily = "kata_guest_vm_stat";
// The shim's own task-service RPC timings [S: kata-containers src/runtime/pkg/containerd-shim-v2/
// metrics.go rpcDurationsHistogram (namespace kata_shim, label "action", ExponentialBuckets(1, 2, 10) ms),
// observed in service.go; older releases named it ..._million_seconds]: the observation keeps
// action="create" _sum (ms) and _count, for the daemon's startup profile.
inline constexpr std::string_view kShimRpcDurationsFamily = "kata_shim_rpc_durations_histogram_milliseconds";
inline constexpr std::string_view kShimRpcDurationsFamilyOld =
    "kata_shim_rpc_durations_histogram_million_seconds";

// Maps one shim-monitor payload. `source` prefixes errors (e.g. the socket path). When `sandbox_id` is
// not empty, samples that carry a different `sandbox_id` label (a kata-monitor aggregate) are skipped.
// Errors: the text does not parse (line named), mem_total or mem_available is missing, or a value we use
// is negative, NaN, infinite or beyond 2^53 (metric, labels and line named).
Result<sizer::GuestObservation> GuestObservationFromShimMetrics(std::string_view text,
                                                                std::string_view source,
                                                                std::string_view sandbox_id = {});

}  // namespace uvm::guest
