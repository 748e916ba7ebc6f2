#include "metrics/daemon_metrics.h"

#include <CivetServer.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <iterator>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "base/error_codes.h"

namespace uvm::metrics {
namespace {

// Text exposition format 0.0.4: https://prometheus.io/docs/instrumenting/exposition_formats/
// ("label_value can be any sequence of UTF-8 characters, but the backslash, the double-quote and the
// line feed characters have to be escaped as \\, \" and \n").
void AppendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendValue(std::string& out, double v) {
  // Shortest text that reads back as the same double: integers below 2^53 print as integers.
  fmt::format_to(std::back_inserter(out), "{}", v);
}

// One per-pod metric family: each series keeps its `name{labels} ` text, so a scrape only formats values.
class PodFamily {
 public:
  struct Series {
    explicit Series(std::string p) : prefix(std::move(p)) {}
    std::string prefix;  // `name{label="value",...} `
    std::atomic<double> value{0};
  };
  using Handle = std::list<Series>::iterator;

  PodFamily(const char* name, const char* type, const char* help)
      : name_(name), header_(fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type)) {}

  // `labels` is the pod's escaped `k="v",...` text; `extra_name`/`extra_value` an optional family label.
  Handle Add(std::string_view labels, std::string_view extra_name = {}, std::string_view extra_value = {}) {
    std::string prefix;
    prefix.reserve(name_.size() + labels.size() + extra_name.size() + extra_value.size() + 8);
    prefix += name_;
    prefix += '{';
    prefix += labels;
    if (!extra_name.empty()) {
      prefix += ',';
      prefix += extra_name;
      prefix += "=\"";
      AppendEscaped(prefix, extra_value);
      prefix += '"';
    }
    prefix += "} ";
    std::lock_guard lock(mu_);
    series_.emplace_back(std::move(prefix));
    text_bytes_ += series_.back().prefix.size() + 24;
    return std::prev(series_.end());
  }

  void Remove(Handle h) {
    std::lock_guard lock(mu_);
    text_bytes_ -= h->prefix.size() + 24;
    series_.erase(h);
  }

  size_t TextBytesHint() const {
    std::lock_guard lock(mu_);
    return header_.size() + text_bytes_;
  }

  void Write(std::string& out) const {
    out += header_;
    std::lock_guard lock(mu_);
    for (const Series& s : series_) {
      out += s.prefix;
      AppendValue(out, s.value.load(std::memory_order_relaxed));
      out += '\n';
    }
  }

 private:
  const std::string name_;
  const std::string header_;
  mutable std::mutex mu_;
  std::list<Series> series_;  // a list: handles stay valid and removal is O(1)
  size_t text_bytes_ = 0;     // upper bound of the text of series_, to reserve before locking
};

using Slot = std::optional<PodFamily::Handle>;

// 10 µs .. 1 s in 1-2.5-5 steps: a reconcile of a few pods takes tens of µs, 250 pods a few ms
// (DESIGN.md budget: < 5 ms), and anything near 1 s means the loop is stuck on I/O.
prometheus::Histogram::BucketBoundaries ReconcileBuckets() {
  return {10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3,   2.5e-3,
          5e-3,  10e-3, 25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1.0};
}

// 100 µs .. 5 s: a healthy loop starts timers within a millisecond; a second means the loop was stuck.
prometheus::Histogram::BucketBoundaries LoopLagBuckets() {
  return {100e-6, 1e-3, 5e-3, 10e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1.0, 2.5, 5.0};
}

template <class T>
std::optional<double> AsDouble(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<double>(*v);
}

}  // namespace

std::string SanitizeLabelValue(std::string_view in) {
  // UTF-8 well-formedness per RFC 3629 §4 (no overlongs, no surrogates, nothing above U+10FFFF).
  auto valid_at = [&](size_t i) -> size_t {
    auto b = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
    unsigned char c = b(i);
    if (c < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return 0;
    }
    if (i + n > in.size()) return 0;
    if (b(i + 1) < lo || b(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k) {
      if (b(i + k) < 0x80 || b(i + k) > 0xBF) return 0;
    }
    return n;
  };
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    size_t n = valid_at(i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      out.append(in.substr(i, n));
      i += n;
    }
  }
  return out;
}

