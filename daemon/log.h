// Journal-friendly logging: one line per event on stderr with sd-daemon priority prefixes ("<4>…"),
// which journald parses; a cause that repeats is logged at most once a minute, with a count of what was
// suppressed.
#pragma once

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace uvm::daemon {

enum class Priority { kError = 3, kWarning = 4, kNotice = 5, kInfo = 6, kDebug = 7 };

// "error", "warning", "notice", "info", "debug"; anything else is info.
Priority PriorityFromName(std::string_view name);

class Logger {
 public:
  using Clock = std::chrono::steady_clock;
  using Sink = std::function<void(std::string_view line)>;

  // Lines go to `sink` (stderr by default); `now` is injectable for tests.
  explicit Logger(Priority max = Priority::kInfo, Sink sink = nullptr,
                  std::function<Clock::time_point()> now = nullptr);

  void set_max(Priority max) { max_ = max; }
  bool Enabled(Priority p) const { return p <= max_; }

  void Log(Priority priority, std::string_view message);
  // The same `cause` is logged at most once per `interval`; the next line says how many were suppressed.
  void LogCause(Priority priority, std::string_view cause, std::string_view message,
                std::chrono::seconds interval = std::chrono::seconds(60));
  // Drops the rate-limit state of every cause keyed by this subject (`<kind>:<subject>`, e.g. a sandbox
  // id), so that pod churn does not grow the table.
  void ForgetCauses(std::string_view subject);
  size_t cause_count() const { return causes_.size(); }

 private:
  struct CauseState {
    Clock::time_point last;
    uint64_t suppressed = 0;
  };
  Priority max_;
  Sink sink_;
  std::function<Clock::time_point()> now_;
  std::map<std::string, CauseState, std::less<>> causes_;
};

}  // namespace uvm::daemon
