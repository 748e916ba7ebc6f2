// `uvm-sizer` run as a user runs it: real files, exit status, stdout, stderr.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sizer/quantity.h"
#include "tests/support/subprocess.h"

namespace uvm {
namespace {

using nlohmann::json;
using testing::ProcessResult;
using testing::RunProcess;

std::string Fixture(const std::string& name) {
  return std::string(UVM_FIXTURES_DIR) + "/cli/" + name;
}

ProcessResult Cli(std::vector<std::string> args, const std::string& input = "") {
  args.insert(args.begin(), UVM_SIZER_BIN);
  return RunProcess(args, input);
}

json Json(const ProcessResult& r) {
  auto j = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r.out << r.err;
  return j;
}

int Lines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

TEST(CliSize, ReproducesTheWorkedExamplesForEveryProfile) {
  // SIZING.md §7: pods A..F -> vCPUs / MiB. aks-2025-min128 matches aks-2025 and upstream-dynamic matches
  // upstream-static for these pods (whole 128 MiB blocks, no tiny limits).
  std::map<std::string, std::vector<std::pair<int, int>>> want = {
      {"aks-kata-256", {{1, 2048}, {2, 1280}, {2, 768}, {4, 3328}, {2, 768}, {2, 1280}}},
      {"aks-kata-cc-2048", {{1, 2048}, {2, 3072}, {2, 2560}, {4, 5120}, {2, 2560}, {2, 3072}}},
      {"aks-2025", {{1, 512}, {1, 1024}, {1, 512}, {3, 3072}, {1, 512}, {1, 1024}}},
      {"aks-2025-min128", {{1, 512}, {1, 1024}, {1, 512}, {3, 3072}, {1, 512}, {1, 1024}}},
      {"upstream-static", {{1, 2048}, {2, 3072}, {2, 2560}, {4, 5120}, {2, 2560}, {2, 3072}}},
      {"upstream-dynamic", {{1, 2048}, {2, 3072}, {2, 2560}, {4, 5120}, {2, 2560}, {2, 3072}}},
  };
  for (const auto& [profile, rows] : want) {
    auto r = Cli({"size", Fixture("sizing-examples.yaml"), "--profile", profile, "-o", "json"});
    ASSERT_EQ(r.exit_code, 0) << profile << r.err;
    json j = Json(r);
    ASSERT_EQ(j["pods"].size(), rows.size()) << profile;
    for (size_t i = 0; i < rows.size(); ++i) {
      const json& pod = j["pods"][i];
      EXPECT_EQ(pod["profile"], profile);
      EXPECT_EQ(pod["uvm"]["vcpus"], rows[i].first) << profile << " pod " << pod["name"];
      EXPECT_EQ(pod["uvm"]["memory_mib"], rows[i].second) << profile << " pod " << pod["name"];
    }
  }
}

TEST(CliSize, JsonContractKeysAndTypes) {
  auto r = Cli({"size", Fixture("sizing-examples.yaml"), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json pod = Json(r)["pods"][4];  // E: Deployment shop/e-two-containers
  EXPECT_EQ(pod["kind"], "Deployment");
  EXPECT_EQ(pod["namespace"], "shop");
  EXPECT_EQ(pod["name"], "e-two-containers");
  EXPECT_EQ(pod["handler"], "kata-cc");
  EXPECT_EQ(pod["profile"], "aks-kata-cc-2048");
  EXPECT_EQ(pod["sandbox"], (json{{"cpu_period", 100000},
                                  {"cpu_quota", 50000},
                                  {"cpu_shares", 512},
                                  {"memory_limit_in_bytes", 536870912}}));
  EXPECT_EQ(pod["uvm"]["vcpus"], 2);
  EXPECT_EQ(pod["uvm"]["memory_mib"], 2560);
  EXPECT_TRUE(pod["error"].is_null());
  EXPECT_EQ(pod["pod_cgroup_memory_limit_bytes"], 536870912);
  EXPECT_GT(pod["host_memory_bytes"].get<int64_t>(), 2560LL << 20);
  EXPECT_EQ(pod["overhead"]["declared_memory_bytes"], 0);
  EXPECT_EQ(pod["overhead"]["shortfall_bytes"], pod["overhead"]["required_memory_bytes"]);
  EXPECT_TRUE(pod["warnings"].is_array());
  json f = Json(r)["pods"][5];  // F: one container without limits: the pod cgroup is unlimited.
  EXPECT_TRUE(f["pod_cgroup_memory_limit_bytes"].is_null());
}

TEST(CliSize, TextTableAndWarnings) {
  auto r = Cli({"size", Fixture("sizing-examples.yaml")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("POD"), std::string::npos);
  EXPECT_NE(r.out.find("Deployment shop/e-two-containers"), std::string::npos);
  EXPECT_NE(r.out.find("Warnings:"), std::string::npos);
  EXPECT_NE(r.out.find("container \"b\" has no memory limit"), std::string::npos) << r.out;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(CliSize, InvalidQuantityExits2NamingFileDocumentFieldAndValue) {
  std::string path = Fixture("bad-quantity.yaml");
  auto r = Cli({"size", path, "-o", "json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_EQ(Lines(r.err), 1) << r.err;
  std::string want = path +
                     ": document 2 (Deployment default/web): "
                     "spec.template.spec.containers[0].resources.limits.memory: invalid quantity \"1.5.5Gi\"";
  EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
}

TEST(CliSize, StdinIsNamedInMessages) {
  auto r = Cli(
      {"size", "-"},
      "kind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, resources: {limits: {cpu: 1K}}}]}\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err.rfind("uvm-sizer size: <stdin>: document 1 (Pod default/x):", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("\"1K\""), std::string::npos) << r.err;
}

TEST(CliSize, MissingFileAndBadFlagsExit2) {
  auto missing = Cli({"size", "/nonexistent/pod.yaml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/pod.yaml"), std::string::npos);
  auto bad_flag = Cli({"size", Fixture("tiny-limit.yaml"), "--overhead-memory", "lots"});
  EXPECT_EQ(bad_flag.exit_code, 2);
  EXPECT_NE(bad_flag.err.find("--overhead-memory"), std::string::npos) << bad_flag.err;
  EXPECT_NE(bad_flag.err.find("\"lots\""), std::string::npos) << bad_flag.err;
  EXPECT_TRUE(bad_flag.out.empty());
  auto bad_profile = Cli({"size", Fixture("tiny-limit.yaml"), "--profile", "nope"});
  EXPECT_EQ(bad_profile.exit_code, 2);
  EXPECT_NE(bad_profile.err.find("unknown profile \"nope\""), std::string::npos);
  auto bad_option = Cli({"size", "--no-such-option"});
  EXPECT_EQ(bad_option.exit_code, 2);
  auto bad_format = Cli({"size", Fixture("tiny-limit.yaml"), "-o", "xml"});
  EXPECT_EQ(bad_format.exit_code, 2);
  EXPECT_TRUE(bad_format.out.empty());
}

TEST(CliSize, RefusalExits3AndStillPrintsJson) {
  auto r = Cli({"size", Fixture("tiny-limit.yaml"), "--profile", "aks-2025-min128", "-o", "json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  json pod = Json(r)["pods"][0];
  EXPECT_TRUE(pod["uvm"].is_null());
  EXPECT_EQ(pod["error"], "pod memory limit too low: minimum 128MiB, got 100MiB");
  EXPECT_TRUE(pod["host_memory_bytes"].is_null());
  // The same pod under the default kata profile is fine.
  EXPECT_EQ(Cli({"size", Fixture("tiny-limit.yaml")}).exit_code, 0);
}

TEST(CliSize, RuntimeClassesInTheInputSupplyHandlerAndDeclaredOverhead) {
  auto r = Cli({"size", Fixture("runtimeclass-and-deployment.yaml"), "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  ASSERT_EQ(j["pods"].size(), 1u);
  json pod = j["pods"][0];
  EXPECT_EQ(pod["handler"], "kata");
  EXPECT_EQ(pod["profile"], "aks-kata-256");
  EXPECT_EQ(pod["overhead"]["declared_memory_bytes"], 600LL << 20);
  EXPECT_EQ(pod["pod_cgroup_memory_limit_bytes"], (1024LL + 600) << 20);
  EXPECT_EQ(pod["uvm"]["memory_mib"], 1280);
  // The flag wins over the RuntimeClass.
  auto flagged =
      Cli({"size", Fixture("runtimeclass-and-deployment.yaml"), "--overhead-memory", "1Gi", "-o", "json"});
  EXPECT_EQ(Json(flagged)["pods"][0]["overhead"]["declared_memory_bytes"], 1LL << 30);
  // --handler wins over runtimeClassName; runc is not VM-isolated.
  auto runc = Cli({"size", Fixture("runtimeclass-and-deployment.yaml"), "--handler", "runc", "-o", "json"});
  json rp = Json(runc)["pods"][0];
  EXPECT_TRUE(rp["profile"].is_null());
  EXPECT_TRUE(rp["uvm"].is_null());
  EXPECT_TRUE(rp["host_memory_bytes"].is_null());
}

TEST(CliRuntimeClass, PrintsValidYamlWhoseOverheadCoversBaseAndHostOverhead) {
  for (std::string handler : {"kata", "kata-cc"}) {
    auto r = Cli({"runtimeclass", "--handler", handler});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    YAML::Node rc = YAML::Load(r.out);
    EXPECT_EQ(rc["apiVersion"].as<std::string>(), "node.k8s.io/v1");
    EXPECT_EQ(rc["kind"].as<std::string>(), "RuntimeClass");
    EXPECT_EQ(rc["metadata"]["name"].as<std::string>(), handler);
    EXPECT_EQ(rc["handler"].as<std::string>(), handler);
    ASSERT_TRUE(rc["overhead"]["podFixed"]["memory"].IsScalar());
    EXPECT_EQ(rc["overhead"]["podFixed"]["memory"].Tag(), "!");  // quoted: a string, as Kubernetes wants
    auto memory = sizer::Quantity::Parse(rc["overhead"]["podFixed"]["memory"].as<std::string>());
    ASSERT_TRUE(memory.ok());
    auto cpu = sizer::Quantity::Parse(rc["overhead"]["podFixed"]["cpu"].as<std::string>());
    ASSERT_TRUE(cpu.ok());
    int64_t base_mib = handler == "kata" ? 256 : 2048;
    int64_t vm_mib = base_mib + 8192;  // covers pods with up to 8 GiB of limits by default
    int64_t host = (86LL << 20) + 4613735LL * vm_mib / 1024;
    EXPECT_GE(memory->Value(), (base_mib << 20) + host) << r.out;
    EXPECT_LT(memory->Value(), (base_mib << 20) + host + (1 << 20)) << r.out;
    EXPECT_GE(cpu->MilliValue(), 1000);
    EXPECT_NE(r.out.find("# "), std::string::npos);  // the explanation
  }
}

TEST(CliRuntimeClass, VmMemoryScalesTheHostOverheadAndBadInputExits2) {
  auto small = Cli({"runtimeclass", "--handler", "kata-cc", "--name", "kata-cc-isolation"});
  auto big = Cli({"runtimeclass", "--handler", "kata-cc", "--vm-memory", "64Gi"});
  ASSERT_EQ(small.exit_code, 0);
  ASSERT_EQ(big.exit_code, 0);
  auto mem = [](const ProcessResult& r) {
    return sizer::Quantity::Parse(YAML::Load(r.out)["overhead"]["podFixed"]["memory"].as<std::string>())
        ->Value();
  };
  EXPECT_GT(mem(big), mem(small) + (200LL << 20));  // 4.4 MiB per GiB over 62 more GiB
  EXPECT_EQ(YAML::Load(small.out)["metadata"]["name"].as<std::string>(), "kata-cc-isolation");
  auto hostile = Cli({"runtimeclass", "--handler", "kata\"\nkind: Secret"});
  EXPECT_EQ(hostile.exit_code, 2);
  EXPECT_TRUE(hostile.out.empty());
  auto runc = Cli({"runtimeclass", "--handler", "runc"});
  EXPECT_EQ(runc.exit_code, 2);
  EXPECT_NE(runc.err.find("runc"), std::string::npos);
  EXPECT_EQ(Cli({"runtimeclass"}).exit_code, 2);  // --handler is required
}

TEST(CliProfiles, ListsTheSixBuiltinsAndDerivesFromKataConfig) {
  auto r = Cli({"profiles", "-o", "json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  ASSERT_EQ(j["profiles"].size(), 6u);
  EXPECT_EQ(j["profiles"][0]["name"], "aks-kata-256");
  EXPECT_EQ(j["profiles"][0]["handlers"], json::array({"kata"}));
  auto text = Cli({"profiles"});
  EXPECT_NE(text.out.find("upstream-dynamic"), std::string::npos);

  auto node = Cli({"profiles", "--kata-config", Fixture("kata-configuration-aks.toml"), "-o", "json"});
  ASSERT_EQ(node.exit_code, 0) << node.err;
  json p = Json(node)["profiles"][0];
  EXPECT_EQ(p["default_workload_mem_mib"], 512);
  EXPECT_EQ(p["default_workload_vcpus"], 1);
  EXPECT_EQ(p["workload_mem_min_mib"], 128);
  EXPECT_EQ(p["mode"], "static");

  auto missing = Cli({"profiles", "--kata-config", "/nonexistent/configuration.toml"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/configuration.toml"), std::string::npos);
}

TEST(CliProfiles, ContainerdConfigGivesTheDaemonsAnswerPerHandler) {
  std::string kata_dir = std::string(UVM_FIXTURES_DIR) + "/kata/";
  std::string containerd =
      "version = 2\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
      "runtime_type = \"io.containerd.runc.v2\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-aks]\n"
      "runtime_type = \"io.containerd.kata.v2\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata-aks.options]\n"
      "ConfigPath = \"" +
      kata_dir +
      "configuration-clh-aks.toml\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.kata]\n"
      "runtime_type = \"io.containerd.kata.v2\"\n";
  auto r = Cli({"profiles", "--containerd-config", "-", "-o", "json"}, containerd);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json j = Json(r);
  std::map<std::string, json> by_handler;
  for (const auto& p : j["profiles"]) by_handler[p["handlers"][0]] = p;
  ASSERT_TRUE(by_handler.count("kata-aks")) << r.out;
  EXPECT_EQ(by_handler["kata-aks"]["name"], "node-kata-aks");
  EXPECT_EQ(by_handler["kata-aks"]["default_workload_mem_mib"], 512);
  EXPECT_FALSE(by_handler.count("runc"));
  std::string notes = j["notes"].dump();
  EXPECT_NE(notes.find("handler runc (io.containerd.runc.v2) is not Kata: not VM-isolated"),
            std::string::npos)
      << notes;
  // No ConfigPath: Kata's default files, as the daemon reads them; without them, the built-in profile.
  ASSERT_TRUE(by_handler.count("kata")) << r.out;
  if (!std::ifstream("/etc/kata-containers/configuration.toml") &&
      !std::ifstream("/usr/share/defaults/kata-containers/configuration.toml")) {
    EXPECT_EQ(by_handler["kata"]["name"], "aks-kata-256");
    EXPECT_NE(
        notes.find("handler kata: no readable Kata configuration (/etc/kata-containers/configuration.toml"),
        std::string::npos)
        << notes;
  }
  auto both = Cli({"profiles", "--containerd-config", "-", "--kata-config", "x.toml"}, containerd);
  EXPECT_EQ(both.exit_code, 2);
}

TEST(CliConfig, DefaultsIsTheShippedFileAndABadValueIsAnErrorNotACrash) {
  auto defaults = Cli({"config", "defaults"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  std::ifstream shipped(std::string(UVM_FIXTURES_DIR) + "/../../deploy/config.toml");
  std::string text((std::istreambuf_iterator<char>(shipped)), {});
  EXPECT_EQ(defaults.out, text);
  for (const char* value : {".s", "1.2.3s", "1e400s", "-1s", "5", "10 s", ""}) {
    std::string path = ::testing::TempDir() + "/uvm-cli-config-" + std::to_string(getpid()) + ".toml";
    std::ofstream(path) << "[cri]\npoll_interval = \"" << value << "\"\n";
    auto r = Cli({"config", "print", "--config", path});
    std::remove(path.c_str());
    EXPECT_EQ(r.exit_code, 2) << value;
    EXPECT_TRUE(r.out.empty());
    EXPECT_NE(r.err.find(std::string("cri.poll_interval: invalid duration \"") + value + "\""),
              std::string::npos)
        << r.err;
  }
}

TEST(Cli, HelpAndVersion) {
  auto version = Cli({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.out.find("uvm-sizer "), std::string::npos);
  for (std::string sub : {"size", "runtimeclass", "profiles"}) {
    auto help = Cli({sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find("Usage"), std::string::npos) << sub << help.out;
  }
  EXPECT_EQ(Cli({}).exit_code, 2);  // a subcommand is required
}

// --kata-config: the node's Kata TOML decides every VM handler's profile.
TEST(CliKataConfig, SizesVmHandlersWithTheProfileDerivedFromTheFile) {
  std::string manifest = std::string(UVM_FIXTURES_DIR) + "/cli/runtimeclass-and-deployment.yaml";
  std::string kata = std::string(UVM_FIXTURES_DIR) + "/cli/kata-configuration-aks.toml";
  auto r = RunProcess({UVM_SIZER_BIN, "size", manifest, "--kata-config", kata, "-o", "json"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  const auto& pod = j["pods"][0];
  EXPECT_EQ(pod["profile"], "kata-config");
  EXPECT_EQ(pod["uvm"]["memory_mib"], 1024);  // fork defaults: base 0 + the 1Gi limit
  EXPECT_EQ(pod["uvm"]["vcpus"], 1);
  auto missing = RunProcess({UVM_SIZER_BIN, "size", manifest, "--kata-config", "/nonexistent.toml"}, "");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent.toml"), std::string::npos) << missing.err;
}

// Kata's own vCPU-allocation test (kata-containers
// tests/integration/kubernetes/k8s-sandbox-vcpus-allocation.bats on
// runtimeclass_workloads/pod-sandbox-vcpus-allocation.yaml) expects 1, 1 and 2 vCPUs when the node's Kata
// config enables the default_vcpus annotation; end to end: manifest annotations -> profile -> UVM.
TEST(CliKataConfig, PodAnnotationsEnabledByTheKataFileSizeAsKatasOwnTestExpects) {
  std::string pods = std::string(UVM_FIXTURES_DIR) + "/kata/vcpus-allocation-pods.yaml";
  std::string kata = std::string(UVM_FIXTURES_DIR) + "/kata/configuration-qemu-annotations.toml";
  auto r = RunProcess({UVM_SIZER_BIN, "size", pods, "--kata-config", kata, "-o", "json"}, "");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  std::map<std::string, int> vcpus;
  for (const auto& pod : j["pods"]) vcpus[pod["name"]] = pod["uvm"]["vcpus"];
  EXPECT_EQ(vcpus, (std::map<std::string, int>{{"vcpus-less-than-one-with-no-limits", 1},
                                               {"vcpus-less-than-one-with-limits", 1},
                                               {"vcpus-more-than-one-with-limits", 2}}))
      << r.out;
  // The same pods on a profile that enables no hypervisor annotation: Kata refuses each sandbox.
  auto refused = RunProcess({UVM_SIZER_BIN, "size", pods, "--profile", "aks-kata-256", "-o", "json"}, "");
  EXPECT_EQ(refused.exit_code, 3) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("is not enabled"), std::string::npos) << refused.out;
}

}  // namespace
}  // namespace uvm
