#include "daemon/psi_triggers.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <exception>
#include <set>

#include <fmt/format.h>

namespace uvm::daemon {
namespace {

namespace asio = boost::asio;

// Retry a trigger that could not be registered (no cgroup2 tree yet, the cgroup not created yet) this
// often: rarely enough that a host without PSI costs nothing.
constexpr std::chrono::seconds kTriggerRetry{60};

}  // namespace

std::string DescribeTrigger(const PressureTriggerSpec& spec) {
  return fmt::format("{} {} {}", spec.full ? "full" : "some", spec.stall.count(), spec.window.count());
}

struct PsiTriggers::Armed {
  Armed(asio::io_context& io, std::unique_ptr<PressureTrigger> t) : port(std::move(t)), sd(io, port->fd()) {}
  ~Armed() {
    // The port owns the fd: Asio must let go of it (and cancel its wait) without closing it.
    sd.release();
  }
  std::unique_ptr<PressureTrigger> port;
  asio::posix::stream_descriptor sd;
};

PsiTriggers::PsiTriggers(asio::io_context& io, CgroupPort& cgroups, Logger& log,
                         std::optional<PressureTriggerSpec> spec, Fired fired)
    : io_(io), cgroups_(&cgroups), log_(log), spec_(std::move(spec)), fired_(std::move(fired)) {}

PsiTriggers::~PsiTriggers() {
  Stop();
}

size_t PsiTriggers::count() const {
  size_t n = 0;
  for (const auto& [id, e] : entries_) n += e.armed ? 1 : 0;
  return n;
}

void PsiTriggers::Stop() {
  stopped_ = true;
  entries_.clear();
}

void PsiTriggers::Reconfigure(std::optional<PressureTriggerSpec> spec,
                              const std::vector<TriggerTarget>& targets) {
  bool same =
      spec.has_value() == spec_.has_value() &&
      (!spec || (spec->full == spec_->full && spec->stall == spec_->stall && spec->window == spec_->window));
  if (same) return;
  spec_ = std::move(spec);
  entries_.clear();
  failure_logged_ = false;
  Sync(targets);
}

void PsiTriggers::Sync(const std::vector<TriggerTarget>& targets) {
  if (stopped_) return;
  std::set<std::string> keep;
  for (const auto& t : targets) keep.insert(t.sandbox_id);
  std::erase_if(entries_, [&](const auto& kv) { return !keep.count(kv.first); });
  if (!spec_) return;
  auto now = Clock::now();
  for (const auto& t : targets) {
    auto [it, inserted] = entries_.try_emplace(t.sandbox_id);
    Entry& e = it->second;
    if (inserted) e.generation = next_generation_++;
    if (e.armed || (e.retry_at && now < *e.retry_at)) continue;
    Arm(t, e);
  }
}

void PsiTriggers::Arm(const TriggerTarget& t, Entry& e) {
  auto trigger = cgroups_->AddMemoryPressureTrigger(t.cgroup_parent, t.uid, *spec_);
  std::optional<Error> failure;
  if (trigger) {
    try {
      e.armed = std::make_unique<Armed>(io_, std::move(*trigger));
    } catch (const std::exception& ex) {  // Asio reports a bad fd (epoll_ctl) by throwing
      failure = Error{.message = fmt::format("cannot watch the trigger fd: {}", ex.what())};
    }
  } else {
    failure = trigger.error();
  }
  if (failure) {
    e.retry_at = Clock::now() + kTriggerRetry;
    if (!failure_logged_) {
      failure_logged_ = true;
      log_.Log(Priority::kNotice,
               fmt::format("pressure: no PSI trigger \"{}\" on pod {}: {}; such pods are evaluated at every "
                           "tick only",
                           DescribeTrigger(*spec_), t.pod_name, failure->message));
    } else {
      log_.Log(Priority::kDebug, fmt::format("pod {}: no PSI trigger: {}", t.pod_name, failure->message));
    }
    return;
  }
  e.retry_at.reset();
  Wait(t.sandbox_id, e.generation);
}

void PsiTriggers::Wait(const std::string& sandbox_id, uint64_t generation) {
  auto it = entries_.find(sandbox_id);
  if (it == entries_.end() || !it->second.armed) return;
  it->second.armed->sd.async_wait(
      asio::posix::descriptor_base::wait_error,
      [this, sandbox_id, generation](const boost::system::error_code& ec) {
        if (ec == asio::error::operation_aborted || stopped_) return;
        auto woke = Clock::now();
        auto found = entries_.find(sandbox_id);
        if (found == entries_.end() || found->second.generation != generation || !found->second.armed) return;
        ++stats_.wakeups;
        if (ec || found->second.armed->port->Gone()) {
          // The cgroup went away: the pod is about to leave the runtime's listing too. Quietly.
          ++stats_.dropped;
          log_.Log(Priority::kDebug, fmt::format("sandbox {}: PSI trigger dropped: {}", sandbox_id,
                                                 ec ? ec.message() : std::string("the cgroup is gone")));
          found->second.armed.reset();
          found->second.retry_at = Clock::now() + kTriggerRetry;
          return;
        }
        Wait(sandbox_id, generation);
        fired_(sandbox_id, woke);
      });
}

}  // namespace uvm::daemon
