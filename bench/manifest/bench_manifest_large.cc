// `kubectl get pods -A -o json` (and `-o yaml`) of a large cluster, read by ParseManifest. Targets (issue 9,
// DESIGN.md "Performance budget"): 10,000 live pods as JSON in under 10 s and 1 GiB RSS on 2 cores, as
// YAML in under 30 s.
//
// The input is generated here, deterministically: each pod looks like a real one as the API server prints
// it (managedFields, ownerReferences, status with conditions and container statuses, admission's
// runtimeClassName and overhead, nodeName), about 8-12 KB of JSON each.
//
// Peak memory: before the timed runs, each case parses once in a fresh child process (see
// MeasureRss: peak RSS via /proc/self/clear_refs + VmHWM) and reports `peak_rss_mib` (the input text
// included) and `parse_rss_mib` (the reader's own). Time is measured in the parent by Google Benchmark.
// Run: build/bench/bench_manifest_large --benchmark_format=json (or scripts/bench.sh).
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "sizer/formats/manifest.h"

namespace uvm::sizer::formats {
namespace {

// A tiny deterministic generator (splitmix64), so every run reads the same bytes.
struct Rng {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::string Hex(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += "0123456789abcdef"[Next() % 16];
    return s;
  }
};

std::string Uid(Rng& r) {
  return fmt::format("{}-{}-{}-{}-{}", r.Hex(8), r.Hex(4), r.Hex(4), r.Hex(4), r.Hex(12));
}

std::string ContainerJsonWithEnv(Rng& r, int c, bool init, const std::string& extra_env);

std::string ContainerJson(Rng& r, int c, bool init) {
  // Real workloads carry a dozen environment variables or so.
  std::string env;
  for (int e = 0; e < 10; ++e) {
    env += fmt::format(
        R"({{"name": "APP_SETTING_{}_{}", "value": "https://service-{}.team.svc.cluster.local:8443/v1"}}, )",
        e, r.Hex(6), r.Hex(8));
  }
  return ContainerJsonWithEnv(r, c, init, env);
}

std::string ContainerJsonWithEnv(Rng& r, int c, bool init, const std::string& extra_env) {
  return fmt::format(
      R"({{"args": ["--port=8080", "--log-level=info", "--metrics-addr=:9090"], "env": [{}{{"name": "POD_NAME",
"valueFrom": {{"fieldRef": {{"apiVersion": "v1", "fieldPath": "metadata.name"}}}}}}, {{"name": "POD_NAMESPACE",
"valueFrom": {{"fieldRef": {{"apiVersion": "v1", "fieldPath": "metadata.namespace"}}}}}}, {{"name": "LOG_FORMAT",
"value": "json"}}], "image": "registry.example.com/team/app-{}:1.{}.{}", "imagePullPolicy": "IfNotPresent", "name":
"{}{}", "ports": [{{"containerPort": 8080, "name": "http", "protocol": "TCP"}}, {{"containerPort": 9090, "name":
"metrics", "protocol": "TCP"}}], "readinessProbe": {{"failureThreshold": 3, "httpGet": {{"path": "/healthz",
"port": "http", "scheme": "HTTP"}}, "periodSeconds": 10, "successThreshold": 1, "timeoutSeconds": 1}},
"resources": {{"limits": {{"cpu": "{}m", "memory": "{}Mi"}}, "requests": {{"cpu": "{}m", "memory": "{}Mi"}}}},
"terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File", "volumeMounts":
[{{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "name": "kube-api-access-{}", "readOnly":
true}}]}})",
      extra_env, r.Hex(4), r.Next() % 20, r.Next() % 10, init ? "init-" : "app-", c,
      100 * (1 + r.Next() % 20), 128 * (1 + r.Next() % 16), 50 * (1 + r.Next() % 10), 64 * (1 + r.Next() % 8),
      r.Hex(5));
}

