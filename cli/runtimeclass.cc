// `uvm-sizer runtimeclass`: a node.k8s.io/v1 RuntimeClass whose overhead.podFixed holds the UVM's own OS
// and the host-side VMM overhead, with a comment that explains each number.
#include <algorithm>
#include <cmath>
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/sizing_flags.h"
#include "sizer/overhead.h"

namespace uvm::cli {
namespace {

constexpr int64_t kMib = 1 << 20;
// The VMM's own threads (I/O, vhost, shim) when the profile gives the UVM no base vCPU: the value of the
// RuntimeClass example in Kata's documentation (docs/how-to: overhead podFixed cpu 250m).
constexpr int64_t kMinimumCpuOverheadMillis = 250;
constexpr uint32_t kDefaultWorkloadMib = 8192;

struct RuntimeClassOptions {
  std::string handler;
  std::string profile;
  std::string name;
  std::string vm_memory;
  SizingFlags sizing;
};

int64_t CeilMib(int64_t bytes) {
  return (bytes + kMib - 1) / kMib;
}

int Run(const RuntimeClassOptions& opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer runtimeclass: " << message << '\n';
    return 2;
  };
  auto ctx = opt.sizing.BuildContext();
  if (!ctx) return fail(ctx.error().message);
  const sizer::Profile* profile =
      opt.profile.empty() ? ctx->catalog.ForHandler(opt.handler) : ctx->catalog.Find(opt.profile);
  if (!profile) {
    return fail(
        opt.profile.empty()
            ? fmt::format("--handler: handler \"{}\" has no profile; name one with --profile", opt.handler)
            : fmt::format("--profile: unknown profile \"{}\"", opt.profile));
  }
  // The per-GiB part of the host overhead grows with the VM, but podFixed is one number for every pod of
  // the class: by default it covers pods with up to 8 GiB of memory limits (or the no-limit default, if
  // larger); --vm-memory names another VM size.
  uint32_t vm_mib =
      profile->base_memory_mib + std::max(profile->default_workload_mem_mib, kDefaultWorkloadMib);
  if (!opt.vm_memory.empty()) {
    auto q = ParseFlagQuantity("--vm-memory", opt.vm_memory);
    if (!q) return fail(q.error().message);
    int64_t mib = CeilMib(q->Value());
    if (mib <= 0 || mib > UINT32_MAX)
      return fail(fmt::format("--vm-memory: out of range \"{}\"", opt.vm_memory));
    vm_mib = static_cast<uint32_t>(mib);
  }
  int64_t host_bytes = ctx->host.OverheadBytes(vm_mib);
  int64_t memory_mib = profile->base_memory_mib + CeilMib(host_bytes);
  int64_t base_cpu_millis =
      static_cast<int64_t>(std::ceil(static_cast<double>(profile->base_vcpus) * 1000.0));
  int64_t cpu_millis = std::max(base_cpu_millis, kMinimumCpuOverheadMillis);
  std::string cpu =
      cpu_millis % 1000 == 0 ? std::to_string(cpu_millis / 1000) : fmt::format("{}m", cpu_millis);
  std::string name = opt.name.empty() ? opt.handler : opt.name;

  std::cout << fmt::format(
      "# RuntimeClass for handler \"{handler}\", computed by uvm-sizer {version} with profile {profile}.\n"
      "# overhead.podFixed.memory = {memory}Mi:\n"
      "#   {base} MiB  the UVM's own OS (profile base_memory_mib)\n"
      "#   {host} MiB  host-side overhead of the VMM, shim and virtiofsd for a {vm} MiB VM\n"
      "#          ({fixed:.1f} MiB fixed + {per_gib:.2f} MiB per GiB of guest RAM; measure your nodes and "
      "pass\n"
      "#          --host-overhead-fixed / --host-overhead-per-gib, or --vm-memory for larger pods)\n"
      "# overhead.podFixed.cpu = {cpu}: the UVM's base vCPUs ({base_vcpus}), at least {min_cpu}m for the "
      "VMM's threads.\n"
      "# The kubelet adds podFixed to the pod cgroup and the scheduler reserves it; pods whose UVM needs "
      "more\n"
      "# show up in `uvm-sizer size` and in uvm_sizer_pod_overhead_* metrics.\n",
      fmt::arg("handler", opt.handler), fmt::arg("version", UVM_SIZER_VERSION),
      fmt::arg("profile", profile->name), fmt::arg("memory", memory_mib),
      fmt::arg("base", profile->base_memory_mib), fmt::arg("host", CeilMib(host_bytes)),
      fmt::arg("vm", vm_mib), fmt::arg("fixed", static_cast<double>(ctx->host.fixed_bytes) / kMib),
      fmt::arg("per_gib", static_cast<double>(ctx->host.per_gib_bytes) / kMib), fmt::arg("cpu", cpu),
      fmt::arg("base_vcpus", profile->base_vcpus), fmt::arg("min_cpu", kMinimumCpuOverheadMillis));
  if (profile->default_workload_mem_mib != 0) {
    std::cout << fmt::format(
        "# Note: pods without a memory limit also get {} MiB of guest RAM that no limit or overhead accounts "
        "for.\n",
        profile->default_workload_mem_mib);
  }
  std::cout << "apiVersion: node.k8s.io/v1\n"
               "kind: RuntimeClass\n"
               "metadata:\n"
            << fmt::format("  name: \"{}\"\n", name) << fmt::format("handler: \"{}\"\n", opt.handler)
            << "overhead:\n"
               "  podFixed:\n"
            << fmt::format("    memory: \"{}Mi\"\n", memory_mib) << fmt::format("    cpu: \"{}\"\n", cpu);
  return 0;
}

// RFC 1123 DNS label, as Kubernetes requires of handlers and (subdomain) of names: keeps the YAML we
// print well-formed whatever the operator types.
bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

}  // namespace

void AddRuntimeClassCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<RuntimeClassOptions>();
  auto* cmd =
      app.add_subcommand("runtimeclass", "Print a RuntimeClass with the overhead.podFixed a handler needs");
  cmd->add_option("--handler", opt->handler, "the CRI runtime handler (e.g. kata-cc)")->required();
  cmd->add_option("--profile", opt->profile, "size with this profile instead of the handler's");
  cmd->add_option("--name", opt->name, "the RuntimeClass name (default: the handler)");
  cmd->add_option(
      "--vm-memory", opt->vm_memory,
      "size the per-GiB host overhead for a VM of this much memory (default: the profile base + 8Gi)");
  opt->sizing.Register(*cmd);
  cmd->callback([opt, &exit_code] {
    for (auto [flag, value] : {std::pair{"--handler", &opt->handler}, std::pair{"--name", &opt->name}}) {
      if (!value->empty() && !IsDnsLabel(*value)) {
        std::cerr << fmt::format("uvm-sizer runtimeclass: {}: \"{}\" is not a valid DNS label\n", flag,
                                 *value);
        exit_code = 2;
        return;
      }
    }
    exit_code = Run(*opt);
  });
}

}  // namespace uvm::cli
