// Fakes of the daemon's ports for its unit tests: a runtime, a cgroup tree and a guest endpoint whose answers
// the test scripts, and PSI triggers that fire on demand (TCP urgent data raises POLLPRI on a loopback
// socket, as the kernel raises it on a real trigger). They exist for the faults a real machine cannot be made
// to produce on demand; the real kernel and containerd are in tests/integration/.
#pragma once

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "daemon/ports.h"

namespace uvm::daemon::fake {

inline constexpr int64_t kMib = 1 << 20;

class Runtime final : public RuntimePort {
 public:
  Result<std::vector<SandboxSummary>> ListSandboxes() override {
    ++list_calls;
    if (down) return Error{.message = "connection refused", .code = ErrorCode::kUnavailable};
    std::vector<SandboxSummary> out;
    for (const auto& [id, d] : sandboxes) out.push_back(d.summary);
    return out;
  }
  Result<SandboxDetail> InspectSandbox(const SandboxSummary& s) override {
    ++inspect_calls;
    if (inspect_fails.count(s.id)) return Error{.message = "deadline exceeded", .code = ErrorCode::kDeadline};
    return sandboxes.at(s.id);
  }
  Result<std::vector<sizer::ContainerResources>> ContainerLimits(const std::string& id) override {
    ++container_calls;
    return sandboxes.at(id).containers;
  }
  Result<std::optional<int64_t>> WritableLayerBytes(const std::string& id) override {
    ++stats_calls;
    if (auto it = writable.find(id); it != writable.end()) return std::optional<int64_t>(it->second);
    return std::optional<int64_t>();
  }
  Result<std::map<std::string, std::optional<int64_t>>> FirstContainerStarts(
      const std::set<std::string>& ids) override {
    ++start_calls;
    asked_starts.push_back(ids);
    if (starts_fail) return Error{.message = "deadline exceeded", .code = ErrorCode::kDeadline};
    std::map<std::string, std::optional<int64_t>> out;
    for (const auto& id : ids) {
      auto it = started_at.find(id);
      out[id] = it == started_at.end() ? std::nullopt : std::optional<int64_t>(it->second);
    }
    return out;
  }
  std::map<std::string, SandboxDetail> sandboxes;
  std::map<std::string, int64_t> writable;
  std::map<std::string, int64_t> started_at;  // sandbox id -> first container started_at (Unix ns)
  std::set<std::string> inspect_fails;
  bool down = false;
  bool starts_fail = false;
  std::vector<std::set<std::string>> asked_starts;  // each FirstContainerStarts call's ids
  int list_calls = 0, inspect_calls = 0, container_calls = 0, stats_calls = 0, start_calls = 0;
};

// A connected TCP loopback pair: urgent data sent on `sender` makes `receiver` poll with POLLPRI.
struct UrgentPair {
  int sender = -1, receiver = -1;
  UrgentPair() {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    auto* sa = reinterpret_cast<sockaddr*>(&addr);
    if (bind(listener, sa, len) != 0 || listen(listener, 1) != 0 || getsockname(listener, sa, &len) != 0) {
      ADD_FAILURE() << "loopback listener";
    }
    sender = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(sender, sa, len) != 0) ADD_FAILURE() << "loopback connect";
    receiver = accept(listener, nullptr, nullptr);
    close(listener);
  }
  ~UrgentPair() {
    if (sender >= 0) close(sender);
    if (receiver >= 0) close(receiver);
  }
  UrgentPair(const UrgentPair&) = delete;
  UrgentPair& operator=(const UrgentPair&) = delete;
  void Fire() const { EXPECT_EQ(send(sender, "!", 1, MSG_OOB), 1); }
};

struct TriggerState {
  std::unique_ptr<UrgentPair> pair = std::make_unique<UrgentPair>();
  bool gone = false;
  bool closed = false;
};

class Trigger final : public PressureTrigger {
 public:
  explicit Trigger(std::shared_ptr<TriggerState> s) : s_(std::move(s)) {}
  ~Trigger() override { s_->closed = true; }
  int fd() const override { return s_->pair->receiver; }
  bool Gone() const override {
    char c;
    (void)!recv(s_->pair->receiver, &c, 1, MSG_OOB | MSG_DONTWAIT);  // consumes the wakeup
    return s_->gone;
  }

