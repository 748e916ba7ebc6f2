// `uvm-sizer runtimeclass`: a node.k8s.io/v1 RuntimeClass whose overhead.podFixed holds the UVM's own OS
// and the host-side VMM overhead, with a comment that explains each number. The overhead comes from the
// model, or from measurement (--from-node: the daemon's API; --from-prometheus: its recorded series) through
// the pure recommender of sizer/recommend.h.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <map>
#include <regex>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "base/quote.h"
#include "cli/commands.h"
#include "cli/prometheus_client.h"
#include "cli/sizing_flags.h"
#include "kubelet-plugin/api/api_server.h"
#include "sizer/overhead.h"
#include "sizer/recommend.h"

namespace uvm::cli {
namespace {

constexpr int64_t kMib = 1 << 20;
// The VMM's own threads (I/O, vhost, shim) when the profile gives the UVM no base vCPU: the value of the
// RuntimeClass example in Kata's documentation (docs/how-to: overhead podFixed cpu 250m).
constexpr int64_t kMinimumCpuOverheadMillis = 250;
constexpr const char* kDefaultDaemonSocket = "/run/uvm-sizer/uvm-sizer.sock";

struct RuntimeClassOptions {
  std::string handler;
  std::string profile;
  std::string name;
  std::string vm_memory;
  SizingFlags sizing;
  // Measurement sources: the daemon's API socket (--from-node, optional value) or a Prometheus base URL.
  bool from_node = false;
  std::string node_socket;
  std::string prometheus_url;
  std::string window = "7d";
  int timeout_ms = 10000;
  std::string output = "yaml";
};

// Where the samples came from, for the comment block.
struct Measurements {
  std::vector<sizer::OverheadSample> samples;
  std::vector<std::string> source;  // what was asked, and how each sample was taken
  std::vector<std::string> notes;   // about pods that gave no sample
};

std::string PodName(const std::string& ns, const std::string& name) {
  return ns.empty() && name.empty() ? std::string() : ns + "/" + name;
}

// --from-node: every VM pod of the handler the daemon knows, with its measured VMM overhead now.
Result<Measurements> FromNode(const RuntimeClassOptions& opt) {
  std::string socket = opt.node_socket.empty() ? std::string(kDefaultDaemonSocket) : opt.node_socket;
  auto pods = api::ListPods(socket, std::chrono::milliseconds(opt.timeout_ms));
  if (!pods) {
    return Error{.message = fmt::format("--from-node: cannot reach the daemon at {}: {}", socket,
                                        pods.error().message),
                 .code = pods.error().code};
  }
  Measurements m{.source = {fmt::format("the daemon at {}: each VM pod's host overhead now", socket),
                            "(pod cgroup usage - guest memory in use, as the daemon measured it)"}};
  size_t unmeasured = 0, unsized = 0;
  for (const auto& p : *pods) {
    if (p.runtime_handler != opt.handler || !p.profile) continue;
    if (!p.memory_mib) {
      ++unsized;
      continue;
    }
    if (!p.host_overhead_measured_bytes) {
      ++unmeasured;
      continue;
    }
    m.samples.push_back({.handler = p.runtime_handler,
                         .uvm_memory_mib = static_cast<double>(*p.memory_mib),
                         .host_overhead_bytes = static_cast<double>(*p.host_overhead_measured_bytes),
                         .pod_uid = p.uid,
                         .pod = PodName(p.namespace_, p.name)});
  }
  if (unmeasured > 0) {
    m.notes.push_back(fmt::format(
        "{} VM pod(s) of handler {} have no measured overhead (their shim reports no guest memory)",
        unmeasured, opt.handler));
  }
  if (unsized > 0)
    m.notes.push_back(fmt::format("{} VM pod(s) of handler {} have no UVM size", unsized, opt.handler));
  return m;
}

// --window: a Prometheus duration (prometheus/common model.ParseDuration: units ms s m h d w y, e.g. 1d12h),
// checked before it goes into PromQL.
bool IsPromDuration(const std::string& s) {
  static const std::regex kDuration("^([0-9]+(ms|s|m|h|d|w|y))+$");
  return s.size() <= 32 && std::regex_match(s, kDuration);
}

std::string Label(const cli::InstantSample& s, const char* name) {
  auto it = s.labels.find(name);
  return it == s.labels.end() ? std::string() : it->second;
}

// --from-prometheus: per pod, the peak of its measured VMM overhead over the window (a podFixed must cover
// the pod's peak, or its VMM is OOM-killed then), and the largest UVM it had, joined on the pod uid. One
// sample per pod: the p95 is across pods.
Result<Measurements> FromPrometheus(const RuntimeClassOptions& opt) {
  auto endpoint = ParsePrometheusUrl(opt.prometheus_url);
  if (!endpoint) return endpoint.error();
  if (!IsPromDuration(opt.window)) {
    return Error{.message = fmt::format("--window: \"{}\" is not a Prometheus duration (e.g. 7d, 12h, 1d12h)",
                                        opt.window),
                 .code = ErrorCode::kInvalidInput};
  }
  // The handler is a DNS label (checked before Run), safe inside a PromQL string.
  std::string overhead_query = fmt::format(
      "max by (uid, namespace, pod, runtime_handler) "
      "(max_over_time(uvm_sizer_pod_host_overhead_measured_bytes{{runtime_handler=\"{0}\"}}[{1}]))",
      opt.handler, opt.window);
  std::string uvm_query = fmt::format(
      "max by (uid) (max_over_time(uvm_sizer_pod_uvm_memory_bytes{{runtime_handler=\"{0}\"}}[{1}]))",
      opt.handler, opt.window);
  auto timeout = std::chrono::milliseconds(opt.timeout_ms);
  auto overheads = QueryInstant(*endpoint, overhead_query, timeout);
  if (!overheads) return overheads.error();
  auto uvms = QueryInstant(*endpoint, uvm_query, timeout);
  if (!uvms) return uvms.error();

  Measurements m{
      .source = {fmt::format("Prometheus {}, window {}: per pod, the peak of", endpoint->url, opt.window),
                 "uvm_sizer_pod_host_overhead_measured_bytes over the window, with its largest",
                 "uvm_sizer_pod_uvm_memory_bytes (joined on uid); one sample per pod"}};
  std::map<std::string, const InstantSample*> uvm_by_uid;
  for (const auto& u : *uvms) uvm_by_uid[Label(u, "uid")] = &u;
  for (const auto& o : *overheads) {
    std::string uid = Label(o, "uid");
    std::string pod = PodName(Label(o, "namespace"), Label(o, "pod"));
    std::string who = pod.empty() ? "uid " + uid : pod;
    if (uid.empty()) {
      m.notes.push_back(fmt::format("a series of {} has no uid label: skipped", who));
      continue;
    }
    auto u = uvm_by_uid.find(uid);
    if (u == uvm_by_uid.end()) {
      m.notes.push_back(fmt::format("{}: no uvm_sizer_pod_uvm_memory_bytes with its uid: skipped", who));
      continue;
    }
    if (!o.numeric || !u->second->numeric) {
      m.notes.push_back(fmt::format("{}: Prometheus gave the value {}, not a number: skipped", who,
                                    QuoteText(!o.numeric ? o.value_text : u->second->value_text, 64)));
      continue;
    }
    m.samples.push_back({.handler = opt.handler,
                         .uvm_memory_mib = u->second->value / kMib,
                         .host_overhead_bytes = o.value,
                         .pod_uid = uid,
                         .pod = pod});
  }
  return m;
}

std::string CpuOverhead(const sizer::Profile& profile) {
  int64_t base_cpu_millis = static_cast<int64_t>(std::ceil(static_cast<double>(profile.base_vcpus) * 1000.0));
  int64_t cpu_millis = std::max(base_cpu_millis, kMinimumCpuOverheadMillis);
  return cpu_millis % 1000 == 0 ? std::to_string(cpu_millis / 1000) : fmt::format("{}m", cpu_millis);
}

void PrintRuntimeClass(const std::string& name, const std::string& handler, int64_t memory_mib,
                       const std::string& cpu) {
  std::cout << "apiVersion: node.k8s.io/v1\n"
               "kind: RuntimeClass\n"
               "metadata:\n"
            << fmt::format("  name: \"{}\"\n", name) << fmt::format("handler: \"{}\"\n", handler)
            << "overhead:\n"
               "  podFixed:\n"
            << fmt::format("    memory: \"{}Mi\"\n", memory_mib) << fmt::format("    cpu: \"{}\"\n", cpu);
}

// Text from outside (pod names and values from Prometheus or the daemon, the URL) inside a YAML comment:
// a line break there would end the comment and let a label value write YAML of its own.
std::string CommentSafe(std::string_view text) {
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? fmt::format("\\u{:04x}", u) : std::string(1, c);
  }
  return out;
}

std::string Mib1(int64_t bytes) {
  return fmt::format("{:.1f}", static_cast<double>(bytes) / kMib);
}

// The comment block of a RuntimeClass recommended from measurement: every number and where it came from.
void PrintMeasured(const RuntimeClassOptions& opt, const sizer::Profile& profile,
                   const sizer::HostOverheadModel& model, const Measurements& m,
                   const sizer::PodFixedRecommendation& r) {
  const auto& h = r.handlers.at(0);
  const auto& b = h.buckets.at(h.binding);
  std::string cpu = CpuOverhead(profile);
  std::cout << fmt::format(
      "# RuntimeClass for handler \"{}\", computed by uvm-sizer {} with profile {}, from measurement:\n",
      opt.handler, UVM_SIZER_VERSION, profile.name);
  for (const auto& line : m.source) std::cout << "#   " << CommentSafe(line) << '\n';
  std::cout << fmt::format("# overhead.podFixed.memory = {}Mi, from the bucket {}:\n", h.pod_fixed_mib,
                           sizer::BucketName(b.max_uvm_mib));
  std::cout << fmt::format(
      "#   {:>5} MiB  the UVM's own OS (profile base_memory_mib), which no pod limit covers\n", b.base_mib);
  if (b.measured) {
    std::cout << fmt::format(
        "#   {:>5} MiB  measured host overhead of the VMM, shim and virtiofsd: p95 (nearest rank) {} MiB\n"
        "#              + 15% margin {} MiB (the VPA recommender's recommendation-margin-fraction), rounded\n"
        "#              up to a MiB; from {} sample(s) of {} pod(s), UVMs of {}-{} MiB\n"
        "#              (the model: {} MiB for a {} MiB UVM)\n",
        b.pod_fixed_mib - b.base_mib, Mib1(b.p95_bytes), Mib1(b.margin_bytes), b.samples, b.pods,
        b.smallest_uvm_mib, b.largest_uvm_mib, Mib1(b.model_host_overhead_bytes), b.model_uvm_mib);
  } else {
    std::cout << fmt::format(
        "#   {:>5} MiB  host overhead of the VMM from the MODEL, not measured, for a {} MiB UVM\n"
        "#              ({:.1f} MiB fixed + {:.2f} MiB per GiB of guest RAM)\n",
        b.pod_fixed_mib - b.base_mib, b.model_uvm_mib, static_cast<double>(model.fixed_bytes) / kMib,
        static_cast<double>(model.per_gib_bytes) / kMib);
  }
  if (h.buckets.size() > 1) {
    std::cout << "# Per bucket (the podFixed each would need alone):\n";
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      const auto& x = h.buckets[i];
      std::cout << fmt::format(
          "#   {:<13} {:>6}  {}{}\n", sizer::BucketName(x.max_uvm_mib), fmt::format("{}Mi", x.pod_fixed_mib),
          x.measured
              ? fmt::format("p95 {} MiB of {} sample(s), {} pod(s)", Mib1(x.p95_bytes), x.samples, x.pods)
              : std::string("the model (no samples)"),
          i == h.binding ? "  <- binds" : "");
    }
  }
  std::cout << fmt::format(
      "# overhead.podFixed.cpu = {}: the UVM's base vCPUs ({}), at least {}m for the VMM's threads (not "
      "measured).\n",
      cpu, profile.base_vcpus, kMinimumCpuOverheadMillis);
  std::vector<std::string> notes = h.notes;
  notes.insert(notes.end(), m.notes.begin(), m.notes.end());
  notes.insert(notes.end(), r.notes.begin(), r.notes.end());
  if (profile.default_workload_mem_mib != 0) {
    notes.push_back(fmt::format(
        "pods without a memory limit also get {} MiB of guest RAM that no limit or overhead accounts for",
        profile.default_workload_mem_mib));
  }
  for (const auto& n : notes) std::cout << "# Note: " << CommentSafe(n) << ".\n";
  PrintRuntimeClass(opt.name.empty() ? opt.handler : opt.name, opt.handler, h.pod_fixed_mib, cpu);
}

