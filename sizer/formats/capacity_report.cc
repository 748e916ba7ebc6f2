#include "sizer/formats/capacity_report.h"

#include <algorithm>
#include <functional>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "sizer/formats/csv.h"

namespace uvm::sizer::formats {
namespace {

using nlohmann::json;

constexpr int64_t kMib = int64_t{1} << 20;
constexpr double kGib = 1024.0 * 1024.0 * 1024.0;

// A hostile sum must not wrap into a plausible number.
void AddTo(int64_t& sum, int64_t value) {
  if (__builtin_add_overflow(sum, value, &sum))
    sum = value > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

void AddBreakdown(MemoryBreakdown& sum, const MemoryBreakdown& b) {
  AddTo(sum.scheduler_requests_bytes, b.scheduler_requests_bytes);
  AddTo(sum.scheduler_overhead_bytes, b.scheduler_overhead_bytes);
  AddTo(sum.host_uvm_bytes, b.host_uvm_bytes);
  AddTo(sum.host_vmm_overhead_bytes, b.host_vmm_overhead_bytes);
  AddTo(sum.host_other_pods_bytes, b.host_other_pods_bytes);
}

// ---- text ----

// Control bytes of input names written as escapes, so a name cannot break or forge a row.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte != 0x7f) {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", byte);
    }
  }
  return out;
}

// Columns padded to their widest cell, two spaces apart; the last column is not padded.
void AppendTable(std::string& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i)
      line += i + 1 == r.size() ? r[i] : fmt::format("{:<{}}  ", r[i], width[i]);
    out += line;
    out += '\n';
  }
}

std::string Mib(int64_t bytes) {
  if (bytes % kMib == 0) return fmt::format("{}Mi", bytes / kMib);
  return fmt::format("{:.1f}Mi", static_cast<double>(bytes) / kMib);
}

std::string Millis(int64_t millis) {
  return fmt::format("{}m", millis);
}

std::string Count(const std::optional<int64_t>& v) {
  return v ? std::to_string(*v) : "unbounded";
}

std::string Binding(const Fit& fit) {
  return fit.binding == FitResource::kNone ? "-" : FitResourceName(fit.binding);
}

std::string PodName(const ObjectRef& ref) {
  return fmt::format("{} {}/{}", ref.kind, ref.namespace_, ref.name);
}

std::vector<std::string> LedgerRow(std::string name, int64_t pods, int64_t vm_pods, const NodeAllocatable& a,
                                   const ViewLedger& scheduler, const ViewLedger& host) {
  return {std::move(name),
          std::to_string(pods),
          std::to_string(vm_pods),
          Mib(a.memory_bytes),
          Mib(scheduler.committed_memory_bytes),
          Mib(host.committed_memory_bytes),
          Mib(scheduler.free_memory_bytes),
          Mib(host.free_memory_bytes),
          Millis(a.cpu_millis),
          Millis(scheduler.committed_cpu_millis),
          Millis(scheduler.free_cpu_millis)};
}

std::vector<std::string> FitRow(const std::string& node, const ShapeFit& f) {
  return {node,
          Printable(f.shape),
          Count(f.scheduler.count),
          Count(f.host.count),
          f.gap ? std::to_string(*f.gap) : "-",
          Binding(f.scheduler),
          Binding(f.host)};
}

std::string Joined(const std::vector<ObjectRef>& refs, size_t max = 10) {
  std::string out;
  for (size_t i = 0; i < refs.size() && i < max; ++i)
    out += (i ? ", " : "") + Printable(refs[i].namespace_ + "/" + refs[i].name);
  if (refs.size() > max) out += fmt::format(", and {} more", refs.size() - max);
  return out;
}

// ---- JSON ----

json Nullable(const std::optional<int64_t>& v) {
  return v ? json(*v) : json(nullptr);
}

json AllocatableJson(const NodeAllocatable& a) {
  return {{"memory_bytes", a.memory_bytes}, {"cpu_millis", a.cpu_millis}, {"pods", a.pods}};
}

json ViewJson(const ViewLedger& v) {
  return {{"committed_memory_bytes", v.committed_memory_bytes},
          {"committed_cpu_millis", v.committed_cpu_millis},
          {"free_memory_bytes", v.free_memory_bytes},
          {"free_cpu_millis", v.free_cpu_millis}};
}