 private:
  std::shared_ptr<TriggerState> s_;
};

// A pod cgroup tree in memory. Raise* behave like the real port: raise-only, never an unlimited value.
class Cgroups final : public CgroupPort {
 public:
  Result<CgroupReading> ReadPod(const std::string& parent, const std::string& uid) override {
    ++reads;
    ++reads_by_parent[parent];
    if (parent.find(uid) == std::string::npos)
      return Error{.message = "another pod's cgroup", .code = ErrorCode::kInvalidInput};
    if (unreadable.count(parent))
      return Error{.message = parent + ": No such file or directory", .code = ErrorCode::kNotFound};
    return cgroups[parent];
  }
  Result<WriteOutcome> RaiseMemoryLimit(const std::string& parent, int64_t bytes) override {
    if (write_fails) return Error{.message = "EBUSY", .code = ErrorCode::kUnavailable};
    auto& c = cgroups[parent];
    WriteOutcome out{.before = c.memory_limit_bytes};
    if (!c.memory_limit_bytes || *c.memory_limit_bytes >= bytes) return out;
    c.memory_limit_bytes = bytes;
    out.written = true;
    out.after = bytes;
    writes.push_back(parent + " memory " + std::to_string(bytes));
    return out;
  }
  Result<WriteOutcome> RaiseCpuQuota(const std::string& parent, int64_t quota, int64_t period) override {
    auto& c = cgroups[parent];
    WriteOutcome out{.before = c.cpu_quota_us};
    if (!c.cpu_quota_us || *c.cpu_quota_us >= quota) return out;
    c.cpu_quota_us = quota;
    c.cpu_period_us = period;
    out.written = true;
    out.after = quota;
    writes.push_back(parent + " cpu " + std::to_string(quota));
    return out;
  }
  Result<WriteOutcome> BoundKataOverhead(const std::string& id, int64_t bytes) override {
    ++overhead_calls;
    if (overhead_error) return *overhead_error;
    if (!kata_overhead.count(id))
      return Error{.message = "/kata_overhead/" + id + ": No such file or directory",
                   .code = ErrorCode::kNotFound};
    auto& limit = kata_overhead[id];
    if (limit && *limit >= bytes) return WriteOutcome{.before = limit, .after = limit};
    WriteOutcome out{.written = true, .before = limit, .after = bytes};
    limit = bytes;
    writes.push_back("kata_overhead/" + id + " memory " + std::to_string(bytes));
    return out;
  }
  Result<std::unique_ptr<PressureTrigger>> AddMemoryPressureTrigger(
      const std::string& parent, const std::string&, const PressureTriggerSpec& spec) override {
    ++trigger_attempts;
    if (no_psi)
      return Error{.message = "no cgroup2 directory for this cgroup, so no PSI",
                   .code = ErrorCode::kUnsupported};
    specs.push_back(spec);
    auto s = std::make_shared<TriggerState>();
    triggers[parent] = s;
    return std::unique_ptr<PressureTrigger>(std::make_unique<Trigger>(s));
  }
  void Forget(const std::string& parent) override { forgotten.push_back(parent); }

  std::map<std::string, CgroupReading> cgroups;
  std::set<std::string> unreadable;
  std::vector<std::string> writes;
  bool write_fails = false;
  std::map<std::string, std::optional<int64_t>> kata_overhead;  // present: /kata_overhead/<id> exists
  std::optional<Error> overhead_error;                          // every BoundKataOverhead fails with it
  std::map<std::string, std::shared_ptr<TriggerState>> triggers;
  std::vector<PressureTriggerSpec> specs;
  bool no_psi = false;
  std::vector<std::string> forgotten;
  int reads = 0, overhead_calls = 0, trigger_attempts = 0;
  std::map<std::string, int> reads_by_parent;
};

