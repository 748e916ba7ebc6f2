// PSI triggers of the watched VM pods: a memory.pressure trigger per pod cgroup ("some <stall> <window>",
// kernel Documentation/accounting/psi.rst) whose wakeup asks the core to observe that pod at once, between
// ticks. Only fds live here; every pod's state is in the pod table.
//
// Threading: the io_context's thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/log.h"
#include "daemon/ports.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace uvm::daemon {

struct TriggerTarget {
  std::string sandbox_id, cgroup_parent, uid, pod_name;
};

struct TriggerStats {
  uint64_t wakeups = 0;  // trigger fd wakeups (fired or gone)
  uint64_t dropped = 0;  // triggers whose cgroup went away
};

class PsiTriggers {
 public:
  using Clock = std::chrono::steady_clock;
  using Fired = std::function<void(const std::string& sandbox_id, Clock::time_point woke)>;

  PsiTriggers(boost::asio::io_context& io, CgroupPort& cgroups, Logger& log,
              std::optional<PressureTriggerSpec> spec, Fired fired);
  ~PsiTriggers();
  PsiTriggers(const PsiTriggers&) = delete;
  PsiTriggers& operator=(const PsiTriggers&) = delete;

  // Arms a trigger for each target without one (again, a minute after a failed registration) and drops the
  // triggers of sandboxes no longer listed.
  void Sync(const std::vector<TriggerTarget>& targets);
  // A changed spec (or none) re-registers every trigger.
  void Reconfigure(std::optional<PressureTriggerSpec> spec, const std::vector<TriggerTarget>& targets);
  void Stop();
  // Later registrations go through this port; armed triggers keep their fds.
  void SetPort(CgroupPort& cgroups) { cgroups_ = &cgroups; }

  size_t count() const;
  const TriggerStats& stats() const { return stats_; }

 private:
  struct Armed;
  struct Entry {
    std::unique_ptr<Armed> armed;
    std::optional<Clock::time_point> retry_at;
    uint64_t generation = 0;
  };
  void Arm(const TriggerTarget& target, Entry& entry);
  void Wait(const std::string& sandbox_id, uint64_t generation);

  boost::asio::io_context& io_;
  CgroupPort* cgroups_;
  Logger& log_;
  std::optional<PressureTriggerSpec> spec_;
  Fired fired_;
  std::map<std::string, Entry> entries_;  // by sandbox id
  uint64_t next_generation_ = 1;
  bool stopped_ = false;
  bool failure_logged_ = false;
  TriggerStats stats_;
};

// "some 150000 2000000"-style text of a spec, for log lines.
std::string DescribeTrigger(const PressureTriggerSpec& spec);

}  // namespace uvm::daemon
