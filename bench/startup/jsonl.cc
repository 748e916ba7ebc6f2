// pods.jsonl and run.json <-> PodRecord and RunInfo (schema: bench/startup/README.md). Every field is
// always written (absent optionals as null) in a fixed order, so two runs' files diff line by line; on
// reading, unknown fields are ignored (a newer writer may add some), a non-optional field must be there,
// and a wrong type or range is an error naming the line, the field and the value.
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/startup/outputs.h"

namespace uvm::startup {
namespace {

using Json = nlohmann::ordered_json;

template <class T>
Json OrNull(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json PodToJson(const PodRecord& pod) {
  Json j;
  j["schema_version"] = pod.schema_version;
  j["run_id"] = pod.run_id;
  j["handler"] = pod.handler;
  j["runtime_type"] = pod.runtime_type;
  j["stand_in"] = pod.stand_in;
  j["mode"] = pod.mode;
  j["level"] = pod.level;
  j["rate"] = pod.rate;
  j["iteration"] = pod.iteration;
  j["warmup"] = pod.warmup;
  j["cold"] = pod.cold;
  j["mem_limit"] = pod.mem_limit;
  j["cpu_limit"] = pod.cpu_limit;
  j["memory_limit_bytes"] = OrNull(pod.memory_limit_bytes);
  j["cpu_limit_millis"] = OrNull(pod.cpu_limit_millis);
  j["overhead"] = pod.overhead;
  const PredictedUvm& p = pod.predicted_uvm;
  j["predicted_uvm"] = Json{{"vm_isolated", p.vm_isolated},
                            {"profile", p.profile},
                            {"vcpus", p.vcpus},
                            {"memory_mib", p.memory_mib},
                            {"host_memory_bytes", OrNull(p.host_memory_bytes)},
                            {"refusal", p.refusal}};
  if (pod.observed_uvm) {
    j["observed_uvm"] = Json{{"vcpus", OrNull(pod.observed_uvm->vcpus)},
                             {"memory_mib", OrNull(pod.observed_uvm->memory_mib)},
                             {"source", pod.observed_uvm->source}};
  } else {
    j["observed_uvm"] = nullptr;
  }
  j["pod_name"] = pod.pod_name;
  j["pod_uid"] = pod.pod_uid;
  j["sandbox_id"] = pod.sandbox_id;
  j["start_unix_ns"] = pod.start_unix_ns;
  j["start_offset_ns"] = pod.start_offset_ns;
  j["burst"] = pod.burst;
  j["budget_wait_ns"] = pod.budget_wait_ns;
  Json phases = Json::object();
  for (int i = 0; i < kPhaseCount; ++i) {
    phases[std::string(PhaseName(static_cast<Phase>(i)))] = OrNull(pod.phase_ns[i]);
  }
  j["phase_ns"] = std::move(phases);
  j["total_ns"] = OrNull(pod.total_ns);
  j["unaccounted_ns"] = OrNull(pod.unaccounted_ns);
  j["stop_sandbox_ns"] = OrNull(pod.stop_sandbox_ns);
  j["remove_sandbox_ns"] = OrNull(pod.remove_sandbox_ns);
  if (pod.kata) {
    const KataTimings& k = *pod.kata;
    j["kata"] = Json{{"shim_create_ms", OrNull(k.shim_create_ms)},
                     {"agent_create_sandbox_ms", OrNull(k.agent_create_sandbox_ms)},
                     {"agent_create_container_ms", OrNull(k.agent_create_container_ms)},
                     {"agent_start_container_ms", OrNull(k.agent_start_container_ms)},
                     {"vmm_spawn_ns", OrNull(k.vmm_spawn_ns)},
                     {"mem_ramp_t50_ns", OrNull(k.mem_ramp_t50_ns)},
                     {"mem_ramp_t90_ns", OrNull(k.mem_ramp_t90_ns)},
                     {"mem_peak_bytes", OrNull(k.mem_peak_bytes)}};
  } else {
    j["kata"] = nullptr;
  }
  if (pod.error) {
    j["error"] =
        Json{{"phase", pod.error->phase}, {"code", pod.error->code}, {"message", pod.error->message}};
  } else {
    j["error"] = nullptr;
  }
  return j;
}

// The value as it appeared, shortened, for an error message.
std::string Shown(const Json& v) {
  std::string text = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Reads the fields of one JSON object into a struct; keeps the first error. `path` is the dotted name of
// the object ("" at the top, "predicted_uvm.", ...), `where` the message prefix ("line 3: ").
class FieldReader {
 public:
  FieldReader(const Json& object, std::string path, std::string where, std::optional<Error>* error)
      : object_(object), path_(std::move(path)), where_(std::move(where)), error_(error) {}

  template <class T>
  void Required(std::string_view key, T* out) {
    if (*error_) return;
    auto it = object_.find(key);
    if (it == object_.end()) {
      Fail(key, "is missing");
      return;
    }
    Convert(key, *it, out);
  }

  template <class T>
  void Optional(std::string_view key, std::optional<T>* out) {
    if (*error_) return;
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) {
      out->reset();
      return;
    }
    T value{};
    if (Convert(key, *it, &value)) *out = std::move(value);
  }

  // A nested object that may be absent or null; returns nullptr then (or on error).
  const Json* OptionalObject(std::string_view key) {
    if (*error_) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    if (!it->is_object()) {
      Fail(key, fmt::format("must be an object, not {}", Shown(*it)));
      return nullptr;
    }
    return &*it;
  }
  const Json* RequiredObject(std::string_view key) {
    if (*error_) return nullptr;
    if (object_.find(key) == object_.end()) {
      Fail(key, "is missing");
      return nullptr;
    }
    const Json* obj = OptionalObject(key);
    if (obj == nullptr && !*error_) Fail(key, "must be an object, not null");
    return obj;
  }
  const Json* RequiredArray(std::string_view key) {
    if (*error_) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
      Fail(key, "is missing");
      return nullptr;
    }
    if (!it->is_array()) {
      Fail(key, fmt::format("must be an array, not {}", Shown(*it)));
      return nullptr;
    }
    return &*it;
  }

  std::string Path(std::string_view key) const { return path_ + std::string(key); }
  const std::string& where() const { return where_; }

  void Fail(std::string_view key, std::string_view what) {
    if (!*error_) {
      *error_ = Error{fmt::format("{}field \"{}\" {}", where_, Path(key), what), ErrorCode::kInvalidInput};
    }
  }

  // Public for array elements: `key` is the element's name ("levels[2]").
  template <class T>
  bool Convert(std::string_view key, const Json& v, T* out) {
    if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) return Wrong(key, v, "a string");
      *out = v.get<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) return Wrong(key, v, "true or false");
      *out = v.get<bool>();
    } else if constexpr (std::is_same_v<T, double>) {
      if (!v.is_number()) return Wrong(key, v, "a number");
      *out = v.get<double>();
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) return Wrong(key, v, "an integer");
      if (v.is_number_unsigned()) {
        auto u = v.get<uint64_t>();
        if (u > static_cast<uint64_t>(std::numeric_limits<T>::max())) return Wrong(key, v, "in range");
        *out = static_cast<T>(u);
      } else {
        auto s = v.get<int64_t>();
        if (std::is_unsigned_v<T> && s < 0) return Wrong(key, v, "not negative");
        if constexpr (std::is_signed_v<T>) {
          if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max()) {
            return Wrong(key, v, "in range");
          }
        } else {
          if (static_cast<uint64_t>(s) > static_cast<uint64_t>(std::numeric_limits<T>::max())) {
            return Wrong(key, v, "in range");
          }
        }
        *out = static_cast<T>(s);
      }
    } else {
      static_assert(std::is_same_v<T, void>, "no conversion for this field type");
    }
    return true;
  }

 private:
  bool Wrong(std::string_view key, const Json& v, std::string_view expected) {
    Fail(key, fmt::format("must be {}, not {}", expected, Shown(v)));
    return false;
  }

  const Json& object_;
  std::string path_;
  std::string where_;
  std::optional<Error>* error_;
};

