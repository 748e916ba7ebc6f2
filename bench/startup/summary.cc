#include "bench/startup/summary.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <tuple>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace uvm::startup {
namespace {

using Json = nlohmann::ordered_json;

constexpr double kNsPerMs = 1e6;
constexpr double kMibPerGib = 1024;

// First-appearance rank of each distinct value, so cells come out in the order the run made them (the
// runner interleaves handlers in --handlers order), the same on every re-read.
class Ranks {
 public:
  int Of(const std::string& value) {
    auto [it, inserted] = ranks_.try_emplace(value, static_cast<int>(ranks_.size()));
    return it->second;
  }
  int Rank(const std::string& value) const { return ranks_.at(value); }

 private:
  std::unordered_map<std::string, int> ranks_;
};

double Ms(int64_t ns) {
  return static_cast<double>(ns) / kNsPerMs;
}

std::vector<double> Sorted(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v;
}

std::optional<double> Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return stats::Quantile(v, 0.5);
}

// Throughput of a cell's completed pods: completed / Σ over bursts of (last end − first start). Pods of
// one burst run together; between bursts the tool waits, which is not the runtime's time.
std::optional<double> Throughput(const std::vector<const PodRecord*>& completed) {
  std::map<int, std::pair<int64_t, int64_t>> spans;  // burst -> (first start, last end)
  for (const PodRecord* pod : completed) {
    int64_t start = pod->start_offset_ns;
    int64_t end = pod->start_offset_ns + *pod->total_ns;
    auto [it, inserted] = spans.try_emplace(pod->burst, start, end);
    if (!inserted) {
      it->second.first = std::min(it->second.first, start);
      it->second.second = std::max(it->second.second, end);
    }
  }
  int64_t busy_ns = 0;
  for (const auto& [burst, span] : spans) busy_ns += span.second - span.first;
  if (busy_ns <= 0) return std::nullopt;
  return static_cast<double>(completed.size()) / (static_cast<double>(busy_ns) / 1e9);
}

// The most completed pods of a cell in flight at one instant (first call -> running seen).
int MaxInFlight(const std::vector<const PodRecord*>& completed) {
  std::vector<std::pair<int64_t, int>> edges;  // (time, +1 start / -1 end); an end sorts before a start
  for (const PodRecord* pod : completed) {
    edges.emplace_back(pod->start_offset_ns, 1);
    edges.emplace_back(pod->start_offset_ns + *pod->total_ns, -1);
  }
  std::sort(edges.begin(), edges.end());
  int now = 0, most = 0;
  for (const auto& [t, step] : edges) most = std::max(most, now += step);
  return most;
}

SizeFit Fit(const std::string& handler, const std::string& metric, const std::string& x_name,
            const std::vector<const PodRecord*>& pods) {
  SizeFit result{.handler = handler, .metric = metric, .x = x_name};
  std::vector<double> x;
  std::vector<double> y;
  for (const PodRecord* pod : pods) {
    auto ns = MetricNs(*pod, metric);
    if (!ns) continue;
    x.push_back(x_name == "uvm_gib" ? pod->predicted_uvm.memory_mib / kMibPerGib
                                    : static_cast<double>(pod->predicted_uvm.vcpus));
    y.push_back(Ms(*ns));
  }
  result.n = static_cast<int>(x.size());
  result.fit = stats::FitLine(x, y);
  if (!result.fit) {
    if (x.size() < 3) {
      result.note = fmt::format("{} completed pods: a fit needs 3", x.size());
    } else {
      result.note =
          fmt::format("the predicted {} is {} for every pod", x_name == "uvm_gib" ? "UVM size" : "vCPU count",
                      x_name == "uvm_gib" ? fmt::format("{} GiB", x[0]) : fmt::format("{}", x[0]));
    }
  }
  return result;
}