std::string PodJson(Rng& r, int i) {
  const std::string ns = fmt::format("team-{}", i % 40);
  const std::string name = fmt::format("app-{}-{}-{}", i % 300, r.Hex(10), r.Hex(5));
  std::string containers;
  const int n = 1 + static_cast<int>(r.Next() % 3);
  for (int c = 0; c < n; ++c) containers += (c ? ", " : "") + ContainerJson(r, c, false);
  std::string statuses;
  for (int c = 0; c < n; ++c) {
    statuses += fmt::format(
        R"({}{{"containerID": "containerd://{}", "image": "registry.example.com/team/app:1.2", "imageID":
"registry.example.com/team/app@sha256:{}", "lastState": {{}}, "name": "app-{}", "ready": true, "restartCount": 0,
"started": true, "state": {{"running": {{"startedAt": "2024-05-01T10:00:{:02}Z"}}}}}})",
        c ? ", " : "", r.Hex(64), r.Hex(64), c, r.Next() % 60);
  }
  return fmt::format(
      R"({{"apiVersion": "v1", "kind": "Pod", "metadata": {{"annotations": {{"io.katacontainers.config.hypervisor.default_vcpus":
"2", "kubectl.kubernetes.io/restartedAt": "2024-05-01T09:59:00Z"}}, "creationTimestamp": "2024-05-01T10:00:00Z",
"generateName": "app-{}-", "labels": {{"app": "app-{}", "pod-template-hash": "{}", "tier": "backend"}},
"managedFields": [{{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {{"f:metadata": {{"f:generateName":
{{}}, "f:labels": {{".": {{}}, "f:app": {{}}, "f:pod-template-hash": {{}}}}, "f:ownerReferences": {{".": {{}},
"k:{{\"uid\":\"{}\"}}": {{}}}}}}, "f:spec": {{"f:containers": {{"k:{{\"name\":\"app-0\"}}": {{".": {{}}, "f:image":
{{}}, "f:imagePullPolicy": {{}}, "f:name": {{}}, "f:ports": {{".": {{}}}}, "f:resources": {{".": {{}}, "f:limits":
{{".": {{}}, "f:cpu": {{}}, "f:memory": {{}}}}}}}}}}, "f:dnsPolicy": {{}}, "f:enableServiceLinks": {{}},
"f:restartPolicy": {{}}, "f:runtimeClassName": {{}}, "f:schedulerName": {{}}, "f:securityContext": {{}}}}}},
"manager": "kube-controller-manager", "operation": "Update", "time": "2024-05-01T10:00:00Z"}}, {{"apiVersion":
"v1", "fieldsType": "FieldsV1", "fieldsV1": {{"f:status": {{"f:conditions": {{"k:{{\"type\":\"Ready\"}}": {{".":
{{}}, "f:lastProbeTime": {{}}, "f:lastTransitionTime": {{}}, "f:status": {{}}, "f:type": {{}}}}}}, "f:containerStatuses":
{{}}, "f:hostIP": {{}}, "f:phase": {{}}, "f:podIP": {{}}, "f:podIPs": {{".": {{}}, "k:{{\"ip\":\"10.244.1.{}\"}}":
{{".": {{}}, "f:ip": {{}}}}}}, "f:startTime": {{}}}}}}, "manager": "kubelet", "operation": "Update", "subresource":
"status", "time": "2024-05-01T10:00:05Z"}}], "name": "{}", "namespace": "{}", "ownerReferences": [{{"apiVersion":
"apps/v1", "blockOwnerDeletion": true, "controller": true, "kind": "ReplicaSet", "name": "app-{}-{}", "uid":
"{}"}}], "resourceVersion": "{}", "uid": "{}"}}, "spec": {{"containers": [{}], "dnsPolicy": "ClusterFirst",
"enableServiceLinks": true, "nodeName": "aks-nodepool1-{}-vmss0000{:02}", "overhead": {{"cpu": "250m", "memory":
"600Mi"}}, "preemptionPolicy": "PreemptLowerPriority", "priority": 0, "restartPolicy": "Always",
"runtimeClassName": "kata-vm-isolation", "schedulerName": "default-scheduler", "securityContext": {{}},
"serviceAccount": "default", "serviceAccountName": "default", "terminationGracePeriodSeconds": 30,
"tolerations": [{{"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists",
"tolerationSeconds": 300}}, {{"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator":
"Exists", "tolerationSeconds": 300}}], "volumes": [{{"name": "kube-api-access-{}", "projected": {{"defaultMode":
420, "sources": [{{"serviceAccountToken": {{"expirationSeconds": 3607, "path": "token"}}}}, {{"configMap":
{{"items": [{{"key": "ca.crt", "path": "ca.crt"}}], "name": "kube-root-ca.crt"}}}}, {{"downwardAPI": {{"items":
[{{"fieldRef": {{"apiVersion": "v1", "fieldPath": "metadata.namespace"}}, "path": "namespace"}}]}}}}]}}}}]}},
"status": {{"conditions": [{{"lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:00Z", "status":
"True", "type": "Initialized"}}, {{"lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:05Z", "status":
"True", "type": "Ready"}}, {{"lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:05Z", "status":
"True", "type": "ContainersReady"}}, {{"lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:00Z",
"status": "True", "type": "PodScheduled"}}], "containerStatuses": [{}], "hostIP": "10.224.0.{}", "phase":
"Running", "podIP": "10.244.1.{}", "podIPs": [{{"ip": "10.244.1.{}"}}], "qosClass": "Burstable", "startTime":
"2024-05-01T10:00:00Z"}}}})",
      i % 300, i % 300, r.Hex(10), Uid(r), i % 250, name, ns, i % 300, r.Hex(10), Uid(r), 1000000 + i, Uid(r),
      containers, r.Hex(8), i % 50, r.Hex(5), statuses, i % 250, i % 250, i % 250);
}

