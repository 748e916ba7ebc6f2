#include "daemon/adapters.h"

// Boost 1.74 Asio needs <utility> first on GCC 12 (TOOLCHAIN.md).
#include <utility>

#include <sys/stat.h>

#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "cgroups/pod_cgroup.h"
#include "cgroups/psi.h"
#include "guest/shim_monitor.h"
#include "kubelet-plugin/change_feed.h"
#include "kubelet-plugin/cri_client.h"

namespace uvm::daemon {
namespace {

std::optional<int64_t> Signed(std::optional<uint64_t> v) {
  if (!v) return std::nullopt;
  return static_cast<int64_t>(std::min<uint64_t>(*v, INT64_MAX));
}

// A PSI trigger of cgroups/ behind the daemon's port.
class CgroupPsiTrigger final : public PressureTrigger {
 public:
  explicit CgroupPsiTrigger(cgroups::PsiTrigger trigger) : trigger_(std::move(trigger)) {}
  int fd() const override { return trigger_.fd(); }
  bool Gone() const override {
    // POLLERR is sticky once the cgroup is removed; a poll of 0 ms sees it.
    auto event = trigger_.Wait(std::chrono::milliseconds(0));
    return event && *event == cgroups::PsiEvent::kCgroupGone;
  }

 private:
  cgroups::PsiTrigger trigger_;
};

// The host cgroup tree through cgroups::PodCgroups, which chooses the writer (cgroupfs, or systemd's D-Bus
// API for systemd-managed slices): one kept pod cgroup per cgroup_parent.
class CgroupfsPort final : public CgroupPort {
 public:
  CgroupfsPort(std::string root, std::string kubelet_root)
      : cgroups_({.cgroup_root = std::move(root), .kubelet_cgroup_root = std::move(kubelet_root)}) {}

  Result<CgroupReading> ReadPod(const std::string& parent, const std::string& uid) override {
    auto pod = OpenPod(parent, uid);
    if (!pod) return pod.error();
    auto sample = (*pod)->ReadSample();
    if (!sample) {
      // Any failure (kGone: the cgroup was removed): the next look opens it afresh (or learns it is gone).
      pods_.erase(parent);
      return sample.error();
    }
    const auto& s = *sample;
    CgroupReading r{.memory_limit_bytes = Signed(s.memory_limit_bytes),
                    .memory_usage_bytes = static_cast<int64_t>(s.memory_usage_bytes),
                    .cpu_quota_us = cgroups::CriCpuQuota(s),
                    .cpu_period_us = Signed(s.cpu_period_us),
                    .shmem_bytes = Signed(s.shmem_bytes),
                    .file_bytes = Signed(s.file_bytes),
                    .anon_bytes = Signed(s.anon_bytes),
                    .oom_kills = s.events.oom_kill};
    if (s.memory_pressure) {
      r.memory_some_avg10 = s.memory_pressure->some.avg10;
      if (s.memory_pressure->full) r.memory_full_avg10 = s.memory_pressure->full->avg10;
    }
    return r;
  }

  Result<WriteOutcome> RaiseMemoryLimit(const std::string& parent, int64_t bytes) override {
    auto pod = OpenPod(parent);
    if (!pod) return pod.error();
    return Outcome(cgroups_.RaiseMemoryLimit(**pod, static_cast<uint64_t>(bytes)));
  }

  Result<WriteOutcome> RaiseCpuQuota(const std::string& parent, int64_t quota_us,
                                     int64_t period_us) override {
    auto pod = OpenPod(parent);
    if (!pod) return pod.error();
    cgroups::CpuQuota target{static_cast<uint64_t>(quota_us), static_cast<uint64_t>(period_us)};
    return Outcome(cgroups_.RaiseCpuQuota(**pod, target));
  }

  Result<WriteOutcome> BoundKataOverhead(const std::string& sandbox_id, int64_t bytes) override {
    auto bound = cgroups_.BoundKataOverhead(sandbox_id, static_cast<uint64_t>(bytes));
    if (!bound) return bound.error();
    return WriteOutcome{.written = bound->written,
                        .before = Signed(bound->before_bytes),
                        .after = Signed(bound->after_bytes)};
  }

  Result<std::unique_ptr<PressureTrigger>> AddMemoryPressureTrigger(
      const std::string& parent, const std::string& uid, const PressureTriggerSpec& spec) override {
    auto pod = OpenPod(parent, uid);
    if (!pod) return pod.error();
    auto trigger = (*pod)->handle().AddPressureTrigger(
        cgroups::PsiResource::kMemory,
        {.kind = spec.full ? cgroups::PsiStall::kFull : cgroups::PsiStall::kSome,
         .stall = spec.stall,
         .window = spec.window});
    if (!trigger) return trigger.error();
    return std::unique_ptr<PressureTrigger>(std::make_unique<CgroupPsiTrigger>(std::move(*trigger)));
  }

