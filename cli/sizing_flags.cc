#include "cli/sizing_flags.h"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/error_codes.h"
#include "cli/io.h"
#include "config/duration.h"
#include "sizer/formats/profiles_toml.h"

namespace uvm::cli {
namespace {
constexpr std::string_view kKataConfigProfile = "kata-config";
}  // namespace

Result<sizer::Quantity> ParseFlagQuantity(std::string_view flag, const std::string& text) {
  auto q = sizer::Quantity::Parse(text);
  if (!q) return WithMessage(q.error(), fmt::format("{}: {}", flag, q.error().message));
  if (q->IsNegative()) return InvalidInput(fmt::format("{}: must not be negative, got \"{}\"", flag, text));
  return q;
}

void SizingFlags::Register(CLI::App& command) {
  command.add_option("--profiles-file", profiles_file,
                     "TOML file with custom [profiles.NAME], [handlers] and [runtime_class_aliases]");
  command.add_option("--host-overhead-fixed", host_overhead_fixed,
                     "host memory the VMM, shim and virtiofsd take per UVM (default 86Mi)");
  command.add_option("--host-overhead-per-gib", host_overhead_per_gib,
                     "host memory they take per GiB of guest RAM (default 4.4Mi)");
  command.add_option("--cpu-cfs-quota", cpu_cfs_quota, "the kubelet's --cpu-cfs-quota (default true)");
  command.add_option("--cpu-cfs-quota-period", cpu_cfs_quota_period,
                     "the kubelet's --cpu-cfs-quota-period, e.g. 100ms (default 100ms)");
  command.add_flag("--static-cpu-manager", static_cpu_manager,
                   "the node runs the static CPU manager: integer-CPU Guaranteed pods get no CFS quota");
  command.add_option("--kata-config", kata_config,
                     "a node's Kata configuration.toml: VM handlers are sized with the profile it implies, "
                     "including its enable_annotations");
  command.add_option("--node-cpus", node_cpus,
                     "the node's CPUs, for Kata's checks of default_vcpus/default_max_vcpus annotations");
}

Result<sizer::SizingContext> SizingFlags::BuildContext() const {
  sizer::SizingContext ctx;
  if (!host_overhead_fixed.empty()) {
    auto q = ParseFlagQuantity("--host-overhead-fixed", host_overhead_fixed);
    if (!q) return q.error();
    ctx.host.fixed_bytes = q->Value();
  }
  if (!host_overhead_per_gib.empty()) {
    auto q = ParseFlagQuantity("--host-overhead-per-gib", host_overhead_per_gib);
    if (!q) return q.error();
    ctx.host.per_gib_bytes = q->Value();
  }
  ctx.kubelet.cpu_cfs_quota = cpu_cfs_quota;
  ctx.kubelet.static_cpu_manager = static_cpu_manager;
  if (!cpu_cfs_quota_period.empty()) {
    auto period = daemon::ParseCfsQuotaPeriod(cpu_cfs_quota_period);
    if (!period)
      return Error{.message = fmt::format("--cpu-cfs-quota-period: {}", period.error().message),
                   .code = ErrorCode::kInvalidInput};
    ctx.kubelet.cpu_cfs_quota_period_us = period->count();
  }
  if (!profiles_file.empty()) {
    auto text = ReadInput(profiles_file);
    if (!text) return text.error();
    auto file = sizer::formats::ParseProfileFile(*text);
    if (!file) return WithMessage(file.error(), fmt::format("{}: {}", profiles_file, file.error().message));
    for (auto& p : file->profiles) ctx.catalog.Put(std::move(p));
    for (const auto& [handler, profile] : file->handlers) {
      auto st = ctx.catalog.MapHandler(handler, profile);
      if (!st)
        return WithMessage(st.error(), fmt::format("{}: [handlers] {}", profiles_file, st.error().message));
    }
    for (const auto& [name, handler] : file->runtime_class_aliases) ctx.runtime_class_aliases[name] = handler;
  }
  ctx.host_cpus = node_cpus;
  if (!kata_config.empty()) {
    auto text = ReadInput(kata_config);
    if (!text) return text.error();
    auto profile = sizer::formats::ProfileFromKataConfig(*text, std::string(kKataConfigProfile), node_cpus);
    if (!profile) {
      return WithMessage(profile.error(), fmt::format("{}: {}", kata_config, profile.error().message));
    }
    profile->description = fmt::format("derived from {} (--kata-config)", kata_config);
    ctx.catalog.Put(std::move(*profile));
    // Every handler that has a profile is a VM handler: the node's Kata file decides all of them.
    std::vector<std::string> handlers;
    for (const auto& [handler, name] : ctx.catalog.handlers()) handlers.push_back(handler);
    for (auto& handler : handlers) {
      if (auto st = ctx.catalog.MapHandler(std::move(handler), kKataConfigProfile); !st) return st.error();
    }
  }
  return ctx;
}

}  // namespace uvm::cli