std::string PodsJson(int pods) {
  Rng r{42};
  std::string out = "{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n";
  for (int i = 0; i < pods; ++i) out += (i ? ",\n" : "") + PodJson(r, i);
  out +=
      "\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n";
  return out;
}

// The same objects as `kubectl get -o yaml` would print them: block style, two-space indents. Converting
// our own JSON keeps the two inputs identical in content.
void YamlValue(const std::string& j, size_t& i, int indent, std::string& out, bool in_seq);

void SkipWs(const std::string& j, size_t& i) {
  while (i < j.size() && (j[i] == ' ' || j[i] == '\n' || j[i] == '\t' || j[i] == '\r')) ++i;
}

std::string JsonToken(const std::string& j, size_t& i) {
  size_t start = i;
  if (j[i] == '"') {
    for (++i; j[i] != '"'; ++i)
      if (j[i] == '\\') ++i;
    ++i;
  } else {
    while (i < j.size() && j[i] != ',' && j[i] != '}' && j[i] != ']' && j[i] != ' ' && j[i] != '\n') ++i;
  }
  return j.substr(start, i - start);
}

// JSON strings are valid YAML double-quoted scalars; keys are printed plain as kubectl does.
std::string YamlKey(const std::string& k) {
  if (k.find_first_of(":{}[],&*#?|-<>=!%@`'\\ ") == std::string::npos) return k.substr(1, k.size() - 2);
  return k;
}

void YamlValue(const std::string& j, size_t& i, int indent, std::string& out, bool in_seq) {
  SkipWs(j, i);
  const std::string pad(static_cast<size_t>(indent), ' ');
  if (j[i] == '{') {
    ++i;
    SkipWs(j, i);
    if (j[i] == '}') {
      ++i;
      out += " {}\n";
      return;
    }
    bool first = true;
    for (;;) {
      SkipWs(j, i);
      std::string key = JsonToken(j, i);
      SkipWs(j, i);
      ++i;  // ':'
      if (!(first && in_seq)) out += pad;
      if (first && !in_seq) {
        // the caller printed "key:" and expects a newline before a block map
      }
      out += YamlKey(key) + ":";
      SkipWs(j, i);
      if (j[i] == '{' || j[i] == '[') {
        size_t save = i;
        ++save;
        SkipWs(j, save);
        bool empty = j[save] == '}' || j[save] == ']';
        if (!empty) out += "\n";
        YamlValue(j, i, indent + (j[i] == '{' ? 2 : 0), out, false);
      } else {
        out += " " + JsonToken(j, i) + "\n";
      }
      first = false;
      SkipWs(j, i);
      if (j[i] == ',') {
        ++i;
        continue;
      }
      ++i;  // '}'
      return;
    }
  }
  if (j[i] == '[') {
    ++i;
    SkipWs(j, i);
    if (j[i] == ']') {
      ++i;
      out += " []\n";
      return;
    }
    for (;;) {
      SkipWs(j, i);
      out += pad + "- ";
      if (j[i] == '{') {
        YamlValue(j, i, indent + 2, out, true);
      } else if (j[i] == '[') {
        out += "\n";
        YamlValue(j, i, indent + 2, out, false);
      } else {
        out += JsonToken(j, i) + "\n";
      }
      SkipWs(j, i);
      if (j[i] == ',') {
        ++i;
        continue;
      }
      ++i;  // ']'
      return;
    }
  }
  out += JsonToken(j, i) + "\n";
}