  void Forget(const std::string& parent) override { pods_.erase(parent); }

 private:
  // The kept pod cgroup for `parent`; opened (validated against pod `uid`) only by the calls that carry it.
  Result<cgroups::PodCgroup*> OpenPod(const std::string& parent,
                                      std::optional<std::string> uid = std::nullopt) {
    if (auto it = pods_.find(parent); it != pods_.end()) return &it->second;
    if (!uid) {
      return Error{.message = fmt::format("cgroup {} was not read first", parent),
                   .code = ErrorCode::kNotFound};
    }
    auto pod = cgroups_.OpenPod(parent, *uid);
    if (!pod) return pod.error();
    return &pods_.emplace(parent, std::move(*pod)).first->second;
  }

  static Result<WriteOutcome> Outcome(const Result<cgroups::WriteReport>& report) {
    if (!report) return report.error();
    return WriteOutcome{
        .written = report->written(), .before = Signed(report->before), .after = Signed(report->after)};
  }

  cgroups::PodCgroups cgroups_;
  std::map<std::string, cgroups::PodCgroup> pods_;
};

sizer::SandboxResources ToSizer(const cri::LinuxResources& r) {
  return {r.cpu_period, r.cpu_quota, r.cpu_shares, r.memory_limit_in_bytes};
}

// The runtime over CRI (kubelet-plugin/). Calls block with deadlines; the daemon makes them on its worker.
class CriRuntime final : public RuntimePort {
 public:
  CriRuntime(std::string endpoint, std::chrono::milliseconds timeout) : endpoint_(std::move(endpoint)) {
    options_.endpoint = endpoint_;
    options_.call_timeout = timeout;
  }

  Result<std::vector<SandboxSummary>> ListSandboxes() override {
    auto client = Client();
    if (!client) return client.error();
    if (!version_checked_) {
      auto v = (*client)->Version();
      if (!v) return v.error();
      // runtime.v1 is the only CRI API we speak (CRI.md §1.2).
      if (v->runtime_api_version != "v1") {
        return Error{fmt::format("{} speaks CRI {} ({} {}); uvm-sizer needs v1", endpoint_,
                                 v->runtime_api_version, v->runtime_name, v->runtime_version)};
      }
      version_checked_ = true;
    }
    auto list = (*client)->ListPodSandbox();
    if (!list) {
      if (cri::IsRuntimeDown(list.error())) version_checked_ = false;  // it may come back as something else
      return list.error();
    }
    std::vector<SandboxSummary> out;
    out.reserve(list->size());
    for (const auto& s : *list) {
      out.push_back({.id = s.id,
                     .name = s.name,
                     .namespace_ = s.namespace_,
                     .uid = s.uid,
                     .runtime_handler = s.runtime_handler,
                     .ready = s.ready(),
                     .created_at_ns = s.created_at_ns,
                     .annotations = s.annotations});
    }
    return out;
  }

  Result<SandboxDetail> InspectSandbox(const SandboxSummary& summary) override {
    auto client = Client();
    if (!client) return client.error();
    auto d = (*client)->PodSandboxStatus(summary.id);
    if (!d) return d.error();
    SandboxDetail out{.summary = summary, .cgroup_parent = d->cgroup_parent, .runtime_type = d->runtime_type};
    if (out.summary.annotations.empty()) out.summary.annotations = d->summary.annotations;
    if (d->resources) out.resources = ToSizer(*d->resources);
    if (d->overhead) out.overhead = ToSizer(*d->overhead);
    return out;
  }

  Result<std::vector<sizer::ContainerResources>> ContainerLimits(const std::string& sandbox_id) override {
    auto client = Client();
    if (!client) return client.error();
    auto list = (*client)->ListContainers(sandbox_id);
    if (!list) return list.error();
    std::sort(list->begin(), list->end(),
              [](const auto& a, const auto& b) { return a.created_at_ns < b.created_at_ns; });
    std::vector<sizer::ContainerResources> out;
    for (const auto& c : *list) {
      auto st = (*client)->ContainerStatus(c.id);
      if (!st) return st.error();
      // CRI does not say which containers were init containers; an exited one no longer holds vCPUs.
      sizer::ContainerResources r{.name = c.name, .init = c.state == cri::ContainerState::kExited};
      if (st->resources) {
        r.cpu_period = st->resources->cpu_period;
        r.cpu_quota = st->resources->cpu_quota;
        r.memory_limit_in_bytes = st->resources->memory_limit_in_bytes;
      }
      out.push_back(std::move(r));
    }
    return out;
  }

  Result<std::optional<int64_t>> WritableLayerBytes(const std::string& sandbox_id) override {
    auto client = Client();
    if (!client) return client.error();
    auto stats = (*client)->ListContainerStats(sandbox_id);
    if (!stats) return stats.error();
    std::optional<int64_t> total;
    for (const auto& c : *stats) {
      if (c.writable_layer_used_bytes) {
        total = total.value_or(0) +
                static_cast<int64_t>(std::min<uint64_t>(*c.writable_layer_used_bytes, INT64_MAX / 2));
      }
    }
    return total;
  }

