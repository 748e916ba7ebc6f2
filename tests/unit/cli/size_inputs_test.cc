// `uvm-sizer size` fed the way kubectl users feed it: several files and directories, stdin, live pods
// from `kubectl get pods -A -o json|yaml`, totals, CSV.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>

#include "tests/unit/cli/cli_support.h"

namespace uvm::cli_test {
namespace {

using nlohmann::json;

const char* kPodA = R"(apiVersion: v1
kind: Pod
metadata: {name: a, namespace: one}
spec:
  runtimeClassName: fast
  containers: [{name: c, resources: {limits: {cpu: "1", memory: 1Gi}}}]
---
apiVersion: v1
kind: Service
metadata: {name: skip-me}
)";

// A RuntimeClass named by the pod of kPodA, in another file: it must still apply.
const char* kRuntimeClassAndPodB = R"(apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: fast}
handler: kata-cc
overhead: {podFixed: {memory: 300Mi, cpu: 100m}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: two}
spec:
  containers: [{name: c, resources: {limits: {cpu: 500m, memory: 512Mi}}}]
)";

std::vector<std::string> Sources(const json& j) {
  std::vector<std::string> out;
  for (const auto& p : j["pods"])
    out.push_back(p["source"].is_null() ? "<null>" : p["source"].get<std::string>());
  return out;
}

TEST(CliSizeInputs, SeveralFilesPositionalAndDashFRuntimeClassesApplyAcrossFiles) {
  ScratchDir dir;
  std::string a = dir.Write("a.yaml", kPodA);
  std::string b = dir.Write("b.yaml", kRuntimeClassAndPodB);
  // Positional names, -f names and a mix all give the same inputs in command-line order.
  for (const auto& args : std::vector<std::vector<std::string>>{{"size", a, b, "-o", "json"},
                                                                {"size", "-f", a, "-f", b, "-o", "json"},
                                                                {"size", a, "--filename", b, "-o", "json"}}) {
    auto r = Cli(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = Json(r);
    ASSERT_EQ(j["pods"].size(), 2u) << r.out;
    EXPECT_EQ(Sources(j), (std::vector<std::string>{a, b}));
    // Pod a (first file) names RuntimeClass "fast", defined only in the second file.
    json pa = j["pods"][0];
    EXPECT_EQ(pa["name"], "a");
    EXPECT_EQ(pa["handler"], "kata-cc");
    EXPECT_EQ(pa["overhead"]["declared_memory_bytes"], 300LL << 20);
    // Each file is its own stream: document numbers restart.
    EXPECT_EQ(pa["document"], 1);
    EXPECT_EQ(j["pods"][1]["document"], 2);
    // Input warnings name their file when there are several.
    ASSERT_EQ(j["warnings"].size(), 1u) << j["warnings"];
    EXPECT_EQ(j["warnings"][0].get<std::string>().rfind(a + ": document 2", 0), 0u) << j["warnings"];
  }
}

TEST(CliSizeInputs, ErrorsNameTheFileAndTheDocumentCountedInThatFile) {
  ScratchDir dir;
  std::string good = dir.Write("good.yaml", kPodA);
  std::string bad = dir.Write("bad.yaml",
                              "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c}]}\n---\n"
                              "kind: Pod\nmetadata: {name: y}\nspec: {containers: [{name: c, "
                              "resources: {limits: {memory: 1.5.5Gi}}}]}\n");
  auto r = Cli({"size", good, bad});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  EXPECT_EQ(r.err.rfind("uvm-sizer size: " + bad + ": document 2 (Pod default/y): ", 0), 0u) << r.err;
}

TEST(CliSizeInputs, UnreadableInputsExit2NamingThemWithNothingOnStdout) {
  ScratchDir dir;
  std::string a = dir.Write("a.yaml", kPodA);
  std::string empty_dir = dir.path() + "/empty";
  std::filesystem::create_directories(empty_dir + "/sub");
  dir.Write("empty/notes.txt", "not a manifest");
  dir.Write("empty/sub/pod.yaml", kPodA);
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"size", a, dir.path() + "/missing.yaml"}, dir.path() + "/missing.yaml: the path does not exist"},
      // Without -R the subdirectory is not read, so this directory has nothing: an error, with the hint.
      {{"size", a, empty_dir}, empty_dir + ": no .json, .yaml or .yml file in this directory (-R reads"},
      {{"size", "-", "-f", "-"}, "- (standard input) may be given only once"},
  };
  for (const auto& c : cases) {
    auto r = Cli(c.args, kPodA);
    EXPECT_EQ(r.exit_code, 2) << c.message;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(Lines(r.err), 1) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  // With -R the same directory is fine.
  auto recursive = Cli({"size", "-R", empty_dir, "-o", "json"});
  EXPECT_EQ(recursive.exit_code, 0) << recursive.err;
  EXPECT_EQ(Sources(Json(recursive)), (std::vector<std::string>{empty_dir + "/sub/pod.yaml"}));
}