KataSplit Split(const std::string& handler, const std::vector<const PodRecord*>& pods) {
  KataSplit split{.handler = handler};
  std::vector<double> containerd_side, shim, agent, ramp;
  for (const PodRecord* pod : pods) {
    if (pod->observed_uvm) {
      ++split.observed_uvm_pods;
      const ObservedUvm& o = *pod->observed_uvm;
      if ((o.vcpus && *o.vcpus != pod->predicted_uvm.vcpus) ||
          (o.memory_mib && *o.memory_mib != pod->predicted_uvm.memory_mib)) {
        ++split.observed_uvm_mismatches;
      }
    }
    if (!pod->kata) continue;
    ++split.pods;
    const KataTimings& k = *pod->kata;
    if (k.shim_create_ms) {
      shim.push_back(*k.shim_create_ms);
      if (auto run = pod->phase(Phase::kRunPodSandbox))
        containerd_side.push_back(Ms(*run) - *k.shim_create_ms);
    }
    if (k.agent_create_sandbox_ms) agent.push_back(*k.agent_create_sandbox_ms);
    if (k.mem_ramp_t90_ns) ramp.push_back(Ms(*k.mem_ramp_t90_ns));
  }
  split.containerd_side_ms = Median(containerd_side);
  split.shim_create_ms = Median(shim);
  split.agent_create_sandbox_ms = Median(agent);
  split.mem_ramp_t90_ms = Median(ramp);
  return split;
}

CrossCheckResult CrossCheck(const ServerCrossCheck& server, const std::vector<PodRecord>& pods) {
  CrossCheckResult r;
  int64_t client_ns = 0;
  for (const PodRecord& pod : pods) {
    if (auto run = pod.phase(Phase::kRunPodSandbox)) {
      client_ns += *run;
      ++r.client_sandboxes;
    }
  }
  r.client_run_sandbox_s = static_cast<double>(client_ns) / 1e9;
  if (server.sandbox_create_sum_before_s && server.sandbox_create_sum_after_s) {
    r.containerd_delta_s = *server.sandbox_create_sum_after_s - *server.sandbox_create_sum_before_s;
  }
  if (server.sandbox_create_count_before && server.sandbox_create_count_after) {
    r.containerd_count_delta = *server.sandbox_create_count_after - *server.sandbox_create_count_before;
  }
  if (server.url.empty()) {
    r.note = "no containerd metrics endpoint was given";
  } else if (!r.containerd_delta_s) {
    r.note =
        server.error.empty() ? "containerd's sandbox create sum was not read before and after" : server.error;
  } else if (client_ns == 0) {
    r.note = "no RunPodSandbox call was timed";
  } else {
    r.ratio = *r.containerd_delta_s / r.client_run_sandbox_s;
    r.within_10_percent = std::abs(1 - *r.ratio) <= 0.10;
    r.note = server.error;
  }
  return r;
}

// Output helpers: every double is rounded to a fixed number of decimals, non-finite ones become null.
Json Num(double v, int digits) {
  if (!std::isfinite(v)) return nullptr;
  return Rounded(v, digits);
}
Json Num(const std::optional<double>& v, int digits) {
  return v ? Num(*v, digits) : Json(nullptr);
}
Json CiJson(const std::optional<stats::Interval>& ci, int digits) {
  if (!ci) return nullptr;
  return Json::array({Num(ci->low, digits), Num(ci->high, digits)});
}

Json LatencyJson(const LatencyStats& s) {
  Json j;
  j["n"] = s.n;
  j["p50"] = Num(s.p50_ms, 3);
  j["p90"] = Num(s.p90_ms, 3);
  j["p95"] = Num(s.p95_ms, 3);
  j["p99"] = Num(s.p99_ms, 3);
  j["max"] = Num(s.max_ms, 3);
  j["mean"] = Num(s.mean_ms, 3);
  j["sd"] = Num(s.sd_ms, 3);
  j["cov"] = Num(s.cov, 4);
  j["p50_ci95"] = CiJson(s.p50_ci_ms, 3);
  return j;
}

