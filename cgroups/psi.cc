#include "cgroups/psi.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::cgroups {

std::string_view PressureFileName(PsiResource resource) {
  switch (resource) {
    case PsiResource::kMemory:
      return "memory.pressure";
    case PsiResource::kCpu:
      return "cpu.pressure";
    case PsiResource::kIo:
      return "io.pressure";
  }
  return "memory.pressure";
}

std::string FormatPsiTrigger(const PsiTriggerSpec& spec) {
  return fmt::format("{} {} {}", spec.kind == PsiStall::kSome ? "some" : "full", spec.stall.count(),
                     spec.window.count());
}

Status ValidatePsiTriggerSpec(const PsiTriggerSpec& spec) {
  using std::chrono::microseconds;
  if (spec.window < microseconds(500000) || spec.window > microseconds(10000000)) {
    return InvalidInput(
        fmt::format("PSI trigger {:?}: window must be within 500000..10000000 µs", FormatPsiTrigger(spec)));
  }
  if (spec.stall <= microseconds(0) || spec.stall > spec.window) {
    return InvalidInput(
        fmt::format("PSI trigger {:?}: stall must be > 0 and <= the window", FormatPsiTrigger(spec)));
  }
  return {};
}

Result<PsiTrigger> PsiTrigger::Register(int cgroup_dirfd, PsiResource resource, const PsiTriggerSpec& spec,
                                        std::string display) {
  if (auto st = ValidatePsiTriggerSpec(spec); !st) return st.error();
  std::string file = fmt::format("{}/{}", display, PressureFileName(resource));
  auto fd = OpenControlFile(cgroup_dirfd, PressureFileName(resource), O_RDWR | O_NONBLOCK, display);
  if (!fd) return fd.error();
  std::string text = FormatPsiTrigger(spec);
  // kernel/sched/psi.c psi_write() overwrites the last byte it copies with NUL, so the text carries its
  // own terminator (as oomd and systemd-oomd write it).
  if (write(fd->get(), text.c_str(), text.size() + 1) < 0) {
    int err = errno;
    std::string hint;
    if (err == EINVAL) {
      hint = " (without CAP_SYS_RESOURCE the window must be a multiple of 2 s; the stall must not exceed it)";
    } else if (err == EOPNOTSUPP) {
      hint = " (PSI is disabled: boot with psi=1)";
    }
    return SysError(err,
                    fmt::format("{}: register trigger {:?}: {}{}", file, text, std::strerror(err), hint));
  }
  return PsiTrigger(std::move(*fd), std::move(display));
}

PsiEvent PsiTrigger::Classify(short revents) {
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) return PsiEvent::kCgroupGone;
  if (revents & POLLPRI) return PsiEvent::kFired;
  return PsiEvent::kNone;
}

Result<PsiEvent> PsiTrigger::Wait(std::chrono::milliseconds timeout) const {
  pollfd p{fd_.get(), POLLPRI, 0};
  while (true) {
    int n = poll(&p, 1, static_cast<int>(timeout.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      return SysError(err, fmt::format("{}: poll PSI trigger: {}", display_, std::strerror(err)));
    }
    if (n == 0) return PsiEvent::kNone;
    return Classify(p.revents);
  }
}

}  // namespace uvm::cgroups