std::string PodsYaml(int pods) {
  std::string json = PodsJson(pods);
  std::string out;
  size_t i = 0;
  YamlValue(json, i, 0, out, false);
  return out;
}

// A line of /proc/self/status, in KiB ("VmHWM:   123456 kB").
long StatusKib(const char* field) {
  FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return -1;
  char line[256];
  long kib = -1;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') {
      kib = std::strtol(line + n + 1, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kib;
}

// Runs one ParseManifest in a fresh child (fork) and reports its memory: the child resets its peak RSS
// (writing 5 to /proc/self/clear_refs sets VmHWM to the current VmRSS, Linux >= 4.0), parses, and reads
// VmHWM back. `peak_rss_mib` is that peak, the input text included; `parse_rss_mib` is the peak minus
// the RSS just before parsing (after malloc_trim), the reader's own memory. Where clear_refs is not writable
// the child falls back to getrusage(RUSAGE_SELF).ru_maxrss, which also counts the parent's peak before the
// fork.
void MeasureRss(const std::string& text, size_t expected_pods, benchmark::State& state) {
  int pipefd[2];
  if (pipe(pipefd) != 0) return;
  pid_t pid = fork();
  if (pid == 0) {
    close(pipefd[0]);
    malloc_trim(0);  // free heap the parent kept would otherwise be reused without showing in the RSS
    bool reset = false;
    if (FILE* f = std::fopen("/proc/self/clear_refs", "w")) {
      reset = std::fputs("5", f) >= 0;
      reset = (std::fclose(f) == 0) && reset;
    }
    const long before = reset ? StatusKib("VmRSS") : 0;
    auto m = ParseManifest(text);
    long peak = reset ? StatusKib("VmHWM") : -1;
    if (!reset) {
      rusage after{};
      getrusage(RUSAGE_SELF, &after);
      peak = after.ru_maxrss;
    }
    long values[3] = {before, peak, m.ok() ? static_cast<long>(m->pods.size()) : -1};
    if (write(pipefd[1], values, sizeof values) != sizeof values) _exit(2);
    _exit(0);
  }
  close(pipefd[1]);
  long values[3] = {0, 0, 0};
  ssize_t got = read(pipefd[0], values, sizeof values);
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (got != sizeof values || values[2] != static_cast<long>(expected_pods)) {
    state.SkipWithError("the child did not parse every pod");
    return;
  }
  state.counters["peak_rss_mib"] = static_cast<double>(values[1]) / 1024.0;
  if (values[0] > 0) state.counters["parse_rss_mib"] = static_cast<double>(values[1] - values[0]) / 1024.0;
}

void Run(benchmark::State& state, const std::string& text) {
  const auto pods = static_cast<size_t>(state.range(0));
  MeasureRss(text, pods, state);  // first, while the heap holds only the input
  for (auto _ : state) {
    auto m = ParseManifest(text);
    if (!m.ok() || m->pods.size() != pods) {
      state.SkipWithError(m.ok() ? "wrong pod count" : m.error().message.c_str());
      return;
    }
    benchmark::DoNotOptimize(m);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["input_mib"] = static_cast<double>(text.size()) / 1048576.0;
  state.counters["bytes_per_pod"] = static_cast<double>(text.size()) / static_cast<double>(pods);
}

void BM_LivePodsJson(benchmark::State& state) {
  const std::string text = PodsJson(static_cast<int>(state.range(0)));
  Run(state, text);
}
BENCHMARK(BM_LivePodsJson)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

void BM_LivePodsYaml(benchmark::State& state) {
  const std::string text = PodsYaml(static_cast<int>(state.range(0)));
  Run(state, text);
}
BENCHMARK(BM_LivePodsYaml)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace
}  // namespace uvm::sizer::formats

BENCHMARK_MAIN();
