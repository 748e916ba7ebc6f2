// `uvm-sizer runtimeclass --from-node / --from-prometheus / -o json`, run as built, where no server is
// needed: what happens without a daemon or with bad flags, and the model path's JSON. (With a real
// Prometheus and a real daemon: tests/integration/runtimeclass_*_test.cc.)
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <yaml-cpp/yaml.h>

#include "tests/unit/cli/cli_support.h"

namespace uvm::cli_test {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(CliRuntimeClassMeasured, NoDaemonIsExit2NamingTheSocket) {
  ScratchDir dir;
  std::string socket = dir.path() + "/no-daemon.sock";
  auto r = Cli({"runtimeclass", "--handler", "kata-cc", "--from-node", socket, "--timeout-ms", "2000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(r.out.empty()) << r.out;
  EXPECT_THAT(r.err, AllOf(HasSubstr("--from-node"), HasSubstr("cannot reach the daemon at " + socket)));
}

TEST(CliRuntimeClassMeasured, BadFlagsAreExit2NamingTheFlag) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  } cases[] = {
      {{"--from-prometheus", "https://prom:9090"}, "only http:// is supported"},
      {{"--from-prometheus", "prom:9090"}, "not an http:// URL"},
      {{"--from-prometheus", "http://127.0.0.1:1", "--window", "7days"},
       "--window: \"7days\" is not a Prometheus"},
      {{"--from-prometheus", "http://127.0.0.1:1", "--window", "1d]) or vector(1"}, "--window"},
      {{"--from-node", "/x.sock", "--from-prometheus", "http://p"}, "excludes"},
      {{"--from-node", "/x.sock", "--timeout-ms", "0"}, "--timeout-ms: 0 is not between 1 and 600000"},
  };
  for (auto& c : cases) {
    std::vector<std::string> args = {"runtimeclass", "--handler", "kata-cc"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    auto r = Cli(args);
    EXPECT_EQ(r.exit_code, 2) << c.says;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_THAT(r.err, HasSubstr(c.says));
  }
}

// Nothing listens on the port: a clear error naming the URL, not a hang.
TEST(CliRuntimeClassMeasured, PrometheusDownIsExit2NamingTheUrl) {
  auto r = Cli({"runtimeclass", "--handler", "kata-cc", "--from-prometheus", "http://127.0.0.1:1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, AllOf(HasSubstr("Prometheus http://127.0.0.1:1"), HasSubstr("connect")));
}

// -o json of the model path: the same podFixed as the YAML, with the evidence saying it is the model's.
TEST(CliRuntimeClassMeasured, JsonOfTheModelMatchesTheYaml) {
  for (std::string vm : {"", "64Gi"}) {
    std::vector<std::string> args = {"runtimeclass", "--handler", "kata-cc"};
    if (!vm.empty()) args.insert(args.end(), {"--vm-memory", vm});
    auto yaml = Cli(args);
    args.insert(args.end(), {"-o", "json"});
    auto json = Cli(args);
    ASSERT_EQ(yaml.exit_code, 0) << yaml.err;
    ASSERT_EQ(json.exit_code, 0) << json.err;
    auto j = Json(json);
    EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["memory"].get<std::string>(),
              YAML::Load(yaml.out)["overhead"]["podFixed"]["memory"].as<std::string>());
    EXPECT_EQ(j["runtimeclass"]["overhead"]["podFixed"]["cpu"].get<std::string>(),
              YAML::Load(yaml.out)["overhead"]["podFixed"]["cpu"].as<std::string>());
    const auto& rec = j["recommendation"];
    EXPECT_EQ(rec["samples_used"], 0);
    ASSERT_EQ(rec["buckets"].size(), 1u);
    EXPECT_EQ(rec["buckets"][0]["measured"], false);
    EXPECT_EQ(rec["buckets"][0]["model_uvm_mib"], vm.empty() ? 2048 + 8192 : 65536);
  }
}

}  // namespace
}  // namespace uvm::cli_test
