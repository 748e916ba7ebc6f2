// Synthetic pod records for the startup tests: the shape the runner writes, with chosen durations.
#pragma once

#include <cstdint>
#include <string>

#include "bench/startup/record.h"

namespace uvm::startup::testing_pods {

constexpr int64_t kMs = 1'000'000;

// A completed pod whose phases add up to `total_ms` (run_sandbox takes 60 % of it, the rest is spread).
inline PodRecord Completed(const std::string& handler, int level, int burst, int64_t start_offset_ms,
                           double total_ms) {
  PodRecord pod;
  pod.run_id = "synthetic";
  pod.handler = handler;
  pod.runtime_type = "io.containerd.runc.v2";
  pod.stand_in = handler != "runc";
  pod.mode = "burst";
  pod.level = level;
  pod.mem_limit = "none";
  pod.cpu_limit = "none";
  pod.predicted_uvm.vm_isolated = handler != "runc";
  if (pod.predicted_uvm.vm_isolated) {
    pod.predicted_uvm.profile = handler + "-card";
    pod.predicted_uvm.vcpus = 1;
    pod.predicted_uvm.memory_mib = 2304;
  }
  pod.pod_name = handler + "-" + std::to_string(start_offset_ms);
  pod.sandbox_id = "sb-" + pod.pod_name;
  pod.start_unix_ns = 1764678000000000000 + start_offset_ms * kMs;
  pod.start_offset_ns = start_offset_ms * kMs;
  pod.burst = burst;
  const auto total = static_cast<int64_t>(total_ms * kMs);
  const int64_t run = total * 6 / 10;
  const int64_t rest = total - run;
  pod.phase_ns[static_cast<int>(Phase::kRunPodSandbox)] = run;
  pod.phase_ns[static_cast<int>(Phase::kPodSandboxStatus)] = rest / 10;
  pod.phase_ns[static_cast<int>(Phase::kImageStatus)] = rest / 10;
  pod.phase_ns[static_cast<int>(Phase::kCreateContainer)] = rest * 4 / 10;
  pod.phase_ns[static_cast<int>(Phase::kStartContainer)] = rest * 3 / 10;
  int64_t sum = 0;
  for (const auto& p : pod.phase_ns) sum += p.value_or(0);
  pod.phase_ns[static_cast<int>(Phase::kRunningSeen)] = total - sum;
  pod.total_ns = total;
  pod.unaccounted_ns = 0;
  pod.stop_sandbox_ns = 20 * kMs;
  pod.remove_sandbox_ns = 5 * kMs;
  return pod;
}

inline PodRecord Failed(const std::string& handler, int level, int burst, int64_t start_offset_ms,
                        const std::string& code) {
  PodRecord pod = Completed(handler, level, burst, start_offset_ms, 100);
  for (auto& p : pod.phase_ns) p.reset();
  pod.total_ns.reset();
  pod.unaccounted_ns.reset();
  pod.sandbox_id.clear();
  pod.error = PodError{.phase = "run_sandbox", .code = code, .message = "synthetic failure"};
  return pod;
}

}  // namespace uvm::startup::testing_pods