json FitJson(const Fit& f) {
  return {{"count", Nullable(f.count)},
          {"binding", f.binding == FitResource::kNone ? json(nullptr) : json(FitResourceName(f.binding))},
          {"by_memory", Nullable(f.by_memory)},
          {"by_cpu", Nullable(f.by_cpu)},
          {"by_pods", Nullable(f.by_pods)}};
}

json FitsJson(const std::vector<ShapeFit>& fits) {
  json out = json::array();
  for (const auto& f : fits)
    out.push_back({{"shape", f.shape},
                   {"scheduler", FitJson(f.scheduler)},
                   {"host", FitJson(f.host)},
                   {"gap", Nullable(f.gap)}});
  return out;
}

json BreakdownJson(const MemoryBreakdown& b) {
  return {{"scheduler_requests_bytes", b.scheduler_requests_bytes},
          {"scheduler_overhead_bytes", b.scheduler_overhead_bytes},
          {"host_uvm_bytes", b.host_uvm_bytes},
          {"host_vmm_overhead_bytes", b.host_vmm_overhead_bytes},
          {"host_other_pods_bytes", b.host_other_pods_bytes}};
}

json RefJson(const ObjectRef& r) {
  return {{"kind", r.kind},
          {"namespace", r.namespace_},
          {"name", r.name},
          {"node", r.node_name.empty() ? json(nullptr) : json(r.node_name)},
          {"phase", r.phase.empty() ? json(nullptr) : json(r.phase)}};
}

json RefsJson(const std::vector<ObjectRef>& refs) {
  json out = json::array();
  for (const auto& r : refs) out.push_back(RefJson(r));
  return out;
}

// ---- CSV ----

struct CsvRow {
  std::string scope;  // "node" or "cluster"
  std::string node;
  int64_t pods = 0;
  int64_t vm_pods = 0;
  NodeAllocatable allocatable;
  const ViewLedger* scheduler = nullptr;
  const ViewLedger* host = nullptr;
  const ShapeFit* fit = nullptr;  // nullptr: no shape
};

struct CsvColumn {
  std::string_view name;
  std::function<CsvCell(const CsvRow&)> cell;
};

CsvCell FitCell(const CsvRow& r, const std::function<std::optional<int64_t>(const ShapeFit&)>& get) {
  return r.fit ? CsvNumber(get(*r.fit)) : CsvCell{};
}

CsvCell BindingCell(const Fit& f) {
  return f.binding == FitResource::kNone ? CsvCell{} : CsvCell{FitResourceName(f.binding)};
}

const std::vector<CsvColumn>& Columns() {
  static const std::vector<CsvColumn> columns = {
      {"scope", [](const CsvRow& r) { return CsvCell{r.scope}; }},
      {"node", [](const CsvRow& r) { return CsvText(r.node); }},
      {"pods", [](const CsvRow& r) { return CsvNumber(r.pods); }},
      {"vm_pods", [](const CsvRow& r) { return CsvNumber(r.vm_pods); }},
      {"allocatable_memory_bytes", [](const CsvRow& r) { return CsvNumber(r.allocatable.memory_bytes); }},
      {"allocatable_cpu_millis", [](const CsvRow& r) { return CsvNumber(r.allocatable.cpu_millis); }},
      {"allocatable_pods", [](const CsvRow& r) { return CsvNumber(r.allocatable.pods); }},
      {"scheduler_committed_memory_bytes",
       [](const CsvRow& r) { return CsvNumber(r.scheduler->committed_memory_bytes); }},
      {"host_committed_memory_bytes",
       [](const CsvRow& r) { return CsvNumber(r.host->committed_memory_bytes); }},
      {"scheduler_free_memory_bytes",
       [](const CsvRow& r) { return CsvNumber(r.scheduler->free_memory_bytes); }},
      {"host_free_memory_bytes", [](const CsvRow& r) { return CsvNumber(r.host->free_memory_bytes); }},
      {"committed_cpu_millis", [](const CsvRow& r) { return CsvNumber(r.scheduler->committed_cpu_millis); }},
      {"free_cpu_millis", [](const CsvRow& r) { return CsvNumber(r.scheduler->free_cpu_millis); }},
      {"shape", [](const CsvRow& r) { return r.fit ? CsvText(r.fit->shape) : CsvCell{}; }},
      {"fit_scheduler",
       [](const CsvRow& r) { return FitCell(r, [](const ShapeFit& f) { return f.scheduler.count; }); }},
      {"fit_host",
       [](const CsvRow& r) { return FitCell(r, [](const ShapeFit& f) { return f.host.count; }); }},
      {"gap", [](const CsvRow& r) { return FitCell(r, [](const ShapeFit& f) { return f.gap; }); }},
      {"binding_scheduler",
       [](const CsvRow& r) { return r.fit ? BindingCell(r.fit->scheduler) : CsvCell{}; }},
      {"binding_host", [](const CsvRow& r) { return r.fit ? BindingCell(r.fit->host) : CsvCell{}; }},
  };
  return columns;
}

