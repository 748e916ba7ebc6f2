// Every command line of the README's CLI examples, run as written: the lines are read from README.md
// itself (between the `readme-examples` markers), so README and test cannot drift. Each runs under
// `bash -o pipefail` in a scratch directory holding the README's `deploy.yaml` and `manifests/`, with the
// built `uvm-sizer` on PATH.
//
// There is no cluster here, so `kubectl` on PATH is a stand-in that prints recorded output of the
// commands the README pipes from (tests/fixtures/cli/readme/runtimeclasses.yaml and
// tests/fixtures/cli/live-pods.*). It is the one fake of this test; uvm-sizer, bash and cat are real.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "tests/unit/cli/cli_support.h"

namespace uvm::cli_test {
namespace {

using nlohmann::json;
using testing::ProcessResult;

constexpr std::string_view kBegin = "<!-- readme-examples";
constexpr std::string_view kEnd = "<!-- /readme-examples -->";

// The indented code lines between the markers, indentation removed, in README order.
std::vector<std::string> ReadmeExamples() {
  std::ifstream in(std::string(UVM_SOURCE_DIR) + "/README.md");
  EXPECT_TRUE(in) << "cannot read README.md";
  std::vector<std::string> lines;
  bool inside = false;
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(kBegin)) {
      EXPECT_FALSE(inside) << "nested readme-examples marker";
      inside = true;
    } else if (line.starts_with(kEnd)) {
      inside = false;
    } else if (inside && line.starts_with("    ") && line.find_first_not_of(' ') != std::string::npos) {
      lines.push_back(line.substr(4));
    }
  }
  EXPECT_FALSE(inside) << "README.md: a readme-examples block without its end marker";
  return lines;
}

void WriteExecutable(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
}

// What a line must do; `dir` is the directory it ran in.
using Check = std::function<void(const ProcessResult& r, const std::string& dir)>;

