#include "bench/startup/run_plan.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "base/error_codes.h"
#include "kubelet-plugin/cri_client.h"
#include "sizer/kubelet.h"

namespace uvm::startup {
namespace {

std::vector<std::string> SplitList(std::string_view text, char sep = ',') {
  std::vector<std::string> out;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = text.find(sep, begin);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(begin, end - begin);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    out.emplace_back(item);
    begin = end + 1;
  }
  return out;
}

Error FlagError(std::string_view flag, std::string_view value, std::string_view why) {
  return InvalidInput(fmt::format("{}: {:?} {}", flag, value, why));
}

Result<std::vector<std::string>> NonEmptyItems(std::string_view flag, std::string_view text) {
  std::vector<std::string> items = SplitList(text);
  std::set<std::string> seen;
  for (const std::string& item : items) {
    if (item.empty()) return FlagError(flag, text, "has an empty item");
    if (!seen.insert(item).second) return FlagError(flag, item, "is listed twice");
  }
  return items;
}

Result<std::optional<sizer::Quantity>> LimitQuantity(std::string_view flag, const std::string& item,
                                                     bool memory) {
  if (item == "none") return std::optional<sizer::Quantity>();
  auto q = sizer::Quantity::Parse(item);
  if (!q.ok()) return FlagError(flag, item, fmt::format("is not a quantity: {}", q.error().message));
  if (q->IsNegative() || q->IsZero()) return FlagError(flag, item, "must be positive (or \"none\")");
  if (memory ? q->ValueOverflows() : q->MilliValueOverflows()) return FlagError(flag, item, "is too large");
  return std::optional<sizer::Quantity>(*q);
}

}  // namespace

std::string_view RunModeName(RunMode mode) {
  switch (mode) {
    case RunMode::kBurst:
      return "burst";
    case RunMode::kClosed:
      return "closed";
    case RunMode::kOpen:
      return "open";
  }
  return "burst";
}

int64_t BudgetSpec::Resolve(int64_t mem_available_bytes) const {
  if (fraction) return static_cast<int64_t>(std::floor(*fraction * static_cast<double>(mem_available_bytes)));
  return bytes;
}

Result<int64_t> ParseDurationNs(std::string_view flag, std::string_view text) {
  std::string_view number = text;
  double scale = 1e9;
  if (number.ends_with("ms")) {
    number.remove_suffix(2);
    scale = 1e6;
  } else if (number.ends_with("s")) {
    number.remove_suffix(1);
  } else if (number.ends_with("m")) {
    number.remove_suffix(1);
    scale = 60e9;
  }
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value)) {
    return FlagError(flag, text, "is not a duration (e.g. 120s, 500ms, 2m)");
  }
  if (value <= 0) return FlagError(flag, text, "must be positive");
  double ns = value * scale;
  if (ns > 1e18) return FlagError(flag, text, "is too long");
  return static_cast<int64_t>(std::llround(ns));
}

std::string DefaultCgroupRoot(std::string_view run_id) {
  return fmt::format("/uvm-sizer-startup-{}", run_id);
}

Status ValidateCgroupRoot(std::string_view root) {
  if (root.size() < 2 || root.front() != '/' || root.back() == '/') {
    return FlagError("--cgroup-root", root, "must be an absolute cgroup path such as /uvm-sizer-startup");
  }
  for (const std::string& part : SplitList(root.substr(1), '/')) {
    if (part.empty() || part == "." || part == "..") {
      return FlagError("--cgroup-root", root, "must be a clean path (no empty, . or .. components)");
    }
  }
  std::string first = SplitList(root.substr(1), '/').front();
  // The kubelet's (kubepods, kubepods.slice), systemd's (*.slice, init.scope, system, user) and the
  // runtimes' own cgroups are never ours to create pods in or to remove.
  if (first.starts_with("kubepods") || first.ends_with(".slice") || first.ends_with(".scope") ||
      first == "system" || first == "user" || first == "kata_overhead" || first == "docker" ||
      first == "containerd") {
    return FlagError("--cgroup-root", root,
                     "is owned by the kubelet, systemd or a runtime: pick a fresh name");
  }
  return {};
}