Json PredictedJson(const PredictedUvm& p) {
  return Json{{"vm_isolated", p.vm_isolated},
              {"profile", p.profile},
              {"vcpus", p.vcpus},
              {"memory_mib", p.memory_mib},
              {"refusal", p.refusal}};
}

Json CellJson(const Cell& c) {
  Json j;
  j["handler"] = c.key.handler;
  j["runtime_type"] = c.runtime_type;
  j["stand_in"] = c.stand_in;
  j["mode"] = c.key.mode;
  j["level"] = c.key.level;
  j["rate"] = Num(c.key.rate, 6);
  j["mem_limit"] = c.key.mem_limit;
  j["cpu_limit"] = c.key.cpu_limit;
  j["predicted_uvm"] = PredictedJson(c.predicted_uvm);
  j["n"] = c.n;
  j["completed"] = c.completed;
  j["failed"] = c.failed;
  Json failures = Json::object();
  for (const auto& [code, count] : c.failures_by_code) failures[code] = count;
  j["failures_by_code"] = std::move(failures);
  j["warmup_excluded"] = c.warmup_excluded;
  Json latency = Json::object();
  for (const std::string& metric : MetricNames()) {
    auto it = c.latency.find(metric);
    if (it != c.latency.end()) latency[metric] = LatencyJson(it->second);
  }
  j["latency_ms"] = std::move(latency);
  j["p99_note"] =
      c.completed >= kP99MinSamples ? Json(nullptr) : Json(fmt::format("n/a (n<{})", kP99MinSamples));
  j["throughput_pods_per_s"] = Num(c.throughput_pods_per_s, 3);
  j["share_total_within_5s"] = Num(c.share_total_within_5s, 4);
  j["unaccounted_over_2pct"] = c.unaccounted_over_limit;
  j["held_by_budget"] = c.held_by_budget;
  j["max_in_flight"] = c.max_in_flight;
  if (c.total_vs_reference) {
    j["total_p50_vs_reference"] = Json{{"handler", c.total_vs_reference->reference_handler},
                                       {"ratio", Num(c.total_vs_reference->p50_ratio, 4)},
                                       {"ci95", CiJson(c.total_vs_reference->ci, 4)}};
  } else {
    j["total_p50_vs_reference"] = nullptr;
  }
  return j;
}

Json FitJson(const SizeFit& f) {
  Json j;
  j["handler"] = f.handler;
  j["metric"] = f.metric;
  j["x"] = f.x;
  j["unit"] = f.x == "uvm_gib" ? "ms/GiB" : "ms/vCPU";
  j["n"] = f.n;
  if (f.fit) {
    j["a_ms"] = Num(f.fit->a, 3);
    j["b"] = Num(f.fit->b, 3);
    j["b_ci95"] = Json::array({Num(f.fit->b_ci.low, 3), Num(f.fit->b_ci.high, 3)});
    j["r2"] = Num(f.fit->r2, 4);
    j["x_min"] = Num(f.fit->x_min, 4);
    j["x_max"] = Num(f.fit->x_max, 4);
  } else {
    j["a_ms"] = nullptr;
    j["b"] = nullptr;
    j["b_ci95"] = nullptr;
    j["r2"] = nullptr;
    j["x_min"] = nullptr;
    j["x_max"] = nullptr;
  }
  j["note"] = f.note;
  return j;
}

Json EnvJson(const RunEnvironment& e) {
  Json handlers = Json::array();
  for (const HandlerEnvironment& h : e.handlers) {
    handlers.push_back(Json{{"handler", h.handler},
                            {"runtime_type", h.runtime_type},
                            {"stand_in", h.stand_in},
                            {"kata_version", h.kata_version},
                            {"hypervisor", h.hypervisor}});
  }
  return Json{{"cpu_model", e.cpu_model},
              {"nproc", e.nproc},
              {"kernel", e.kernel},
              {"mem_total_bytes", e.mem_total_bytes},
              {"mem_available_bytes", e.mem_available_bytes},
              {"containerd_version", e.containerd_version},
              {"handlers", std::move(handlers)},
              {"sev_snp", e.sev_snp},
              {"tdx", e.tdx}};
}

}  // namespace

