// Flags shared by the sizing subcommands (size, runtimeclass): custom profiles, the host-overhead model
// and the kubelet's node settings, turned into one SizingContext.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "sizer/size_pod.h"

namespace CLI {
class App;
}

namespace uvm::cli {

struct SizingFlags {
  std::string profiles_file;
  std::string host_overhead_fixed;
  std::string host_overhead_per_gib;
  bool cpu_cfs_quota = true;
  std::string cpu_cfs_quota_period;
  bool static_cpu_manager = false;
  // A node's Kata configuration.toml: every VM handler is sized with the profile derived from it
  // (ProfileFromKataConfig), including which per-pod annotations it enables.
  std::string kata_config;
  // The node's CPUs, for Kata's annotation checks (default_vcpus above it is refused); 0 = unknown.
  uint32_t node_cpus = 0;

  void Register(CLI::App& command);
  // Reads the profiles file and parses the quantities; errors name the flag and value.
  Result<sizer::SizingContext> BuildContext() const;
};

// Parses a quantity given on the command line; the error names the flag.
Result<sizer::Quantity> ParseFlagQuantity(std::string_view flag, const std::string& text);

}  // namespace uvm::cli
