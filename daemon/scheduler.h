// The daemon's one clock: every periodic job (runtime poll, pressure tick, usage reads, watchdog) is an
// entry here, run from one Asio timer armed at the earliest deadline, so the loop wakes once for all jobs
// that fall due together and not at all while every job is paused. Each run's lateness is reported (the
// event-loop lag) so that a stuck loop shows in metrics.
//
// Threading: the io_context's thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace uvm::daemon {

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;
  using JobId = size_t;

  // `on_lag` receives, for every run, how late it started against its deadline.
  Scheduler(boost::asio::io_context& io, std::function<void(Clock::duration lag)> on_lag);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // A job running every `interval` from now on (first run one interval from now), paused when `paused`.
  // Its deadlines keep a fixed cadence; after a stall longer than an interval it starts again from now.
  JobId Add(std::string name, std::chrono::milliseconds interval, std::function<void()> run,
            bool paused = false);
  // A new interval takes effect from now.
  void SetInterval(JobId id, std::chrono::milliseconds interval);
  // Paused jobs cost no wakeups. Resuming schedules the next run one interval from now (or at once).
  void Pause(JobId id);
  void Resume(JobId id, bool run_now = false);
  bool paused(JobId id) const;
  // Runs the job on the next turn of the loop (not inside this call), then keeps its cadence.
  void RunSoon(JobId id);
  // Cancels the timer; nothing runs afterwards.
  void Stop();

  uint64_t wakeups() const { return wakeups_; }

 private:
  struct Job {
    std::string name;
    std::chrono::milliseconds interval;
    std::function<void()> run;
    bool paused = false;
    Clock::time_point deadline{};
  };
  void Arm();
  void Fire();

  struct Timer;
  std::unique_ptr<Timer> timer_;
  std::function<void(Clock::duration)> on_lag_;
  std::vector<Job> jobs_;
  bool stopped_ = false;
  bool armed_ = false;
  Clock::time_point armed_for_{};
  uint64_t wakeups_ = 0;
};

}  // namespace uvm::daemon