std::map<std::string, Check> Expectations() {
  std::map<std::string, Check> want;
  want["uvm-sizer size deploy.yaml                      # table per pod, then totals per handler"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto rows = RowsStartingWith(r.out, "Deployment default/web ");
        ASSERT_EQ(rows.size(), 1u) << r.out;
        // kata-vm-isolation -> kata (built-in alias), 1 CPU + 1Gi: 2 vCPUs, 256 + 1024 MiB; nothing declared.
        auto fields = Fields(rows[0]);
        ASSERT_GE(fields.size(), 4u) << rows[0];
        EXPECT_EQ(fields[2], "kata") << rows[0];
        EXPECT_EQ(fields[3], "aks-kata-256") << rows[0];
        EXPECT_NE(rows[0].find(" 1280Mi "), std::string::npos) << rows[0];
        EXPECT_NE(r.out.find("\nTotals:\n"), std::string::npos) << r.out;
        EXPECT_EQ(RowsStartingWith(r.out, "(all)").size(), 1u) << r.out;
        EXPECT_NE(r.out.find("kind Service skipped"), std::string::npos) << r.out;
      };
  // Two YAML streams joined without `---` between them: needs the reader to start a new object at a
  // repeated root key (the reader change of issue 9).
  want
      ["kubectl get runtimeclass -o yaml | cat - deploy.yaml | uvm-sizer size -   # RuntimeClasses in the "
       "input apply"] = [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto rows = RowsStartingWith(r.out, "Deployment default/web ");
        ASSERT_EQ(rows.size(), 1u) << r.out;
        // The recorded RuntimeClass kata-vm-isolation declares 600Mi: the pod cgroup gets 1Gi + 600Mi.
        EXPECT_NE(rows[0].find(" 600Mi "), std::string::npos) << rows[0];
        EXPECT_NE(rows[0].find(" 1624Mi "), std::string::npos) << rows[0];
        EXPECT_TRUE(RowsStartingWith(r.out, "RuntimeClass ").empty()) << r.out;  // not pods
      };
  want["uvm-sizer size -f deploy.yaml -R -f manifests/  # files and directories, as kubectl -f reads them"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.out.rfind("SOURCE", 0), 0u) << r.out;
        auto web = r.out.find("deploy.yaml");
        auto api = r.out.find("manifests/api.yaml");
        auto report = r.out.find("manifests/jobs/report.json");
        ASSERT_NE(web, std::string::npos) << r.out;
        ASSERT_NE(api, std::string::npos) << r.out;
        ASSERT_NE(report, std::string::npos) << r.out;
        EXPECT_LT(web, api);
        EXPECT_LT(api, report);
        EXPECT_EQ(r.out.find("README.md"), std::string::npos) << r.out;  // not a manifest extension
        auto all = RowsStartingWith(r.out, "(all)");
        ASSERT_EQ(all.size(), 1u) << r.out;
        EXPECT_EQ(Fields(all[0]).at(1), "3") << all[0];  // PODS
      };
  want["kubectl get pods -A -o json | uvm-sizer size -  # live pods as they run, with their node"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto rows = RowsStartingWith(r.out, "Pod default/web-7d4b9c8f6d-x2kqp ");
        ASSERT_EQ(rows.size(), 1u) << r.out;
        EXPECT_NE(rows[0].find(" 600Mi "), std::string::npos) << rows[0];  // spec.overhead from admission
        // Needs the reader to fill the node (issue 9's reader change).
        EXPECT_NE(rows[0].find("aks-kata-12345678-vmss000000"), std::string::npos) << rows[0];
        auto all = RowsStartingWith(r.out, "(all)");
        ASSERT_EQ(all.size(), 1u) << r.out;
        EXPECT_EQ(Fields(all[0]).at(1), "4") << all[0];  // PODS
      };
  want["uvm-sizer size deploy.yaml -o json              # the stable JSON contract (below)"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        json j = Json(r);
        ASSERT_EQ(j["pods"].size(), 1u);
        EXPECT_EQ(j["pods"][0]["name"], "web");
        EXPECT_EQ(j["pods"][0]["source"], "deploy.yaml");
        EXPECT_EQ(j["pods"][0]["uvm"]["memory_mib"], 1280);
        EXPECT_EQ(j["totals"]["pods"], 1);
        EXPECT_EQ(j["totals"]["uvm_memory_mib"], 1280);
      };
  want
      ["uvm-sizer size deploy.yaml -o csv > pods.csv    # one row per pod, for spreadsheets (columns "
       "below)"] = [](const ProcessResult& r, const std::string& dir) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_TRUE(r.out.empty());
        std::ifstream in(dir + "/pods.csv", std::ios::binary);
        std::string csv((std::istreambuf_iterator<char>(in)), {});
        auto records = ParseCsv(csv);
        ASSERT_EQ(records.size(), 2u) << csv;
        EXPECT_EQ(records[0][0], "source");
        EXPECT_EQ(records[1][0], "deploy.yaml");
        EXPECT_EQ(records[1][4], "web");
      };
  want["uvm-sizer size deploy.yaml --profile aks-2025   # size as AKS does since 2025"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        auto rows = RowsStartingWith(r.out, "Deployment default/web ");
        ASSERT_EQ(rows.size(), 1u) << r.out;
        EXPECT_NE(rows[0].find("aks-2025"), std::string::npos) << rows[0];
        EXPECT_NE(rows[0].find(" 1024Mi "), std::string::npos) << rows[0];  // no base: the limit alone
      };
  want
      ["uvm-sizer runtimeclass --handler kata-cc        # a RuntimeClass with the overhead.podFixed the UVM "
       "needs"] = [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_NE(r.out.find("kind: RuntimeClass"), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("handler: \"kata-cc\""), std::string::npos) << r.out;
        EXPECT_NE(r.out.find("podFixed:"), std::string::npos) << r.out;
      };
  want["uvm-sizer profiles                              # the built-in sizing profiles"] =
      [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        for (const char* p : {"aks-kata-256", "aks-kata-cc-2048", "aks-2025", "upstream-dynamic"})
          EXPECT_NE(r.out.find(p), std::string::npos) << p;
      };
  want
      ["uvm-sizer profiles --containerd-config /etc/containerd/config.toml   # what this node's Kata files "
       "say"] = [](const ProcessResult& r, const std::string&) {
        // A node's own file: where this machine has none, the answer is an error naming it.
        if (access("/etc/containerd/config.toml", R_OK) == 0) {
          EXPECT_EQ(r.exit_code, 0) << r.err;
          EXPECT_FALSE(r.out.empty());
        } else {
          EXPECT_EQ(r.exit_code, 2);
          EXPECT_NE(r.err.find("/etc/containerd/config.toml"), std::string::npos) << r.err;
        }
      };
  want
      ["uvm-sizer capacity --pods examples/cluster/pods.json --nodes examples/cluster/nodes.json "
       "--runtimeclasses examples/cluster/runtimeclasses.yaml --shape examples/cluster/shapes/web.yaml "
       "--shape "
       "examples/cluster/shapes/batch.yaml"] = [](const ProcessResult& r, const std::string&) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        // The README prints this output: the node worked by hand in tests/unit/cli/capacity_test.cc.
        auto rows = RowsStartingWith(r.out, "aks-kata-12345678-vmss000001 ");
        ASSERT_EQ(rows.size(), 3u) << r.out;
        EXPECT_EQ(Fields(rows[1]), (std::vector<std::string>{"aks-kata-12345678-vmss000001", "web", "11", "2",
                                                             "9", "cpu", "memory"}));
        std::ifstream readme(std::string(UVM_SOURCE_DIR) + "/README.md");
        std::string text((std::istreambuf_iterator<char>(readme)), {});
        std::istringstream out(r.out);
        for (std::string line; std::getline(out, line);) {
          if (line.empty()) continue;
          EXPECT_NE(text.find("    " + line + "\n"), std::string::npos)
              << "README lacks output line: " << line;
        }
      };
  want
      ["uvm-sizer capacity --pods examples/cluster/pods.json --nodes examples/cluster/nodes.json "
       "--runtimeclasses examples/cluster/runtimeclasses.yaml --shape examples/cluster/shapes/web.yaml -o "
       "json "
       "--plot ledger.png"] = [](const ProcessResult& r, const std::string& dir) {
        EXPECT_EQ(r.exit_code, 0) << r.err;
        json j = Json(r);
        EXPECT_EQ(j["nodes"].size(), 3u);
        std::ifstream png(dir + "/ledger.png", std::ios::binary);
        std::string head(8, '\0');
        png.read(head.data(), 8);
        EXPECT_EQ(head, std::string("\x89PNG\r\n\x1a\n", 8));
      };
  return want;
}