// Indexes of the per-pod families in State::pod_families (also their order in the exposition).
enum PodFamilyId : size_t {
  kUvmVcpus,
  kUvmMemory,
  kHostMemory,
  kOverheadRequired,
  kOverheadDeclared,
  kCgroupLimit,
  kCgroupUsage,
  kHostOverheadMeasured,
  kGuestAvailable,
  kGuestFilesystem,
  kGrowth,
  kExhaustion,
  kPressureLevel,
  kOomKills,
  kPodFamilyCount
};

struct DaemonMetrics::State {
  struct Pod {
    PodLabels raw;       // as given, to skip re-escaping on every update
    std::string labels;  // escaped `namespace="…",pod="…",uid="…",runtime_handler="…"`
    std::array<Slot, kPodFamilyCount> slots;                           // single-series families
    std::map<std::string, PodFamily::Handle, std::less<>> filesystem;  // by mount
    std::map<std::string, PodFamily::Handle, std::less<>> growth;      // by cause
    bool has_pressure = false;
  };
  using CounterCache = std::map<std::string, prometheus::Counter*, std::less<>>;
  using HistogramCache = std::map<std::string, prometheus::Histogram*, std::less<>>;

  State(const std::string& version, const std::string& node);

  // All of these require mu.
  Pod& PodFor(const PodLabels& labels);
  void Set(Pod& pod, PodFamilyId id, std::optional<double> value);
  void SyncKeyed(Pod& pod, PodFamilyId id, std::map<std::string, PodFamily::Handle, std::less<>>& series,
                 const char* label, const auto& wanted);
  void RemoveSizing(Pod& pod);
  void RemovePressure(Pod& pod);
  static prometheus::Counter& Cached(
      prometheus::Family<prometheus::Counter>& family, CounterCache& cache, std::string_view key,
      std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

  std::array<PodFamily, kPodFamilyCount> pod_families;

  // Node-wide families: few series, so prometheus-cpp's metrics and serializer.
  prometheus::Registry registry;
  prometheus::Family<prometheus::Counter>& cgroup_writes;
  prometheus::Family<prometheus::Counter>& errors;
  prometheus::Family<prometheus::Counter>& transitions;
  prometheus::Gauge& cri_up;
  prometheus::Histogram& reconcile;
  prometheus::Histogram& loop_lag;
  // The startup profile.
  prometheus::Family<prometheus::Histogram>& sandbox_start;
  prometheus::Family<prometheus::Histogram>& shim_create;
  prometheus::Family<prometheus::Counter>& start_skipped;
  // The node ledger.
  prometheus::Family<prometheus::Gauge>& allocatable_memory;
  prometheus::Family<prometheus::Gauge>& allocatable_cpu;
  prometheus::Family<prometheus::Gauge>& allocatable_pods;
  prometheus::Family<prometheus::Gauge>& committed_memory;
  prometheus::Family<prometheus::Gauge>& committed_cpu;
  prometheus::Family<prometheus::Gauge>& fit_pods;
  prometheus::Family<prometheus::Gauge>& shape_memory;
  prometheus::Family<prometheus::Gauge>& shape_cpu;
  const std::string node;

  mutable std::mutex mu;  // guards the members below; never taken by a scrape
  std::unordered_map<std::string, Pod> pods;
  CounterCache write_counters, error_counters, transition_counters, skipped_counters;
  HistogramCache start_histograms, shim_histograms;
  prometheus::Gauge* allocatable_pods_series = nullptr;  // absent while no pod-count limit is known
  // Per shape: its series in fit_pods (absent while unbounded), shape_memory (two views), shape_cpu.
  struct ShapeSeries {
    prometheus::Gauge* fit = nullptr;
    prometheus::Gauge* scheduler_memory = nullptr;
    prometheus::Gauge* host_memory = nullptr;
    prometheus::Gauge* cpu = nullptr;
  };
  std::map<std::string, ShapeSeries, std::less<>> shapes;

  std::string wake_host;                // see ~DaemonMetrics
  std::unique_ptr<CivetServer> server;  // reset first in ~DaemonMetrics: its threads call Serialize()
  std::unique_ptr<CivetHandler> handler;
};

// The node-wide families carry node="<node>" as a constant label.
prometheus::Labels NodeLabel(const std::string& node) {
  return {{"node", SanitizeLabelValue(node)}};
}

DaemonMetrics::State::State(const std::string& version, const std::string& node_name)
    : pod_families{{
          {"uvm_sizer_pod_uvm_vcpus", "gauge",
           "vCPUs of the pod's utility VM, as the Kata runtime sizes it."},
          {"uvm_sizer_pod_uvm_memory_bytes", "gauge",
           "Memory of the pod's utility VM (guest RAM), as the Kata runtime sizes it."},
          {"uvm_sizer_pod_host_memory_bytes", "gauge",
           "Host memory the pod really costs: its UVM's RAM plus the host-side overhead (hypervisor, shim, "
           "virtiofsd)."},
          {"uvm_sizer_pod_overhead_required_bytes", "gauge",
           "Pod overhead the pod's UVM needs beyond its containers' memory limits."},
          {"uvm_sizer_pod_overhead_declared_bytes", "gauge",
           "Pod overhead the kubelet declared for the pod (RuntimeClass overhead.podFixed)."},
          {"uvm_sizer_pod_cgroup_memory_limit_bytes", "gauge",
           "Memory limit of the pod's host cgroup; absent when unlimited."},
          {"uvm_sizer_pod_cgroup_memory_usage_bytes", "gauge", "Memory usage of the pod's host cgroup."},
          {"uvm_sizer_pod_host_overhead_measured_bytes", "gauge",
           "Host memory of the pod's VMM as measured: pod cgroup usage less the guest's memory in use "
           "(MemTotal - MemAvailable from the Kata shim); absent where the shim reports no guest memory or "
           "the VMM runs outside the pod cgroup (sandbox_cgroup_only=false)."},
          {"uvm_sizer_pod_guest_memory_available_bytes", "gauge",
           "MemAvailable inside the pod's utility VM."},
          {"uvm_sizer_pod_guest_filesystem_bytes", "gauge",
           "Bytes used by a memory-backed filesystem inside the pod's utility VM, by mount point."},
          {"uvm_sizer_pod_memory_growth_bytes_per_second", "gauge",
           "Rate at which the pod's memory is being eaten, by cause (filesystem, logs, anonymous)."},
          {"uvm_sizer_pod_memory_exhaustion_seconds", "gauge",
           "Predicted seconds until the pod runs out of memory; absent when nothing grows."},
          {"uvm_sizer_pod_pressure_level", "gauge",
           "Memory pressure level of the pod: 0 ok, 1 warning, 2 critical."},
          {"uvm_sizer_pod_oom_kills_total", "counter", "OOM kills in the pod (memory.events oom_kill)."},
      }},
      cgroup_writes(prometheus::BuildCounter()
                        .Name("uvm_sizer_cgroup_writes_total")
                        .Help("Host cgroup limit writes by result (ok, error).")
                        .Labels(NodeLabel(node_name))
                        .Register(registry)),
      errors(prometheus::BuildCounter()
                 .Name("uvm_sizer_errors_total")
                 .Help("Runtime errors by cause; each is retried.")
                 .Labels(NodeLabel(node_name))
                 .Register(registry)),
      transitions(prometheus::BuildCounter()
                      .Name("uvm_sizer_pressure_transitions_total")
                      .Help("Pressure level changes, by the level entered and the cause blamed.")
                      .Labels(NodeLabel(node_name))
                      .Register(registry)),
      cri_up(prometheus::BuildGauge()
                 .Name("uvm_sizer_cri_up")
                 .Help("1 when the container runtime (CRI) answers, 0 when it does not.")
                 .Labels(NodeLabel(node_name))
                 .Register(registry)
                 .Add({})),
      reconcile(prometheus::BuildHistogram()
                    .Name("uvm_sizer_reconcile_duration_seconds")
                    .Help("Time one reconcile pass over all pods took.")
                    .Labels(NodeLabel(node_name))
                    .Register(registry)
                    .Add({}, ReconcileBuckets())),
      loop_lag(
          prometheus::BuildHistogram()
              .Name("uvm_sizer_event_loop_lag_seconds")
              .Help("How late the daemon's scheduled work (runtime polls, ticks) started on its event loop.")
              .Labels(NodeLabel(node_name))
              .Register(registry)
              .Add({}, LoopLagBuckets())),
      sandbox_start(prometheus::BuildHistogram()
                        .Name("uvm_sizer_sandbox_start_seconds")
                        .Help("Pod start on the node, once per sandbox created while the daemon ran: the "
                              "first container's CRI started_at less the sandbox's created_at, by runtime "
                              "handler and predicted UVM memory bucket (\"none\": not VM-isolated).")
                        .Labels(NodeLabel(node_name))
                        .Register(registry)),
      shim_create(prometheus::BuildHistogram()
                      .Name("uvm_sizer_sandbox_shim_create_seconds")
                      .Help("The Kata shim's own create of the sandbox (VM boot and agent CreateSandbox), "
                            "from its kata_shim_rpc_durations_histogram_milliseconds{action=\"create\"} "
                            "while it counts the sandbox alone; Kata runtime types only.")
                      .Labels(NodeLabel(node_name))
                      .Register(registry)),
      start_skipped(
          prometheus::BuildCounter()
              .Name("uvm_sizer_sandbox_start_skipped_total")
              .Help("Sandbox starts (and Kata shim creates) the startup profile did not observe, by "
                    "reason: clock_skew, implausible, never_started, shim_create_absent, "
                    "shim_create_ambiguous, shim_create_invalid.")
              .Labels(NodeLabel(node_name))
              .Register(registry)),
      allocatable_memory(prometheus::BuildGauge()
                             .Name("uvm_sizer_node_allocatable_memory_bytes")
                             .Help("Memory the scheduler may place on the node: capacity less the kubelet's "
                                   "reservations and hard eviction threshold (or the config's override).")
                             .Labels(NodeLabel(node_name))
                             .Register(registry)),
      allocatable_cpu(prometheus::BuildGauge()
                          .Name("uvm_sizer_node_allocatable_cpu_cores")
                          .Help("CPU the scheduler may place on the node, in cores.")
                          .Labels(NodeLabel(node_name))
                          .Register(registry)),
      allocatable_pods(
          prometheus::BuildGauge()
              .Name("uvm_sizer_node_allocatable_pods")
              .Help("The node's pod-count limit (the config's capacity.allocatable_pods); absent "
                    "when none is known.")
              .Labels(NodeLabel(node_name))
              .Register(registry)),
      committed_memory(
          prometheus::BuildGauge()
              .Name("uvm_sizer_node_committed_memory_bytes")
              .Help("Host memory the node's pods hold, host view: a VM pod's UVM plus the larger of the "
                    "modelled "
                    "and measured VMM overhead; any other pod's cgroup usage (the daemon cannot see memory "
                    "requests over CRI, so it exports no scheduler view: rules compute that from "
                    "kube-state-metrics).")
              .Labels(NodeLabel(node_name))
              .Register(registry)),
      committed_cpu(prometheus::BuildGauge()
                        .Name("uvm_sizer_node_committed_cpu_cores")
                        .Help("CPU the node's pods request plus their declared overhead, in cores (requests "
                              "read back from CRI cpu_shares, an approximation).")
                        .Labels(NodeLabel(node_name))
                        .Register(registry)),
      fit_pods(prometheus::BuildGauge()
                   .Name("uvm_sizer_node_fit_pods")
                   .Help("How many more pods of the shape fit on the node, host view: the smallest of free "
                         "memory, CPU and pod slots over the shape's need; absent when unbounded.")
                   .Labels(NodeLabel(node_name))
                   .Register(registry)),
      shape_memory(prometheus::BuildGauge()
                       .Name("uvm_sizer_shape_memory_bytes")
                       .Help("Memory one more pod of the shape needs, by view: scheduler = requests + "
                             "spec.overhead, host = UVM + VMM overhead for a VM pod (requests otherwise).")
                       .Labels(NodeLabel(node_name))
                       .Register(registry)),
      shape_cpu(
          prometheus::BuildGauge()
              .Name("uvm_sizer_shape_cpu_cores")
              .Help("CPU one more pod of the shape needs: requests + spec.overhead, in cores (both views).")
              .Labels(NodeLabel(node_name))
              .Register(registry)),
      node(node_name) {
  prometheus::BuildGauge()
      .Name("uvm_sizer_build_info")
      .Help("Always 1; the labels describe the build.")
      .Labels(NodeLabel(node_name))
      .Register(registry)
      .Add({{"version", SanitizeLabelValue(version)}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("uvm_sizer_node_info")
      .Help("Always 1: the node's name, to join kube-state-metrics and node_exporter on `node`.")
      .Labels(NodeLabel(node_name))
      .Register(registry)
      .Add({})
      .Set(1);
  // Both results exist from the start so that increase() and the alert rules see the first error.
  for (auto result : {kWriteOk, kWriteError})
    Cached(cgroup_writes, write_counters, result, {{"result", result}});
}

DaemonMetrics::State::Pod& DaemonMetrics::State::PodFor(const PodLabels& in) {
  auto [it, inserted] = pods.try_emplace(in.uid);
  Pod& pod = it->second;
  if (!inserted && pod.raw.namespace_ == in.namespace_ && pod.raw.pod == in.pod &&
      pod.raw.runtime_handler == in.runtime_handler) {
    return pod;
  }
  std::string labels;
  auto add = [&](const char* name, const std::string& value) {
    if (!labels.empty()) labels += ',';
    labels += name;
    labels += "=\"";
    AppendEscaped(labels, SanitizeLabelValue(value));
    labels += '"';
  };
  add("namespace", in.namespace_);
  add("pod", in.pod);
  add("uid", in.uid);
  add("runtime_handler", in.runtime_handler);
  add("node", node);
  if (!inserted) {
    // A relabelled pod (e.g. its handler became known): old series must not linger beside the new ones.
    RemoveSizing(pod);
    RemovePressure(pod);
  }
  pod.raw = in;
  pod.labels = std::move(labels);
  return pod;
}

void DaemonMetrics::State::Set(Pod& pod, PodFamilyId id, std::optional<double> value) {
  Slot& slot = pod.slots[id];
  if (value && !std::isfinite(*value)) value.reset();  // never export NaN/Inf: absent instead
  if (!value) {
    if (slot) pod_families[id].Remove(*slot);
    slot.reset();
    return;
  }
  if (!slot) slot = pod_families[id].Add(pod.labels);
  (*slot)->value.store(*value, std::memory_order_relaxed);
}

void DaemonMetrics::State::SyncKeyed(Pod& pod, PodFamilyId id,
                                     std::map<std::string, PodFamily::Handle, std::less<>>& series,
                                     const char* label, const auto& wanted) {
  PodFamily& family = pod_families[id];
  auto finite = [](auto v) { return std::isfinite(static_cast<double>(v)); };
  for (auto it = series.begin(); it != series.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || !finite(w->second)) {
      family.Remove(it->second);
      it = series.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [key, value] : wanted) {
    if (!finite(value)) continue;
    auto it = series.find(key);
    if (it == series.end())
      it = series.emplace(key, family.Add(pod.labels, label, SanitizeLabelValue(key))).first;
    it->second->value.store(static_cast<double>(value), std::memory_order_relaxed);
  }
}

void DaemonMetrics::State::RemoveSizing(Pod& pod) {
  for (PodFamilyId id : {kUvmVcpus, kUvmMemory, kHostMemory, kOverheadRequired, kOverheadDeclared,
                         kCgroupLimit, kCgroupUsage, kHostOverheadMeasured}) {
    Set(pod, id, std::nullopt);
  }
}

void DaemonMetrics::State::RemovePressure(Pod& pod) {
  for (PodFamilyId id : {kGuestAvailable, kExhaustion, kPressureLevel, kOomKills}) Set(pod, id, std::nullopt);
  for (auto& [mount, h] : pod.filesystem) pod_families[kGuestFilesystem].Remove(h);
  pod.filesystem.clear();
  for (auto& [cause, h] : pod.growth) pod_families[kGrowth].Remove(h);
  pod.growth.clear();
  pod.has_pressure = false;
}

prometheus::Counter& DaemonMetrics::State::Cached(
    prometheus::Family<prometheus::Counter>& family, CounterCache& cache, std::string_view key,
    std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  auto it = cache.find(key);
  if (it != cache.end()) return *it->second;
  prometheus::Labels l;
  for (auto [name, value] : labels) l.emplace(std::string(name), SanitizeLabelValue(value));
  return *cache.emplace(std::string(key), &family.Add(l)).first->second;
}

DaemonMetrics::DaemonMetrics(std::string version, std::string node)
    : state_(std::make_unique<State>(version, node)) {}

namespace {

// civetweb 1.15's accept thread polls its listening sockets with a fixed 2 s timeout and only then sees the
// stop flag, so stopping the server would take up to 2 s (measured: 2003 ms after one scrape), the whole
// SIGTERM budget of the daemon. Connecting to ourselves wakes that poll; the connection is closed at once.
void Poke(const std::string& host, uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return;
  if (v6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (::inet_pton(AF_INET6, host.c_str(), &a.sin6_addr) == 1) {
      (void)::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a));
    }
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &a.sin_addr) == 1) {
      (void)::connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof(a));
    }
  }
  ::close(fd);
}