void AppendCsvRows(std::string& out, CsvRow row, const std::vector<ShapeFit>& fits) {
  auto one = [&](const CsvRow& r) {
    const auto& columns = Columns();
    for (size_t i = 0; i < columns.size(); ++i) {
      if (i > 0) out += ',';
      AppendCsvField(out, columns[i].cell(r));
    }
    out += "\r\n";
  };
  if (fits.empty()) {
    one(row);
    return;
  }
  for (const auto& f : fits) {
    row.fit = &f;
    one(row);
  }
}

// ---- plot ----

std::string PlotLabel(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 40)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
    out += keep ? c : '_';
  }
  return out.empty() ? "_" : out;
}

double Gib(int64_t bytes) {
  return static_cast<double>(bytes) / kGib;
}

}  // namespace

MemoryBreakdown BreakdownOf(std::span<const LedgerPod> pods) {
  MemoryBreakdown b;
  for (const auto& p : pods) {
    AddTo(b.scheduler_requests_bytes, SchedulerMemoryNeed(p) - p.overhead_memory_bytes);
    AddTo(b.scheduler_overhead_bytes, p.overhead_memory_bytes);
    const int64_t host = HostMemoryNeed(p);
    if (p.vm_isolated && !p.refused) {
      AddTo(b.host_uvm_bytes, p.uvm_memory_bytes);
      AddTo(b.host_vmm_overhead_bytes, host - p.uvm_memory_bytes);
    } else {
      AddTo(b.host_other_pods_bytes, host);
    }
  }
  return b;
}

void Summarize(CapacityReport& report) {
  std::vector<NodeLedger> ledgers;
  report.cluster_breakdown = {};
  for (const auto& n : report.nodes) {
    ledgers.push_back(n.ledger);
    AddBreakdown(report.cluster_breakdown, n.breakdown);
  }
  report.cluster = SumLedgers(ledgers);
}

std::string CapacityReportText(const CapacityReport& report) {
  std::string out;
  out +=
      "Memory and CPU per node (scheduler: requests + overhead; host: what the VMs take; CPU is the same in "
      "both views):\n";
  std::vector<std::vector<std::string>> rows = {
      {"NODE", "PODS", "VM PODS", "ALLOCATABLE", "COMMITTED SCHEDULER", "COMMITTED HOST", "FREE SCHEDULER",
       "FREE HOST", "CPU ALLOCATABLE", "CPU COMMITTED", "CPU FREE"}};
  for (const auto& n : report.nodes) {
    const NodeLedger& l = n.ledger;
    rows.push_back(LedgerRow(Printable(l.node), l.pods, l.vm_pods, l.allocatable, l.scheduler, l.host));
  }
  const ClusterLedger& c = report.cluster;
  rows.push_back(LedgerRow("(cluster)", c.pods, c.vm_pods, c.allocatable, c.scheduler, c.host));
  AppendTable(out, rows);

  if (!report.shapes.empty()) {
    out +=
        "\nFit: how many more pods of each shape (gap = scheduler - host: pods the scheduler would admit "
        "that "
        "the host cannot hold):\n";
    rows = {{"NODE", "SHAPE", "FIT SCHEDULER", "FIT HOST", "GAP", "BINDING SCHEDULER", "BINDING HOST"}};
    for (const auto& n : report.nodes)
      for (const auto& f : n.ledger.fits) rows.push_back(FitRow(Printable(n.ledger.node), f));
    for (const auto& f : c.fits) rows.push_back(FitRow("(cluster)", f));
    AppendTable(out, rows);

    out += "\nShapes (what one more pod needs):\n";
    rows = {{"SHAPE", "OBJECT", "HANDLER", "SCHEDULER", "HOST", "CPU"}};
    for (const auto& s : report.shapes) {
      rows.push_back({Printable(s.name), Printable(PodName(s.object)),
                      s.pod.handler.empty() ? "(default)" : Printable(s.pod.handler),
                      Mib(SchedulerMemoryNeed(s.pod)), Mib(HostMemoryNeed(s.pod)), Millis(CpuNeed(s.pod))});
    }
    AppendTable(out, rows);
  }

  std::vector<std::string> notes;
  for (const auto& n : report.nodes) {
    const std::string node = Printable(n.ledger.node);
    if (n.allocatable_from_capacity)
      notes.push_back(
          node + ": no status.allocatable: its capacity is used, which counts what the kubelet reserves");
    if (n.unschedulable)
      notes.push_back(
          node + ": cordoned (spec.unschedulable): the scheduler places no new pods here, so no shape fits");
    for (const auto& note : n.ledger.notes) notes.push_back(node + ": " + Printable(note));
  }
  if (!report.unscheduled.empty())
    notes.push_back(fmt::format("{} pods not yet bound to a node, not counted on any: {}",
                                report.unscheduled.size(), Joined(report.unscheduled)));
  if (!report.terminated.empty())
    notes.push_back(
        fmt::format("{} terminated pods (Succeeded or Failed) not counted, as the scheduler does not: {}",
                    report.terminated.size(), Joined(report.terminated)));
  if (!report.on_unknown_nodes.empty())
    notes.push_back(fmt::format("{} pods on nodes not in --nodes, not counted: {}",
                                report.on_unknown_nodes.size(), Joined(report.on_unknown_nodes)));
  for (const auto& w : report.warnings) notes.push_back(Printable(w));
  if (!notes.empty()) {
    out += "\nNotes:\n";
    for (const auto& n : notes) out += "  " + n + "\n";
  }
  return out;
}

