#include "daemon/log.h"

#include <unistd.h>

#include <fmt/format.h>

namespace uvm::daemon {

Priority PriorityFromName(std::string_view name) {
  if (name == "error") return Priority::kError;
  if (name == "warning") return Priority::kWarning;
  if (name == "notice") return Priority::kNotice;
  if (name == "debug") return Priority::kDebug;
  return Priority::kInfo;
}

Logger::Logger(Priority max, Sink sink, std::function<Clock::time_point()> now)
    : max_(max), sink_(std::move(sink)), now_(std::move(now)) {
  if (!sink_) {
    sink_ = [](std::string_view line) {
      // One write(2) per line so that lines from several threads never interleave.
      std::string buf(line);
      buf.push_back('\n');
      [[maybe_unused]] ssize_t n = write(STDERR_FILENO, buf.data(), buf.size());
    };
  }
  if (!now_) now_ = [] { return Clock::now(); };
}

void Logger::Log(Priority priority, std::string_view message) {
  if (!Enabled(priority)) return;
  std::string line = fmt::format("<{}>", static_cast<int>(priority));
  line.reserve(line.size() + message.size());
  // A line is an event: control characters (from pod names, peers) never split it.
  for (char c : message) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      line += fmt::format("\\x{:02x}", u);
    } else {
      line.push_back(c);
    }
  }
  sink_(line);
}

void Logger::LogCause(Priority priority, std::string_view cause, std::string_view message,
                      std::chrono::seconds interval) {
  auto now = now_();
  auto it = causes_.find(cause);
  if (it != causes_.end() && now - it->second.last < interval) {
    ++it->second.suppressed;
    return;
  }
  uint64_t suppressed = it == causes_.end() ? 0 : it->second.suppressed;
  causes_[std::string(cause)] = CauseState{now, 0};
  if (suppressed > 0) {
    Log(priority, fmt::format("{} ({} more like this suppressed)", message, suppressed));
  } else {
    Log(priority, message);
  }
}

void Logger::ForgetCauses(std::string_view subject) {
  for (auto it = causes_.begin(); it != causes_.end();) {
    std::string_view key = it->first;
    bool match =
        key.size() > subject.size() && key.ends_with(subject) && key[key.size() - subject.size() - 1] == ':';
    it = match ? causes_.erase(it) : std::next(it);
  }
}

}  // namespace uvm::daemon