  Result<std::map<std::string, std::optional<int64_t>>> FirstContainerStarts(
      const std::set<std::string>& sandbox_ids) override {
    std::map<std::string, std::optional<int64_t>> out;
    for (const auto& id : sandbox_ids) out[id] = std::nullopt;
    if (sandbox_ids.empty()) return out;
    auto client = Client();
    if (!client) return client.error();
    auto list = (*client)->ListContainers();
    if (!list) return list.error();
    for (const auto& c : *list) {
      auto it = out.find(c.sandbox_id);
      // CREATED (or UNKNOWN) containers have no start yet; RUNNING and EXITED ones have (CRI
      // ContainerStatus.started_at), but only ContainerStatus carries it.
      if (it == out.end() ||
          (c.state != cri::ContainerState::kRunning && c.state != cri::ContainerState::kExited))
        continue;
      auto st = (*client)->ContainerStatus(c.id);
      if (!st) {
        if (st.error().code == ErrorCode::kNotFound) continue;  // removed meanwhile
        return st.error();
      }
      if (st->started_at_ns <= 0) continue;  // an exited container that never started
      if (!it->second || st->started_at_ns < *it->second) it->second = st->started_at_ns;
    }
    return out;
  }

  void CancelInFlight() override {
    std::lock_guard lock(mu_);
    if (client_) client_->CancelInFlight();
  }

 private:
  Result<cri::CriClient*> Client() {
    std::lock_guard lock(mu_);
    if (!client_) {
      auto c = cri::CriClient::Create(options_);
      if (!c) return c.error();
      client_ = std::move(*c);
    }
    return client_.get();
  }

  std::string endpoint_;
  cri::CriClientOptions options_;
  std::mutex mu_;  // CancelInFlight comes from the loop thread while the worker calls
  std::unique_ptr<cri::CriClient> client_;
  bool version_checked_ = false;
};

class CriChangeFeed final : public ChangeFeed {
 public:
  explicit CriChangeFeed(std::unique_ptr<cri::ChangeFeed> feed) : feed_(std::move(feed)) {}
  ~CriChangeFeed() override { Stop(); }
  std::string Mode() const override { return feed_ ? std::string(cri::FeedModeName(feed_->mode())) : "poll"; }
  void Stop() override {
    if (feed_) feed_->Stop();
  }

 private:
  std::unique_ptr<cri::ChangeFeed> feed_;
};

}  // namespace

std::unique_ptr<RuntimePort> MakeCriRuntime(const std::string& endpoint,
                                            std::chrono::milliseconds call_timeout) {
  return std::make_unique<CriRuntime>(endpoint, call_timeout);
}

std::unique_ptr<ChangeFeed> StartChangeFeed(const std::string& endpoint, std::function<void()> on_change) {
  cri::ChangeFeedOptions options;
  options.endpoint = endpoint;
  auto feed = cri::ChangeFeed::Start(options, [on_change](const cri::ChangeEvent&) { on_change(); });
  // Start fails only for a malformed endpoint, which the config already refuses: poll then.
  return std::make_unique<CriChangeFeed>(feed ? std::move(*feed) : nullptr);
}

std::unique_ptr<CgroupPort> MakeCgroupfsPort(const std::string& root,
                                             const std::string& kubelet_cgroup_root) {
  return std::make_unique<CgroupfsPort>(root, kubelet_cgroup_root);
}

namespace {

class ShimMonitorGuest final : public GuestPort {
 public:
  ShimMonitorGuest(boost::asio::io_context& io, std::string dir, std::chrono::milliseconds timeout)
      : io_(io) {
    options_.sandboxes_dir = std::move(dir);
    options_.timeout = timeout;
  }

  bool HasEndpoint(const std::string& sandbox_id) override {
    auto path = guest::ShimMonitorSocketPath(options_, sandbox_id);
    struct stat st {};
    return path && stat(path->c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
  }

  std::string Describe(const std::string& sandbox_id) const override {
    auto path = guest::ShimMonitorSocketPath(options_, sandbox_id);
    return path ? *path : fmt::format("{}/<invalid sandbox id>/shim-monitor.sock", options_.sandboxes_dir);
  }

  void Fetch(const std::string& sandbox_id, Done done) override {
    guest::AsyncFetchGuestObservation(io_, options_, sandbox_id, std::move(done));
  }

 private:
  boost::asio::io_context& io_;
  guest::ShimMonitorOptions options_;
};

}  // namespace

std::unique_ptr<GuestPort> MakeShimMonitorGuest(boost::asio::io_context& io, std::string sandboxes_dir,
                                                std::chrono::milliseconds timeout) {
  return std::make_unique<ShimMonitorGuest>(io, std::move(sandboxes_dir), timeout);
}

}  // namespace uvm::daemon