Result<RunPlan> ParseRunOptions(const RunFlags& f) {
  RunPlan plan;
  if (f.cri.empty()) return InvalidInput("--cri: required (e.g. unix:///run/containerd/containerd.sock)");
  auto endpoint = cri::NormalizeEndpoint(f.cri);
  if (!endpoint.ok()) return WithMessage(endpoint.error(), "--cri: " + endpoint.error().message);
  plan.endpoint = *endpoint;

  auto handlers = NonEmptyItems("--handlers", f.handlers);
  if (!handlers.ok()) return handlers.error();
  plan.handlers = *handlers;

  if (f.mode == "burst") {
    plan.mode = RunMode::kBurst;
  } else if (f.mode == "closed") {
    plan.mode = RunMode::kClosed;
  } else if (f.mode == "open") {
    plan.mode = RunMode::kOpen;
  } else {
    return FlagError("--mode", f.mode, "is not one of burst, closed, open");
  }

  auto levels = NonEmptyItems("--levels", f.levels);
  if (!levels.ok()) return levels.error();
  for (const std::string& item : *levels) {
    int value = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (ec != std::errc() || ptr != item.data() + item.size() || value <= 0) {
      return FlagError("--levels", item, "is not a positive integer");
    }
    if (value > 1024) return FlagError("--levels", item, "is above 1024 pods in flight");
    plan.levels.push_back(value);
  }
  auto rates = NonEmptyItems("--rate", f.rates);
  if (!rates.ok()) return rates.error();
  for (const std::string& item : *rates) {
    double value = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (ec != std::errc() || ptr != item.data() + item.size() || !(value > 0) || value > 1000) {
      return FlagError("--rate", item, "is not a rate in pods/s (0 < rate <= 1000)");
    }
    plan.rates.push_back(value);
  }
  auto duration = ParseDurationNs("--duration", f.duration);
  if (!duration.ok()) return duration.error();
  plan.duration_ns = *duration;

  if (f.n <= 0) return FlagError("-n", std::to_string(f.n), "must be a positive number of pods per cell");
  plan.n = f.n;

  auto mems = NonEmptyItems("--mem-limits", f.mem_limits);
  if (!mems.ok()) return mems.error();
  auto cpus = NonEmptyItems("--cpu-limits", f.cpu_limits);
  if (!cpus.ok()) return cpus.error();
  for (const std::string& mem : *mems) {
    auto memory = LimitQuantity("--mem-limits", mem, true);
    if (!memory.ok()) return memory.error();
    for (const std::string& cpu : *cpus) {
      auto cpu_q = LimitQuantity("--cpu-limits", cpu, false);
      if (!cpu_q.ok()) return cpu_q.error();
      plan.sizes.push_back({.mem_label = mem, .cpu_label = cpu, .memory = *memory, .cpu = *cpu_q});
    }
  }

  if (!f.overhead.empty()) {
    std::vector<std::string> parts;
    for (const std::string& item : SplitList(f.overhead)) {
      size_t eq = item.find('=');
      if (eq == std::string::npos)
        return FlagError("--overhead", item, "is not key=quantity (cpu=, memory=)");
      std::string key = item.substr(0, eq);
      std::string value = item.substr(eq + 1);
      auto q = sizer::Quantity::Parse(value);
      if (!q.ok() || q->IsNegative() || q->ValueOverflows()) {
        return FlagError("--overhead", item, "needs a non-negative quantity");
      }
      if (key == "cpu" && !plan.overhead.cpu) {
        plan.overhead.cpu = *q;
      } else if (key == "memory" && !plan.overhead.memory) {
        plan.overhead.memory = *q;
      } else {
        return FlagError("--overhead", item, "has a key other than cpu or memory, or one given twice");
      }
    }
    if (plan.overhead.cpu) parts.push_back("cpu=" + plan.overhead.cpu->String());
    if (plan.overhead.memory) parts.push_back("memory=" + plan.overhead.memory->String());
    plan.overhead.text = fmt::format("{}", fmt::join(parts, ","));
  }

  if (f.background < 0 || f.background > 1000) {
    return FlagError("--background", std::to_string(f.background), "must be 0..1000 idle pods per handler");
  }
  plan.background = f.background;
  if (f.image.empty()) return InvalidInput("--image: required");
  plan.image = f.image;
  if (f.pull == "never") {
    plan.pull = PullPolicy::kNever;
  } else if (f.pull == "if-missing") {
    plan.pull = PullPolicy::kIfMissing;
  } else if (f.pull == "always") {
    plan.pull = PullPolicy::kAlways;
  } else {
    return FlagError("--pull", f.pull, "is not one of never, if-missing, always");
  }
  for (const std::string& word : SplitList(f.command, ' ')) {
    if (!word.empty()) plan.command.push_back(word);
  }

  if (f.mem_budget.ends_with("%")) {
    std::string_view number(f.mem_budget);
    number.remove_suffix(1);
    double value = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (number.empty() || ec != std::errc() || ptr != number.data() + number.size() || !(value > 0) ||
        value > 100) {
      return FlagError("--mem-budget", f.mem_budget, "is not a share of MemAvailable in (0%, 100%]");
    }
    plan.budget.fraction = value / 100;
  } else {
    auto q = sizer::Quantity::Parse(f.mem_budget);
    if (!q.ok() || q->IsNegative() || q->IsZero() || q->ValueOverflows()) {
      return FlagError("--mem-budget", f.mem_budget,
                       "is not a share (70%) or a positive byte quantity (8Gi)");
    }
    plan.budget.bytes = q->Value();
  }

  auto timeout = ParseDurationNs("--call-timeout", f.call_timeout);
  if (!timeout.ok()) return timeout.error();
  plan.call_timeout_ms = std::max<int64_t>(1, *timeout / 1000000);

  if (!f.containerd_metrics.empty() && !f.containerd_metrics.starts_with("http://")) {
    return FlagError("--containerd-metrics", f.containerd_metrics,
                     "must be an http:// URL (e.g. http://127.0.0.1:1338/v1/metrics)");
  }
  plan.containerd_metrics = f.containerd_metrics;
  plan.allow_shared_node = f.allow_shared_node;
  if (f.out.empty()) return InvalidInput("--out: required (the result directory)");
  plan.out = f.out;
  if (!f.cgroup_root.empty()) {
    if (Status s = ValidateCgroupRoot(f.cgroup_root); !s.ok()) return s.error();
  }
  plan.cgroup_root = f.cgroup_root;
  plan.warmup = f.warmup;
  return plan;
}

