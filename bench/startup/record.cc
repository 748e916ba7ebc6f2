#include "bench/startup/record.h"

namespace uvm::startup {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kRunPodSandbox:
      return "run_sandbox";
    case Phase::kPodSandboxStatus:
      return "sandbox_status";
    case Phase::kImageStatus:
      return "image_status";
    case Phase::kPullImage:
      return "pull_image";
    case Phase::kCreateContainer:
      return "create_container";
    case Phase::kStartContainer:
      return "start_container";
    case Phase::kRunningSeen:
      return "running_seen";
  }
  return "unknown";
}

}  // namespace uvm::startup