std::optional<Error> ParseObject(std::string_view text, const std::string& where, Json* out) {
  try {
    *out = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return Error{fmt::format("{}not valid JSON at byte {}: {}", where, e.byte, e.what()),
                 ErrorCode::kInvalidInput};
  }
  if (!out->is_object()) {
    return Error{fmt::format("{}must be a JSON object, not {}", where, Shown(*out)),
                 ErrorCode::kInvalidInput};
  }
  return std::nullopt;
}

void CheckSchemaVersion(FieldReader& r, int* version) {
  r.Required("schema_version", version);
  if (*version != kSchemaVersion) {
    r.Fail("schema_version", fmt::format("is {}; this tool reads version {}", *version, kSchemaVersion));
  }
}

std::string LineWhere(int line) {
  return line > 0 ? fmt::format("line {}: ", line) : std::string();
}

}  // namespace

std::string PodRecordToJsonLine(const PodRecord& pod) {
  return PodToJson(pod).dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<PodRecord> PodRecordFromJson(std::string_view json, int line) {
  const std::string where = LineWhere(line);
  Json j;
  if (auto e = ParseObject(json, where, &j)) return *e;
  std::optional<Error> error;
  PodRecord pod;
  FieldReader r(j, "", where, &error);
  CheckSchemaVersion(r, &pod.schema_version);
  r.Required("run_id", &pod.run_id);
  r.Required("handler", &pod.handler);
  r.Required("runtime_type", &pod.runtime_type);
  r.Required("stand_in", &pod.stand_in);
  r.Required("mode", &pod.mode);
  r.Required("level", &pod.level);
  r.Required("rate", &pod.rate);
  r.Required("iteration", &pod.iteration);
  r.Required("warmup", &pod.warmup);
  r.Required("cold", &pod.cold);
  r.Required("mem_limit", &pod.mem_limit);
  r.Required("cpu_limit", &pod.cpu_limit);
  r.Optional("memory_limit_bytes", &pod.memory_limit_bytes);
  r.Optional("cpu_limit_millis", &pod.cpu_limit_millis);
  r.Required("overhead", &pod.overhead);
  if (const Json* p = r.RequiredObject("predicted_uvm")) {
    FieldReader pr(*p, "predicted_uvm.", where, &error);
    pr.Required("vm_isolated", &pod.predicted_uvm.vm_isolated);
    pr.Required("profile", &pod.predicted_uvm.profile);
    pr.Required("vcpus", &pod.predicted_uvm.vcpus);
    pr.Required("memory_mib", &pod.predicted_uvm.memory_mib);
    pr.Optional("host_memory_bytes", &pod.predicted_uvm.host_memory_bytes);
    pr.Required("refusal", &pod.predicted_uvm.refusal);
  }
  if (const Json* o = r.OptionalObject("observed_uvm")) {
    ObservedUvm observed;
    FieldReader orr(*o, "observed_uvm.", where, &error);
    orr.Optional("vcpus", &observed.vcpus);
    orr.Optional("memory_mib", &observed.memory_mib);
    orr.Required("source", &observed.source);
    pod.observed_uvm = std::move(observed);
  }
  r.Required("pod_name", &pod.pod_name);
  r.Required("pod_uid", &pod.pod_uid);
  r.Required("sandbox_id", &pod.sandbox_id);
  r.Required("start_unix_ns", &pod.start_unix_ns);
  r.Required("start_offset_ns", &pod.start_offset_ns);
  r.Required("burst", &pod.burst);
  r.Required("budget_wait_ns", &pod.budget_wait_ns);
  if (const Json* phases = r.RequiredObject("phase_ns")) {
    FieldReader ph(*phases, "phase_ns.", where, &error);
    for (int i = 0; i < kPhaseCount; ++i) ph.Optional(PhaseName(static_cast<Phase>(i)), &pod.phase_ns[i]);
  }
  r.Optional("total_ns", &pod.total_ns);
  r.Optional("unaccounted_ns", &pod.unaccounted_ns);
  r.Optional("stop_sandbox_ns", &pod.stop_sandbox_ns);
  r.Optional("remove_sandbox_ns", &pod.remove_sandbox_ns);
  if (const Json* k = r.OptionalObject("kata")) {
    KataTimings kata;
    FieldReader kr(*k, "kata.", where, &error);
    kr.Optional("shim_create_ms", &kata.shim_create_ms);
    kr.Optional("agent_create_sandbox_ms", &kata.agent_create_sandbox_ms);
    kr.Optional("agent_create_container_ms", &kata.agent_create_container_ms);
    kr.Optional("agent_start_container_ms", &kata.agent_start_container_ms);
    kr.Optional("vmm_spawn_ns", &kata.vmm_spawn_ns);
    kr.Optional("mem_ramp_t50_ns", &kata.mem_ramp_t50_ns);
    kr.Optional("mem_ramp_t90_ns", &kata.mem_ramp_t90_ns);
    kr.Optional("mem_peak_bytes", &kata.mem_peak_bytes);
    pod.kata = kata;
  }
  if (const Json* e = r.OptionalObject("error")) {
    PodError pod_error;
    FieldReader er(*e, "error.", where, &error);
    er.Required("phase", &pod_error.phase);
    er.Required("code", &pod_error.code);
    er.Required("message", &pod_error.message);
    pod.error = std::move(pod_error);
  }
  if (error) return *error;
  return pod;
}

Result<std::vector<PodRecord>> ReadPodsJsonl(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error{fmt::format("{}: cannot be opened", path), ErrorCode::kNotFound};
  std::vector<PodRecord> pods;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;  // a blank line is no pod
    auto pod = PodRecordFromJson(text, line);
    if (!pod) return Error{fmt::format("{}: {}", path, pod.error().message), pod.error().code};
    pods.push_back(std::move(*pod));
  }
  if (in.bad()) return Error{fmt::format("{}: read failed", path), ErrorCode::kInternal};
  return pods;
}