TEST(CliSizeInputs, DirectoriesExpandAsKubectlDoes) {
  // cli-runtime visitor.go ExpandPathsToFileVisitors: filepath.Walk (lexical order, depth first),
  // extensions .json/.yaml/.yml only inside directories, subdirectories only with -R.
  ScratchDir dir;
  std::string pod = "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n";
  std::string json_pod =
      R"({"kind": "Pod", "metadata": {"name": "j"}, "spec": {"containers": [{"name": "c"}]}})";
  dir.Write("m/b.yml", pod);
  dir.Write("m/a.yaml", pod);
  dir.Write("m/c.json", json_pod);
  dir.Write("m/B.yaml", pod);     // uppercase sorts first (bytewise)
  dir.Write("m/ab/x.yaml", pod);  // a directory between "a.yaml" and "b.yml"
  dir.Write("m/notes.txt", "not yaml: [");
  dir.Write("m/d.YAML", "not read: extensions are case-sensitive: [");
  dir.Write("m/.hidden.yaml", pod);  // not skipped by kubectl either
  std::string m = dir.path() + "/m";
  auto flat = Cli({"size", "-f", m, "-o", "json"});
  ASSERT_EQ(flat.exit_code, 0) << flat.err;
  EXPECT_EQ(Sources(Json(flat)), (std::vector<std::string>{m + "/.hidden.yaml", m + "/B.yaml", m + "/a.yaml",
                                                           m + "/b.yml", m + "/c.json"}));
  auto deep = Cli({"size", "-R", "-f", m + "/", "-o", "json"});
  ASSERT_EQ(deep.exit_code, 0) << deep.err;
  EXPECT_EQ(Sources(Json(deep)), (std::vector<std::string>{m + "/.hidden.yaml", m + "/B.yaml", m + "/a.yaml",
                                                           m + "/ab/x.yaml", m + "/b.yml", m + "/c.json"}));
  // A file named explicitly is read whatever its extension.
  std::string txt = dir.Write("pod.txt", pod);
  auto explicit_file = Cli({"size", txt, "-o", "json"});
  EXPECT_EQ(explicit_file.exit_code, 0) << explicit_file.err;
  EXPECT_EQ(Sources(Json(explicit_file)), (std::vector<std::string>{txt}));
}

TEST(CliSizeInputs, StdinAmongFilesAndTheSourceKey) {
  ScratchDir dir;
  std::string b = dir.Write("b.yaml", kRuntimeClassAndPodB);
  auto r = Cli({"size", "-", b, "-o", "json"}, kPodA);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  EXPECT_EQ(Sources(j), (std::vector<std::string>{"-", b}));
  EXPECT_EQ(j["pods"][0]["handler"], "kata-cc");  // RuntimeClass from the file after stdin
  // Messages call stdin <stdin>.
  auto bad = Cli({"size", b, "-"},
                 "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: c, resources: "
                 "{limits: {cpu: 1K}}}]}\n");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err.rfind("uvm-sizer size: <stdin>: document 1 (Pod default/x):", 0), 0u) << bad.err;
}

TEST(CliSizeInputs, AnInputOverTheCapIsRefusedWithoutReadingIt) {
  ScratchDir dir;
  // A sparse 1 GiB file: refused from its size, before a byte is read.
  std::string huge = dir.path() + "/huge.yaml";
  int fd = ::open(huge.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, off_t{1} << 30), 0);
  ::close(fd);
  auto r = Cli({"size", huge});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find(huge + ": larger than 268435456 bytes"), std::string::npos) << r.err;
  // A pipe has no size: reading stops one byte past the cap.
  auto piped = testing::RunProcess(
      {"/bin/bash", "-c", "head -c 300000000 /dev/zero 2>/dev/null | \"$0\" size -", UVM_SIZER_BIN});
  EXPECT_EQ(piped.exit_code, 2);
  EXPECT_TRUE(piped.out.empty());
  EXPECT_NE(piped.err.find("<stdin>: larger than 268435456 bytes"), std::string::npos) << piped.err;
}

// Live pods as `kubectl get pods -A -o json|yaml` prints them (status, managedFields, ownerReferences,
// nodeName; spec.overhead and runtimeClassName as the RuntimeClass admission controller set them).
class CliLivePods : public ::testing::TestWithParam<std::string> {};