std::string CapacityReportJson(const CapacityReport& report) {
  json nodes = json::array();
  for (const auto& n : report.nodes) {
    const NodeLedger& l = n.ledger;
    nodes.push_back({{"node", l.node},
                     {"allocatable", AllocatableJson(l.allocatable)},
                     {"allocatable_from_capacity", n.allocatable_from_capacity},
                     {"unschedulable", n.unschedulable},
                     {"pods", l.pods},
                     {"vm_pods", l.vm_pods},
                     {"vm_pods_unlimited_cgroup", l.vm_pods_unlimited_cgroup},
                     {"pods_request_unknown", l.pods_request_unknown},
                     {"vm_pods_measured_above_model", l.vm_pods_measured_above_model},
                     {"scheduler", ViewJson(l.scheduler)},
                     {"host", ViewJson(l.host)},
                     {"memory_breakdown", BreakdownJson(n.breakdown)},
                     {"fits", FitsJson(l.fits)},
                     {"notes", l.notes}});
  }
  const ClusterLedger& c = report.cluster;
  json shapes = json::array();
  for (const auto& s : report.shapes) {
    shapes.push_back({{"name", s.name},
                      {"source", s.source},
                      {"object", RefJson(s.object)},
                      {"handler", s.pod.handler.empty() ? json(nullptr) : json(s.pod.handler)},
                      {"vm_isolated", s.pod.vm_isolated},
                      {"refused", s.pod.refused},
                      {"scheduler_memory_bytes", SchedulerMemoryNeed(s.pod)},
                      {"host_memory_bytes", HostMemoryNeed(s.pod)},
                      {"cpu_millis", CpuNeed(s.pod)}});
  }
  json out = {{"nodes", std::move(nodes)},
              {"cluster",
               {{"nodes", report.nodes.size()},
                {"allocatable", AllocatableJson(c.allocatable)},
                {"pods", c.pods},
                {"vm_pods", c.vm_pods},
                {"scheduler", ViewJson(c.scheduler)},
                {"host", ViewJson(c.host)},
                {"memory_breakdown", BreakdownJson(report.cluster_breakdown)},
                {"fits", FitsJson(c.fits)}}},
              {"shapes", std::move(shapes)},
              {"unscheduled_pods", RefsJson(report.unscheduled)},
              {"terminated_pods", RefsJson(report.terminated)},
              {"pods_on_unknown_nodes", RefsJson(report.on_unknown_nodes)},
              {"warnings", report.warnings}};
  // Replace invalid UTF-8 from hostile names instead of throwing.
  return out.dump(2, ' ', false, json::error_handler_t::replace);
}

const std::vector<std::string_view>& CapacityCsvColumns() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> v;
    for (const auto& c : Columns()) v.push_back(c.name);
    return v;
  }();
  return names;
}

