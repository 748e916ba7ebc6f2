// `uvm-sizer-startup run`: drives a CRI runtime the way the kubelet starts pods and times every call.
// The plan, the order of pods, the budget and the arithmetic are pure (run_plan.h); this file is the I/O.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "base/error_codes.h"
#include "bench/startup/bench_cgroups.h"
#include "bench/startup/commands.h"
#include "bench/startup/kata_probe.h"
#include "bench/startup/node_metrics.h"
#include "bench/startup/outputs.h"
#include "bench/startup/run_plan.h"
#include "bench/startup/runner.h"
#include "cgroups/fs.h"
#include "cgroups/handle.h"
#include "cgroups/layout.h"
#include "guest/shim_monitor.h"
#include "kubelet-plugin/cri_client.h"
#include "sizer/kubelet.h"

namespace uvm::startup {
namespace {

namespace fs = std::filesystem;

int64_t NowNs(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

std::string RandomHex(int chars) {
  static std::mutex mutex;
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(NowNs(CLOCK_REALTIME)));
  std::lock_guard lock(mutex);
  std::string out;
  while (static_cast<int>(out.size()) < chars) out += fmt::format("{:016x}", rng());
  return out.substr(0, static_cast<size_t>(chars));
}

std::string RandomUid() {
  std::string h = RandomHex(32);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4), h.substr(16, 4),
                     h.substr(20, 12));
}

std::string Rfc3339Utc(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  tm utc{};
  ::gmtime_r(&secs, &utc);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// The gRPC status name of a failed call; errors of our own (cgroups, files) get the nearest gRPC name,
// so that failures are counted on one scale.
std::string CodeOf(const Error& error) {
  if (error.grpc_code != 0) return std::string(cri::GrpcCodeName(error.grpc_code));
  switch (error.code) {
    case ErrorCode::kInvalidInput:
      return "INVALID_ARGUMENT";
    case ErrorCode::kNotFound:
    case ErrorCode::kGone:
      return "NOT_FOUND";
    case ErrorCode::kPermission:
      return "PERMISSION_DENIED";
    case ErrorCode::kUnavailable:
      return "UNAVAILABLE";
    case ErrorCode::kDeadline:
      return "DEADLINE_EXCEEDED";
    case ErrorCode::kResourceExhausted:
      return "RESOURCE_EXHAUSTED";
    case ErrorCode::kUnsupported:
      return "UNIMPLEMENTED";
    case ErrorCode::kInternal:
      return "INTERNAL";
  }
  return "INTERNAL";
}

std::string ReadSmallFile(const std::string& path) {
  auto text = cgroups::ReadWholeFile(path);
  return text.ok() ? *text : std::string();
}

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

cri::LinuxResources ToCri(const sizer::SandboxResources& r) {
  return {.cpu_period = r.cpu_period,
          .cpu_quota = r.cpu_quota,
          .cpu_shares = r.cpu_shares,
          .memory_limit_in_bytes = r.memory_limit_in_bytes};
}

// kubelet convertOverheadToLinuxResources (kuberuntime_sandbox_linux.go): the overhead's cpu as both
// request and limit (shares and quota at the default period), its memory as the limit.
std::optional<cri::LinuxResources> OverheadToCri(const OverheadSpec& overhead) {
  if (!overhead.cpu && !overhead.memory) return std::nullopt;
  cri::LinuxResources out;
  out.cpu_period = 100000;
  if (overhead.cpu) {
    int64_t milli = overhead.cpu->MilliValue();
    out.cpu_quota = sizer::MilliCpuToQuota(milli, 100000);
    out.cpu_shares = sizer::MilliCpuToShares(milli);
  }
  if (overhead.memory) out.memory_limit_in_bytes = overhead.memory->Value();
  return out;
}

// One pod of the plan, before it runs.
struct PodJob {
  std::string handler;
  int size_index = 0;
  int level = 0;
  double rate = 0;
  int iteration = 0;
  int burst = 0;
  bool warmup = false;
};

// A started pod, until its teardown.
struct LivePod {
  PodRecord record;
  std::string cgroup_parent;
  int64_t budget_bytes = 0;
  bool cgroup_made = false;
};

// Samples a pod cgroup's memory every 10 ms while RunPodSandbox runs (real Kata only).
class MemSampler {
 public:
  MemSampler(const cgroups::CgroupLayout& layout, const std::string& cgroup_parent, int64_t t0_ns) {
    std::string rel = cgroup_parent.substr(1);
    thread_ = std::thread([this, layout, rel, t0_ns] {
      auto handle = cgroups::CgroupHandle::Open(layout, rel);
      if (!handle.ok()) return;
      while (!stop_.load()) {
        auto sample = handle->ReadSample();
        if (sample.ok()) samples_.emplace_back(NowNs() - t0_ns, sample->memory_usage_bytes);
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(10), [this] { return stop_.load(); });
      }
    });
  }
  std::vector<std::pair<int64_t, uint64_t>> Stop() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    return std::move(samples_);
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::pair<int64_t, uint64_t>> samples_;
  std::thread thread_;
};

int64_t ThreadCpuNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Adds the calling thread's CPU time over its scope to *sum.
class ThreadCpuMeter {
 public:
  explicit ThreadCpuMeter(std::atomic<int64_t>* sum) : sum_(sum), start_(ThreadCpuNs()) {}
  ~ThreadCpuMeter() { sum_->fetch_add(ThreadCpuNs() - start_); }
  ThreadCpuMeter(const ThreadCpuMeter&) = delete;
  ThreadCpuMeter& operator=(const ThreadCpuMeter&) = delete;