TEST_P(CliLivePods, SizedAsTheyRunFromTheirAdmittedOverhead) {
  auto r = Cli({"size", Fixture(GetParam()), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  ASSERT_EQ(j["pods"].size(), 4u) << r.out;
  std::map<std::string, json> by_name;
  for (const auto& p : j["pods"]) by_name[p["name"].get<std::string>()] = p;
  // runtimeClassName kata-vm-isolation (no RuntimeClass object in the input: the alias) -> kata; the
  // declared overhead is spec.overhead, which admission copied from the RuntimeClass: 600Mi / 250m.
  json web = by_name["web-7d4b9c8f6d-x2kqp"];
  EXPECT_EQ(web["kind"], "Pod");
  EXPECT_EQ(web["namespace"], "default");
  EXPECT_EQ(web["handler"], "kata");
  EXPECT_EQ(web["profile"], "aks-kata-256");
  EXPECT_EQ(web["qos_class"], "Burstable");
  EXPECT_EQ(web["overhead"]["declared_memory_bytes"], 600LL << 20);
  EXPECT_EQ(web["overhead"]["declared_cpu_millis"], 250);
  EXPECT_EQ(web["pod_cgroup_memory_limit_bytes"], (1024LL + 600) << 20);  // limits + overhead
  EXPECT_EQ(web["uvm"]["vcpus"], 2);                                      // 1 base + 1 CPU limit
  EXPECT_EQ(web["uvm"]["memory_mib"], 256 + 1024);
  json checkout = by_name["checkout-0"];
  EXPECT_EQ(checkout["handler"], "kata-cc");
  EXPECT_EQ(checkout["profile"], "aks-kata-cc-2048");
  EXPECT_EQ(checkout["overhead"]["declared_memory_bytes"], 2250LL << 20);
  EXPECT_EQ(checkout["uvm"]["vcpus"], 3);
  EXPECT_EQ(checkout["uvm"]["memory_mib"], 2048 + 4096);
  json coredns = by_name["coredns-789465848c-8kq2z"];
  EXPECT_TRUE(coredns["handler"].is_null());
  EXPECT_FALSE(coredns["vm_isolated"]);
  json pending = by_name["batch-7d4b9c8f6d-p9w4t"];
  EXPECT_EQ(pending["qos_class"], "Guaranteed");
  EXPECT_EQ(pending["uvm"]["memory_mib"], 256 + 512);
  // Totals: 4 pods, 3 in VMs, by handler.
  json t = j["totals"];
  EXPECT_EQ(t["pods"], 4);
  EXPECT_EQ(t["vm_pods"], 3);
  EXPECT_EQ(t["refused_pods"], 0);
  EXPECT_EQ(t["uvm_vcpus"], 2 + 3 + 2);
  EXPECT_EQ(t["uvm_memory_mib"], 1280 + 6144 + 768);
  ASSERT_EQ(t["by_handler"].size(), 3u) << t;
  EXPECT_TRUE(t["by_handler"][0]["handler"].is_null());  // the node default sorts first
  EXPECT_EQ(t["by_handler"][0]["pods"], 1);
  EXPECT_EQ(t["by_handler"][1]["handler"], "kata");
  EXPECT_EQ(t["by_handler"][1]["pods"], 2);
  EXPECT_EQ(t["by_handler"][1]["uvm_memory_mib"], 1280 + 768);
  EXPECT_EQ(t["by_handler"][2]["handler"], "kata-cc");
  int64_t host = 0;
  for (const auto& p : j["pods"])
    if (!p["host_memory_bytes"].is_null()) host += p["host_memory_bytes"].get<int64_t>();
  EXPECT_EQ(t["host_memory_bytes"], host);
}

// Needs the manifest reader to fill ObjectRef::node_name from spec.nodeName (the reader change of
// issue 9); until it does, this fails on the node assertions only.
TEST_P(CliLivePods, ShowEachPodsNodeInJsonCsvAndText) {
  auto r = Cli({"size", Fixture(GetParam()), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  std::map<std::string, json> by_name;
  for (const auto& p : j["pods"]) by_name[p["name"].get<std::string>()] = p;
  EXPECT_EQ(by_name["web-7d4b9c8f6d-x2kqp"]["node"], "aks-kata-12345678-vmss000000");
  EXPECT_EQ(by_name["checkout-0"]["node"], "aks-katacc-87654321-vmss000001");
  EXPECT_TRUE(by_name["batch-7d4b9c8f6d-p9w4t"]["node"].is_null());  // Pending: not scheduled yet

  auto csv = Cli({"size", Fixture(GetParam()), "-o", "csv"});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  auto records = ParseCsv(csv.out);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0][5], "node");
  std::map<std::string, std::string> node_of;
  for (size_t i = 1; i < records.size(); ++i) node_of[records[i][4]] = records[i][5];
  EXPECT_EQ(node_of["web-7d4b9c8f6d-x2kqp"], "aks-kata-12345678-vmss000000");
  EXPECT_EQ(node_of["batch-7d4b9c8f6d-p9w4t"], "");

  auto text = Cli({"size", Fixture(GetParam())});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("POD", 0), 0u);
  EXPECT_NE(text.out.substr(0, text.out.find('\n')).find("NODE"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("Pod shop/checkout-0"), std::string::npos);
  EXPECT_NE(text.out.find("aks-katacc-87654321-vmss000001"), std::string::npos) << text.out;
}

INSTANTIATE_TEST_SUITE_P(JsonAndYaml, CliLivePods, ::testing::Values("live-pods.json", "live-pods.yaml"));

TEST(CliSizeOutput, NoNodeColumnWithoutNodesAndTotalsPerHandler) {
  auto r = Cli({"size", Fixture("sizing-examples.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string header = r.out.substr(0, r.out.find('\n'));
  EXPECT_EQ(header.find("NODE"), std::string::npos) << header;
  EXPECT_EQ(header.find("SOURCE"), std::string::npos) << header;  // one input
  auto totals = r.out.find("\nTotals:\nHANDLER");
  ASSERT_NE(totals, std::string::npos) << r.out;
  auto j = Json(Cli({"size", Fixture("sizing-examples.yaml"), "-o", "json"}));
  // The "(all)" row carries the JSON totals.
  std::string all = r.out.substr(r.out.find("\n(all)", totals) + 1);
  all = all.substr(0, all.find('\n'));
  std::string uvm = std::to_string(j["totals"]["uvm_memory_mib"].get<int64_t>()) + "Mi";
  EXPECT_NE(all.find(" " + std::to_string(j["totals"]["pods"].get<int>()) + " "), std::string::npos) << all;
  EXPECT_NE(all.find(uvm), std::string::npos) << all << " want " << uvm;
  int64_t sum_mib = 0;
  for (const auto& p : j["pods"]) sum_mib += p["uvm"]["memory_mib"].get<int64_t>();
  EXPECT_EQ(j["totals"]["uvm_memory_mib"], sum_mib);
}

TEST(CliSizeOutput, CsvKeepsHostileNamesInOneFieldAndDefusesFormulas) {
  // Names no API server would accept, but a manifest file can hold anything.
  std::string manifest = R"yaml(kind: Pod
metadata:
  name: "=HYPERLINK(\"http://evil.example\",\"x\"),b"
  namespace: "ns\r\nwith, \"breaks\""
spec:
  runtimeClassName: kata
  containers: [{name: c, resources: {limits: {cpu: "1", memory: 1Gi}}}]
---
kind: Pod
metadata: {name: "@SUM(A1:A9)", namespace: "-2+3"}
spec: {runtimeClassName: kata, containers: [{name: c}]}
)yaml";
  auto r = Cli({"size", "-", "-o", "csv"}, manifest);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto records = ParseCsv(r.out);
  ASSERT_EQ(records.size(), 3u) << r.out;
  for (const auto& rec : records) EXPECT_EQ(rec.size(), records[0].size());
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < records[0].size(); ++i) col[records[0][i]] = i;
  EXPECT_EQ(records[1][col["name"]], "'=HYPERLINK(\"http://evil.example\",\"x\"),b");
  EXPECT_EQ(records[1][col["namespace"]], "ns\r\nwith, \"breaks\"");
  EXPECT_EQ(records[2][col["name"]], "'@SUM(A1:A9)");
  EXPECT_EQ(records[2][col["namespace"]], "'-2+3");
  EXPECT_EQ(records[1][col["source"]], "-");
  EXPECT_EQ(records[1][col["uvm_memory_mib"]], "1280");  // numbers are never prefixed
  EXPECT_EQ(records[1][col["vm_isolated"]], "true");
  EXPECT_TRUE(r.err.empty()) << r.err;
  // The text table keeps each pod on one line.
  auto text = Cli({"size", "-"}, manifest);
  EXPECT_NE(text.out.find("ns\\r\\nwith, \"breaks\""), std::string::npos) << text.out;
}

TEST(CliSizeOutput, CsvAndTextOfSeveralInputsNameTheSource) {
  ScratchDir dir;
  std::string a = dir.Write("a.yaml", kPodA);
  std::string b = dir.Write("b.yaml", kRuntimeClassAndPodB);
  auto text = Cli({"size", a, b});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(text.out.rfind("SOURCE", 0), 0u) << text.out;
  EXPECT_NE(text.out.find(a + "  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(a + ": document 2 (Service default/skip-me)"), std::string::npos) << text.out;
  auto csv = Cli({"size", a, b, "-o", "csv"});
  auto records = ParseCsv(csv.out);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1][0], a);
  EXPECT_EQ(records[2][0], b);
}

}  // namespace
}  // namespace uvm::cli_test
