#include "sizer/formats/size_report.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/error_codes.h"
#include "sizer/formats/csv.h"
#include "sizer/formats/manifest.h"

namespace uvm::sizer::formats {
namespace {

using nlohmann::json;

json Nullable(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

json NullableText(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

json PodJson(const PodSizing& s) {
  return {
      {"kind", s.ref.kind},
      {"namespace", s.ref.namespace_},
      {"name", s.ref.name},
      {"document", s.ref.document},
      {"source", NullableText(s.ref.source)},
      {"node", NullableText(s.ref.node_name)},
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

json TotalsJson(const SizeTotals& t) {
  return {{"pods", t.pods},
          {"vm_pods", t.vm_pods},
          {"refused_pods", t.refused_pods},
          {"uvm_vcpus", t.uvm_vcpus},
          {"uvm_memory_mib", t.uvm_memory_mib},
          {"host_memory_bytes", t.host_memory_bytes},
          {"overhead_shortfall_bytes", t.overhead_shortfall_bytes}};
}

// Sums of a few thousand pods never come near 2^63, but a hostile limit can; a wrapped sum would be a
// plausible-looking lie, a saturated one is visibly absurd.
void AddTo(int64_t& sum, int64_t value) {
  if (__builtin_add_overflow(sum, value, &sum)) sum = std::numeric_limits<int64_t>::max();
}

void Count(SizeTotals& t, const PodSizing& s) {
  AddTo(t.pods, 1);
  if (!s.profile) return;
  if (!s.uvm) {
    AddTo(t.refused_pods, 1);
    return;
  }
  AddTo(t.vm_pods, 1);
  AddTo(t.uvm_vcpus, s.uvm->vcpus);
  AddTo(t.uvm_memory_mib, s.uvm->memory_mib);
  AddTo(t.host_memory_bytes, s.host_memory_bytes.value_or(0));
  AddTo(t.overhead_shortfall_bytes, s.overhead.shortfall_bytes);
}

std::string DisplayName(const NamedInput& input) {
  return input.source == "-" ? "<stdin>" : input.source;
}

Error Prefixed(const NamedInput& input, const Error& e) {
  if (input.source.empty()) return e;
  return WithMessage(e, fmt::format("{}: {}", DisplayName(input), e.message));
}

bool SameRuntimeClass(const RuntimeClass& a, const RuntimeClass& b) {
  return a.handler == b.handler && a.overhead_pod_fixed.cpu == b.overhead_pod_fixed.cpu &&
         a.overhead_pod_fixed.memory == b.overhead_pod_fixed.memory;
}

// ---- CSV ----

CsvCell Text(std::string s) {
  return CsvText(std::move(s));
}
CsvCell Number(int64_t v) {
  return CsvNumber(v);
}
CsvCell Number(const std::optional<int64_t>& v) {
  return CsvNumber(v);
}

struct CsvColumn {
  std::string_view name;
  std::function<CsvCell(const PodSizing&)> cell;
};

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += out.empty() ? l : "; " + l;
  return out;
}

const std::vector<CsvColumn>& Columns() {
  static const std::vector<CsvColumn> columns = {
      {"source", [](const PodSizing& s) { return Text(s.ref.source); }},
      {"document", [](const PodSizing& s) { return Number(s.ref.document); }},
      {"kind", [](const PodSizing& s) { return Text(s.ref.kind); }},
      {"namespace", [](const PodSizing& s) { return Text(s.ref.namespace_); }},
      {"name", [](const PodSizing& s) { return Text(s.ref.name); }},
      {"node", [](const PodSizing& s) { return Text(s.ref.node_name); }},
      {"handler", [](const PodSizing& s) { return Text(s.handler); }},
      {"profile", [](const PodSizing& s) { return Text(s.profile.value_or("")); }},
      {"vm_isolated", [](const PodSizing& s) { return CsvCell{s.profile ? "true" : "false"}; }},
      {"qos_class", [](const PodSizing& s) { return CsvCell{QosName(s.qos)}; }},
      {"uvm_vcpus", [](const PodSizing& s) { return s.uvm ? Number(int64_t{s.uvm->vcpus}) : CsvCell{}; }},
      {"uvm_memory_mib",
       [](const PodSizing& s) { return s.uvm ? Number(int64_t{s.uvm->memory_mib}) : CsvCell{}; }},
      {"host_memory_bytes", [](const PodSizing& s) { return Number(s.host_memory_bytes); }},
      {"pod_cgroup_memory_limit_bytes",
       [](const PodSizing& s) { return Number(s.pod_cgroup.memory_limit_bytes); }},
      {"pod_cgroup_cpu_quota_us", [](const PodSizing& s) { return Number(s.pod_cgroup.cpu_quota_us); }},
      {"overhead_required_memory_bytes",
       [](const PodSizing& s) { return Number(s.overhead.required_memory_bytes); }},
      {"overhead_declared_memory_bytes",
       [](const PodSizing& s) { return Number(s.overhead.declared_memory_bytes); }},
      {"overhead_shortfall_bytes", [](const PodSizing& s) { return Number(s.overhead.shortfall_bytes); }},
      {"overhead_required_cpu_millis",
       [](const PodSizing& s) { return Number(s.overhead.required_cpu_millis); }},
      {"overhead_declared_cpu_millis",
       [](const PodSizing& s) { return Number(s.overhead.declared_cpu_millis); }},
      {"error", [](const PodSizing& s) { return Text(s.refusal.value_or("")); }},
      {"warnings", [](const PodSizing& s) { return Text(Joined(s.warnings)); }},
  };
  return columns;
}

}  // namespace

Result<SizeReport> SizeManifests(std::span<const NamedInput> inputs, SizingContext context) {
  SizeReport report;
  const bool several = inputs.size() > 1;
  std::vector<Manifest> manifests;
  manifests.reserve(inputs.size());
  // Where each RuntimeClass of `context` came from, to name both sides of a conflict.
  std::vector<std::string> origin(context.runtime_classes.size(), "the caller");
  for (const auto& input : inputs) {
    auto manifest = ParseManifest(input.text);
    if (!manifest) return Prefixed(input, manifest.error());
    for (auto& w : manifest->warnings)
      report.warnings.push_back(several ? fmt::format("{}: {}", DisplayName(input), w) : std::move(w));
    for (auto& rc : manifest->runtime_classes) {
      auto same_name = std::find_if(context.runtime_classes.begin(), context.runtime_classes.end(),
                                    [&](const RuntimeClass& known) { return known.name == rc.name; });
      if (same_name == context.runtime_classes.end()) {
        context.runtime_classes.push_back(std::move(rc));
        origin.push_back(DisplayName(input));
        continue;
      }
      // SizePod uses the first of a name; say so when a later one would have sized differently.
      if (!SameRuntimeClass(*same_name, rc)) {
        size_t first = static_cast<size_t>(same_name - context.runtime_classes.begin());
        std::string where = several ? fmt::format(" in {}", DisplayName(input)) : "";
        report.warnings.push_back(
            fmt::format("RuntimeClass \"{}\"{} differs from the one read first (from {}): the first is used",
                        rc.name, where, origin[first]));
      }
    }
    manifest->warnings.clear();
    manifest->runtime_classes.clear();
    manifests.push_back(std::move(*manifest));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    for (auto& pod : manifests[i].pods) {
      if (!inputs[i].source.empty()) pod.ref.source = inputs[i].source;
      auto s = SizePod(pod, context);
      if (!s) return Prefixed(inputs[i], s.error());
      report.refused = report.refused || s->refusal.has_value();
      report.pods.push_back(std::move(*s));
    }
  }
  return report;
}

Result<SizeReport> SizeManifest(std::string_view yaml_text, SizingContext context) {
  const NamedInput input{.source = "", .text = yaml_text};
  return SizeManifests(std::span<const NamedInput>(&input, 1), std::move(context));
}

ReportTotals Totals(const SizeReport& report) {
  ReportTotals out;
  std::map<std::string, SizeTotals, std::less<>> by_handler;
  for (const auto& s : report.pods) {
    Count(out.all, s);
    Count(by_handler[s.handler], s);
  }
  for (auto& [handler, totals] : by_handler) out.by_handler.push_back({handler, totals});
  return out;
}

std::string SizeReportJson(const SizeReport& report) {
  json out = {{"pods", json::array()}, {"warnings", report.warnings}};
  for (const auto& s : report.pods) out["pods"].push_back(PodJson(s));
  ReportTotals totals = Totals(report);
  json totals_json = TotalsJson(totals.all);
  totals_json["by_handler"] = json::array();
  for (const auto& h : totals.by_handler) {
    json one = TotalsJson(h.totals);
    one["handler"] = NullableText(h.handler);
    totals_json["by_handler"].push_back(std::move(one));
  }
  out["totals"] = std::move(totals_json);
  // Replace invalid UTF-8 from hostile names instead of throwing.
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

const std::vector<std::string_view>& CsvColumns() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& c : Columns()) v.push_back(c.name);
    return v;
  }();
  return names;
}

std::string SizeReportCsv(const SizeReport& report) {
  std::string out;
  const auto& columns = Columns();
  for (size_t i = 0; i < columns.size(); ++i) {
    if (i > 0) out += ',';
    out += columns[i].name;
  }
  out += "\r\n";
  for (const auto& s : report.pods) {
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) out += ',';
      AppendCsvField(out, columns[i].cell(s));
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace uvm::sizer::formats
