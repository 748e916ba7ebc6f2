// The `uvm-sizer capacity` documents: per-node ledgers (sizer/capacity.h) and the cluster row, as a text
// table, JSON (the README's contract: keys may be added, never renamed) and CSV; and the gnuplot script of
// `--plot`. Pure: the CLI reads the inputs, builds the ledgers and runs gnuplot.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sizer/capacity.h"
#include "sizer/pod.h"

namespace uvm::sizer::formats {

// Where a node's committed memory goes, in both views (the stacked bars of --plot). The sums of each view
// equal the ledger's committed memory.
struct MemoryBreakdown {
  // scheduler view: Σ memory requests and Σ spec.overhead.memory
  int64_t scheduler_requests_bytes = 0;
  int64_t scheduler_overhead_bytes = 0;
  // host view: VM pods' guest RAM, their VMMs' host overhead, and the memory requests of the other pods
  int64_t host_uvm_bytes = 0;
  int64_t host_vmm_overhead_bytes = 0;
  int64_t host_other_pods_bytes = 0;
};
MemoryBreakdown BreakdownOf(std::span<const LedgerPod> pods);

// A shape as the report shows it: what one more pod of it needs on the first node (needs differ between
// nodes only where a node's CPUs change a Kata annotation check).
struct ShapeInfo {
  std::string name;    // the --shape file's base name without its extension ("web" for shapes/web.yaml)
  std::string source;  // the --shape file
  ObjectRef object;    // the manifest object the shape's pod came from
  LedgerPod pod;
};

struct NodeReport {
  NodeLedger ledger;
  MemoryBreakdown breakdown;
  bool allocatable_from_capacity = false;  // the node had no status.allocatable
  bool unschedulable = false;              // spec.unschedulable: the scheduler places nothing new here
};

struct CapacityReport {
  std::vector<NodeReport> nodes;  // in --nodes order
  ClusterLedger cluster;
  MemoryBreakdown cluster_breakdown;
  std::vector<ShapeInfo> shapes;
  // Pods left out of every node's ledger: Pending pods not yet bound to a node, terminated pods
  // (Succeeded, Failed: the scheduler no longer counts them), pods bound to a node not in --nodes.
  std::vector<ObjectRef> unscheduled;
  std::vector<ObjectRef> terminated;
  std::vector<ObjectRef> on_unknown_nodes;
  // Input-level notes (skipped kinds, allocatable taken from capacity, shapes without a RuntimeClass).
  std::vector<std::string> warnings;
};

// Fills `cluster` and `cluster_breakdown` from `nodes`.
void Summarize(CapacityReport& report);

// The text report: a table of memory and CPU per node (allocatable, committed and free in both views),
// then fit per node and shape (both views, gap, binding resource), each with a cluster row, then notes.
std::string CapacityReportText(const CapacityReport& report);

// The JSON document (README "uvm-sizer capacity"), pretty-printed.
std::string CapacityReportJson(const CapacityReport& report);

// The CSV document: a header of CapacityCsvColumns(), then per node one row per shape (one row with empty
// shape columns when there is no shape), then the cluster's rows (scope "cluster", node empty). RFC 4180
// and formula guarding as SizeReportCsv. An unbounded fit or gap is an empty field.
std::string CapacityReportCsv(const CapacityReport& report);
const std::vector<std::string_view>& CapacityCsvColumns();

// The gnuplot script that draws, per node, two stacked bars of committed memory (scheduler: requests +
// overhead; host: UVM + VMM overhead + other pods) against the node's allocatable, in GiB. `terminal` is
// "svg" or "png"; the image goes to gnuplot's standard output. Node names are reduced to
// [A-Za-z0-9._-] so no input text reaches gnuplot's command language.
std::string CapacityPlotScript(const CapacityReport& report, std::string_view terminal);

}  // namespace uvm::sizer::formats