std::vector<std::string> MetricNames() {
  std::vector<std::string> names;
  for (int i = 0; i < kPhaseCount; ++i) names.emplace_back(PhaseName(static_cast<Phase>(i)));
  names.emplace_back("stop_sandbox");
  names.emplace_back("remove_sandbox");
  names.emplace_back("total");
  return names;
}

bool IsMetricName(std::string_view metric) {
  for (const std::string& name : MetricNames()) {
    if (name == metric) return true;
  }
  return false;
}

std::optional<int64_t> MetricNs(const PodRecord& pod, std::string_view metric) {
  if (metric == "total") return pod.total_ns;
  if (metric == "stop_sandbox") return pod.stop_sandbox_ns;
  if (metric == "remove_sandbox") return pod.remove_sandbox_ns;
  for (int i = 0; i < kPhaseCount; ++i) {
    if (PhaseName(static_cast<Phase>(i)) == metric) return pod.phase_ns[i];
  }
  return std::nullopt;
}

std::string CellLabel(const CellKey& key) {
  std::string load = key.mode == "open" ? fmt::format("rate={}/s", key.rate) : fmt::format("c={}", key.level);
  return fmt::format("{} {} {} mem={} cpu={}", key.handler, key.mode, load, key.mem_limit, key.cpu_limit);
}

double Rounded(double value, int digits) {
  const double scale = std::pow(10.0, digits);
  double r = std::round(value * scale) / scale;
  return r == 0 ? 0.0 : r;  // no "-0.0"
}

LatencyStats ComputeLatency(const std::vector<double>& values_ms) {
  LatencyStats s;
  std::vector<double> sorted = Sorted(values_ms);
  s.n = static_cast<int>(sorted.size());
  if (sorted.empty()) return s;
  s.p50_ms = stats::Quantile(sorted, 0.50);
  s.p90_ms = stats::Quantile(sorted, 0.90);
  s.p95_ms = stats::Quantile(sorted, 0.95);
  if (s.n >= kP99MinSamples) s.p99_ms = stats::Quantile(sorted, 0.99);
  s.max_ms = sorted.back();
  stats::Moments m = stats::ComputeMoments(sorted);
  s.mean_ms = m.mean;
  s.sd_ms = m.sd;
  s.cov = m.cov;
  s.p50_ci_ms = stats::BootstrapQuantileCi(sorted, 0.5);
  return s;
}