// The shim's monitor endpoint of the sandboxes in `guests`. With an io_context and `auto_answer`, answers are
// posted to it; otherwise they wait for Answer(). Never inside Fetch, as the port promises.
class Guest final : public GuestPort {
 public:
  explicit Guest(boost::asio::io_context* io = nullptr) : io_(io) {}
  bool HasEndpoint(const std::string& id) override { return guests.count(id) > 0; }
  std::string Describe(const std::string& id) const override { return "/fake/" + id + "/shim-monitor.sock"; }
  void Fetch(const std::string& id, Done done) override {
    ++fetches;
    Result<sizer::GuestObservation> r =
        failing ? Result<sizer::GuestObservation>(
                      Error{.message = "shim-monitor: connection refused", .code = ErrorCode::kUnavailable})
                : Result<sizer::GuestObservation>(guests.at(id));
    if (auto_answer && io_) {
      boost::asio::post(*io_, [done = std::move(done), r]() mutable { done(std::move(r)); });
    } else {
      pending.emplace_back(std::move(done), std::move(r));
    }
  }
  // Delivers the answers pending now (not those their completion asks for).
  void Answer() {
    auto now = std::move(pending);
    pending.clear();
    for (auto& [done, r] : now) done(std::move(r));
  }
  std::map<std::string, sizer::GuestObservation> guests;
  std::deque<std::pair<Done, Result<sizer::GuestObservation>>> pending;
  bool auto_answer = true;
  bool failing = false;
  int fetches = 0;

 private:
  boost::asio::io_context* io_;
};

// A kata-cc sandbox of pod `uid` (namespace default, name web-<uid>) with 1.5 CPUs and `limit_bytes` of
// limits, `declared_bytes` of declared overhead, in the burstable pod cgroup of its uid.
inline SandboxDetail KataCcPod(const std::string& id, const std::string& uid, int64_t limit_bytes,
                               int64_t declared_bytes, int64_t created_at_ns = 1) {
  SandboxDetail d;
  d.summary = {.id = id,
               .name = "web-" + uid,
               .namespace_ = "default",
               .uid = uid,
               .runtime_handler = "kata-cc",
               .ready = true,
               .created_at_ns = created_at_ns};
  d.cgroup_parent = "/kubepods/burstable/pod" + uid;
  d.resources = sizer::SandboxResources{100000, 150000, 1536, limit_bytes};
  d.overhead = sizer::SandboxResources{100000, 25000, 256, declared_bytes};
  return d;
}

// The value of the series of `name` whose labels include every `k="v"` in `labels`; nullopt when absent.
inline std::optional<double> Series(const std::string& text, const std::string& name,
                                    const std::vector<std::string>& labels) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + "{", 0) != 0) continue;
    bool all =
        std::all_of(labels.begin(), labels.end(), [&](const auto& l) { return line.find(l) != line.npos; });
    if (all) return std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return std::nullopt;
}

// The per-pod families, by what the exporter ties them to.
inline const std::vector<std::string>& SizingFamilies() {
  static const std::vector<std::string> names = {
      "uvm_sizer_pod_uvm_vcpus", "uvm_sizer_pod_uvm_memory_bytes", "uvm_sizer_pod_host_memory_bytes",
      "uvm_sizer_pod_overhead_required_bytes", "uvm_sizer_pod_overhead_declared_bytes"};
  return names;
}
inline const std::vector<std::string>& UsageFamilies() {
  static const std::vector<std::string> names = {"uvm_sizer_pod_cgroup_memory_limit_bytes",
                                                 "uvm_sizer_pod_cgroup_memory_usage_bytes"};
  return names;
}
inline const std::vector<std::string>& PressureFamilies() {
  static const std::vector<std::string> names = {"uvm_sizer_pod_guest_memory_available_bytes",
                                                 "uvm_sizer_pod_guest_filesystem_bytes",
                                                 "uvm_sizer_pod_memory_growth_bytes_per_second",
                                                 "uvm_sizer_pod_memory_exhaustion_seconds",
                                                 "uvm_sizer_pod_pressure_level",
                                                 "uvm_sizer_pod_oom_kills_total"};
  return names;
}

// The families in `names` that have a series for `uid`.
inline std::vector<std::string> FamiliesWithUid(const std::string& text,
                                                const std::vector<std::string>& names,
                                                const std::string& uid) {
  std::vector<std::string> out;
  for (const auto& n : names) {
    if (Series(text, n, {"uid=\"" + uid + "\""})) out.push_back(n);
  }
  return out;
}

}  // namespace uvm::daemon::fake