std::string CapacityReportCsv(const CapacityReport& report) {
  std::string out;
  const auto& names = CapacityCsvColumns();
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
  }
  out += "\r\n";
  for (const auto& n : report.nodes) {
    const NodeLedger& l = n.ledger;
    AppendCsvRows(out,
                  CsvRow{.scope = "node",
                         .node = l.node,
                         .pods = l.pods,
                         .vm_pods = l.vm_pods,
                         .allocatable = l.allocatable,
                         .scheduler = &l.scheduler,
                         .host = &l.host},
                  l.fits);
  }
  const ClusterLedger& c = report.cluster;
  AppendCsvRows(out,
                CsvRow{.scope = "cluster",
                       .node = "",
                       .pods = c.pods,
                       .vm_pods = c.vm_pods,
                       .allocatable = c.allocatable,
                       .scheduler = &c.scheduler,
                       .host = &c.host},
                c.fits);
  return out;
}

std::string CapacityPlotScript(const CapacityReport& report, std::string_view terminal) {
  const size_t n = report.nodes.size();
  std::string s;
  // Wide enough for the node names under their bars; tall enough for the key.
  const size_t width = std::max<size_t>(900, 160 + 280 * n);
  if (terminal == "png") {
    s += fmt::format(
        "set terminal pngcairo size {},620 enhanced font 'DejaVu Sans,11' background '#ffffff'\n", width);
  } else {
    s += fmt::format(
        "set terminal svg size {},620 dynamic enhanced font 'DejaVu Sans,11' background '#ffffff'\n", width);
  }
  s += "set title 'Committed memory per node: scheduler view (requests + overhead) and host view (what the "
       "VMs "
       "take)' noenhanced\n";
  s += "set ylabel 'GiB'\n";
  s += "set yrange [0:*]\n";
  s += "set grid ytics lc rgb '#dddddd'\n";
  s += "set key outside below center horizontal maxrows 2 width 2 noenhanced\n";
  s += "set style fill solid 0.9 border lc rgb '#333333'\n";
  s += "set boxwidth 0.8\n";
  s += fmt::format("set xrange [-0.8:{}]\n", 3.0 * static_cast<double>(n) - 0.4);
  // A tic under each bar names its view; the node's name goes below the pair.
  std::string tics;
  for (size_t i = 0; i < n; ++i) {
    const double x = 3.0 * static_cast<double>(i);
    tics += fmt::format("{}'scheduler' {:.1f}, 'host' {:.1f}", i ? ", " : "", x, x + 1);
    s += fmt::format("set label {} '{}' at first {:.1f}, graph -0.08 center noenhanced font ',10'\n", i + 1,
                     PlotLabel(report.nodes[i].ledger.node), x + 0.5);
  }
  s += "set xtics (" + tics + ") scale 0 noenhanced font ',9'\n";
  s += "set bmargin 9\n";
  // Columns: x, then cumulative tops of each stacked segment, then allocatable.
  s += "$ledger << EOD\n";
  for (size_t i = 0; i < n; ++i) {
    const MemoryBreakdown& b = report.nodes[i].breakdown;
    const double x = 3.0 * static_cast<double>(i);
    const double alloc = Gib(report.nodes[i].ledger.allocatable.memory_bytes);
    const double req = Gib(b.scheduler_requests_bytes);
    const double ovh = req + Gib(b.scheduler_overhead_bytes);
    const double other = Gib(b.host_other_pods_bytes);
    const double uvm = other + Gib(b.host_uvm_bytes);
    const double vmm = uvm + Gib(b.host_vmm_overhead_bytes);
    s += fmt::format("{:.1f} {:.6f} {:.6f} {:.1f} {:.6f} {:.6f} {:.6f} {:.6f}\n", x, req, ovh, x + 1, other,
                     uvm, vmm, alloc);
  }
  s += "EOD\n";
  // Stacked bars are drawn top segment first, each lower one over it.
  s += "plot $ledger using 1:3 with boxes lc rgb '#9ecae1' title 'scheduler: spec.overhead', \\\n";
  s += "     $ledger using 1:2 with boxes lc rgb '#3182bd' title 'scheduler: memory requests', \\\n";
  s += "     $ledger using 4:7 with boxes lc rgb '#fdae6b' title 'host: VMM overhead', \\\n";
  s += "     $ledger using 4:6 with boxes lc rgb '#e6550d' title 'host: UVM memory', \\\n";
  s += "     $ledger using 4:5 with boxes lc rgb '#756bb1' title 'host: pods not in a VM', \\\n";
  s += "     $ledger using ($1-0.5):8:(2.0):(0) with vectors nohead lw 3 dt 2 lc rgb '#d62728' "
       "title 'allocatable'\n";
  return s;
}

}  // namespace uvm::sizer::formats