Summary Summarize(const RunInfo& info, const std::vector<PodRecord>& pods) {
  Summary summary;
  summary.info = info;
  summary.pods = static_cast<int>(pods.size());
  Ranks handler_rank, mode_rank, mem_rank, cpu_rank;
  // Handlers in the run's --handlers order (run.json), then any other in the order of the rows.
  for (const HandlerEnvironment& h : info.env.handlers) handler_rank.Of(h.handler);
  for (const PodRecord& pod : pods) {
    handler_rank.Of(pod.handler);
    mode_rank.Of(pod.mode);
    mem_rank.Of(pod.mem_limit);
    cpu_rank.Of(pod.cpu_limit);
  }
  // Group (in first-appearance order, then sorted by the key's ranks).
  std::vector<Cell> cells;
  std::vector<std::vector<const PodRecord*>> members;
  auto cell_of = [&](const PodRecord& pod) -> size_t {
    CellKey key{pod.handler, pod.mode, pod.level, pod.rate, pod.mem_limit, pod.cpu_limit};
    for (size_t i = 0; i < cells.size(); ++i) {
      if (cells[i].key == key) return i;
    }
    Cell cell;
    cell.key = std::move(key);
    cell.runtime_type = pod.runtime_type;
    cell.stand_in = pod.stand_in;
    cell.predicted_uvm = pod.predicted_uvm;
    cells.push_back(std::move(cell));
    members.emplace_back();
    return cells.size() - 1;
  };
  std::vector<std::string> handlers;
  std::map<std::string, std::vector<const PodRecord*>> counted_by_handler;
  std::map<std::string, bool> handler_has_uvm;
  for (const PodRecord& pod : pods) {
    size_t i = cell_of(pod);
    if (std::find(handlers.begin(), handlers.end(), pod.handler) == handlers.end())
      handlers.push_back(pod.handler);
    handler_has_uvm[pod.handler] =
        handler_has_uvm[pod.handler] || pod.predicted_uvm.vm_isolated || pod.stand_in;
    if (pod.warmup) {
      ++cells[i].warmup_excluded;
      ++summary.warmup_excluded;
      continue;
    }
    members[i].push_back(&pod);
    counted_by_handler[pod.handler].push_back(&pod);
  }
  std::stable_sort(handlers.begin(), handlers.end(), [&](const std::string& a, const std::string& b) {
    return handler_rank.Rank(a) < handler_rank.Rank(b);
  });
  for (size_t i = 0; i < cells.size(); ++i) {
    Cell& cell = cells[i];
    std::vector<const PodRecord*> completed;
    int within_slo = 0;
    for (const PodRecord* pod : members[i]) {
      ++cell.n;
      if (pod->budget_wait_ns > 0) ++cell.held_by_budget;
      if (!pod->ok()) {
        ++cell.failed;
        ++cell.failures_by_code[pod->error ? pod->error->code : "INCOMPLETE"];
        continue;
      }
      ++cell.completed;
      completed.push_back(pod);
      if (*pod->total_ns <= kSloTotalNs) ++within_slo;
      if (pod->unaccounted_ns && *pod->total_ns > 0 &&
          std::abs(static_cast<double>(*pod->unaccounted_ns)) >
              kUnaccountedLimit * static_cast<double>(*pod->total_ns)) {
        ++cell.unaccounted_over_limit;
      }
    }
    summary.completed += cell.completed;
    summary.failed += cell.failed;
    for (const std::string& metric : MetricNames()) {
      std::vector<double> values;
      for (const PodRecord* pod : completed) {
        if (auto ns = MetricNs(*pod, metric)) values.push_back(Ms(*ns));
      }
      if (values.empty()) continue;
      if (metric == "total") cell.total_ms = Sorted(values);
      cell.latency.emplace(metric, ComputeLatency(values));
    }
    cell.throughput_pods_per_s = Throughput(completed);
    cell.max_in_flight = MaxInFlight(completed);
    cell.share_total_within_5s = cell.n > 0 ? static_cast<double>(within_slo) / cell.n : 0;
  }
  std::vector<size_t> order(cells.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto rank_key = [&](const Cell& c) {
    return std::make_tuple(handler_rank.Rank(c.key.handler), mode_rank.Rank(c.key.mode), c.key.level,
                           c.key.rate, mem_rank.Rank(c.key.mem_limit), cpu_rank.Rank(c.key.cpu_limit));
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rank_key(cells[a]) < rank_key(cells[b]); });
  for (size_t i : order) summary.cells.push_back(std::move(cells[i]));

  // The reference is the first handler without a UVM (runc): "× runc" in the report.
  for (const std::string& h : handlers) {
    if (!handler_has_uvm[h]) {
      summary.reference_handler = h;
      break;
    }
  }
  if (!summary.reference_handler.empty()) {
    for (Cell& cell : summary.cells) {
      if (cell.key.handler == summary.reference_handler || cell.total_ms.empty()) continue;
      CellKey ref_key = cell.key;
      ref_key.handler = summary.reference_handler;
      for (const Cell& ref : summary.cells) {
        if (!(ref.key == ref_key) || ref.total_ms.empty()) continue;
        double ref_p50 = *stats::Quantile(ref.total_ms, 0.5);
        if (ref_p50 <= 0) break;
        cell.total_vs_reference =
            RatioToReference{.reference_handler = summary.reference_handler,
                             .p50_ratio = *stats::Quantile(cell.total_ms, 0.5) / ref_p50,
                             .ci = stats::BootstrapRatioCi(cell.total_ms, ref.total_ms, 0.5)};
        break;
      }
    }
  }

  for (const std::string& h : handlers) {
    const auto& counted = counted_by_handler[h];
    std::vector<const PodRecord*> completed;
    for (const PodRecord* pod : counted) {
      if (pod->ok()) completed.push_back(pod);
    }
    for (const char* metric : {"run_sandbox", "total"}) {
      for (const char* x : {"uvm_gib", "vcpus"}) summary.fits.push_back(Fit(h, metric, x, completed));
    }
    KataSplit split = Split(h, counted);
    if (split.pods > 0 || split.observed_uvm_pods > 0) summary.kata.push_back(std::move(split));
  }
  summary.containerd = CrossCheck(info.containerd, pods);
  return summary;
}