// -o json: the RuntimeClass and the evidence behind its podFixed.
nlohmann::json RecommendationJson(const RuntimeClassOptions& opt, const sizer::Profile& profile,
                                  const std::vector<std::string>& source,
                                  const std::vector<std::string>& notes,
                                  const sizer::PodFixedRecommendation& r) {
  using nlohmann::json;
  const auto& h = r.handlers.at(0);
  json buckets = json::array();
  for (const auto& b : h.buckets) {
    buckets.push_back({{"max_uvm_mib", b.max_uvm_mib},
                       {"measured", b.measured},
                       {"samples", b.samples},
                       {"pods", b.pods},
                       {"smallest_uvm_mib", b.measured ? json(b.smallest_uvm_mib) : json(nullptr)},
                       {"largest_uvm_mib", b.measured ? json(b.largest_uvm_mib) : json(nullptr)},
                       {"p95_bytes", b.measured ? json(b.p95_bytes) : json(nullptr)},
                       {"margin_bytes", b.measured ? json(b.margin_bytes) : json(nullptr)},
                       {"base_mib", b.base_mib},
                       {"model_host_overhead_bytes", b.model_host_overhead_bytes},
                       {"model_uvm_mib", b.model_uvm_mib},
                       {"pod_fixed_mib", b.pod_fixed_mib}});
  }
  std::vector<std::string> all_notes = h.notes;
  all_notes.insert(all_notes.end(), notes.begin(), notes.end());
  all_notes.insert(all_notes.end(), r.notes.begin(), r.notes.end());
  std::string cpu = CpuOverhead(profile);
  return {{"runtimeclass",
           {{"apiVersion", "node.k8s.io/v1"},
            {"kind", "RuntimeClass"},
            {"metadata", {{"name", opt.name.empty() ? opt.handler : opt.name}}},
            {"handler", opt.handler},
            {"overhead", {{"podFixed", {{"memory", fmt::format("{}Mi", h.pod_fixed_mib)}, {"cpu", cpu}}}}}}},
          {"recommendation",
           {{"handler", h.handler},
            {"profile", h.profile},
            {"source", source},
            {"percentile", sizer::RecommendOptions{}.percentile},
            {"margin_fraction", sizer::RecommendOptions{}.margin_fraction},
            {"pod_fixed_mib", h.pod_fixed_mib},
            {"binding_bucket_max_uvm_mib", h.buckets.at(h.binding).max_uvm_mib},
            {"samples_used", r.samples_used},
            {"buckets", buckets},
            {"notes", all_notes}}}};
}

