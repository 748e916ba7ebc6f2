#include "daemon/scheduler.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <optional>

namespace uvm::daemon {

struct Scheduler::Timer {
  explicit Timer(boost::asio::io_context& io) : timer(io) {}
  boost::asio::steady_timer timer;
};

Scheduler::Scheduler(boost::asio::io_context& io, std::function<void(Clock::duration)> on_lag)
    : timer_(std::make_unique<Timer>(io)), on_lag_(std::move(on_lag)) {}

Scheduler::~Scheduler() {
  Stop();
}

Scheduler::JobId Scheduler::Add(std::string name, std::chrono::milliseconds interval,
                                std::function<void()> run, bool paused) {
  jobs_.push_back(Job{.name = std::move(name),
                      .interval = std::max(interval, std::chrono::milliseconds(1)),
                      .run = std::move(run),
                      .paused = paused,
                      .deadline = Clock::now() + interval});
  Arm();
  return jobs_.size() - 1;
}

void Scheduler::SetInterval(JobId id, std::chrono::milliseconds interval) {
  Job& job = jobs_[id];
  interval = std::max(interval, std::chrono::milliseconds(1));
  if (job.interval == interval) return;
  job.interval = interval;
  job.deadline = Clock::now() + interval;
  Arm();
}

void Scheduler::Pause(JobId id) {
  jobs_[id].paused = true;
  Arm();
}

void Scheduler::Resume(JobId id, bool run_now) {
  Job& job = jobs_[id];
  if (!job.paused && !run_now) return;
  job.paused = false;
  job.deadline = run_now ? Clock::now() : Clock::now() + job.interval;
  Arm();
}

bool Scheduler::paused(JobId id) const {
  return jobs_[id].paused;
}

void Scheduler::RunSoon(JobId id) {
  Job& job = jobs_[id];
  job.paused = false;
  job.deadline = std::min(job.deadline, Clock::now());
  Arm();
}

void Scheduler::Stop() {
  stopped_ = true;
  armed_ = false;
  timer_->timer.cancel();
}

void Scheduler::Arm() {
  if (stopped_) return;
  std::optional<Clock::time_point> next;
  for (const Job& job : jobs_) {
    if (!job.paused && (!next || job.deadline < *next)) next = job.deadline;
  }
  if (!next) {
    if (armed_) timer_->timer.cancel();
    armed_ = false;
    return;
  }
  if (armed_ && armed_for_ == *next) return;
  armed_ = true;
  armed_for_ = *next;
  timer_->timer.expires_at(*next);
  timer_->timer.async_wait([this, at = *next](const boost::system::error_code& ec) {
    // A cancelled wait was replaced by a newer one (or the scheduler stopped).
    if (ec || stopped_ || !armed_ || armed_for_ != at) return;
    armed_ = false;
    Fire();
  });
}

void Scheduler::Fire() {
  ++wakeups_;
  auto now = Clock::now();
  // Indexes, not iterators: a job may add jobs or change others while it runs.
  for (size_t i = 0; i < jobs_.size() && !stopped_; ++i) {
    if (jobs_[i].paused || jobs_[i].deadline > now) continue;
    if (on_lag_) on_lag_(now - jobs_[i].deadline);
    jobs_[i].deadline += jobs_[i].interval;
    if (jobs_[i].deadline <= now) jobs_[i].deadline = now + jobs_[i].interval;
    jobs_[i].run();
  }
  Arm();
}

}  // namespace uvm::daemon