std::string SummaryToJson(const Summary& s) {
  const RunInfo& info = s.info;
  Json j;
  j["schema_version"] = kSchemaVersion;
  j["run_id"] = info.run_id;
  j["tool_version"] = info.tool_version;
  j["command_line"] = info.command_line;
  j["started_at"] = info.started_at;
  j["cri_endpoint"] = info.cri_endpoint;
  j["image"] = info.image;
  j["mode"] = info.mode;
  j["levels"] = info.levels;
  Json rates = Json::array();
  for (double r : info.rates) rates.push_back(Num(r, 6));
  j["rates"] = std::move(rates);
  j["mem_budget_bytes"] = info.mem_budget_bytes;
  j["wall_s"] = Num(static_cast<double>(info.wall_ns) / 1e9, 3);
  j["env"] = EnvJson(info.env);
  j["pods"] = Json{{"total", s.pods},
                   {"warmup_excluded", s.warmup_excluded},
                   {"completed", s.completed},
                   {"failed", s.failed}};
  j["slo_total_s"] = static_cast<double>(kSloTotalNs) / 1e9;
  j["reference_handler"] = s.reference_handler;
  Json cells = Json::array();
  for (const Cell& c : s.cells) cells.push_back(CellJson(c));
  j["cells"] = std::move(cells);
  Json fits = Json::array();
  for (const SizeFit& f : s.fits) fits.push_back(FitJson(f));
  j["size_fits"] = std::move(fits);
  Json kata = Json::array();
  for (const KataSplit& k : s.kata) {
    kata.push_back(Json{{"handler", k.handler},
                        {"pods", k.pods},
                        {"containerd_side_ms_p50", Num(k.containerd_side_ms, 3)},
                        {"shim_create_ms_p50", Num(k.shim_create_ms, 3)},
                        {"agent_create_sandbox_ms_p50", Num(k.agent_create_sandbox_ms, 3)},
                        {"mem_ramp_t90_ms_p50", Num(k.mem_ramp_t90_ms, 3)},
                        {"observed_uvm_pods", k.observed_uvm_pods},
                        {"observed_uvm_mismatches", k.observed_uvm_mismatches}});
  }
  j["kata"] = std::move(kata);
  const CrossCheckResult& c = s.containerd;
  j["containerd_cross_check"] =
      Json{{"url", info.containerd.url},
           {"client_run_sandbox_sum_s", Num(c.client_run_sandbox_s, 6)},
           {"client_sandboxes", c.client_sandboxes},
           {"containerd_create_sum_delta_s", Num(c.containerd_delta_s, 6)},
           {"containerd_create_count_delta", Num(c.containerd_count_delta, 0)},
           {"ratio", Num(c.ratio, 4)},
           {"within_10_percent", c.within_10_percent ? Json(*c.within_10_percent) : Json(nullptr)},
           {"note", c.note}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace uvm::startup