int64_t CeilMib(int64_t bytes) {
  return (bytes + kMib - 1) / kMib;
}

int Run(const RuntimeClassOptions& opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer runtimeclass: " << message << '\n';
    return 2;
  };
  auto ctx = opt.sizing.BuildContext();
  if (!ctx) return fail(ctx.error().message);
  const sizer::Profile* profile =
      opt.profile.empty() ? ctx->catalog.ForHandler(opt.handler) : ctx->catalog.Find(opt.profile);
  if (!profile) {
    return fail(
        opt.profile.empty()
            ? fmt::format("--handler: handler \"{}\" has no profile; name one with --profile", opt.handler)
            : fmt::format("--profile: unknown profile \"{}\"", opt.profile));
  }
  // The per-GiB part of the host overhead grows with the VM, but podFixed is one number for every pod of
  // the class: by default it covers pods with up to 8 GiB of memory limits (or the no-limit default, if
  // larger); --vm-memory names another VM size.
  uint32_t vm_mib = sizer::DefaultPodFixedUvmMib(*profile);
  if (!opt.vm_memory.empty()) {
    auto q = ParseFlagQuantity("--vm-memory", opt.vm_memory);
    if (!q) return fail(q.error().message);
    int64_t mib = CeilMib(q->Value());
    if (mib <= 0 || mib > (int64_t{1} << 24))
      return fail(fmt::format("--vm-memory: out of range \"{}\"", opt.vm_memory));
    vm_mib = static_cast<uint32_t>(mib);
  }
  if (opt.from_node || !opt.prometheus_url.empty()) {
    if (opt.timeout_ms <= 0 || opt.timeout_ms > 600000)
      return fail(fmt::format("--timeout-ms: {} is not between 1 and 600000", opt.timeout_ms));
    auto measured = opt.from_node ? FromNode(opt) : FromPrometheus(opt);
    if (!measured) return fail(measured.error().message);
    sizer::RecommendOptions ro;
    if (!opt.vm_memory.empty()) ro.uvm_memory_mib = vm_mib;
    auto rec = sizer::RecommendPodFixed(measured->samples, {{opt.handler, *profile}}, ctx->host, ro);
    if (opt.output == "json") {
      std::cout << RecommendationJson(opt, *profile, measured->source, measured->notes, rec)
                       .dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                << '\n';
    } else {
      PrintMeasured(opt, *profile, ctx->host, *measured, rec);
    }
    return 0;
  }
  if (opt.output == "json") {
    // The model alone: the recommender without samples gives the same podFixed as the YAML below.
    auto rec = sizer::RecommendPodFixed({}, {{opt.handler, *profile}}, ctx->host, {.uvm_memory_mib = vm_mib});
    std::cout << RecommendationJson(opt, *profile, {"the model only (no --from-node or --from-prometheus)"},
                                    {}, rec)
                     .dump(2)
              << '\n';
    return 0;
  }
  int64_t host_bytes = ctx->host.OverheadBytes(vm_mib);
  int64_t memory_mib = profile->base_memory_mib + CeilMib(host_bytes);
  std::string cpu = CpuOverhead(*profile);
  std::string name = opt.name.empty() ? opt.handler : opt.name;

  std::cout << fmt::format(
      "# RuntimeClass for handler \"{handler}\", computed by uvm-sizer {version} with profile {profile}.\n"
      "# overhead.podFixed.memory = {memory}Mi:\n"
      "#   {base} MiB  the UVM's own OS (profile base_memory_mib)\n"
      "#   {host} MiB  host-side overhead of the VMM, shim and virtiofsd for a {vm} MiB VM\n"
      "#          ({fixed:.1f} MiB fixed + {per_gib:.2f} MiB per GiB of guest RAM; measure your nodes and "
      "pass\n"
      "#          --host-overhead-fixed / --host-overhead-per-gib, or --vm-memory for larger pods;\n"
      "#          --from-node or --from-prometheus URL recommend from what the daemon measured)\n"
      "# overhead.podFixed.cpu = {cpu}: the UVM's base vCPUs ({base_vcpus}), at least {min_cpu}m for the "
      "VMM's threads.\n"
      "# The kubelet adds podFixed to the pod cgroup and the scheduler reserves it; pods whose UVM needs "
      "more\n"
      "# show up in `uvm-sizer size` and in uvm_sizer_pod_overhead_* metrics.\n",
      fmt::arg("handler", opt.handler), fmt::arg("version", UVM_SIZER_VERSION),
      fmt::arg("profile", profile->name), fmt::arg("memory", memory_mib),
      fmt::arg("base", profile->base_memory_mib), fmt::arg("host", CeilMib(host_bytes)),
      fmt::arg("vm", vm_mib), fmt::arg("fixed", static_cast<double>(ctx->host.fixed_bytes) / kMib),
      fmt::arg("per_gib", static_cast<double>(ctx->host.per_gib_bytes) / kMib), fmt::arg("cpu", cpu),
      fmt::arg("base_vcpus", profile->base_vcpus), fmt::arg("min_cpu", kMinimumCpuOverheadMillis));
  if (profile->default_workload_mem_mib != 0) {
    std::cout << fmt::format(
        "# Note: pods without a memory limit also get {} MiB of guest RAM that no limit or overhead accounts "
        "for.\n",
        profile->default_workload_mem_mib);
  }
  PrintRuntimeClass(name, opt.handler, memory_mib, cpu);
  return 0;
}