std::string RunInfoToJson(const RunInfo& info) {
  Json j;
  j["schema_version"] = info.schema_version;
  j["run_id"] = info.run_id;
  j["tool_version"] = info.tool_version;
  j["command_line"] = info.command_line;
  j["started_at"] = info.started_at;
  j["cri_endpoint"] = info.cri_endpoint;
  j["image"] = info.image;
  j["mode"] = info.mode;
  j["levels"] = info.levels;
  j["rates"] = info.rates;
  j["mem_budget_bytes"] = info.mem_budget_bytes;
  j["wall_ns"] = info.wall_ns;
  j["tool_cpu_ns_per_pod"] = info.tool_cpu_ns_per_pod;
  const RunEnvironment& e = info.env;
  Json handlers = Json::array();
  for (const HandlerEnvironment& h : e.handlers) {
    handlers.push_back(Json{{"handler", h.handler},
                            {"runtime_type", h.runtime_type},
                            {"stand_in", h.stand_in},
                            {"kata_version", h.kata_version},
                            {"hypervisor", h.hypervisor}});
  }
  j["env"] = Json{{"cpu_model", e.cpu_model},
                  {"nproc", e.nproc},
                  {"kernel", e.kernel},
                  {"mem_total_bytes", e.mem_total_bytes},
                  {"mem_available_bytes", e.mem_available_bytes},
                  {"containerd_version", e.containerd_version},
                  {"handlers", std::move(handlers)},
                  {"sev_snp", e.sev_snp},
                  {"tdx", e.tdx}};
  const ServerCrossCheck& c = info.containerd;
  j["containerd"] = Json{{"url", c.url},
                         {"sandbox_create_sum_before_s", OrNull(c.sandbox_create_sum_before_s)},
                         {"sandbox_create_sum_after_s", OrNull(c.sandbox_create_sum_after_s)},
                         {"sandbox_create_count_before", OrNull(c.sandbox_create_count_before)},
                         {"sandbox_create_count_after", OrNull(c.sandbox_create_count_after)},
                         {"error", c.error}};
  return j.dump(2, ' ', false, Json::error_handler_t::replace) + "\n";
}

