// `uvm-sizer-startup run` against the fixture's private containerd (handlers runc, kata, kata-cc, all runc
// underneath), run as the real binary. What a user relies on: every pod timed with its phases adding up,
// containerd's own RunPodSandbox timer agreeing, the sizer's prediction being `uvm-sizer size`'s, stand-ins
// marked, errors kept as rows, a shared node refused, and nothing of the run left behind. No timing is
// asserted (the profile's run time is measured by scripts/bench-startup.sh, not tested).
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "bench/startup/outputs.h"
#include "bench/startup/run_plan.h"
#include "tests/integration/harness/containerd_fixture.h"
#include "tests/support/subprocess.h"

namespace uvm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using startup::Phase;
using startup::PodRecord;

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class StartupRunTest : public ContainerdTest {
 public:
  static void SetUpTestSuite() {
    // containerd.sh serves /v1/metrics on this address (the cross-check of RunPodSandbox).
    metrics_port_ = FreeLoopbackPort();
    ::setenv("UVM_CTRD_METRICS_ADDRESS", fmt::format("127.0.0.1:{}", metrics_port_).c_str(), 1);
    ContainerdTest::SetUpTestSuite();
    ::unsetenv("UVM_CTRD_METRICS_ADDRESS");
  }

 protected:
  static std::string MetricsUrl() { return fmt::format("http://127.0.0.1:{}/v1/metrics", metrics_port_); }

  // A fresh result directory and cgroup root beneath the fixture's cgroup top (its crash cleanup removes
  // it too).
  std::string OutDir(const std::string& name) {
    std::string dir = containerd().base_dir() + "/results-" + name;
    fs::remove_all(dir);
    return dir;
  }
  std::string CgroupRoot(const std::string& name) {
    return fmt::format("/{}/startup-{}", containerd().cgroup_top(), name);
  }

  ProcessResult Run(std::vector<std::string> args) {
    std::vector<std::string> argv = {UVM_SIZER_STARTUP_BIN, "run", "--cri", containerd().endpoint()};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProcess(argv);
  }

  std::vector<PodRecord> Pods(const std::string& dir) {
    auto pods = startup::ReadPodsJsonl(dir + "/pods.jsonl");
    EXPECT_TRUE(pods.ok()) << (pods.ok() ? "" : pods.error().message);
    return pods.ok() ? *pods : std::vector<PodRecord>{};
  }

  // `uvm-sizer size -o json` for a manifest with the pod's limits, with the run's handler and overhead.
  json CliSize(const PodRecord& pod, const std::string& overhead_cpu, const std::string& overhead_memory) {
    std::string limits;
    if (pod.cpu_limit != "none") limits += fmt::format("          cpu: \"{}\"\n", pod.cpu_limit);
    if (pod.mem_limit != "none") limits += fmt::format("          memory: \"{}\"\n", pod.mem_limit);
    std::string manifest = fmt::format(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: bench\nspec:\n  runtimeClassName: {}\n  containers:\n"
        "    - name: bench\n      image: pause\n{}",
        pod.handler, limits.empty() ? "" : "      resources:\n        limits:\n" + limits);
    std::vector<std::string> argv = {UVM_SIZER_BIN, "size", "-o", "json", "--handler", pod.handler};
    if (!overhead_cpu.empty()) argv.insert(argv.end(), {"--overhead-cpu", overhead_cpu});
    if (!overhead_memory.empty()) argv.insert(argv.end(), {"--overhead-memory", overhead_memory});
    argv.push_back("-");
    ProcessResult r = RunProcess(argv, manifest);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j.is_discarded() ? json() : j["pods"][0];
  }

  void ExpectPredictionIsTheClis(const PodRecord& pod, const std::string& cpu, const std::string& memory) {
    json cli = CliSize(pod, cpu, memory);
    SCOPED_TRACE(fmt::format("{} mem {} cpu {}: {}", pod.handler, pod.mem_limit, pod.cpu_limit, cli.dump()));
    EXPECT_EQ(pod.predicted_uvm.vm_isolated, cli["vm_isolated"].get<bool>());
    if (cli["uvm"].is_null()) {
      EXPECT_EQ(pod.predicted_uvm.memory_mib, 0u);
      return;
    }
    EXPECT_EQ(pod.predicted_uvm.profile, cli["profile"].get<std::string>());
    EXPECT_EQ(pod.predicted_uvm.vcpus, cli["uvm"]["vcpus"].get<uint32_t>());
    EXPECT_EQ(pod.predicted_uvm.memory_mib, cli["uvm"]["memory_mib"].get<uint32_t>());
    ASSERT_TRUE(pod.predicted_uvm.host_memory_bytes);
    EXPECT_EQ(*pod.predicted_uvm.host_memory_bytes, cli["host_memory_bytes"].get<int64_t>());
  }

  // Nothing of a run is left: no sandbox, no shim of this containerd, no cgroup under its root, no mount
  // of one of its sandboxes.
  void ExpectNothingLeft(const std::vector<PodRecord>& pods, const std::string& cgroup_root) {
    auto sandboxes = containerd().cri().ListPodSandbox();
    ASSERT_TRUE(sandboxes.ok()) << sandboxes.error().message;
    for (const auto& s : *sandboxes) {
      EXPECT_FALSE(s.labels.contains("uvm-sizer.bench/run-id")) << "left behind: sandbox " << s.id;
    }
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::string name = entry.path().filename();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmdline = ReadText(entry.path() / "cmdline");
      for (const PodRecord& p : pods) {
        if (p.sandbox_id.empty()) continue;
        EXPECT_EQ(cmdline.find(p.sandbox_id), std::string::npos) << "left behind: process " << name;
      }
    }
    for (const auto& entry : fs::directory_iterator("/sys/fs/cgroup")) {
      fs::path dir = entry.path() / cgroup_root.substr(1);
      EXPECT_FALSE(fs::exists(dir)) << "left behind: cgroup " << dir;
    }
    std::string mountinfo = ReadText("/proc/self/mountinfo");
    for (const PodRecord& p : pods) {
      if (p.sandbox_id.empty()) continue;
      EXPECT_EQ(mountinfo.find(p.sandbox_id), std::string::npos)
          << "left behind: a mount of " << p.sandbox_id;
    }
  }

  static inline int metrics_port_ = -1;
};

