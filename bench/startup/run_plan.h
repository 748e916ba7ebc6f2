// The pure side of `uvm-sizer-startup run`: the command line checked into a plan, the order pods are
// started in, the memory budget that caps what is in flight, and the arithmetic of a pod's phases. No I/O:
// run.cc drives the runtime with what this computes, and tests/unit/startup_runner checks it without one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "bench/startup/record.h"
#include "sizer/pod.h"
#include "sizer/size_pod.h"

namespace uvm::startup {

// The label on every sandbox a run creates; its value is the run id. Sandboxes without it are foreign.
inline constexpr std::string_view kRunIdLabel = "uvm-sizer.bench/run-id";

enum class RunMode { kBurst, kClosed, kOpen };
std::string_view RunModeName(RunMode mode);  // "burst", "closed", "open"

// kubelet imagePullPolicy, as CRI calls it: never (ImageStatus only; absent = error), if-missing
// (ImageStatus, PullImage when absent), always (ImageStatus, then PullImage every time, as the kubelet does
// for PullAlways).
enum class PullPolicy { kNever, kIfMissing, kAlways };

// The flags as typed (CLI11 fills it); ParseRunOptions checks every one.
struct RunFlags {
  std::string cri;
  std::string handlers = "runc,kata,kata-cc";
  std::string mode = "burst";
  std::string levels = "1,4,16";
  std::string rates = "0.5,1,2,5,10";
  std::string duration = "30s";  // closed/open: per level or rate
  int n = 30;                    // pods per handler per cell (burst: rounded up to whole bursts)
  std::string mem_limits = "none";
  std::string cpu_limits = "none";
  std::string overhead;  // "cpu=250m,memory=160Mi"; "" = none declared
  int background = 0;
  std::string image = "registry.local/uvm-sizer-test/pause:1.0";
  std::string pull = "never";
  std::string command;  // the container's command ("" = the image's entrypoint), split on spaces
  std::string mem_budget = "70%";
  std::string call_timeout = "120s";
  std::string containerd_metrics;
  bool allow_shared_node = false;
  std::string out;
  std::string cgroup_root;  // "" = "/uvm-sizer-startup-<run id>"
  bool warmup = true;       // one discarded pod per handler first
};

// One point of the size sweep: the container's limits ("none" = not set).
struct SizePoint {
  std::string mem_label;  // as given: "none", "256Mi"
  std::string cpu_label;  // "none", "1", "500m"
  std::optional<sizer::Quantity> memory;
  std::optional<sizer::Quantity> cpu;
};

// The declared pod overhead (RuntimeClass overhead.podFixed) sent in LinuxPodSandboxConfig.overhead.
struct OverheadSpec {
  std::string text;  // normalised "cpu=250m,memory=160Mi"; "" = none
  std::optional<sizer::Quantity> cpu;
  std::optional<sizer::Quantity> memory;
};

// --mem-budget: a share of MemAvailable or a byte count.
struct BudgetSpec {
  std::optional<double> fraction;  // 0.7 for "70%"
  int64_t bytes = 0;               // when fraction is unset
  // The budget in bytes for a node with `mem_available_bytes` available.
  int64_t Resolve(int64_t mem_available_bytes) const;
};

struct RunPlan {
  std::string endpoint;  // "unix:///…"
  std::vector<std::string> handlers;
  RunMode mode = RunMode::kBurst;
  std::vector<int> levels;
  std::vector<double> rates;
  int64_t duration_ns = 0;
  int n = 0;
  std::vector<SizePoint> sizes;
  OverheadSpec overhead;
  int background = 0;
  std::string image;
  PullPolicy pull = PullPolicy::kNever;
  std::vector<std::string> command;
  BudgetSpec budget;
  int64_t call_timeout_ms = 0;
  std::string containerd_metrics;
  bool allow_shared_node = false;
  std::string out;
  std::string cgroup_root;  // may be "" (then the default with the run id)
  bool warmup = true;
};

// Errors name the flag and the value: `--levels: "0" is not a positive integer`.
Result<RunPlan> ParseRunOptions(const RunFlags& flags);

// "120s", "2m", "500ms", "1.5s", or a bare number of seconds -> ns. Errors name `flag`.
Result<int64_t> ParseDurationNs(std::string_view flag, std::string_view text);

// The default cgroup root of a run: "/uvm-sizer-startup-<run id>" (never under kubelet-owned cgroups).
std::string DefaultCgroupRoot(std::string_view run_id);
// Refuses a cgroup root the kubelet or systemd owns (kubepods*, *.slice, system, user, init.scope, the
// root itself) or one that is not a clean absolute path.
Status ValidateCgroupRoot(std::string_view root);

// ---- The order of pods

// One group of pods released together (burst mode) or one pod (closed/open use handler + size + level).
struct Burst {
  int cell_level = 0;  // burst/closed: the concurrency; open: index into rates
  int iteration = 0;
  int burst = 0;  // a counter over the run: pods released together share it
  std::string handler;
  int size_index = 0;
  int count = 0;
  bool warmup = false;
};

// Burst mode: for every size point, level and iteration (ceil(n / level) iterations), one burst of
// `level` pods per handler, handlers interleaved (ABCABC…) so drift hits all alike. With `warmup`, one
// single-pod burst per handler comes first (size point 0), marked warmup.
std::vector<Burst> BurstSchedule(const RunPlan& plan);

// Open mode: arrival offsets (ns from the start of the rate's window) of a uniform `rate` pods/s over
// `duration_ns`: 0, 1/rate, 2/rate, … while < duration.
std::vector<int64_t> OpenArrivals(double rate, int64_t duration_ns);

// Closed/open mode: the handler of the k-th pod of a window (ABCABC…).
const std::string& HandlerForSequence(const RunPlan& plan, int64_t k);

// ---- The memory budget

// What a pod holds against the budget while it is in flight: the UVM's host memory the sizer predicts
// (VM-isolated handlers) or the pod's memory limit (runc: what its cgroup may take), plus the declared
// overhead memory.
int64_t PodBudgetBytes(const PredictedUvm& predicted, std::optional<int64_t> memory_limit_bytes,
                       const OverheadSpec& overhead);

// Admission against a byte budget: a pod enters while Σ in flight + its bytes stays within the budget.
// One pod that alone exceeds the budget never enters (kNever: an error row, not a hang). Not
// thread-safe (run.cc guards it with a mutex).
class MemoryBudget {
 public:
  enum class Verdict { kAdmit, kWait, kNever };
  explicit MemoryBudget(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  Verdict Check(int64_t bytes) const;
  // Check() then, on kAdmit, count it in flight.
  Verdict TryAdmit(int64_t bytes);
  void Release(int64_t bytes);
  int64_t in_flight() const { return in_flight_; }
  int64_t capacity() const { return capacity_; }

 private:
  int64_t capacity_;
  int64_t in_flight_ = 0;
};

// ---- Phase arithmetic

// Sets total_ns (first call start -> running seen) and unaccounted_ns (total - Σ phases) from the
// monotonic ns of the first call's start and of the end of the RUNNING status call.
void SetTotals(PodRecord& pod, int64_t first_call_start_ns, int64_t running_seen_end_ns);

// |unaccounted| <= `fraction` of total (the acceptance bound is 0.02); false when the pod has no total.
bool UnaccountedWithin(const PodRecord& pod, double fraction);

// ---- The sizer

// The manifest-shaped pod the run asks for: one container "bench" with the size point's limits (requests
// default to limits, as the API does), the handler's runtime class and the declared overhead.
sizer::Pod BenchPod(const std::string& handler, const SizePoint& size, const OverheadSpec& overhead);
// The context the CLI's `uvm-sizer size` builds by default (built-in profiles, host overhead model,
// kubelet defaults), with the handler and overhead of the run as its --handler/--overhead-* flags.
sizer::SizingContext BenchSizingContext(const std::string& handler, const OverheadSpec& overhead,
                                        uint32_t host_cpus);
PredictedUvm PredictedFromSizing(const sizer::PodSizing& sizing);

// A VM handler name (the sizer has a profile for it) served by a runtime that is not Kata.
bool IsKataRuntimeType(std::string_view runtime_type);  // io.containerd.kata*.v2
bool IsStandIn(bool vm_isolated, std::string_view runtime_type);

// The pod cgroup path the kubelet's cgroupfs driver uses under `cgroup_root`:
// <root>/kubepods/pod<uid> (Guaranteed), <root>/kubepods/burstable/pod<uid>, …/besteffort/pod<uid>.
std::string PodCgroupParent(std::string_view cgroup_root, sizer::QosClass qos, std::string_view uid);

// Mount points of every cgroup hierarchy (v1 and v2) in a /proc/self/mountinfo text, in file order.
std::vector<std::string> CgroupMountPoints(std::string_view mountinfo);

// The tool's CPU per pod: (user + system ns) / pods; 0 without pods.
int64_t CpuNsPerPod(int64_t cpu_ns, int64_t pods);

}  // namespace uvm::startup
