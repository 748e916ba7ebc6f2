#include "sizer/formats/size_report.h"

#include <nlohmann/json.hpp>

#include "sizer/formats/manifest.h"

namespace uvm::sizer::formats {
namespace {

using nlohmann::json;

json Nullable(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

json PodJson(const PodSizing& s) {
  return {
      {"kind", s.ref.kind},
      {"namespace", s.ref.namespace_},
      {"name", s.ref.name},
      {"document", s.ref.document},
      {"handler", s.handler.empty() ? json(nullptr) : json(s.handler)},
      {"profile", s.profile ? json(*s.profile) : json(nullptr)},
      {"vm_isolated", s.profile.has_value()},
      {"qos_class", QosName(s.qos)},
      {"sandbox",
       {{"cpu_period", s.sandbox.cpu_period},
        {"cpu_quota", s.sandbox.cpu_quota},
        {"cpu_shares", s.sandbox.cpu_shares},
        {"memory_limit_in_bytes", s.sandbox.memory_limit_in_bytes}}},
      {"uvm", s.uvm ? json{{"vcpus", s.uvm->vcpus},
                           {"memory_mib", s.uvm->memory_mib},
                           {"workload_vcpus", s.uvm->workload_vcpus},
                           {"workload_memory_mib", s.uvm->workload_memory_mib}}
                    : json(nullptr)},
      {"error", s.refusal ? json(*s.refusal) : json(nullptr)},
      {"pod_cgroup_memory_limit_bytes", Nullable(s.pod_cgroup.memory_limit_bytes)},
      {"pod_cgroup",
       {{"memory_limit_bytes", Nullable(s.pod_cgroup.memory_limit_bytes)},
        {"cpu_quota_us", Nullable(s.pod_cgroup.cpu_quota_us)},
        {"cpu_period_us", s.pod_cgroup.cpu_period_us},
        {"cpu_shares", s.pod_cgroup.cpu_shares}}},
      {"host_memory_bytes", Nullable(s.host_memory_bytes)},
      {"overhead",
       {{"required_memory_bytes", s.overhead.required_memory_bytes},
        {"declared_memory_bytes", s.overhead.declared_memory_bytes},
        {"shortfall_bytes", s.overhead.shortfall_bytes},
        {"required_cpu_millis", s.overhead.required_cpu_millis},
        {"declared_cpu_millis", s.overhead.declared_cpu_millis}}},
      {"warnings", s.warnings},
  };
}

}  // namespace

Result<SizeReport> SizeManifest(std::string_view yaml_text, SizingContext context) {
  auto manifest = ParseManifest(yaml_text);
  if (!manifest) return manifest.error();
  for (auto& rc : manifest->runtime_classes) context.runtime_classes.push_back(std::move(rc));
  SizeReport report;
  report.warnings = std::move(manifest->warnings);
  for (const auto& pod : manifest->pods) {
    auto s = SizePod(pod, context);
    if (!s) return s.error();
    report.refused = report.refused || s->refusal.has_value();
    report.pods.push_back(std::move(*s));
  }
  return report;
}

std::string SizeReportJson(const SizeReport& report) {
  json out = {{"pods", json::array()}, {"warnings", report.warnings}};
  for (const auto& s : report.pods) out["pods"].push_back(PodJson(s));
  // Replace invalid UTF-8 from hostile names instead of throwing.
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

}  // namespace uvm::sizer::formats