// RFC 1123 DNS label, as Kubernetes requires of handlers and (subdomain) of names: keeps the YAML we
// print well-formed whatever the operator types.
bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return s.front() != '-' && s.back() != '-';
}

}  // namespace

void AddRuntimeClassCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<RuntimeClassOptions>();
  auto* cmd =
      app.add_subcommand("runtimeclass", "Print a RuntimeClass with the overhead.podFixed a handler needs");
  cmd->add_option("--handler", opt->handler, "the CRI runtime handler (e.g. kata-cc)")->required();
  cmd->add_option("--profile", opt->profile, "size with this profile instead of the handler's");
  cmd->add_option("--name", opt->name, "the RuntimeClass name (default: the handler)");
  cmd->add_option(
      "--vm-memory", opt->vm_memory,
      "size the per-GiB host overhead for a VM of this much memory (default: the profile base + 8Gi)");
  auto* node =
      cmd->add_option("--from-node", opt->node_socket,
                      fmt::format("recommend podFixed from the overhead the local daemon measured; its API "
                                  "socket (default {})",
                                  kDefaultDaemonSocket))
          ->expected(0, 1);
  auto* prom = cmd->add_option("--from-prometheus", opt->prometheus_url,
                               "recommend podFixed from the overhead Prometheus recorded (http://host:port)");
  node->excludes(prom);
  cmd->add_option("--window", opt->window, "with --from-prometheus: how far back (a PromQL duration)")
      ->capture_default_str();
  cmd->add_option("--timeout-ms", opt->timeout_ms,
                  "with --from-node/--from-prometheus: give up after this long")
      ->capture_default_str();
  cmd->add_option("-o,--output", opt->output,
                  "yaml (the RuntimeClass, explained) or json (with the evidence)")
      ->capture_default_str()
      ->check(CLI::IsMember({"yaml", "json"}));
  opt->sizing.Register(*cmd);
  cmd->callback([opt, node, &exit_code] {
    for (auto [flag, value] : {std::pair{"--handler", &opt->handler}, std::pair{"--name", &opt->name}}) {
      if (!value->empty() && !IsDnsLabel(*value)) {
        std::cerr << fmt::format("uvm-sizer runtimeclass: {}: \"{}\" is not a valid DNS label\n", flag,
                                 *value);
        exit_code = 2;
        return;
      }
    }
    opt->from_node = node->count() > 0;
    exit_code = Run(*opt);
  });
}

}  // namespace uvm::cli