std::vector<Burst> BurstSchedule(const RunPlan& plan) {
  std::vector<Burst> out;
  int burst = 0;
  if (plan.warmup) {
    for (const std::string& handler : plan.handlers) {
      out.push_back({.cell_level = 1,
                     .iteration = 0,
                     .burst = burst++,
                     .handler = handler,
                     .size_index = 0,
                     .count = 1,
                     .warmup = true});
    }
  }
  for (int size = 0; size < static_cast<int>(plan.sizes.size()); ++size) {
    for (int level : plan.levels) {
      int iterations = (plan.n + level - 1) / level;
      for (int it = 0; it < iterations; ++it) {
        for (const std::string& handler : plan.handlers) {
          out.push_back({.cell_level = level,
                         .iteration = it,
                         .burst = burst++,
                         .handler = handler,
                         .size_index = size,
                         .count = level,
                         .warmup = false});
        }
      }
    }
  }
  return out;
}

std::vector<int64_t> OpenArrivals(double rate, int64_t duration_ns) {
  std::vector<int64_t> out;
  if (!(rate > 0)) return out;
  for (int64_t k = 0;; ++k) {
    auto at = static_cast<int64_t>(std::llround(static_cast<double>(k) * 1e9 / rate));
    if (at >= duration_ns) break;
    out.push_back(at);
  }
  return out;
}

const std::string& HandlerForSequence(const RunPlan& plan, int64_t k) {
  return plan.handlers[static_cast<size_t>(k % static_cast<int64_t>(plan.handlers.size()))];
}

int64_t PodBudgetBytes(const PredictedUvm& predicted, std::optional<int64_t> memory_limit_bytes,
                       const OverheadSpec& overhead) {
  int64_t declared = overhead.memory ? overhead.memory->Value() : 0;
  if (predicted.vm_isolated && predicted.host_memory_bytes) return *predicted.host_memory_bytes + declared;
  return memory_limit_bytes.value_or(0) + declared;
}

MemoryBudget::Verdict MemoryBudget::Check(int64_t bytes) const {
  if (bytes > capacity_) return Verdict::kNever;
  if (in_flight_ + bytes <= capacity_) return Verdict::kAdmit;
  return Verdict::kWait;
}

MemoryBudget::Verdict MemoryBudget::TryAdmit(int64_t bytes) {
  Verdict v = Check(bytes);
  if (v == Verdict::kAdmit) in_flight_ += bytes;
  return v;
}