// Where to connect to reach a server bound to `host` ("0.0.0.0", "[::]", "10.0.0.5", ...).
std::string ReachableHost(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1";
  if (host == "::") return "::1";
  return host;
}

}  // namespace

DaemonMetrics::~DaemonMetrics() {
  if (!state_->server) return;
  // Join the server's threads before the state they read goes; wake its accept loop so that takes ms, not 2
  // s.
  std::vector<int> ports = state_->server->getListeningPorts();
  std::atomic<bool> stopped{false};
  std::thread waker([&] {
    while (!stopped.load()) {
      for (int port : ports) Poke(state_->wake_host, static_cast<uint16_t>(port));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  state_->server.reset();
  stopped = true;
  waker.join();
}

namespace {

class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(const DaemonMetrics& metrics) : metrics_(metrics) {}
  bool handleGet(CivetServer* /*server*/, mg_connection* conn) override {
    std::string body = metrics_.Serialize();
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n",
              body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  const DaemonMetrics& metrics_;
};

}  // namespace

uvm::Status DaemonMetrics::Listen(const std::string& address) {
  if (state_->server) return uvm::Error{fmt::format("metrics listen \"{}\": already listening", address)};
  auto colon = address.rfind(':');
  if (address.empty() || colon == std::string::npos || colon == 0 || colon + 1 == address.size() ||
      address.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return uvm::InvalidInput(fmt::format("metrics listen \"{}\": expected host:port", address));
  }
  std::vector<std::string> options{
      "listening_ports", address,
      // Two threads: a scrape never waits behind a slow client; more would only cost memory.
      "num_threads", "2",
      // A client that connects and sends nothing cannot hold a thread for long.
      "request_timeout_ms", "10000"};
  try {
    auto server = std::make_unique<CivetServer>(options);
    auto handler = std::make_unique<MetricsHandler>(*this);
    server->addHandler("/metrics", *handler);
    state_->handler = std::move(handler);
    state_->server = std::move(server);
    state_->wake_host = ReachableHost(address.substr(0, colon));
  } catch (const std::exception& e) {
    return uvm::Error{fmt::format("metrics listen \"{}\": cannot serve /metrics: {}", address, e.what())};
  }
  return {};
}

std::vector<uint16_t> DaemonMetrics::ListeningPorts() const {
  std::vector<uint16_t> ports;
  if (!state_->server) return ports;
  for (int p : state_->server->getListeningPorts()) ports.push_back(static_cast<uint16_t>(p));
  return ports;
}

void DaemonMetrics::UpsertPod(const PodLabels& labels, const PodSizingMetrics& m) {
  std::lock_guard lock(state_->mu);
  State& st = *state_;
  State::Pod& pod = st.PodFor(labels);
  bool vm = m.vm_isolated;
  st.Set(pod, kUvmVcpus, vm ? AsDouble(m.uvm_vcpus) : std::nullopt);
  st.Set(pod, kUvmMemory, vm ? AsDouble(m.uvm_memory_bytes) : std::nullopt);
  st.Set(pod, kHostMemory, vm ? AsDouble(m.host_memory_bytes) : std::nullopt);
  st.Set(pod, kOverheadRequired, vm ? AsDouble(m.overhead_required_bytes) : std::nullopt);
  st.Set(pod, kOverheadDeclared, vm ? AsDouble(m.overhead_declared_bytes) : std::nullopt);
  st.Set(pod, kCgroupLimit, AsDouble(m.cgroup_memory_limit_bytes));
  st.Set(pod, kCgroupUsage, AsDouble(m.cgroup_memory_usage_bytes));
  st.Set(pod, kHostOverheadMeasured, vm ? AsDouble(m.host_overhead_measured_bytes) : std::nullopt);
  bool any = pod.has_pressure;
  for (const Slot& s : pod.slots) any = any || s.has_value();
  if (!any) st.pods.erase(labels.uid);
}

void DaemonMetrics::UpsertPodPressure(const PodLabels& labels, const PodPressureMetrics& m) {
  std::lock_guard lock(state_->mu);
  State& st = *state_;
  State::Pod& pod = st.PodFor(labels);
  pod.has_pressure = true;
  st.Set(pod, kGuestAvailable, AsDouble(m.guest_memory_available_bytes));
  st.SyncKeyed(pod, kGuestFilesystem, pod.filesystem, "mount", m.guest_filesystem_bytes);
  st.SyncKeyed(pod, kGrowth, pod.growth, "cause", m.memory_growth_bytes_per_second);
  st.Set(pod, kExhaustion, m.memory_exhaustion_seconds);
  st.Set(pod, kPressureLevel, static_cast<double>(m.pressure_level));
  // Exported as given: a cumulative value that drops (the pod's cgroup was recreated) is a counter reset,
  // which rate()/increase() handle.
  st.Set(pod, kOomKills, static_cast<double>(m.oom_kills_total));
}

void DaemonMetrics::RemovePodPressure(const std::string& uid) {
  std::lock_guard lock(state_->mu);
  auto it = state_->pods.find(uid);
  if (it == state_->pods.end() || !it->second.has_pressure) return;
  state_->RemovePressure(it->second);
  bool any = false;
  for (const Slot& s : it->second.slots) any = any || s.has_value();
  if (!any) state_->pods.erase(it);
}

void DaemonMetrics::RemovePod(const std::string& uid) {
  std::lock_guard lock(state_->mu);
  auto it = state_->pods.find(uid);
  if (it == state_->pods.end()) return;
  state_->RemoveSizing(it->second);
  state_->RemovePressure(it->second);
  state_->pods.erase(it);
}

size_t DaemonMetrics::PodCount() const {
  std::lock_guard lock(state_->mu);
  return state_->pods.size();
}

void DaemonMetrics::SetNode(const NodeMetrics& m) {
  std::lock_guard lock(state_->mu);
  State& st = *state_;
  auto cores = [](int64_t millis) { return static_cast<double>(millis) / 1000.0; };
  const prometheus::Labels host{{"view", "host"}};
  st.allocatable_memory.Add({}).Set(static_cast<double>(m.allocatable_memory_bytes));
  st.allocatable_cpu.Add({}).Set(cores(m.allocatable_cpu_millis));
  if (m.allocatable_pods) {
    if (!st.allocatable_pods_series) st.allocatable_pods_series = &st.allocatable_pods.Add({});
    st.allocatable_pods_series->Set(static_cast<double>(*m.allocatable_pods));
  } else if (st.allocatable_pods_series) {
    st.allocatable_pods.Remove(st.allocatable_pods_series);
    st.allocatable_pods_series = nullptr;
  }
  st.committed_memory.Add(host).Set(static_cast<double>(m.committed_memory_bytes));
  st.committed_cpu.Add(host).Set(cores(m.committed_cpu_millis));
  auto drop = [](prometheus::Family<prometheus::Gauge>& family, prometheus::Gauge*& g) {
    if (g) family.Remove(g);
    g = nullptr;
  };
  std::map<std::string, State::ShapeSeries, std::less<>> next;
  for (const ShapeMetrics& shape : m.shapes) {
    if (next.contains(shape.shape)) continue;  // the first of a name wins; LoadNodeCapacity refuses twins
    State::ShapeSeries series;
    if (auto it = st.shapes.find(shape.shape); it != st.shapes.end()) {
      series = it->second;
      st.shapes.erase(it);
    }
    std::string name = SanitizeLabelValue(shape.shape);
    if (shape.host_fit) {
      if (!series.fit) series.fit = &st.fit_pods.Add({{"shape", name}, {"view", "host"}});
      series.fit->Set(static_cast<double>(*shape.host_fit));
    } else {
      drop(st.fit_pods, series.fit);
    }
    if (!series.scheduler_memory)
      series.scheduler_memory = &st.shape_memory.Add({{"shape", name}, {"view", "scheduler"}});
    if (!series.host_memory) series.host_memory = &st.shape_memory.Add({{"shape", name}, {"view", "host"}});
    if (!series.cpu) series.cpu = &st.shape_cpu.Add({{"shape", name}});
    series.scheduler_memory->Set(static_cast<double>(shape.scheduler_memory_bytes));
    series.host_memory->Set(static_cast<double>(shape.host_memory_bytes));
    series.cpu->Set(cores(shape.cpu_millis));
    next.emplace(shape.shape, series);
  }
  for (auto& [name, series] : st.shapes) {  // shapes no longer configured
    drop(st.fit_pods, series.fit);
    drop(st.shape_memory, series.scheduler_memory);
    drop(st.shape_memory, series.host_memory);
    drop(st.shape_cpu, series.cpu);
  }
  st.shapes = std::move(next);
}

void DaemonMetrics::CountCgroupWrite(std::string_view result) {
  std::lock_guard lock(state_->mu);
  State::Cached(state_->cgroup_writes, state_->write_counters, result, {{"result", result}}).Increment();
}

void DaemonMetrics::SetCriUp(bool up) {
  state_->cri_up.Set(up ? 1 : 0);
}

void DaemonMetrics::ObserveReconcileSeconds(double seconds) {
  if (std::isfinite(seconds) && seconds >= 0) state_->reconcile.Observe(seconds);
}

void DaemonMetrics::ObserveLoopLagSeconds(double seconds) {
  if (std::isfinite(seconds) && seconds >= 0) state_->loop_lag.Observe(seconds);
}

void DaemonMetrics::CountError(std::string_view cause) {
  std::lock_guard lock(state_->mu);
  State::Cached(state_->errors, state_->error_counters, cause, {{"cause", cause}}).Increment();
}

namespace {

void ObserveIn(prometheus::Family<prometheus::Histogram>& family,
               std::map<std::string, prometheus::Histogram*, std::less<>>& cache, std::string_view handler,
               std::string_view bucket, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return;
  std::string key = fmt::format("{}\n{}", handler, bucket);
  auto it = cache.find(key);
  if (it == cache.end()) {
    prometheus::Histogram::BucketBoundaries bounds(kSandboxStartBuckets.begin(), kSandboxStartBuckets.end());
    auto& h = family.Add(
        {{"runtime_handler", SanitizeLabelValue(handler)}, {"uvm_memory_bucket", SanitizeLabelValue(bucket)}},
        bounds);
    it = cache.emplace(std::move(key), &h).first;
  }
  it->second->Observe(seconds);
}

}  // namespace

void DaemonMetrics::ObserveSandboxStart(std::string_view runtime_handler, std::string_view uvm_memory_bucket,
                                        double seconds) {
  std::lock_guard lock(state_->mu);
  ObserveIn(state_->sandbox_start, state_->start_histograms, runtime_handler, uvm_memory_bucket, seconds);
}

void DaemonMetrics::ObserveShimCreate(std::string_view runtime_handler, std::string_view uvm_memory_bucket,
                                      double seconds) {
  std::lock_guard lock(state_->mu);
  ObserveIn(state_->shim_create, state_->shim_histograms, runtime_handler, uvm_memory_bucket, seconds);
}

void DaemonMetrics::CountSandboxStartSkipped(std::string_view reason) {
  std::lock_guard lock(state_->mu);
  State::Cached(state_->start_skipped, state_->skipped_counters, reason, {{"reason", reason}}).Increment();
}

void DaemonMetrics::CountPressureTransition(std::string_view level, std::string_view cause) {
  std::lock_guard lock(state_->mu);
  std::string key = fmt::format("{}\n{}", level, cause);
  State::Cached(state_->transitions, state_->transition_counters, key, {{"level", level}, {"cause", cause}})
      .Increment();
}

std::string DaemonMetrics::Serialize() const {
  size_t bytes = 0;
  for (const PodFamily& f : state_->pod_families) bytes += f.TextBytesHint();
  std::string out;
  out.reserve(bytes + 8192);
  for (const PodFamily& f : state_->pod_families) f.Write(out);
  out += prometheus::TextSerializer{}.Serialize(state_->registry.Collect());
  return out;
}

}  // namespace uvm::metrics