 private:
  std::atomic<int64_t>* sum_;
  int64_t start_;
};

// Threads kept for the whole run: a pod's calls run on a warm thread (its stack and malloc arena already
// mapped), so the tool's own CPU per pod is the calls', not thread start-up's.
class WorkerPool {
 public:
  ~WorkerPool() {
    {
      std::lock_guard lock(mutex_);
      quit_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  // Runs task(0..n-1), one per thread, and returns when all are done.
  void RunAll(int n, const std::function<void(int)>& task) {
    std::unique_lock lock(mutex_);
    while (static_cast<int>(threads_.size()) < n) threads_.emplace_back([this] { Work(); });
    task_ = &task;
    next_ = 0;
    count_ = n;
    pending_ = n;
    work_cv_.notify_all();
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    task_ = nullptr;
  }

 private:
  void Work() {
    std::unique_lock lock(mutex_);
    for (;;) {
      work_cv_.wait(lock, [this] { return quit_ || (task_ && next_ < count_); });
      if (quit_) return;
      int i = next_++;
      const std::function<void(int)>* task = task_;
      lock.unlock();
      (*task)(i);
      lock.lock();
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* task_ = nullptr;
  int next_ = 0;
  int count_ = 0;
  int pending_ = 0;
  bool quit_ = false;
};

class Runner {
 public:
  Runner(RunPlan plan, std::string command_line)
      : plan_(std::move(plan)), command_line_(std::move(command_line)) {}

  // The exit status: 0 done, 1 the run could not be done, 2 refused (foreign sandboxes, bad node state),
  // 130/143 stopped by SIGINT/SIGTERM (outputs written all the same).
  int Run();

 private:
  Status Setup();
  void FillEnvironment();
  void ReadContainerdMetrics(bool before);
  void RunBurstMode();
  void RunClosedMode();
  void RunOpenMode();
  void StartBackground();
  // Sizes, admits (burst: the caller did), makes the cgroup, then the CRI calls up to RUNNING.
  LivePod StartPod(const PodJob& job, int64_t budget_wait_ns);
  void TeardownPod(LivePod& pod);
  void Finish(LivePod&& pod);
  void FinalSweep();
  void KataTier1(LivePod& pod, int64_t run_start_boot_ns, std::vector<std::pair<int64_t, uint64_t>> ramp);
  // Blocking admission for closed/open modes; false = never fits (or stopped).
  bool AcquireBudget(int64_t bytes, int64_t* waited_ns, bool* never);
  void ReleaseBudget(int64_t bytes);
  int64_t BudgetBytes(const sizer::PodSizing& sizing) const;
  // A row with what the job says of the pod: handler, mode, level, iteration, burst, size point.
  PodRecord RecordOf(const PodJob& job) const;
  // The row of a pod the memory budget can never admit, in the cell of the pods that ran.
  PodRecord RefusedByBudget(const PodJob& job, const sizer::PodSizing& sizing, int64_t bytes) const;
  // Closed and open mode: one pod from its admission to its row. false: it was not admitted (stopping,
  // or the budget can never hold it), and the caller stops launching.
  bool RunQueuedPod(const PodJob& job, std::optional<int64_t> arrival_ns);
  sizer::PodSizing Size(const std::string& handler, int size_index, Error* error) const;
  std::string HandlerRuntime(const std::string& handler);

  RunPlan plan_;
  std::string command_line_;
  std::string run_id_;
  std::string cgroup_root_;
  std::unique_ptr<cri::CriClient> client_;
  std::optional<BenchCgroups> cgroups_;
  std::optional<cgroups::CgroupLayout> layout_;
  uint32_t nproc_ = 1;
  int64_t t0_ns_ = 0;
  RunInfo info_;

  std::mutex budget_mutex_;
  std::condition_variable budget_cv_;
  std::optional<MemoryBudget> budget_;

  std::mutex records_mutex_;
  std::vector<PodRecord> records_;
  std::ofstream jsonl_;
  std::map<std::string, std::string> runtime_of_handler_;  // under records_mutex_
  std::set<std::string> handlers_started_;                 // under records_mutex_
  std::vector<LivePod> background_;
  WorkerPool pool_;
  std::atomic<int64_t> cgroup_cpu_ns_{0};  // of it, making and removing the pod cgroups
};

std::atomic<int> g_stop_signal{0};
std::atomic<bool> g_signal_thread_done{false};

bool Stopping() {
  return g_stop_signal.load() != 0;
}

Status Runner::Setup() {
  run_id_ = fmt::format("{}-{}", Rfc3339Utc(NowNs(CLOCK_REALTIME)).substr(0, 10), RandomHex(8));
  cgroup_root_ = plan_.cgroup_root.empty() ? DefaultCgroupRoot(run_id_) : plan_.cgroup_root;
  if (Status s = ValidateCgroupRoot(cgroup_root_); !s.ok()) return s;
  std::error_code ec;
  fs::create_directories(plan_.out, ec);
  if (ec) return SysError(ec.value(), fmt::format("--out {}: {}", plan_.out, ec.message()));
  jsonl_.open(fs::path(plan_.out) / "pods.jsonl", std::ios::trunc);
  if (!jsonl_) return Error{.message = fmt::format("--out {}: cannot write pods.jsonl", plan_.out)};

  cri::CriClientOptions options{.endpoint = plan_.endpoint,
                                .call_timeout = std::chrono::milliseconds(plan_.call_timeout_ms),
                                .lifecycle_timeout = std::chrono::milliseconds(plan_.call_timeout_ms)};
  auto client = cri::CriClient::Create(options);
  if (!client.ok()) return client.error();
  client_ = std::move(*client);

  auto cg = BenchCgroups::Detect();
  if (!cg.ok()) return cg.error();
  cgroups_ = std::move(*cg);
  auto layout = cgroups::DetectLayout();
  if (layout.ok()) layout_ = *layout;
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  nproc_ = n > 0 ? static_cast<uint32_t>(n) : 1;
  return {};
}

void Runner::FillEnvironment() {
  RunEnvironment& env = info_.env;
  env.cpu_model = CpuModelFromCpuinfo(ReadSmallFile("/proc/cpuinfo"));
  env.nproc = static_cast<int>(nproc_);
  utsname u{};
  if (::uname(&u) == 0) env.kernel = u.release;
  std::string meminfo = ReadSmallFile("/proc/meminfo");
  env.mem_total_bytes = MeminfoBytes(meminfo, "MemTotal").value_or(0);
  env.mem_available_bytes = MeminfoBytes(meminfo, "MemAvailable").value_or(0);
  env.sev_snp = Trimmed(ReadSmallFile("/sys/module/kvm_amd/parameters/sev_snp"));
  env.tdx = Trimmed(ReadSmallFile("/sys/module/kvm_intel/parameters/tdx"));
}

void Runner::ReadContainerdMetrics(bool before) {
  ServerCrossCheck& c = info_.containerd;
  c.url = plan_.containerd_metrics;
  if (c.url.empty()) return;
  auto text = FetchMetricsText(c.url, std::chrono::milliseconds(5000));
  if (!text.ok()) {
    c.error = text.error().message;
    return;
  }
  auto totals = ContainerdSandboxCreateTotals(*text);
  if (!totals.ok()) {
    c.error = totals.error().message;
    return;
  }
  if (before) {
    c.sandbox_create_sum_before_s = totals->sum_seconds;
    c.sandbox_create_count_before = totals->count;
  } else {
    c.sandbox_create_sum_after_s = totals->sum_seconds;
    c.sandbox_create_count_after = totals->count;
  }
}

sizer::PodSizing Runner::Size(const std::string& handler, int size_index, Error* error) const {
  const SizePoint& size = plan_.sizes[static_cast<size_t>(size_index)];
  auto sizing = sizer::SizePod(BenchPod(handler, size, plan_.overhead),
                               BenchSizingContext(handler, plan_.overhead, nproc_));
  if (!sizing.ok()) {
    *error = sizing.error();
    return {};
  }
  return *sizing;
}

std::string Runner::HandlerRuntime(const std::string& handler) {
  std::lock_guard lock(records_mutex_);
  auto it = runtime_of_handler_.find(handler);
  return it == runtime_of_handler_.end() ? std::string() : it->second;
}

PodRecord Runner::RecordOf(const PodJob& job) const {
  const SizePoint& size = plan_.sizes[static_cast<size_t>(job.size_index)];
  PodRecord r;
  r.run_id = run_id_;
  r.handler = job.handler;
  r.mode = std::string(RunModeName(plan_.mode));
  r.level = job.level;
  r.rate = job.rate;
  r.iteration = job.iteration;
  r.burst = job.burst;
  r.warmup = job.warmup;
  r.mem_limit = size.mem_label;
  r.cpu_limit = size.cpu_label;
  r.overhead = plan_.overhead.text;
  return r;
}

LivePod Runner::StartPod(const PodJob& job, int64_t budget_wait_ns) {
  LivePod live{.record = RecordOf(job)};
  PodRecord& r = live.record;
  const SizePoint& size = plan_.sizes[static_cast<size_t>(job.size_index)];
  r.budget_wait_ns = budget_wait_ns;
  r.pod_uid = RandomUid();
  r.pod_name = fmt::format("bench-{}-{}", job.handler, r.pod_uid.substr(0, 8));
  {
    // The first pod of each handler in the run (the kubelet-side analogue of a cold start).
    std::lock_guard lock(records_mutex_);
    r.cold = handlers_started_.insert(job.handler).second;
  }

  Error size_error;
  sizer::PodSizing sizing = Size(job.handler, job.size_index, &size_error);
  if (!size_error.message.empty()) {
    r.error = PodError{"setup", CodeOf(size_error), size_error.message};
    return live;
  }
  r.predicted_uvm = PredictedFromSizing(sizing);
  if (sizing.sandbox.memory_limit_in_bytes > 0) r.memory_limit_bytes = sizing.sandbox.memory_limit_in_bytes;
  if (size.cpu) r.cpu_limit_millis = size.cpu->MilliValue();

  live.cgroup_parent = PodCgroupParent(cgroup_root_, sizing.qos, r.pod_uid);
  PodCgroupSpec cg{.cgroup_parent = live.cgroup_parent,
                   .memory_limit_bytes = sizing.pod_cgroup.memory_limit_bytes,
                   .cpu_quota_us = sizing.pod_cgroup.cpu_quota_us,
                   .cpu_period_us = sizing.pod_cgroup.cpu_period_us,
                   .cpu_shares = sizing.pod_cgroup.cpu_shares};
  live.cgroup_made = true;  // even a failed create may have made directories: remove them afterwards
  Status made;
  {
    ThreadCpuMeter meter(&cgroup_cpu_ns_);
    made = cgroups_->CreatePod(cg);
  }
  if (const Status& s = made; !s.ok()) {
    r.error = PodError{"setup", CodeOf(s.error()), s.error().message};
    return live;
  }

  cri::PodSandboxSpec spec;
  spec.name = r.pod_name;
  spec.namespace_ = "uvm-sizer-bench";
  spec.uid = r.pod_uid;
  spec.runtime_handler = job.handler;
  spec.cgroup_parent = live.cgroup_parent;
  spec.host_network = true;
  spec.labels[std::string(kRunIdLabel)] = run_id_;
  // The labels the kubelet puts on every sandbox (pkg/kubelet/types/labels.go).
  spec.labels["io.kubernetes.pod.name"] = spec.name;
  spec.labels["io.kubernetes.pod.namespace"] = spec.namespace_;
  spec.labels["io.kubernetes.pod.uid"] = spec.uid;
  spec.resources = ToCri(sizing.sandbox);
  spec.overhead = OverheadToCri(plan_.overhead);

  const bool real_kata = IsKataRuntimeType(HandlerRuntime(job.handler));
  auto phase = [&r](Phase p, int64_t start, int64_t end) { r.phase_ns[static_cast<int>(p)] = end - start; };
  auto fail = [&r](Phase p, const Error& e) {
    r.error = PodError{std::string(PhaseName(p)), CodeOf(e), e.message};
  };

  // Everything the calls need is built before the first one: between two calls the tool only reads the
  // clock, so what it adds to a start (`unaccounted`) is its own scheduling, not its work.
  cri::ContainerSpec container;
  container.name = "bench";
  container.image = plan_.image;
  container.command = plan_.command;
  container.labels[std::string(kRunIdLabel)] = run_id_;
  container.resources = ToCri(sizing.sandbox);

  const int64_t first = NowNs();
  const int64_t first_boot = NowNs(CLOCK_BOOTTIME);
  r.start_unix_ns = NowNs(CLOCK_REALTIME);
  r.start_offset_ns = first - t0_ns_;

  std::optional<MemSampler> sampler;
  if (real_kata && layout_ && r.predicted_uvm.memory_mib > 0)
    sampler.emplace(*layout_, live.cgroup_parent, first);
  auto id = client_->RunPodSandbox(spec);
  int64_t t = NowNs();
  phase(Phase::kRunPodSandbox, first, t);
  std::vector<std::pair<int64_t, uint64_t>> ramp;
  if (sampler) ramp = sampler->Stop();
  if (!id.ok()) {
    fail(Phase::kRunPodSandbox, id.error());
    return live;
  }
  r.sandbox_id = *id;

  int64_t start = NowNs();
  auto status = client_->PodSandboxStatus(*id);
  t = NowNs();
  phase(Phase::kPodSandboxStatus, start, t);
  if (!status.ok()) {
    fail(Phase::kPodSandboxStatus, status.error());
    return live;
  }
  r.runtime_type = status->runtime_type;
  r.stand_in = IsStandIn(r.predicted_uvm.vm_isolated, r.runtime_type);

  start = NowNs();
  auto image = client_->ImageStatus(plan_.image);
  t = NowNs();
  phase(Phase::kImageStatus, start, t);
  if (!image.ok()) {
    fail(Phase::kImageStatus, image.error());
    return live;
  }
  if (plan_.pull == PullPolicy::kAlways || (plan_.pull == PullPolicy::kIfMissing && !image->has_value())) {
    start = NowNs();
    auto pulled = client_->PullImage(plan_.image, spec);
    t = NowNs();
    phase(Phase::kPullImage, start, t);
    if (!pulled.ok()) {
      fail(Phase::kPullImage, pulled.error());
      return live;
    }
  } else if (!image->has_value()) {
    r.error = PodError{std::string(PhaseName(Phase::kImageStatus)), "NOT_FOUND",
                       fmt::format("image {} is not in the runtime and --pull is never", plan_.image)};
    return live;
  }

  start = NowNs();
  auto cid = client_->CreateContainer(*id, container, spec);
  t = NowNs();
  phase(Phase::kCreateContainer, start, t);
  if (!cid.ok()) {
    fail(Phase::kCreateContainer, cid.error());
    return live;
  }

  start = NowNs();
  Status started = client_->StartContainer(*cid);
  t = NowNs();
  phase(Phase::kStartContainer, start, t);
  if (!started.ok()) {
    fail(Phase::kStartContainer, started.error());
    return live;
  }

  start = t;
  const int64_t poll_deadline = start + plan_.call_timeout_ms * 1000000;
  for (;;) {
    auto cs = client_->ContainerStatus(*cid);
    t = NowNs();
    if (!cs.ok()) {
      phase(Phase::kRunningSeen, start, t);
      fail(Phase::kRunningSeen, cs.error());
      return live;
    }
    if (cs->summary.state == cri::ContainerState::kRunning) break;
    if (cs->summary.state == cri::ContainerState::kExited) {
      phase(Phase::kRunningSeen, start, t);
      r.error = PodError{std::string(PhaseName(Phase::kRunningSeen)), "EXITED",
                         fmt::format("container exited with code {} before it was seen running ({} {})",
                                     cs->exit_code, cs->reason, cs->message)};
      return live;
    }
    if (t >= poll_deadline) {
      phase(Phase::kRunningSeen, start, t);
      r.error =
          PodError{std::string(PhaseName(Phase::kRunningSeen)), "TIMEOUT",
                   fmt::format("container not RUNNING within --call-timeout {} ms", plan_.call_timeout_ms)};
      return live;
    }
    // 2 ms: fine enough against a ~60 ms StartContainer, coarse enough not to load the runtime
    // (GetContainerEvents would do better, but containerd 1.6 does not implement it).
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  phase(Phase::kRunningSeen, start, t);
  SetTotals(r, first, t);
  {
    std::lock_guard lock(records_mutex_);  // after the timed calls: never a wait between two of them
    if (!r.runtime_type.empty()) runtime_of_handler_.emplace(job.handler, r.runtime_type);
  }
  if (real_kata) KataTier1(live, first_boot, std::move(ramp));
  return live;
}

void Runner::KataTier1(LivePod& pod, int64_t run_start_boot_ns,
                       std::vector<std::pair<int64_t, uint64_t>> ramp) {
  PodRecord& r = pod.record;
  KataTimings k;
  auto metrics = guest::FetchShimMetrics({}, r.sandbox_id);
  if (metrics.ok()) {
    auto parsed = KataTimingsFromShimMetrics(*metrics);
    if (parsed.ok()) k = *parsed;
  }
  MemRamp m = MemRampOf(ramp, static_cast<uint64_t>(r.predicted_uvm.memory_mib) << 20);
  k.mem_ramp_t50_ns = m.t50_ns;
  k.mem_ramp_t90_ns = m.t90_ns;
  if (!ramp.empty()) k.mem_peak_bytes = m.peak_bytes;
  // The VMM runs in the pod cgroup (sandbox_cgroup_only) or beside it: look at the pod cgroup's tasks.
  std::string procs;
  for (const std::string& mount : cgroups_->mount_points()) {
    std::error_code ec;
    fs::path dir = fs::path(mount) / pod.cgroup_parent.substr(1);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (it->path().filename() == "cgroup.procs") procs += ReadSmallFile(it->path().string());
    }
    if (!procs.empty()) break;
  }
  std::istringstream in(procs);
  for (std::string pid; std::getline(in, pid);) {
    if (pid.empty()) continue;
    std::string cmdline = ReadSmallFile("/proc/" + pid + "/cmdline");
    if (!IsVmmCommandLine(cmdline)) continue;
    r.observed_uvm = ObservedUvmFromCommandLine(cmdline);
    auto ticks = ProcStartTicks(ReadSmallFile("/proc/" + pid + "/stat"));
    long hz = ::sysconf(_SC_CLK_TCK);
    if (ticks.ok() && hz > 0) {
      int64_t start_boot_ns = static_cast<int64_t>(*ticks) * (1000000000 / hz);
      k.vmm_spawn_ns = start_boot_ns - run_start_boot_ns;
    }
    break;
  }
  r.kata = k;
}

void Runner::TeardownPod(LivePod& pod) {
  PodRecord& r = pod.record;
  if (!r.sandbox_id.empty()) {
    int64_t start = NowNs();
    Status stopped = client_->StopPodSandbox(r.sandbox_id);
    int64_t t = NowNs();
    r.stop_sandbox_ns = t - start;
    Status removed = stopped;
    if (stopped.ok()) {
      start = NowNs();
      removed = client_->RemovePodSandbox(r.sandbox_id);
      r.remove_sandbox_ns = NowNs() - start;
    }
    const Status& bad = !stopped.ok() ? stopped : removed;
    if (!bad.ok() && !r.error) r.error = PodError{"teardown", CodeOf(bad.error()), bad.error().message};
  }
  if (pod.cgroup_made) {
    Status s;
    {
      ThreadCpuMeter meter(&cgroup_cpu_ns_);
      s = cgroups_->RemovePod(pod.cgroup_parent);
    }
    if (!s.ok() && !r.error) r.error = PodError{"teardown", CodeOf(s.error()), s.error().message};
  }
}

void Runner::Finish(LivePod&& pod) {
  std::lock_guard lock(records_mutex_);
  jsonl_ << PodRecordToJsonLine(pod.record) << '\n';
  jsonl_.flush();
  records_.push_back(std::move(pod.record));
}

bool Runner::AcquireBudget(int64_t bytes, int64_t* waited_ns, bool* never) {
  int64_t start = NowNs();
  std::unique_lock lock(budget_mutex_);
  for (;;) {
    if (Stopping()) return false;
    MemoryBudget::Verdict v = budget_->TryAdmit(bytes);
    if (v == MemoryBudget::Verdict::kAdmit) break;
    if (v == MemoryBudget::Verdict::kNever) {
      *never = true;
      return false;
    }
    budget_cv_.wait_for(lock, std::chrono::milliseconds(50));
  }
  *waited_ns = NowNs() - start;
  return true;
}

void Runner::ReleaseBudget(int64_t bytes) {
  {
    std::lock_guard lock(budget_mutex_);
    budget_->Release(bytes);
  }
  budget_cv_.notify_all();
}

// A pod the budget can never admit: an error row, no CRI call.
int64_t Runner::BudgetBytes(const sizer::PodSizing& sizing) const {
  std::optional<int64_t> limit;
  if (sizing.sandbox.memory_limit_in_bytes > 0) limit = sizing.sandbox.memory_limit_in_bytes;
  return PodBudgetBytes(PredictedFromSizing(sizing), limit, plan_.overhead);
}

PodRecord Runner::RefusedByBudget(const PodJob& job, const sizer::PodSizing& sizing, int64_t bytes) const {
  PodRecord r = RecordOf(job);
  r.predicted_uvm = PredictedFromSizing(sizing);
  if (sizing.sandbox.memory_limit_in_bytes > 0) r.memory_limit_bytes = sizing.sandbox.memory_limit_in_bytes;
  r.error = PodError{"budget", "RESOURCE_EXHAUSTED",
                     fmt::format("the pod needs {} MiB of the memory budget, which is {} MiB (--mem-budget)",
                                 bytes >> 20, budget_->capacity() >> 20)};
  return r;
}

bool Runner::RunQueuedPod(const PodJob& job, std::optional<int64_t> arrival_ns) {
  Error size_error;
  const sizer::PodSizing sizing = Size(job.handler, job.size_index, &size_error);
  const int64_t bytes = BudgetBytes(sizing);
  int64_t waited = 0;
  bool never = false;
  if (!AcquireBudget(bytes, &waited, &never)) {
    if (never) Finish({.record = RefusedByBudget(job, sizing, bytes)});
    return false;
  }
  // The queue: the arrival (open mode) or the admission request -> the first call.
  LivePod pod = StartPod(job, arrival_ns ? NowNs() - *arrival_ns : waited);
  TeardownPod(pod);
  ReleaseBudget(bytes);
  Finish(std::move(pod));
  return true;
}

void Runner::RunBurstMode() {
  for (const Burst& b : BurstSchedule(plan_)) {
    if (Stopping()) return;
    PodJob job{.handler = b.handler,
               .size_index = b.size_index,
               .level = b.cell_level,
               .rate = 0,
               .iteration = b.iteration,
               .burst = b.burst,
               .warmup = b.warmup};
    // Waves: the burst's pods are admitted in order while they fit the budget; the rest wait for the
    // wave before them to be torn down (their wait is budget_wait_ns, outside their total).
    Error size_error;
    const sizer::PodSizing sizing = Size(b.handler, b.size_index, &size_error);
    const int64_t bytes = BudgetBytes(sizing);
    const int64_t release_ns = NowNs();
    int remaining = b.count;
    while (remaining > 0 && !Stopping()) {
      int wave = 0;
      while (wave < remaining) {
        MemoryBudget::Verdict v = budget_->TryAdmit(bytes);
        if (v != MemoryBudget::Verdict::kAdmit) {
          if (v == MemoryBudget::Verdict::kNever) {
            for (int i = 0; i < remaining; ++i) Finish({.record = RefusedByBudget(job, sizing, bytes)});
            remaining = 0;
          }
          break;
        }
        ++wave;
      }
      if (wave == 0) break;
      const int64_t waited = NowNs() - release_ns;
      std::vector<LivePod> pods(static_cast<size_t>(wave));
      pool_.RunAll(wave, [&](int i) {
        pods[static_cast<size_t>(i)] = StartPod(job, remaining == b.count ? 0 : waited);
      });
      pool_.RunAll(wave, [&](int i) { TeardownPod(pods[static_cast<size_t>(i)]); });
      for (auto& p : pods) Finish(std::move(p));
      for (int i = 0; i < wave; ++i) budget_->Release(bytes);
      remaining -= wave;
    }
  }
}

void Runner::RunClosedMode() {
  int burst = 0;
  for (int size = 0; size < static_cast<int>(plan_.sizes.size()); ++size) {
    for (int level : plan_.levels) {
      if (Stopping()) return;
      std::atomic<int64_t> sequence{0};
      const int64_t end = NowNs() + plan_.duration_ns;
      std::vector<std::thread> workers;
      for (int w = 0; w < level; ++w) {
        workers.emplace_back([&, size, level] {
          while (!Stopping() && NowNs() < end) {
            int64_t k = sequence.fetch_add(1);
            PodJob job{.handler = HandlerForSequence(plan_, k),
                       .size_index = size,
                       .level = level,
                       .iteration = static_cast<int>(k / static_cast<int64_t>(plan_.handlers.size())),
                       .burst = burst};
            if (!RunQueuedPod(job, std::nullopt)) return;
          }
        });
      }
      for (auto& w : workers) w.join();
      ++burst;
    }
  }
}

void Runner::RunOpenMode() {
  int burst = 0;
  for (int size = 0; size < static_cast<int>(plan_.sizes.size()); ++size) {
    for (int rate_index = 0; rate_index < static_cast<int>(plan_.rates.size()); ++rate_index) {
      if (Stopping()) return;
      const double rate = plan_.rates[static_cast<size_t>(rate_index)];
      const int64_t window = NowNs();
      std::vector<std::thread> pods;
      std::vector<int64_t> arrivals = OpenArrivals(rate, plan_.duration_ns);
      for (size_t k = 0; k < arrivals.size() && !Stopping(); ++k) {
        int64_t due = window + arrivals[k];
        int64_t now = NowNs();
        if (due > now) std::this_thread::sleep_for(std::chrono::nanoseconds(due - now));
        pods.emplace_back([&, k, size, rate_index, rate, due] {
          PodJob job{.handler = HandlerForSequence(plan_, static_cast<int64_t>(k)),
                     .size_index = size,
                     .level = rate_index,
                     .rate = rate,
                     .iteration = static_cast<int>(k / plan_.handlers.size()),
                     .burst = burst};
          RunQueuedPod(job, due);
        });
      }
      for (auto& p : pods) p.join();
      ++burst;
    }
  }
}

void Runner::StartBackground() {
  for (const std::string& handler : plan_.handlers) {
    for (int i = 0; i < plan_.background && !Stopping(); ++i) {
      LivePod pod = StartPod({.handler = handler, .size_index = 0, .level = 0, .burst = -1}, 0);
      if (pod.record.error) {
        std::cerr << fmt::format("background pod {} of {}: {}: {}\n", i, handler, pod.record.error->code,
                                 pod.record.error->message);
      }
      background_.push_back(std::move(pod));
    }
  }
}

void Runner::FinalSweep() {
  for (LivePod& pod : background_) TeardownPod(pod);
  background_.clear();
  // Whatever of ours is left (a call cancelled or timed out after the runtime made the sandbox).
  auto sandboxes = client_->ListPodSandbox();
  if (sandboxes.ok()) {
    for (const cri::SandboxSummary& s : *sandboxes) {
      auto it = s.labels.find(std::string(kRunIdLabel));
      if (it == s.labels.end() || it->second != run_id_) continue;
      (void)client_->StopPodSandbox(s.id);
      (void)client_->RemovePodSandbox(s.id);
    }
  }
  if (Status s = cgroups_->RemoveTree(cgroup_root_); !s.ok()) {
    std::cerr << "uvm-sizer-startup: cleanup: " << s.error().message << "\n";
  }
}

int Runner::Run() {
  // SIGINT/SIGTERM go to a thread of ours (sigwait), blocked everywhere else: set before any thread
  // (gRPC's included) exists, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigset_t old_mask;
  pthread_sigmask(SIG_BLOCK, &signals, &old_mask);
  g_stop_signal = 0;
  g_signal_thread_done = false;
  std::thread signal_thread([&signals] {
    while (!g_signal_thread_done.load()) {
      timespec wait{0, 100000000};
      int sig = ::sigtimedwait(&signals, nullptr, &wait);
      if (sig == SIGINT || sig == SIGTERM) {
        int expected = 0;
        g_stop_signal.compare_exchange_strong(expected, sig);
        std::cerr << "uvm-sizer-startup: stopping: no new pods; cleaning up ours\n";
      }
    }
  });
  auto stop_signals = [&] {
    g_signal_thread_done = true;
    signal_thread.join();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  };

  if (Status s = Setup(); !s.ok()) {
    std::cerr << "uvm-sizer-startup run: " << s.error().message << "\n";
    stop_signals();
    return 1;
  }
  t0_ns_ = NowNs();
  rusage usage_before{};
  ::getrusage(RUSAGE_SELF, &usage_before);

  info_.run_id = run_id_;
  info_.tool_version = UVM_SIZER_VERSION;
  info_.command_line = command_line_;
  info_.started_at = Rfc3339Utc(NowNs(CLOCK_REALTIME));
  info_.cri_endpoint = plan_.endpoint;
  info_.image = plan_.image;
  info_.mode = std::string(RunModeName(plan_.mode));
  info_.levels = plan_.levels;
  if (plan_.mode == RunMode::kOpen) info_.rates = plan_.rates;
  FillEnvironment();
  budget_.emplace(plan_.budget.Resolve(info_.env.mem_available_bytes));
  info_.mem_budget_bytes = budget_->capacity();

  auto version = client_->Version();
  if (!version.ok()) {
    std::cerr << "uvm-sizer-startup run: " << version.error().message << "\n";
    stop_signals();
    return 1;
  }
  info_.env.containerd_version = version->runtime_version;

  // Safety: a node with sandboxes we did not make is someone's node.
  auto existing = client_->ListPodSandbox();
  if (!existing.ok()) {
    std::cerr << "uvm-sizer-startup run: " << existing.error().message << "\n";
    stop_signals();
    return 1;
  }
  int foreign = 0;
  for (const cri::SandboxSummary& s : *existing) {
    if (!s.labels.contains(std::string(kRunIdLabel))) ++foreign;
  }
  if (foreign > 0 && !plan_.allow_shared_node) {
    std::cerr << fmt::format(
        "uvm-sizer-startup run: {} has {} sandbox(es) not made by uvm-sizer-startup (no label {}): refusing "
        "to share the node; pass --allow-shared-node to run anyway (only our sandboxes are ever removed)\n",
        plan_.endpoint, foreign, kRunIdLabel);
    stop_signals();
    return 2;
  }

  ReadContainerdMetrics(true);
  StartBackground();
  switch (plan_.mode) {
    case RunMode::kBurst:
      RunBurstMode();
      break;
    case RunMode::kClosed:
      RunClosedMode();
      break;
    case RunMode::kOpen:
      RunOpenMode();
      break;
  }
  FinalSweep();
  ReadContainerdMetrics(false);

  rusage usage_after{};
  ::getrusage(RUSAGE_SELF, &usage_after);
  auto ns = [](const timeval& tv) {
    return static_cast<int64_t>(tv.tv_sec) * 1000000000 + tv.tv_usec * 1000;
  };
  int64_t cpu_ns = ns(usage_after.ru_utime) - ns(usage_before.ru_utime) + ns(usage_after.ru_stime) -
                   ns(usage_before.ru_stime);
  info_.wall_ns = NowNs() - t0_ns_;
  info_.tool_cpu_ns_per_pod = CpuNsPerPod(cpu_ns, static_cast<int64_t>(records_.size()));
  for (const std::string& handler : plan_.handlers) {
    HandlerEnvironment h;
    h.handler = handler;
    h.runtime_type = runtime_of_handler_.contains(handler) ? runtime_of_handler_[handler] : "";
    Error e;
    bool vm = PredictedFromSizing(Size(handler, 0, &e)).vm_isolated;
    h.stand_in = IsStandIn(vm, h.runtime_type);
    info_.env.handlers.push_back(h);
  }
  jsonl_.close();

  int failed = 0;
  for (const PodRecord& r : records_) failed += r.ok() ? 0 : 1;
  Status written = WriteRunOutputs(plan_.out, info_, records_);
  std::cerr << fmt::format(
      "uvm-sizer-startup run {}: {} pods ({} failed) in {:.1f} s, tool CPU {} µs/pod (of which {} µs making "
      "and removing the kubelet-like pod cgroups in {} hierarchies); {}\n",
      run_id_, records_.size(), failed, static_cast<double>(info_.wall_ns) / 1e9,
      info_.tool_cpu_ns_per_pod / 1000,
      CpuNsPerPod(cgroup_cpu_ns_.load(), static_cast<int64_t>(records_.size())) / 1000,
      cgroups_->mount_points().size(),
      written.ok() ? "results in " + plan_.out : "writing results failed: " + written.error().message);
  int sig = g_stop_signal.load();
  stop_signals();
  if (sig == SIGINT) return 130;
  if (sig == SIGTERM) return 143;
  return written.ok() ? 0 : 1;
}

// The exact command line (run.json), from /proc/self/cmdline: main.cc keeps argv to itself.
std::string ProcessCommandLine() {
  std::string raw = ReadSmallFile("/proc/self/cmdline");
  std::string out;
  size_t begin = 0;
  while (begin < raw.size()) {
    size_t end = raw.find('\0', begin);
    if (end == std::string::npos) end = raw.size();
    std::string arg = raw.substr(begin, end - begin);
    if (!out.empty()) out += ' ';
    out += arg.find_first_of(" \t'\"") == std::string::npos && !arg.empty() ? arg : fmt::format("{:?}", arg);
    begin = end + 1;
  }
  return out;
}

}  // namespace

int RunStartupProfile(const RunFlags& flags, const std::string& command_line) {
  auto plan = ParseRunOptions(flags);
  if (!plan.ok()) {
    std::cerr << "uvm-sizer-startup run: " << plan.error().message << "\n";
    return 2;
  }
  Runner runner(std::move(*plan), command_line);
  return runner.Run();
}

void AddRunCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<RunFlags>();
  CLI::App* cmd = app.add_subcommand("run", "start pods over CRI as the kubelet does and time every call");
  cmd->add_option("--cri", flags->cri, "CRI endpoint, unix:///path")->required();
  cmd->add_option("--handlers", flags->handlers, "runtime handlers, interleaved per iteration")
      ->default_str(flags->handlers);
  cmd->add_option("--mode", flags->mode, "burst (barrier per level), closed (c in flight), open (--rate)")
      ->default_str(flags->mode);
  cmd->add_option("--levels", flags->levels, "concurrency levels (burst, closed)")
      ->default_str(flags->levels);
  cmd->add_option("--rate", flags->rates, "arrival rates in pods/s (open)")->default_str(flags->rates);
  cmd->add_option("--duration", flags->duration, "per level or rate (closed, open)")
      ->default_str(flags->duration);
  cmd->add_option("-n", flags->n, "pods per handler per cell (burst: whole bursts)")->default_val(flags->n);
  cmd->add_option("--mem-limits", flags->mem_limits, "container memory limits to sweep (none, 256Mi, ...)")
      ->default_str(flags->mem_limits);
  cmd->add_option("--cpu-limits", flags->cpu_limits, "container CPU limits to sweep (none, 1, 500m, ...)")
      ->default_str(flags->cpu_limits);
  cmd->add_option("--overhead", flags->overhead, "declared pod overhead, e.g. cpu=250m,memory=160Mi");
  cmd->add_option("--background", flags->background, "idle pods per handler kept running meanwhile")
      ->default_val(flags->background);
  cmd->add_option("--image", flags->image, "container image")->default_str(flags->image);
  cmd->add_option("--pull", flags->pull, "never, if-missing, always")->default_str(flags->pull);
  cmd->add_option("--command", flags->command, "container command (default: the image's entrypoint)");
  cmd->add_option("--mem-budget", flags->mem_budget, "cap of Σ predicted host memory in flight: 70% or 8Gi")
      ->default_str(flags->mem_budget);
  cmd->add_option("--call-timeout", flags->call_timeout, "deadline of every CRI call")
      ->default_str(flags->call_timeout);
  cmd->add_option("--containerd-metrics", flags->containerd_metrics,
                  "containerd /v1/metrics URL, for the cross-check of RunPodSandbox");
  cmd->add_flag("--allow-shared-node", flags->allow_shared_node, "run beside sandboxes we did not make");
  cmd->add_option("--out", flags->out, "result directory")->required();
  cmd->add_option("--cgroup-root", flags->cgroup_root,
                  "cgroup root of the run's pods (default /uvm-sizer-startup-<run id>)");
  cmd->add_flag("!--no-warmup", flags->warmup, "skip the discarded first pod per handler");
  cmd->callback([flags, exit_code] { *exit_code = RunStartupProfile(*flags, ProcessCommandLine()); });
}

}  // namespace uvm::startup
