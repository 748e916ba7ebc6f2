// The one place that turns pod records into per-pod metric series and removes them: a uid's series always
// match the table's exported sandbox of that uid (PodTable::Exported): sizing series while it is
// VM-isolated, usage series while it has a reading, pressure series while it is watched and assessed, and
// none once it is gone. Callers Touch() a uid whenever they changed its record and Flush() after each step.
//
// Event-loop thread only.
#pragma once

#include <set>
#include <span>
#include <string>
#include <string_view>

#include "daemon/pod_table.h"
#include "sizer/capacity.h"

namespace uvm::metrics {
class DaemonMetrics;
}  // namespace uvm::metrics

namespace uvm::daemon {

class Exporter {
 public:
  explicit Exporter(metrics::DaemonMetrics& metrics) : metrics_(metrics) {}

  void Touch(const std::string& uid) { dirty_.insert(uid); }
  // Syncs every touched uid; returns how many there were (0: nothing to republish).
  size_t Flush(const PodTable& table);
  // Syncs one uid now.
  void Sync(const PodTable& table, const std::string& uid);
  // The node ledger's series (host view), and each shape's needs; `shapes` in the ledger's order.
  void PublishNode(const sizer::NodeLedger& ledger, std::span<const sizer::Shape> shapes);

  // The startup profile (daemon/startup_profile.h): labelled with the pod's handler and the bucket of its
  // predicted UVM memory (UvmMemoryBucket).
  void ObserveSandboxStart(const PodState& pod, double seconds);
  void ObserveShimCreate(const PodState& pod, double seconds);
  void CountStartSkipped(std::string_view reason);

 private:
  metrics::DaemonMetrics& metrics_;
  std::set<std::string> dirty_;
};

}  // namespace uvm::daemon