TEST_F(StartupRunTest, AcceptanceProfileTimesEveryPodAndLeavesNothing) {
  const std::string out = OutDir("acceptance");
  const std::string root = CgroupRoot("acceptance");
  ProcessResult r = Run({"--handlers", "runc,kata,kata-cc", "--mode", "burst", "--levels", "1,4,16", "-n",
                         "16", "--containerd-metrics", MetricsUrl(), "--cgroup-root", root, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::cout << r.err;  // the run's one-line summary: pods, wall time, the tool's CPU per pod
  std::vector<PodRecord> pods = Pods(out);
  // 3 warm-ups + 3 handlers × 3 levels × 16.
  ASSERT_EQ(pods.size(), 3u + 3u * 3u * 16u);

  double client_run_sandbox_s = 0;
  std::set<std::string> predicted_checked;
  for (const PodRecord& p : pods) {
    SCOPED_TRACE(p.pod_name);
    ASSERT_TRUE(p.ok()) << p.error->phase << " " << p.error->code << " " << p.error->message;
    EXPECT_TRUE(startup::UnaccountedWithin(p, 0.02))
        << "unaccounted " << *p.unaccounted_ns << " ns of total " << *p.total_ns;
    EXPECT_EQ(p.runtime_type, "io.containerd.runc.v2");
    EXPECT_EQ(p.stand_in, p.handler != "runc");
    EXPECT_EQ(p.predicted_uvm.vm_isolated, p.handler != "runc");
    EXPECT_FALSE(p.kata) << "tier 1 is for real Kata only";
    for (Phase ph : {Phase::kRunPodSandbox, Phase::kPodSandboxStatus, Phase::kImageStatus,
                     Phase::kCreateContainer, Phase::kStartContainer, Phase::kRunningSeen}) {
      EXPECT_TRUE(p.phase(ph)) << startup::PhaseName(ph);
    }
    EXPECT_FALSE(p.phase(Phase::kPullImage)) << "--pull never";
    EXPECT_TRUE(p.stop_sandbox_ns && p.remove_sandbox_ns);
    client_run_sandbox_s += static_cast<double>(*p.phase(Phase::kRunPodSandbox)) / 1e9;
    if (predicted_checked.insert(p.handler).second) ExpectPredictionIsTheClis(p, "", "");
  }

  auto info = startup::RunInfoFromJson(ReadText(out + "/run.json"));
  ASSERT_TRUE(info.ok()) << info.error().message;
  EXPECT_EQ(info->containerd.error, "");
  ASSERT_TRUE(info->containerd.sandbox_create_sum_before_s && info->containerd.sandbox_create_sum_after_s);
  double server_s =
      *info->containerd.sandbox_create_sum_after_s - *info->containerd.sandbox_create_sum_before_s;
  EXPECT_EQ(*info->containerd.sandbox_create_count_after - *info->containerd.sandbox_create_count_before,
            static_cast<double>(pods.size()));
  // The server's timer runs inside the call: never more than the client saw, and close to it.
  EXPECT_GE(client_run_sandbox_s, server_s);
  EXPECT_LE(std::abs(client_run_sandbox_s - server_s), 0.10 * server_s)
      << "client " << client_run_sandbox_s << " s, containerd " << server_s << " s";
  EXPECT_GT(info->tool_cpu_ns_per_pod, 0);
  std::cout << fmt::format("tool CPU per pod: {} µs; wall {:.1f} s\n", info->tool_cpu_ns_per_pod / 1000,
                           static_cast<double>(info->wall_ns) / 1e9);
  ASSERT_EQ(info->env.handlers.size(), 3u);
  for (const auto& h : info->env.handlers) {
    EXPECT_EQ(h.runtime_type, "io.containerd.runc.v2") << h.handler;
    EXPECT_EQ(h.stand_in, h.handler != "runc") << h.handler;
  }
  EXPECT_EQ(info->env.containerd_version.rfind("1.", 0), 0u) << info->env.containerd_version;
  EXPECT_TRUE(fs::exists(out + "/summary.json"));
  EXPECT_TRUE(fs::exists(out + "/report.md"));
  ExpectNothingLeft(pods, root);
}

TEST_F(StartupRunTest, PredictionIsUvmSizerSizeForEverySizePoint) {
  const std::string out = OutDir("sizes");
  const std::string root = CgroupRoot("sizes");
  ProcessResult r = Run({"--handlers", "kata-cc,kata,runc", "--levels", "1", "-n", "1", "--no-warmup",
                         "--mem-limits", "none,256Mi,1Gi", "--cpu-limits", "none,1", "--overhead",
                         "cpu=250m,memory=160Mi", "--cgroup-root", root, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<PodRecord> pods = Pods(out);
  ASSERT_EQ(pods.size(), 3u * 6u);
  std::set<int64_t> vm_sizes;
  for (const PodRecord& p : pods) {
    ASSERT_TRUE(p.ok()) << p.error->message;
    EXPECT_EQ(p.overhead, "cpu=250m,memory=160Mi");
    ExpectPredictionIsTheClis(p, "250m", "160Mi");
    if (p.handler == "kata-cc") vm_sizes.insert(p.predicted_uvm.memory_mib);
    if (p.mem_limit == "1Gi") {
      EXPECT_EQ(p.memory_limit_bytes, 1LL << 30);
    }
  }
  EXPECT_EQ(vm_sizes.size(), 3u) << "the memory limit moves the predicted UVM";
  ExpectNothingLeft(pods, root);
}

TEST_F(StartupRunTest, AHandlerThatDoesNotExistGivesErrorRowsAndTheRunGoesOn) {
  const std::string out = OutDir("nosuch");
  const std::string root = CgroupRoot("nosuch");
  ProcessResult r = Run({"--handlers", "no-such-handler,runc", "--levels", "1,2", "-n", "2", "--cgroup-root",
                         root, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<PodRecord> pods = Pods(out);
  ASSERT_EQ(pods.size(), 2u + 2u * 2u * 2u);
  int failed = 0;
  for (const PodRecord& p : pods) {
    if (p.handler == "runc") {
      EXPECT_TRUE(p.ok()) << p.error->message;
      continue;
    }
    ASSERT_TRUE(p.error);
    ++failed;
    EXPECT_EQ(p.error->phase, "run_sandbox");
    // A gRPC status name, as containerd answered it (not our own classification).
    EXPECT_TRUE(p.error->code == "UNKNOWN" || p.error->code == "NOT_FOUND" ||
                p.error->code == "INVALID_ARGUMENT" || p.error->code == "FAILED_PRECONDITION")
        << p.error->code;
    EXPECT_NE(p.error->message.find("no-such-handler"), std::string::npos) << p.error->message;
    EXPECT_FALSE(p.total_ns);
  }
  EXPECT_EQ(failed, 1 + 2 * 2);
  ExpectNothingLeft(pods, root);
}

TEST_F(StartupRunTest, AForeignSandboxMakesRunRefuseUnlessAllowed) {
  auto foreign = containerd().CreatePod({.name = "someone-elses", .handler = "runc"});
  ASSERT_TRUE(foreign.ok()) << foreign.error().message;
  const std::string out = OutDir("shared");
  const std::string root = CgroupRoot("shared");
  ProcessResult refused =
      Run({"--handlers", "runc", "--levels", "1", "-n", "1", "--cgroup-root", root, "--out", out});
  EXPECT_EQ(refused.exit_code, 2) << refused.err;
  EXPECT_NE(refused.err.find("--allow-shared-node"), std::string::npos) << refused.err;
  EXPECT_EQ(ReadText(out + "/pods.jsonl"), "");

  ProcessResult allowed = Run({"--handlers", "runc", "--levels", "1", "-n", "1", "--allow-shared-node",
                               "--cgroup-root", root, "--out", out});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_EQ(Pods(out).size(), 2u);
  // Only our sandboxes were removed.
  auto status = containerd().cri().PodSandboxStatus(foreign->sandbox_id);
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_TRUE(status->summary.ready());
  ASSERT_TRUE(containerd().RemovePod(*foreign).ok());
}

TEST_F(StartupRunTest, SigtermStopsLaunchingCleansUpAndWritesOutputs) {
  const std::string out = OutDir("sigterm");
  const std::string root = CgroupRoot("sigterm");
  std::vector<std::string> args = {UVM_SIZER_STARTUP_BIN,
                                   "run",
                                   "--cri",
                                   containerd().endpoint(),
                                   "--handlers",
                                   "runc,kata",
                                   "--levels",
                                   "2",
                                   "-n",
                                   "400",
                                   "--cgroup-root",
                                   root,
                                   "--out",
                                   out};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  ASSERT_EQ(::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ), 0);
  // Wait until some pods are done (their rows are appended as they finish), then SIGTERM mid-run.
  for (int i = 0; i < 600; ++i) {
    std::string rows = ReadText(out + "/pods.jsonl");
    if (std::count(rows.begin(), rows.end(), '\n') >= 6) break;
    ::usleep(50000);
  }
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 143);
  std::vector<PodRecord> pods = Pods(out);
  EXPECT_GE(pods.size(), 6u);
  EXPECT_LT(pods.size(), 2u + 2u * 400u) << "it stopped launching";
  EXPECT_TRUE(fs::exists(out + "/summary.json")) << "outputs are written on SIGTERM too";
  ExpectNothingLeft(pods, root);
}

TEST_F(StartupRunTest, ImagePolicyIfMissingSkipsThePullAndAlwaysPulls) {
  const std::string out = OutDir("pull");
  const std::string root = CgroupRoot("pull");
  ProcessResult present = Run({"--handlers", "runc", "--levels", "1", "-n", "1", "--no-warmup", "--pull",
                               "if-missing", "--cgroup-root", root, "--out", out});
  ASSERT_EQ(present.exit_code, 0) << present.err;
  std::vector<PodRecord> pods = Pods(out);
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_TRUE(pods[0].ok());
  EXPECT_TRUE(pods[0].phase(Phase::kImageStatus));
  EXPECT_FALSE(pods[0].phase(Phase::kPullImage)) << "the image is in the runtime already";

  // always: PullImage every time, as the kubelet's PullAlways; this machine has no registry, so the pull
  // fails, and the failure is a row with the runtime's gRPC code.
  ProcessResult always = Run({"--handlers", "runc", "--levels", "1", "-n", "1", "--no-warmup", "--pull",
                              "always", "--call-timeout", "20s", "--cgroup-root", root, "--out", out});
  ASSERT_EQ(always.exit_code, 0) << always.err;
  pods = Pods(out);
  ASSERT_EQ(pods.size(), 1u);
  ASSERT_TRUE(pods[0].error);
  EXPECT_EQ(pods[0].error->phase, "pull_image");
  EXPECT_FALSE(pods[0].error->code.empty());
  EXPECT_TRUE(pods[0].phase(Phase::kPullImage));
  ExpectNothingLeft(pods, root);

  // An image the runtime does not have: never -> an image_status row (ImageStatus answers "absent", not
  // an error); if-missing -> the pull is tried.
  for (const std::string policy : {"never", "if-missing"}) {
    ProcessResult absent = Run({"--handlers", "runc", "--levels", "1", "-n", "1", "--no-warmup", "--image",
                                "registry.local/uvm-sizer-test/absent:1.0", "--pull", policy,
                                "--call-timeout", "20s", "--cgroup-root", root, "--out", out});
    ASSERT_EQ(absent.exit_code, 0) << absent.err;
    pods = Pods(out);
    ASSERT_EQ(pods.size(), 1u);
    ASSERT_TRUE(pods[0].error) << policy;
    EXPECT_EQ(pods[0].error->phase, policy == "never" ? "image_status" : "pull_image") << policy;
    if (policy == "never") {
      EXPECT_EQ(pods[0].error->code, "NOT_FOUND");
    }
    ExpectNothingLeft(pods, root);
  }
}

TEST_F(StartupRunTest, ClosedAndOpenModesTimeEveryPodToo) {
  for (std::vector<std::string> mode : {std::vector<std::string>{"--mode", "closed", "--levels", "2"},
                                        std::vector<std::string>{"--mode", "open", "--rate", "4"}}) {
    const std::string out = OutDir(mode[1]);
    const std::string root = CgroupRoot(mode[1]);
    std::vector<std::string> args = {"--handlers",    "runc,kata", "--duration", "2s",
                                     "--cgroup-root", root,        "--out",      out};
    args.insert(args.end(), mode.begin(), mode.end());
    ProcessResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<PodRecord> pods = Pods(out);
    ASSERT_GE(pods.size(), 2u) << mode[1];
    if (mode[1] == "open") {
      EXPECT_EQ(pods.size(), 8u) << "4 pods/s for 2 s";
    }
    std::set<std::string> handlers;
    for (const PodRecord& p : pods) {
      ASSERT_TRUE(p.ok()) << p.error->message;
      EXPECT_EQ(p.mode, mode[1]);
      EXPECT_TRUE(startup::UnaccountedWithin(p, 0.02));
      handlers.insert(p.handler);
    }
    EXPECT_EQ(handlers.size(), 2u) << "handlers interleave";
    ExpectNothingLeft(pods, root);
  }
}

// A kata-cc UVM (2 GiB base OS) can never fit a 1 GiB budget: in every mode its pods are error rows in
// their own cell (handler, level, size point), with the predicted UVM that did not fit; runc, 256Mi, runs.
TEST_F(StartupRunTest, APodTheBudgetCanNeverHoldIsARefusedRowInItsCellInEveryMode) {
  for (std::vector<std::string> mode :
       {std::vector<std::string>{"--mode", "burst", "--levels", "2", "-n", "2"},
        std::vector<std::string>{"--mode", "closed", "--levels", "1", "--duration", "1s"},
        std::vector<std::string>{"--mode", "open", "--rate", "4", "--duration", "1s"}}) {
    SCOPED_TRACE(mode[1]);
    const std::string out = OutDir("budget-" + mode[1]);
    const std::string root = CgroupRoot("budget-" + mode[1]);
    std::vector<std::string> args = {"--handlers", "runc,kata-cc", "--mem-limits",  "256Mi", "--mem-budget",
                                     "1Gi",        "--no-warmup",  "--cgroup-root", root,    "--out",
                                     out};
    args.insert(args.end(), mode.begin(), mode.end());
    ProcessResult r = Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<PodRecord> pods = Pods(out);
    int refused = 0, ran = 0;
    for (const PodRecord& p : pods) {
      EXPECT_EQ(p.mode, mode[1]);
      EXPECT_EQ(p.mem_limit, "256Mi");
      EXPECT_EQ(p.memory_limit_bytes, 256LL << 20);
      if (p.handler == "runc") {
        EXPECT_TRUE(p.ok()) << p.error->message;
        ++ran;
        continue;
      }
      ASSERT_TRUE(p.error) << "a kata-cc pod ran inside a 1 GiB budget";
      EXPECT_EQ(p.error->phase, "budget");
      EXPECT_EQ(p.error->code, "RESOURCE_EXHAUSTED");
      EXPECT_TRUE(p.predicted_uvm.vm_isolated);
      EXPECT_GT(p.predicted_uvm.memory_mib, 1024u);
      EXPECT_TRUE(p.sandbox_id.empty()) << "nothing was asked of the runtime";
      ++refused;
    }
    EXPECT_GE(ran, 1);
    EXPECT_GE(refused, 1);
    ExpectNothingLeft(pods, root);
  }
}

TEST_F(StartupRunTest, BackgroundPodsRunBesideTheMeasuredOnesAndGoAfterwards) {
  const std::string out = OutDir("background");
  const std::string root = CgroupRoot("background");
  ProcessResult r = Run({"--handlers", "runc,kata", "--levels", "2", "-n", "2", "--background", "2",
                         "--cgroup-root", root, "--out", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("background pod"), std::string::npos) << r.err;  // none failed to start
  std::vector<PodRecord> pods = Pods(out);
  EXPECT_EQ(pods.size(), 2u + 2u * 2u) << "background pods are not measured rows";
  for (const PodRecord& p : pods) EXPECT_TRUE(p.ok());
  ExpectNothingLeft(pods, root);
}

TEST_F(StartupRunTest, BadFlagsChangeNothing) {
  const std::string out = OutDir("bad");
  ProcessResult r = Run({"--levels", "1,zero", "--out", out});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--levels: \"zero\""), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  ProcessResult kubepods = Run({"--cgroup-root", "/kubepods/x", "--out", out});
  EXPECT_EQ(kubepods.exit_code, 2);
  EXPECT_NE(kubepods.err.find("--cgroup-root"), std::string::npos) << kubepods.err;
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace uvm::testing