void MemoryBudget::Release(int64_t bytes) {
  in_flight_ = std::max<int64_t>(0, in_flight_ - bytes);
}

void SetTotals(PodRecord& pod, int64_t first_call_start_ns, int64_t running_seen_end_ns) {
  int64_t total = running_seen_end_ns - first_call_start_ns;
  int64_t sum = 0;
  for (const auto& phase : pod.phase_ns) sum += phase.value_or(0);
  pod.total_ns = total;
  pod.unaccounted_ns = total - sum;
}

bool UnaccountedWithin(const PodRecord& pod, double fraction) {
  if (!pod.total_ns || !pod.unaccounted_ns || *pod.total_ns <= 0) return false;
  return std::abs(static_cast<double>(*pod.unaccounted_ns)) <= fraction * static_cast<double>(*pod.total_ns);
}

sizer::Pod BenchPod(const std::string& handler, const SizePoint& size, const OverheadSpec& overhead) {
  sizer::Pod pod;
  pod.ref = {.kind = "Pod", .namespace_ = "default", .name = "bench"};
  pod.spec.runtime_class_name = handler;
  sizer::Container c;
  c.name = "bench";
  c.resources.limits.cpu = size.cpu;
  c.resources.limits.memory = size.memory;
  pod.spec.containers.push_back(c);
  pod.spec.overhead.cpu = overhead.cpu;
  pod.spec.overhead.memory = overhead.memory;
  return pod;
}

sizer::SizingContext BenchSizingContext(const std::string& handler, const OverheadSpec& overhead,
                                        uint32_t host_cpus) {
  sizer::SizingContext ctx;
  ctx.handler_override = handler;
  ctx.overhead_override.cpu = overhead.cpu;
  ctx.overhead_override.memory = overhead.memory;
  ctx.host_cpus = host_cpus;
  return ctx;
}

PredictedUvm PredictedFromSizing(const sizer::PodSizing& sizing) {
  PredictedUvm out;
  if (!sizing.profile) return out;
  out.vm_isolated = true;
  out.profile = *sizing.profile;
  if (sizing.uvm) {
    out.vcpus = sizing.uvm->vcpus;
    out.memory_mib = sizing.uvm->memory_mib;
  }
  out.host_memory_bytes = sizing.host_memory_bytes;
  out.refusal = sizing.refusal.value_or("");
  return out;
}

bool IsKataRuntimeType(std::string_view runtime_type) {
  // containerd runtime_type of Kata's shim v2: io.containerd.kata.v2, and variants such as
  // io.containerd.kata-cc.v2 (AKS), io.containerd.kata-qemu.v2 (kata-deploy).
  return runtime_type.starts_with("io.containerd.kata");
}

bool IsStandIn(bool vm_isolated, std::string_view runtime_type) {
  return vm_isolated && !runtime_type.empty() && !IsKataRuntimeType(runtime_type);
}

std::string PodCgroupParent(std::string_view cgroup_root, sizer::QosClass qos, std::string_view uid) {
  switch (qos) {
    case sizer::QosClass::kGuaranteed:
      return fmt::format("{}/kubepods/pod{}", cgroup_root, uid);
    case sizer::QosClass::kBurstable:
      return fmt::format("{}/kubepods/burstable/pod{}", cgroup_root, uid);
    case sizer::QosClass::kBestEffort:
      return fmt::format("{}/kubepods/besteffort/pod{}", cgroup_root, uid);
  }
  return "";
}

std::vector<std::string> CgroupMountPoints(std::string_view mountinfo) {
  // proc(5) mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": field 5 is the
  // mount point, the first field after " - " the file system type.
  std::vector<std::string> out;
  for (const std::string& line : SplitList(mountinfo, '\n')) {
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::vector<std::string> head = SplitList(std::string_view(line).substr(0, dash), ' ');
    std::vector<std::string> tail = SplitList(std::string_view(line).substr(dash + 3), ' ');
    if (head.size() < 5 || tail.empty()) continue;
    if (tail[0] != "cgroup" && tail[0] != "cgroup2") continue;
    out.push_back(head[4]);
  }
  return out;
}

int64_t CpuNsPerPod(int64_t cpu_ns, int64_t pods) {
  return pods > 0 ? cpu_ns / pods : 0;
}

}  // namespace uvm::startup