Result<RunInfo> RunInfoFromJson(std::string_view json) {
  const std::string where = "run.json: ";
  Json j;
  if (auto e = ParseObject(json, where, &j)) return *e;
  std::optional<Error> error;
  RunInfo info;
  FieldReader r(j, "", where, &error);
  CheckSchemaVersion(r, &info.schema_version);
  r.Required("run_id", &info.run_id);
  r.Required("tool_version", &info.tool_version);
  r.Required("command_line", &info.command_line);
  r.Required("started_at", &info.started_at);
  r.Required("cri_endpoint", &info.cri_endpoint);
  r.Required("image", &info.image);
  r.Required("mode", &info.mode);
  if (const Json* levels = r.RequiredArray("levels")) {
    for (size_t i = 0; i < levels->size() && !error; ++i) {
      int level = 0;
      if (r.Convert(fmt::format("levels[{}]", i), (*levels)[i], &level)) info.levels.push_back(level);
    }
  }
  if (const Json* rates = r.RequiredArray("rates")) {
    for (size_t i = 0; i < rates->size() && !error; ++i) {
      double rate = 0;
      if (r.Convert(fmt::format("rates[{}]", i), (*rates)[i], &rate)) info.rates.push_back(rate);
    }
  }
  r.Required("mem_budget_bytes", &info.mem_budget_bytes);
  r.Required("wall_ns", &info.wall_ns);
  // Optional: run.json files written before the runner measured its own CPU read as 0.
  std::optional<int64_t> tool_cpu_ns_per_pod;
  r.Optional("tool_cpu_ns_per_pod", &tool_cpu_ns_per_pod);
  info.tool_cpu_ns_per_pod = tool_cpu_ns_per_pod.value_or(0);
  if (const Json* env = r.RequiredObject("env")) {
    FieldReader er(*env, "env.", where, &error);
    er.Required("cpu_model", &info.env.cpu_model);
    er.Required("nproc", &info.env.nproc);
    er.Required("kernel", &info.env.kernel);
    er.Required("mem_total_bytes", &info.env.mem_total_bytes);
    er.Required("mem_available_bytes", &info.env.mem_available_bytes);
    er.Required("containerd_version", &info.env.containerd_version);
    if (const Json* handlers = er.RequiredArray("handlers")) {
      for (size_t i = 0; i < handlers->size() && !error; ++i) {
        const Json& h = (*handlers)[i];
        std::string name = fmt::format("env.handlers[{}]", i);
        if (!h.is_object()) {
          er.Fail(fmt::format("handlers[{}]", i), fmt::format("must be an object, not {}", Shown(h)));
          break;
        }
        HandlerEnvironment handler;
        FieldReader hr(h, name + ".", where, &error);
        hr.Required("handler", &handler.handler);
        hr.Required("runtime_type", &handler.runtime_type);
        hr.Required("stand_in", &handler.stand_in);
        hr.Required("kata_version", &handler.kata_version);
        hr.Required("hypervisor", &handler.hypervisor);
        info.env.handlers.push_back(std::move(handler));
      }
    }
    er.Required("sev_snp", &info.env.sev_snp);
    er.Required("tdx", &info.env.tdx);
  }
  if (const Json* c = r.RequiredObject("containerd")) {
    FieldReader cr(*c, "containerd.", where, &error);
    cr.Required("url", &info.containerd.url);
    cr.Optional("sandbox_create_sum_before_s", &info.containerd.sandbox_create_sum_before_s);
    cr.Optional("sandbox_create_sum_after_s", &info.containerd.sandbox_create_sum_after_s);
    cr.Optional("sandbox_create_count_before", &info.containerd.sandbox_create_count_before);
    cr.Optional("sandbox_create_count_after", &info.containerd.sandbox_create_count_after);
    cr.Required("error", &info.containerd.error);
  }
  if (error) return *error;
  return info;
}

}  // namespace uvm::startup
