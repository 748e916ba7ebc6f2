// `uvm-sizer capacity` end to end: the built binary on examples/cluster (the README's example), its three
// output formats, bad inputs, and --plot through the real gnuplot.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "tests/unit/cli/cli_support.h"

namespace uvm::cli_test {
namespace {

using nlohmann::json;
using testing::ProcessResult;

std::string Example(const std::string& name) {
  return std::string(UVM_SOURCE_DIR) + "/examples/cluster/" + name;
}

std::vector<std::string> ExampleArgs(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"capacity",
                                   "--pods",
                                   Example("pods.json"),
                                   "--nodes",
                                   Example("nodes.json"),
                                   "--runtimeclasses",
                                   Example("runtimeclasses.yaml"),
                                   "--shape",
                                   Example("shapes/web.yaml"),
                                   "--shape",
                                   Example("shapes/batch.yaml")};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

const json* NodeNamed(const json& doc, const std::string& name) {
  for (const auto& n : doc["nodes"])
    if (n["node"] == name) return &n;
  return nullptr;
}

constexpr const char* kKata0 = "aks-kata-12345678-vmss000000";
constexpr const char* kKata1 = "aks-kata-12345678-vmss000001";
constexpr const char* kSystem = "aks-system-87654321-vmss000000";
constexpr int64_t kMi = 1 << 20;

// aks-kata-12345678-vmss000001 by hand (profile aks-kata-256 for kata: UVM = 256Mi + limits; aks-kata-cc-2048
// for kata-cc: 2048Mi + limits; VMM host overhead = 86Mi + 4.4Mi per GiB of UVM, 4.4Mi = 4613735 B rounded
// up):
//   allocatable 12880528Ki = 13189660672 B, 3860m; pods on it (ledger-sign-nightly Succeeded: not counted):
//   web-pz6rd      kata     req 256Mi/250m lim 2Gi/1   overhead 600Mi
//   ledger-sign    kata-cc  req 512Mi/500m lim 1Gi/1   no overhead (kata-cc-isolation declares none)
//   kube-proxy     runc     req 64Mi/100m
//   ip-masq-agent  runc     req 50Mi/100m
// scheduler memory = 256+600 + 512 + 64 + 50 = 1482Mi = 1553989632 B; CPU = 250+500+100+100 = 950m
// host memory: web UVM 2304Mi = 2415919104 + VMM 90177536 + ceil(4613735 * 2.25) 10380904 = 2516477544
//              ledger-sign UVM 3072Mi = 3221225472 + VMM 90177536 + 4613735 * 3 = 3325244213
//              runc pods as the scheduler: 114Mi = 119537664
//              total 5961259421 B
// free: scheduler 13189660672 - 1553989632 = 11635671040; host 13189660672 - 5961259421 = 7228401251;
//       CPU 3860 - 950 = 2910m
// shape web (856Mi = 897581056 B scheduler, 2516477544 B host, 250m):
//   scheduler: memory floor(11635671040 / 897581056) = 12, cpu floor(2910 / 250) = 11 -> 11, cpu binds
//   host:      memory floor(7228401251 / 2516477544) = 2 -> 2, memory binds; gap 11 - 2 = 9
constexpr int64_t kKata1Allocatable = 13189660672;
constexpr int64_t kKata1Scheduler = 1482 * kMi;
constexpr int64_t kKata1Host = 5961259421;

TEST(CliCapacity, ExampleClusterByHandInJson) {
  auto r = Cli(ExampleArgs({"-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  json j = Json(r);
  ASSERT_EQ(j["nodes"].size(), 3u);
  const json* n = NodeNamed(j, kKata1);
  ASSERT_NE(n, nullptr) << j.dump(2);
  EXPECT_EQ((*n)["allocatable"]["memory_bytes"], kKata1Allocatable);
  EXPECT_EQ((*n)["allocatable"]["cpu_millis"], 3860);
  EXPECT_EQ((*n)["pods"], 4);  // the Succeeded pod bound here is not counted
  EXPECT_EQ((*n)["vm_pods"], 2);
  EXPECT_EQ((*n)["scheduler"]["committed_memory_bytes"], kKata1Scheduler);
  EXPECT_EQ((*n)["scheduler"]["committed_cpu_millis"], 950);
  EXPECT_EQ((*n)["host"]["committed_memory_bytes"], kKata1Host);
  EXPECT_EQ((*n)["host"]["committed_cpu_millis"], 950);  // CPU: the same in both views
  EXPECT_EQ((*n)["scheduler"]["free_memory_bytes"], kKata1Allocatable - kKata1Scheduler);
  EXPECT_EQ((*n)["host"]["free_memory_bytes"], kKata1Allocatable - kKata1Host);
  EXPECT_EQ((*n)["scheduler"]["free_cpu_millis"], 2910);
  // The breakdown adds up to the committed memory of each view.
  const json& b = (*n)["memory_breakdown"];
  EXPECT_EQ(b["scheduler_requests_bytes"].get<int64_t>() + b["scheduler_overhead_bytes"].get<int64_t>(),
            kKata1Scheduler);
  EXPECT_EQ(b["scheduler_overhead_bytes"], 600 * kMi);
  EXPECT_EQ(b["host_uvm_bytes"], (2304 + 3072) * kMi);
  EXPECT_EQ(b["host_uvm_bytes"].get<int64_t>() + b["host_vmm_overhead_bytes"].get<int64_t>() +
                b["host_other_pods_bytes"].get<int64_t>(),
            kKata1Host);
  ASSERT_EQ((*n)["fits"].size(), 2u);
  const json& web = (*n)["fits"][0];
  EXPECT_EQ(web["shape"], "web");
  EXPECT_EQ(web["scheduler"]["count"], 11);
  EXPECT_EQ(web["scheduler"]["binding"], "cpu");
  EXPECT_EQ(web["scheduler"]["by_memory"], 12);
  EXPECT_EQ(web["host"]["count"], 2);
  EXPECT_EQ(web["host"]["binding"], "memory");
  EXPECT_EQ(web["gap"], 9);
  EXPECT_EQ((*n)["fits"][1]["shape"], "batch");

  // The point of the example: the scheduler admits more web pods than the host holds on the kata nodes.
  const json* k0 = NodeNamed(j, kKata0);
  ASSERT_NE(k0, nullptr);
  EXPECT_GT((*k0)["fits"][0]["gap"].get<int64_t>(), 0);
  EXPECT_GT((*k0)["vm_pods_unlimited_cgroup"].get<int64_t>(), 0);  // worker sets no limits
  // The system pool lacks the RuntimeClasses' node labels: no kata pod fits there in either view.
  const json* sys = NodeNamed(j, kSystem);
  ASSERT_NE(sys, nullptr);
  for (const auto& f : (*sys)["fits"]) {
    EXPECT_EQ(f["scheduler"]["count"], 0) << f.dump();
    EXPECT_EQ(f["host"]["count"], 0) << f.dump();
  }
  // Cluster row: sums of the nodes.
  int64_t scheduler = 0, host = 0, web_scheduler = 0, web_host = 0;
  for (const auto& node : j["nodes"]) {
    scheduler += node["scheduler"]["committed_memory_bytes"].get<int64_t>();
    host += node["host"]["committed_memory_bytes"].get<int64_t>();
    web_scheduler += node["fits"][0]["scheduler"]["count"].get<int64_t>();
    web_host += node["fits"][0]["host"]["count"].get<int64_t>();
  }
  EXPECT_EQ(j["cluster"]["scheduler"]["committed_memory_bytes"], scheduler);
  EXPECT_EQ(j["cluster"]["host"]["committed_memory_bytes"], host);
  EXPECT_EQ(j["cluster"]["fits"][0]["scheduler"]["count"], web_scheduler);
  EXPECT_EQ(j["cluster"]["fits"][0]["host"]["count"], web_host);
  EXPECT_EQ(j["cluster"]["fits"][0]["gap"], web_scheduler - web_host);
  EXPECT_EQ(j["cluster"]["nodes"], 3);
  // Left out of every node, and said so.
  ASSERT_EQ(j["unscheduled_pods"].size(), 1u);
  EXPECT_EQ(j["unscheduled_pods"][0]["name"], "web-6f8d9c7b5d-k3m9b");
  EXPECT_EQ(j["unscheduled_pods"][0]["phase"], "Pending");
  ASSERT_EQ(j["terminated_pods"].size(), 1u);
  EXPECT_EQ(j["terminated_pods"][0]["phase"], "Succeeded");
  EXPECT_EQ(j["pods_on_unknown_nodes"].size(), 0u);
  ASSERT_EQ(j["shapes"].size(), 2u);
  EXPECT_EQ(j["shapes"][0]["name"], "web");
  EXPECT_EQ(j["shapes"][0]["scheduler_memory_bytes"], 856 * kMi);
  EXPECT_EQ(j["shapes"][0]["host_memory_bytes"], 2516477544);
  EXPECT_EQ(j["shapes"][1]["handler"], "kata-cc");
}

// Every number of the JSON document is in the CSV document, row for row.
TEST(CliCapacity, CsvHasTheJsonNumbers) {
  auto jr = Cli(ExampleArgs({"-o", "json"}));
  auto cr = Cli(ExampleArgs({"-o", "csv"}));
  ASSERT_EQ(jr.exit_code, 0) << jr.err;
  ASSERT_EQ(cr.exit_code, 0) << cr.err;
  json j = Json(jr);
  auto records = ParseCsv(cr.out);
  ASSERT_GE(records.size(), 2u);
  const auto& header = records[0];
  auto col = [&](const std::string& name) {
    auto it = std::find(header.begin(), header.end(), name);
    EXPECT_NE(it, header.end()) << name;
    return static_cast<size_t>(it - header.begin());
  };
  // 3 nodes x 2 shapes, then the cluster's 2 rows.
  ASSERT_EQ(records.size(), 1u + 3 * 2 + 2) << cr.out;
  size_t row = 1;
  auto check = [&](const json& ledger, const std::string& scope, const std::string& node) {
    for (const auto& fit : ledger["fits"]) {
      SCOPED_TRACE(scope + " " + node + " " + fit["shape"].get<std::string>());
      const auto& r = records[row++];
      EXPECT_EQ(r[col("scope")], scope);
      EXPECT_EQ(r[col("node")], node);
      EXPECT_EQ(r[col("pods")], std::to_string(ledger["pods"].get<int64_t>()));
      EXPECT_EQ(r[col("allocatable_memory_bytes")],
                std::to_string(ledger["allocatable"]["memory_bytes"].get<int64_t>()));
      EXPECT_EQ(r[col("scheduler_committed_memory_bytes")],
                std::to_string(ledger["scheduler"]["committed_memory_bytes"].get<int64_t>()));
      EXPECT_EQ(r[col("host_committed_memory_bytes")],
                std::to_string(ledger["host"]["committed_memory_bytes"].get<int64_t>()));
      EXPECT_EQ(r[col("scheduler_free_memory_bytes")],
                std::to_string(ledger["scheduler"]["free_memory_bytes"].get<int64_t>()));
      EXPECT_EQ(r[col("host_free_memory_bytes")],
                std::to_string(ledger["host"]["free_memory_bytes"].get<int64_t>()));
      EXPECT_EQ(r[col("committed_cpu_millis")],
                std::to_string(ledger["scheduler"]["committed_cpu_millis"].get<int64_t>()));
      EXPECT_EQ(r[col("shape")], fit["shape"]);
      EXPECT_EQ(r[col("fit_scheduler")], std::to_string(fit["scheduler"]["count"].get<int64_t>()));
      EXPECT_EQ(r[col("fit_host")], std::to_string(fit["host"]["count"].get<int64_t>()));
      EXPECT_EQ(r[col("gap")], std::to_string(fit["gap"].get<int64_t>()));
      EXPECT_EQ(r[col("binding_host")],
                fit["host"]["binding"].is_null() ? "" : fit["host"]["binding"].get<std::string>());
    }
  };
  for (const auto& n : j["nodes"]) check(n, "node", n["node"]);
  check(j["cluster"], "cluster", "");
  // The node worked by hand above, once more from the CSV itself.
  EXPECT_EQ(records[3][col("node")], kKata1);
  EXPECT_EQ(records[3][col("host_committed_memory_bytes")], std::to_string(kKata1Host));
  EXPECT_EQ(records[3][col("gap")], "9");
}

TEST(CliCapacity, TextShowsBothViewsFitGapAndBinding) {
  auto r = Cli(ExampleArgs());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto rows = RowsStartingWith(r.out, std::string(kKata1) + " ");
  ASSERT_EQ(rows.size(), 3u) << r.out;  // the ledger row and one fit row per shape
  // NODE PODS VM-PODS ALLOCATABLE COMMITTED-SCHEDULER COMMITTED-HOST FREE-SCHEDULER FREE-HOST CPU...
  EXPECT_EQ(Fields(rows[0]), (std::vector<std::string>{kKata1, "4", "2", "12578.6Mi", "1482Mi", "5685.1Mi",
                                                       "11096.6Mi", "6893.5Mi", "3860m", "950m", "2910m"}));
  // NODE SHAPE FIT-SCHEDULER FIT-HOST GAP BINDING-SCHEDULER BINDING-HOST
  EXPECT_EQ(Fields(rows[1]), (std::vector<std::string>{kKata1, "web", "11", "2", "9", "cpu", "memory"}));
  EXPECT_EQ(RowsStartingWith(r.out, "(cluster) ").size(), 3u) << r.out;
  EXPECT_NE(r.out.find("no pod-cgroup memory limit"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not yet bound to a node"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("shop/web-6f8d9c7b5d-k3m9b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("terminated pods (Succeeded or Failed) not counted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("schedules only onto nodes labelled kubernetes.azure.com/kata-vm-isolation=true"),
            std::string::npos)
      << r.out;
}

TEST(CliCapacity, WithoutRuntimeClassesThePodsOwnOverheadCountsAndShapesAreWarned) {
  auto r = Cli({"capacity", "--pods", Example("pods.json"), "--nodes", Example("nodes.json"), "--shape",
                Example("shapes/web.yaml"), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  // The live pods carry spec.overhead from admission: the same scheduler view as with the RuntimeClasses.
  EXPECT_EQ((*NodeNamed(j, kKata1))["scheduler"]["committed_memory_bytes"], kKata1Scheduler);
  // The template carries none, and the inputs have no RuntimeClass to take it from.
  EXPECT_EQ(j["shapes"][0]["scheduler_memory_bytes"], 256 * kMi);
  bool warned = false;
  for (const auto& w : j["warnings"])
    warned = warned || w.get<std::string>().find("shape web: no RuntimeClass") == 0;
  EXPECT_TRUE(warned) << j["warnings"].dump();
}

TEST(CliCapacity, InvalidInputExits2WithOneMessageAndNothingOnStdout) {
  ScratchDir dir;
  std::string nodes = ReadFile(Example("nodes.json"));
  auto at = nodes.find("\"memory\": \"12880528Ki\"");
  ASSERT_NE(at, std::string::npos);
  std::string bad_quantity = nodes;
  bad_quantity.replace(at, std::string("\"memory\": \"12880528Ki\"").size(), "\"memory\": \"12.88.0Gi\"");
  const std::string bad_nodes = dir.Write("bad-nodes.json", bad_quantity);
  const std::string no_status = dir.Write("bare.yaml", "kind: Node\nmetadata: {name: lonely}\nstatus: {}\n");
  const std::string bad_pod =
      dir.Write("pods.yaml",
                "kind: Pod\nmetadata: {name: p}\nspec:\n  nodeName: lonely\n  containers:\n"
                "    - name: c\n      resources: {requests: {memory: 1.5.5Gi}}\n");
  struct Case {
    std::string name;
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"malformed quantity",
       {"capacity", "--pods", Example("pods.json"), "--nodes", bad_nodes},
       "uvm-sizer capacity: " + bad_nodes + ": document 1 (Node " + kKata0 +
           "): items[0].status.allocatable.memory: invalid quantity \"12.88.0Gi\""},
      {"missing --nodes",
       {"capacity", "--pods", Example("pods.json")},
       "uvm-sizer capacity: --nodes is required (the output of `kubectl get nodes -o json`)"},
      {"node without allocatable",
       {"capacity", "--pods", Example("pods.json"), "--nodes", no_status},
       "uvm-sizer capacity: " + no_status +
           ": document 1 (Node lonely): status.allocatable: missing, and so is status.capacity"},
      {"malformed pod quantity",
       {"capacity", "--pods", bad_pod, "--nodes", Example("nodes.json")},
       "uvm-sizer capacity: " + bad_pod +
           ": document 1 (Pod default/p): spec.containers[0].resources.requests.memory: invalid quantity "
           "\"1.5.5Gi\""},
      {"two inputs on stdin",
       {"capacity", "--pods", "-", "--nodes", "-"},
       "uvm-sizer capacity: \"-\" (standard input) may be given for one input only"},
      {"shape without a pod",
       {"capacity", "--pods", Example("pods.json"), "--nodes", Example("nodes.json"), "--shape",
        Example("runtimeclasses.yaml")},
       "uvm-sizer capacity: " + Example("runtimeclasses.yaml") +
           ": --shape: no pod-bearing object (Pod, Deployment, Job, ...)"},
      {"two shapes of one name",
       {"capacity", "--pods", Example("pods.json"), "--nodes", Example("nodes.json"), "--shape",
        Example("shapes/web.yaml"), "--shape", Example("shapes/web.yaml")},
       "uvm-sizer capacity: " + Example("shapes/web.yaml") +
           ": --shape: a second shape named \"web\" (the first is in " + Example("shapes/web.yaml") + ")"},
      {"plot format",
       {"capacity", "--pods", Example("pods.json"), "--nodes", Example("nodes.json"), "--plot", "chart.pdf"},
       "uvm-sizer capacity: --plot: \"chart.pdf\" must end in .svg or .png"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Cli(c.args);
    EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(r.err.rfind(c.message, 0), 0u) << r.err;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
  }
}

TEST(CliCapacity, CapacityFallbackCordonUnknownNodesAndTemplatesAreSaidSo) {
  ScratchDir dir;
  const std::string nodes = dir.Write("nodes.yaml", R"(
kind: Node
metadata: {name: raw, labels: {kubernetes.azure.com/kata-vm-isolation: "true"}}
status: {capacity: {cpu: "4", memory: 16Gi, pods: "110"}}
---
kind: Node
metadata: {name: cordoned, labels: {kubernetes.azure.com/kata-vm-isolation: "true"}}
spec: {unschedulable: true}
status: {allocatable: {cpu: "4", memory: 16Gi, pods: "110"}}
)");
  const std::string pods = dir.Write("pods.yaml", R"(
kind: Pod
metadata: {name: p1, namespace: a}
spec:
  nodeName: raw
  containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]
status: {phase: Running}
---
kind: Pod
metadata: {name: elsewhere, namespace: a}
spec:
  nodeName: gone-node
  containers: [{name: c, resources: {requests: {cpu: 1, memory: 1Gi}}}]
status: {phase: Running}
---
kind: Deployment
metadata: {name: tmpl, namespace: a}
spec:
  template:
    spec: {containers: [{name: c}]}
)");
  auto r = Cli({"capacity", "--pods", pods, "--nodes", nodes, "--runtimeclasses",
                Example("runtimeclasses.yaml"), "--shape", Example("shapes/web.yaml"), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  const json* raw = NodeNamed(j, "raw");
  ASSERT_NE(raw, nullptr);
  EXPECT_TRUE((*raw)["allocatable_from_capacity"]);
  EXPECT_EQ((*raw)["allocatable"]["memory_bytes"], int64_t{16} << 30);
  EXPECT_EQ((*raw)["pods"], 1);
  // 16Gi - 1Gi = 15Gi free in the scheduler view; web needs 856Mi: floor(15360 / 856) = 17; cpu 3000 / 250
  // = 12.
  EXPECT_EQ((*raw)["fits"][0]["scheduler"]["count"], 12);
  const json* cordoned = NodeNamed(j, "cordoned");
  ASSERT_NE(cordoned, nullptr);
  EXPECT_TRUE((*cordoned)["unschedulable"]);
  EXPECT_EQ((*cordoned)["fits"][0]["scheduler"]["count"], 0);
  EXPECT_EQ((*cordoned)["fits"][0]["host"]["count"], 0);
  ASSERT_EQ(j["pods_on_unknown_nodes"].size(), 1u);
  EXPECT_EQ(j["pods_on_unknown_nodes"][0]["node"], "gone-node");
  std::string warnings = j["warnings"].dump();
  EXPECT_NE(warnings.find("status.allocatable missing: status.capacity used"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("Deployment a/tmpl is a template, not a pod on a node"), std::string::npos)
      << warnings;

  auto text = Cli({"capacity", "--pods", pods, "--nodes", nodes});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.out.find("raw: no status.allocatable"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("cordoned: cordoned (spec.unschedulable)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("1 pods on nodes not in --nodes, not counted: a/elsewhere"), std::string::npos)
      << text.out;
}

TEST(CliCapacity, StdinServesOneInput) {
  auto r = Cli({"capacity", "--pods", Example("pods.json"), "--nodes", "-", "-o", "json"},
               ReadFile(Example("nodes.json")));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json(r)["nodes"].size(), 3u);
}

TEST(CliCapacity, PlotWritesARealSvgAndPng) {
  ScratchDir dir;
  const std::string svg = dir.path() + "/ledger.svg";
  const std::string png = dir.path() + "/ledger.png";
  auto r = Cli(ExampleArgs({"--plot", svg}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(cluster)"), std::string::npos);  // the report is printed too
  std::string s = ReadFile(svg);
  EXPECT_NE(s.find("<svg"), std::string::npos) << s.substr(0, 200);
  EXPECT_NE(s.find("</svg>"), std::string::npos);
  // Every node is named on the chart, and the legend names both views.
  for (const char* node : {kKata0, kKata1, kSystem}) EXPECT_NE(s.find(node), std::string::npos) << node;
  EXPECT_NE(s.find("host: UVM memory"), std::string::npos);
  EXPECT_NE(s.find("scheduler: memory requests"), std::string::npos);

  r = Cli(ExampleArgs({"--plot", png, "-o", "json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string p = ReadFile(png);
  ASSERT_GT(p.size(), 1000u);
  EXPECT_EQ(p.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  // No temporary script left behind in the temp dir we gave it.
  ScratchDir tmp;
  r = testing::RunProcess({"/usr/bin/env", "TMPDIR=" + tmp.path(), UVM_SIZER_BIN, "capacity", "--pods",
                           Example("pods.json"), "--nodes", Example("nodes.json"), "--plot", png});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(tmp.path()));
}

TEST(CliCapacity, PlotWithoutGnuplotSaysHowToGetIt) {
  ScratchDir dir;
  const std::string empty_bin = dir.path() + "/bin";
  std::filesystem::create_directories(empty_bin);
  const std::string png = dir.path() + "/ledger.png";
  auto r = testing::RunProcess({"/usr/bin/env", "PATH=" + empty_bin, UVM_SIZER_BIN, "capacity", "--pods",
                                Example("pods.json"), "--nodes", Example("nodes.json"), "--plot", png});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "uvm-sizer capacity: --plot needs gnuplot (apt install gnuplot-nox)\n");
  EXPECT_FALSE(std::filesystem::exists(png));
}

}  // namespace
}  // namespace uvm::cli_test
