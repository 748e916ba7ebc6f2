#include "bench/startup/report.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace uvm::startup {
namespace {

using Json = nlohmann::ordered_json;

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
std::string CsvField(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void CsvRow(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    out += CsvField(fields[i]);
  }
  out += '\n';
}

template <class T>
std::string Opt(const std::optional<T>& v) {
  return v ? fmt::format("{}", *v) : std::string();
}
std::string Fixed(double v, int digits) {
  return fmt::format("{:.{}f}", Rounded(v, digits), digits);
}
std::string Fixed(const std::optional<double>& v, int digits) {
  return v ? Fixed(*v, digits) : std::string();
}
std::string Bool(bool b) {
  return b ? "true" : "false";
}

// A markdown table cell: no pipes, no line breaks.
std::string Md(std::string text) {
  for (char& c : text) {
    if (c == '|' || c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

std::string MsText(const std::optional<double>& ms) {
  return ms ? Fixed(*ms, 1) : "n/a";
}

std::string P50P99(const Cell& cell, const std::string& metric) {
  auto it = cell.latency.find(metric);
  if (it == cell.latency.end()) return "—";
  return fmt::format("{} / {}", MsText(it->second.p50_ms), MsText(it->second.p99_ms));
}

std::string UvmText(const PredictedUvm& p) {
  if (!p.refusal.empty()) return Md(fmt::format("refused: {}", p.refusal));
  if (!p.vm_isolated) return "—";
  return Md(fmt::format("{} vCPU / {} MiB ({})", p.vcpus, p.memory_mib, p.profile));
}

std::string LoadText(const CellKey& key) {
  return key.mode == "open" ? fmt::format("{}/s", key.rate) : fmt::format("c={}", key.level);
}

// A burst/closed cell the memory budget kept below its level says how far it got, so that nobody reads
// its lower latencies as a faster runtime.
bool CappedByBudget(const Cell& cell) {
  return cell.key.mode != "open" && cell.held_by_budget > 0 && cell.max_in_flight < cell.key.level;
}

std::string LoadText(const Cell& cell) {
  if (!CappedByBudget(cell)) return LoadText(cell.key);
  return fmt::format("{} (budget: ≤ {} in flight)", LoadText(cell.key), cell.max_in_flight);
}

std::string SizeText(const CellKey& key) {
  return fmt::format("mem {} · cpu {}", key.mem_limit, key.cpu_limit);
}

}  // namespace

std::string ShortRuntime(const std::string& runtime_type) {
  if (runtime_type.empty()) return "?";
  constexpr std::string_view kPrefix = "io.containerd.";
  if (runtime_type.starts_with(kPrefix)) return runtime_type.substr(kPrefix.size());
  return runtime_type;
}

std::string HandlerCell(const std::string& handler, const std::string& runtime_type, bool stand_in) {
  std::string cell = fmt::format("{} ({})", handler, ShortRuntime(runtime_type));
  if (stand_in) cell += " (runc stand-in)";
  return cell;
}

std::string SummaryCsv(const Summary& summary) {
  std::string out;
  CsvRow(out, {"handler",
               "runtime_type",
               "stand_in",
               "mode",
               "level",
               "rate",
               "mem_limit",
               "cpu_limit",
               "uvm_profile",
               "uvm_vcpus",
               "uvm_memory_mib",
               "n",
               "completed",
               "failed",
               "warmup_excluded",
               "throughput_pods_per_s",
               "share_total_within_5s",
               "metric",
               "metric_n",
               "p50_ms",
               "p90_ms",
               "p95_ms",
               "p99_ms",
               "max_ms",
               "mean_ms",
               "sd_ms",
               "cov",
               "p50_ci95_low_ms",
               "p50_ci95_high_ms"});
  for (const Cell& c : summary.cells) {
    for (const std::string& metric : MetricNames()) {
      auto it = c.latency.find(metric);
      if (it == c.latency.end()) continue;
      const LatencyStats& s = it->second;
      CsvRow(out, {c.key.handler,
                   c.runtime_type,
                   Bool(c.stand_in),
                   c.key.mode,
                   std::to_string(c.key.level),
                   fmt::format("{}", c.key.rate),
                   c.key.mem_limit,
                   c.key.cpu_limit,
                   c.predicted_uvm.profile,
                   std::to_string(c.predicted_uvm.vcpus),
                   std::to_string(c.predicted_uvm.memory_mib),
                   std::to_string(c.n),
                   std::to_string(c.completed),
                   std::to_string(c.failed),
                   std::to_string(c.warmup_excluded),
                   Fixed(c.throughput_pods_per_s, 3),
                   Fixed(c.share_total_within_5s, 4),
                   metric,
                   std::to_string(s.n),
                   Fixed(s.p50_ms, 3),
                   Fixed(s.p90_ms, 3),
                   Fixed(s.p95_ms, 3),
                   Fixed(s.p99_ms, 3),
                   Fixed(s.max_ms, 3),
                   Fixed(s.mean_ms, 3),
                   Fixed(s.sd_ms, 3),
                   Fixed(s.cov, 4),
                   s.p50_ci_ms ? Fixed(s.p50_ci_ms->low, 3) : "",
                   s.p50_ci_ms ? Fixed(s.p50_ci_ms->high, 3) : ""});
    }
  }
  return out;
}

std::string PodsCsv(const std::vector<PodRecord>& pods) {
  std::vector<std::string> header = {"run_id",
                                     "handler",
                                     "runtime_type",
                                     "stand_in",
                                     "mode",
                                     "level",
                                     "rate",
                                     "iteration",
                                     "warmup",
                                     "cold",
                                     "mem_limit",
                                     "cpu_limit",
                                     "memory_limit_bytes",
                                     "cpu_limit_millis",
                                     "overhead",
                                     "uvm_vm_isolated",
                                     "uvm_profile",
                                     "uvm_vcpus",
                                     "uvm_memory_mib",
                                     "uvm_host_memory_bytes",
                                     "uvm_refusal",
                                     "observed_vcpus",
                                     "observed_memory_mib",
                                     "pod_name",
                                     "pod_uid",
                                     "sandbox_id",
                                     "start_unix_ns",
                                     "start_offset_ns",
                                     "burst",
                                     "budget_wait_ns"};
  for (int i = 0; i < kPhaseCount; ++i)
    header.push_back(fmt::format("{}_ns", PhaseName(static_cast<Phase>(i))));
  for (const char* name : {"total_ns", "unaccounted_ns", "stop_sandbox_ns", "remove_sandbox_ns",
                           "shim_create_ms", "agent_create_sandbox_ms", "agent_create_container_ms",
                           "agent_start_container_ms", "vmm_spawn_ns", "mem_ramp_t50_ns", "mem_ramp_t90_ns",
                           "mem_peak_bytes", "error_phase", "error_code", "error_message"}) {
    header.emplace_back(name);
  }
  std::string out;
  CsvRow(out, header);
  for (const PodRecord& p : pods) {
    const KataTimings kata = p.kata.value_or(KataTimings{});
    std::vector<std::string> row = {p.run_id,
                                    p.handler,
                                    p.runtime_type,
                                    Bool(p.stand_in),
                                    p.mode,
                                    std::to_string(p.level),
                                    fmt::format("{}", p.rate),
                                    std::to_string(p.iteration),
                                    Bool(p.warmup),
                                    Bool(p.cold),
                                    p.mem_limit,
                                    p.cpu_limit,
                                    Opt(p.memory_limit_bytes),
                                    Opt(p.cpu_limit_millis),
                                    p.overhead,
                                    Bool(p.predicted_uvm.vm_isolated),
                                    p.predicted_uvm.profile,
                                    std::to_string(p.predicted_uvm.vcpus),
                                    std::to_string(p.predicted_uvm.memory_mib),
                                    Opt(p.predicted_uvm.host_memory_bytes),
                                    p.predicted_uvm.refusal,
                                    p.observed_uvm ? Opt(p.observed_uvm->vcpus) : "",
                                    p.observed_uvm ? Opt(p.observed_uvm->memory_mib) : "",
                                    p.pod_name,
                                    p.pod_uid,
                                    p.sandbox_id,
                                    std::to_string(p.start_unix_ns),
                                    std::to_string(p.start_offset_ns),
                                    std::to_string(p.burst),
                                    std::to_string(p.budget_wait_ns)};
    for (int i = 0; i < kPhaseCount; ++i) row.push_back(Opt(p.phase_ns[i]));
    for (const std::string& v :
         {Opt(p.total_ns), Opt(p.unaccounted_ns), Opt(p.stop_sandbox_ns), Opt(p.remove_sandbox_ns),
          Opt(kata.shim_create_ms), Opt(kata.agent_create_sandbox_ms), Opt(kata.agent_create_container_ms),
          Opt(kata.agent_start_container_ms), Opt(kata.vmm_spawn_ns), Opt(kata.mem_ramp_t50_ns),
          Opt(kata.mem_ramp_t90_ns), Opt(kata.mem_peak_bytes), p.error ? p.error->phase : "",
          p.error ? p.error->code : "", p.error ? p.error->message : ""}) {
      row.push_back(v);
    }
    CsvRow(out, row);
  }
  return out;
}

std::string PerfdashJson(const Summary& summary) {
  Json items = Json::array();
  for (const Cell& c : summary.cells) {
    for (const std::string& metric : MetricNames()) {
      auto it = c.latency.find(metric);
      if (it == c.latency.end() || !it->second.p50_ms) continue;
      const LatencyStats& s = it->second;
      Json data;
      data["Perc50"] = Rounded(*s.p50_ms, 3);
      data["Perc90"] = Rounded(*s.p90_ms, 3);
      if (s.p99_ms) data["Perc99"] = Rounded(*s.p99_ms, 3);
      Json labels;
      labels["Metric"] = metric;
      labels["Handler"] = c.key.handler;
      labels["Mode"] = c.key.mode;
      labels["Level"] = c.key.mode == "open" ? fmt::format("{}", c.key.rate) : std::to_string(c.key.level);
      labels["MemLimit"] = c.key.mem_limit;
      labels["CpuLimit"] = c.key.cpu_limit;
      labels["StandIn"] = Bool(c.stand_in);
      items.push_back(Json{{"data", std::move(data)}, {"unit", "ms"}, {"labels", std::move(labels)}});
    }
  }
  Json j;
  j["version"] = "1.0";
  j["dataItems"] = std::move(items);
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

std::string ReportMarkdown(const Summary& s) {
  const RunInfo& info = s.info;
  const RunEnvironment& env = info.env;
  std::string out;
  out += fmt::format("# Pod startup latency by runtime class: run {}\n\n", Md(info.run_id));

  int n_min = 0, n_max = 0;
  for (size_t i = 0; i < s.cells.size(); ++i) {
    n_min = i == 0 ? s.cells[i].n : std::min(n_min, s.cells[i].n);
    n_max = i == 0 ? s.cells[i].n : std::max(n_max, s.cells[i].n);
  }
  std::string runtimes;
  std::set<std::string> seen;
  auto add_runtime = [&](const std::string& handler, const std::string& runtime_type, bool stand_in) {
    if (!seen.insert(handler).second) return;
    if (!runtimes.empty()) runtimes += "; ";
    runtimes += fmt::format("{} → {}{}", handler, runtime_type.empty() ? "?" : runtime_type,
                            stand_in ? " (runc stand-in)" : "");
  };
  for (const HandlerEnvironment& h : env.handlers) add_runtime(h.handler, h.runtime_type, h.stand_in);
  for (const Cell& c : s.cells) add_runtime(c.key.handler, c.runtime_type, c.stand_in);
  std::string load = info.mode == "open" ? fmt::format("rates {} /s", fmt::join(info.rates, ", "))
                                         : fmt::format("levels {}", fmt::join(info.levels, ", "));

  out += "| | |\n|---|---|\n";
  out += fmt::format("| node | {}, {} CPUs, kernel {}, {:.1f} GiB memory |\n", Md(env.cpu_model), env.nproc,
                     Md(env.kernel), static_cast<double>(env.mem_total_bytes) / (1 << 30));
  out +=
      fmt::format("| confidential host | SEV-SNP: {} · TDX: {} |\n",
                  env.sev_snp.empty() ? "absent" : Md(env.sev_snp), env.tdx.empty() ? "absent" : Md(env.tdx));
  out += fmt::format("| containerd | {} ({}) |\n", Md(env.containerd_version), Md(info.cri_endpoint));
  out += fmt::format("| runtimes | {} |\n", Md(runtimes));
  for (const HandlerEnvironment& h : env.handlers) {
    if (!h.kata_version.empty() || !h.hypervisor.empty()) {
      out += fmt::format("| kata ({}) | {} · hypervisor {} |\n", Md(h.handler), Md(h.kata_version),
                         Md(h.hypervisor));
    }
  }
  out += fmt::format("| image | {} |\n", Md(info.image));
  out += fmt::format("| mode | {}, {} |\n", Md(info.mode), load);
  out += fmt::format("| n per cell | {} (warm-up pods excluded: {}) |\n",
                     n_min == n_max ? std::to_string(n_min) : fmt::format("{}–{}", n_min, n_max),
                     s.warmup_excluded);
  out += fmt::format("| date | {} |\n", Md(info.started_at));
  out += fmt::format("| tool | uvm-sizer-startup {} |\n", Md(info.tool_version));
  out += fmt::format("| command | `{}` |\n\n", Md(info.command_line));

  const std::string ref = s.reference_handler.empty() ? "runc" : s.reference_handler;
  out += "## Startup by handler\n\n";
  out +=
      "Milliseconds, nearest-rank quantiles over the completed pods of each cell; p99 is n/a below 100 "
      "pods. ";
  out += fmt::format(
      "× {} is the ratio of total p50s to the same cell of {} with a bootstrap 95 % interval; ≤ 5 s counts "
      "failed pods as not started; pods/s is completed pods over the busy time of their bursts. A load "
      "marked `budget: ≤ K in flight` ran below its level because the memory budget (--mem-budget) held "
      "pods back: its latencies are not comparable with the same level of another handler (n/c).\n\n",
      ref, s.reference_handler.empty() ? "a handler without a UVM (none in this run)" : ref);
  out += fmt::format(
      "| handler (runtime) | load | size | UVM predicted | n | fail | RunPodSandbox p50 / p99 | "
      "CreateContainer p50 / "
      "p99 | StartContainer p50 / p99 | total p50 / p99 | × {} (p50, 95 % CI) | ≤ 5 s | pods/s |\n",
      ref);
  out += "|---|---|---|---|---:|---:|---|---|---|---|---|---:|---:|\n";
  for (const Cell& c : s.cells) {
    std::string fail = std::to_string(c.failed);
    if (!c.failures_by_code.empty()) {
      std::vector<std::string> codes;
      for (const auto& [code, count] : c.failures_by_code) codes.push_back(fmt::format("{} {}", code, count));
      fail += fmt::format(" ({})", fmt::join(codes, ", "));
    }
    std::string ratio = "—";
    if (c.key.handler == s.reference_handler && !c.total_ms.empty()) {
      ratio = "1.00";
    } else if (CappedByBudget(c)) {
      ratio = "n/c (budget)";
    } else if (c.total_vs_reference) {
      ratio = Fixed(c.total_vs_reference->p50_ratio, 2);
      if (c.total_vs_reference->ci) {
        ratio += fmt::format(" ({}–{})", Fixed(c.total_vs_reference->ci->low, 2),
                             Fixed(c.total_vs_reference->ci->high, 2));
      }
    }
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                       Md(HandlerCell(c.key.handler, c.runtime_type, c.stand_in)), LoadText(c),
                       Md(SizeText(c.key)), UvmText(c.predicted_uvm), c.n, Md(fail), P50P99(c, "run_sandbox"),
                       P50P99(c, "create_container"), P50P99(c, "start_container"), P50P99(c, "total"), ratio,
                       c.n > 0 ? fmt::format("{:.0f} %", 100 * c.share_total_within_5s) : "—",
                       c.throughput_pods_per_s ? Fixed(*c.throughput_pods_per_s, 2) : "—");
  }

  // Pods/s at the top level of each handler: where concurrency shows.
  out += "\n## Throughput at the top level\n\n| handler (runtime) | load | pods/s |\n|---|---|---:|\n";
  std::vector<std::string> handlers;
  for (const Cell& c : s.cells) {
    if (std::find(handlers.begin(), handlers.end(), c.key.handler) == handlers.end())
      handlers.push_back(c.key.handler);
  }
  for (const std::string& h : handlers) {
    const Cell* top = nullptr;
    for (const Cell& c : s.cells) {
      if (c.key.handler != h || !c.throughput_pods_per_s) continue;
      bool higher = top == nullptr ||
                    (c.key.mode == "open" ? c.key.rate > top->key.rate : c.key.level > top->key.level);
      if (higher) top = &c;
    }
    if (top == nullptr) continue;
    // Several size points at the top level: the best of them.
    for (const Cell& c : s.cells) {
      if (c.key.handler == h && c.key.level == top->key.level && c.key.rate == top->key.rate &&
          c.throughput_pods_per_s && *c.throughput_pods_per_s > *top->throughput_pods_per_s) {
        top = &c;
      }
    }
    out += fmt::format("| {} | {} | {} |\n", Md(HandlerCell(h, top->runtime_type, top->stand_in)),
                       LoadText(*top), Fixed(*top->throughput_pods_per_s, 2));
  }

  out += "\n## Startup against the predicted UVM size\n\n";
  out +=
      "Least squares `startup = a + b × x` over each handler's completed pods; the interval of b is 95 % "
      "(Student t, n − 2 degrees of freedom).\n\n";
  out += "| handler (runtime) | metric | x | n | b (95 % CI) | a (ms) | R² | x tested |\n";
  out += "|---|---|---|---:|---|---:|---:|---|\n";
  for (const SizeFit& f : s.fits) {
    std::string runtime_type;
    bool stand_in = false;
    for (const Cell& c : s.cells) {
      if (c.key.handler == f.handler) {
        runtime_type = c.runtime_type;
        stand_in = c.stand_in;
        break;
      }
    }
    const char* unit = f.x == "uvm_gib" ? "ms/GiB" : "ms/vCPU";
    const char* x = f.x == "uvm_gib" ? "UVM GiB" : "vCPUs";
    if (f.fit) {
      out += fmt::format("| {} | {} | {} | {} | {} {} ({} … {}) | {} | {} | {} – {} |\n",
                         Md(HandlerCell(f.handler, runtime_type, stand_in)), f.metric, x, f.n,
                         Fixed(f.fit->b, 2), unit, Fixed(f.fit->b_ci.low, 2), Fixed(f.fit->b_ci.high, 2),
                         Fixed(f.fit->a, 1), Fixed(f.fit->r2, 3), Fixed(f.fit->x_min, 2),
                         Fixed(f.fit->x_max, 2));
    } else {
      out += fmt::format("| {} | {} | {} | {} | no fit: {} | | | |\n",
                         Md(HandlerCell(f.handler, runtime_type, stand_in)), f.metric, x, f.n, Md(f.note));
    }
  }

  if (!s.kata.empty()) {
    out += "\n## Kata tier 1 (medians)\n\n";
    out +=
        "| handler | pods | containerd side (ms) | shim create (ms) | agent CreateSandbox (ms) | mem ramp "
        "t90 (ms) | "
        "observed UVM ≠ predicted |\n|---|---:|---:|---:|---:|---:|---:|\n";
    for (const KataSplit& k : s.kata) {
      out += fmt::format("| {} | {} | {} | {} | {} | {} | {} of {} |\n", Md(k.handler), k.pods,
                         MsText(k.containerd_side_ms), MsText(k.shim_create_ms),
                         MsText(k.agent_create_sandbox_ms), MsText(k.mem_ramp_t90_ms),
                         k.observed_uvm_mismatches, k.observed_uvm_pods);
    }
  }

  out += "\n## Cross-checks\n\n";
  const CrossCheckResult& cc = s.containerd;
  if (cc.ratio) {
    out += fmt::format(
        "- containerd's own sandbox create timer grew by {:.3f} s over the run; the tool timed {:.3f} s of "
        "RunPodSandbox over {} sandboxes: ratio {:.3f} ({} 10 %).\n",
        *cc.containerd_delta_s, cc.client_run_sandbox_s, cc.client_sandboxes, *cc.ratio,
        *cc.within_10_percent ? "within" : "NOT within");
  } else {
    out += fmt::format("- containerd cross-check: not available ({}).\n", Md(cc.note));
  }
  int unaccounted = 0;
  for (const Cell& c : s.cells) unaccounted += c.unaccounted_over_limit;
  out += fmt::format("- pods whose |total − Σ phases| exceeds 2 % of total: {}.\n", unaccounted);
  out += fmt::format("- pods: {} in all, {} warm-up excluded, {} completed, {} failed.\n", s.pods,
                     s.warmup_excluded, s.completed, s.failed);
  bool any_stand_in = std::any_of(s.cells.begin(), s.cells.end(), [](const Cell& c) { return c.stand_in; });
  if (any_stand_in) {
    out +=
        "- Rows marked (runc stand-in) are a VM handler name served by runc: they measure the tool and "
        "containerd, not a Kata VM.\n";
  }
  return out;
}

}  // namespace uvm::startup