TEST(ReadmeExamples, EveryCliExampleRunsAsWritten) {
  auto lines = ReadmeExamples();
  ASSERT_FALSE(lines.empty()) << "README.md has no readme-examples block";
  auto want = Expectations();
  ScratchDir dir;
  const std::string bin = dir.path() + "/bin";
  const std::string work = dir.path() + "/work";
  std::filesystem::create_directories(bin);
  std::filesystem::copy(Fixture("readme"), work, std::filesystem::copy_options::recursive);
  std::filesystem::remove(work + "/runtimeclasses.yaml");  // kubectl's recording, not the user's file
  // The capacity examples name the repository's example cluster by its path from the repository root.
  std::filesystem::create_directories(work + "/examples");
  std::filesystem::copy(std::string(UVM_SOURCE_DIR) + "/examples/cluster", work + "/examples/cluster",
                        std::filesystem::copy_options::recursive);
  std::filesystem::create_symlink(UVM_SIZER_BIN, bin + "/uvm-sizer");
  // The kubectl stand-in (see the top of this file): recorded output of the commands the README runs.
  WriteExecutable(
      bin + "/kubectl",
      "#!/bin/sh\n"
      "# Stand-in for kubectl in the README test: there is no cluster, so this prints recorded output.\n"
      "case \"$*\" in\n"
      "  'get runtimeclass -o yaml') exec cat '" +
          Fixture("readme/runtimeclasses.yaml") +
          "' ;;\n"
          "  'get pods -A -o json') exec cat '" +
          Fixture("live-pods.json") +
          "' ;;\n"
          "  'get pods -A -o yaml') exec cat '" +
          Fixture("live-pods.yaml") +
          "' ;;\n"
          "  *) echo \"kubectl stand-in: nothing recorded for: kubectl $*\" >&2; exit 1 ;;\n"
          "esac\n");
  const std::string path = "PATH=" + bin + ":/usr/bin:/bin";
  std::set<std::string> seen;
  for (const auto& line : lines) {
    SCOPED_TRACE(line);
    seen.insert(line);
    auto check = want.find(line);
    if (check == want.end()) {
      ADD_FAILURE() << "a README example without expectations here: add them to Expectations()";
      continue;
    }
    auto r =
        testing::RunProcess({"/usr/bin/env", "-C", work, path, "/bin/bash", "-o", "pipefail", "-c", line});
    check->second(r, work);
  }
  for (const auto& [line, check] : want)
    EXPECT_TRUE(seen.count(line)) << "expected in README.md's readme-examples block, not there: " << line;
}

}  // namespace
}  // namespace uvm::cli_test
