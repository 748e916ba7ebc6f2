// PSI triggers (Documentation/accounting/psi.rst, "Monitoring for pressure thresholds"): write
// "some|full <stall µs> <window µs>" to a cgroup's <resource>.pressure and poll the fd. The kernel raises
// POLLPRI when the stall within a window crossed the threshold, and POLLERR when the cgroup went away.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cgroups/fs.h"

namespace uvm::cgroups {

enum class PsiResource { kMemory, kCpu, kIo };
std::string_view PressureFileName(PsiResource resource);  // "memory.pressure", ...

enum class PsiStall { kSome, kFull };

struct PsiTriggerSpec {
  PsiStall kind = PsiStall::kSome;
  std::chrono::microseconds stall{150000};
  // psi.rst: 500 ms .. 10 s. Without CAP_SYS_RESOURCE only multiples of 2 s are accepted (Linux 6.5+,
  // "psi: allow unprivileged users with CAP_SYS_RESOURCE..."): 2 s is the portable choice.
  std::chrono::microseconds window{2000000};
};

// "some 150000 2000000"
std::string FormatPsiTrigger(const PsiTriggerSpec& spec);
// stall > 0, stall <= window, window within 500 ms .. 10 s.
Status ValidatePsiTriggerSpec(const PsiTriggerSpec& spec);

enum class PsiEvent {
  kNone,        // nothing happened (a poll timeout)
  kFired,       // POLLPRI: the threshold was crossed within a window
  kCgroupGone,  // POLLERR: the cgroup was removed; the trigger is dead, close it
};

// One registered trigger. Owns the fd; movable. Register it with an event loop (epoll/asio: wait for
// EPOLLPRI) and classify the returned events with Classify.
class PsiTrigger {
 public:
  // Opens `<dir>/<resource>.pressure` read-write and writes the spec. `display` names the cgroup in
  // errors. EINVAL from the kernel comes back with a hint about the 2 s rule.
  static Result<PsiTrigger> Register(int cgroup_dirfd, PsiResource resource, const PsiTriggerSpec& spec,
                                     std::string display);

  int fd() const { return fd_.get(); }
  const std::string& display() const { return display_; }

  // POLLERR/POLLHUP/POLLNVAL (gone) win over POLLPRI (fired).
  static PsiEvent Classify(short revents);
  // Polls the fd once for up to `timeout`; an error only when poll itself fails.
  Result<PsiEvent> Wait(std::chrono::milliseconds timeout) const;

 private:
  PsiTrigger(UniqueFd fd, std::string display) : fd_(std::move(fd)), display_(std::move(display)) {}
  UniqueFd fd_;
  std::string display_;
};

}  // namespace uvm::cgroups
