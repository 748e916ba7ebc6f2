#include "bench/daemon/fake_cri.h"

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/cri.grpc.pb.h"
#include "proto/cri.pb.h"

namespace uvm::bench {
namespace {

namespace v1 = runtime::v1;
constexpr std::string_view kServeFlag = "--uvm-fake-cri-serve=";
constexpr std::string_view kPodsFlag = "--uvm-fake-cri-pods=";
constexpr std::string_view kNoCgroupFlag = "--uvm-fake-cri-no-cgroup-parent";
constexpr int64_t kMib = 1 << 20;

struct FakePod {
  std::string id, name, namespace_, uid, cgroup_parent;
  int64_t created_at_ns = 0;
  v1::LinuxContainerResources resources, overhead;
};

// Deterministic, varied pods: the sizes spread over what kata-cc workloads ask for, so the sizer takes
// more than one path; the declared overhead is a typical RuntimeClass podFixed (250m, 160 MiB).
std::vector<FakePod> MakePods(int n, bool cgroup_parents) {
  std::vector<FakePod> pods;
  pods.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    FakePod p;
    p.id = fmt::format("{:064x}", 0x5c1e0000u + static_cast<unsigned>(i));
    p.name = fmt::format("web-{}-7d4b9", i);
    p.namespace_ = fmt::format("shop-{}", i % 10);
    p.uid = fmt::format("{:08x}-3d4a-4b5c-8d9e-{:012x}", 0x0f6b2c1eu + static_cast<unsigned>(i), i);
    if (cgroup_parents) p.cgroup_parent = "/kubepods/burstable/pod" + p.uid;
    p.created_at_ns = 1700000000000000000LL + i * 1000000000LL;
    int64_t millicpu = 250 * (1 + i % 8);        // 250m .. 2000m
    int64_t memory = 256 * kMib * (1 + i % 16);  // 256 MiB .. 4 GiB
    p.resources.set_cpu_period(100000);
    p.resources.set_cpu_quota(millicpu * 100);
    p.resources.set_cpu_shares(millicpu * 1024 / 1000);
    p.resources.set_memory_limit_in_bytes(memory);
    p.overhead.set_cpu_period(100000);
    p.overhead.set_cpu_quota(25000);
    p.overhead.set_cpu_shares(256);
    p.overhead.set_memory_limit_in_bytes(160 * kMib);
    pods.push_back(std::move(p));
  }
  return pods;
}

nlohmann::json ResourcesJson(const v1::LinuxContainerResources& r) {
  return {{"cpu_period", r.cpu_period()},
          {"cpu_quota", r.cpu_quota()},
          {"cpu_shares", r.cpu_shares()},
          {"memory_limit_in_bytes", r.memory_limit_in_bytes()}};
}

// containerd 1.6's SandboxInfo (pkg/cri/server/sandbox_status.go v1.6.20; CRI.md §3,
// tests/fixtures/cri/containerd-1.6-sandbox-info.json): config with snake_case proto names, the OCI spec.
std::string SandboxInfoJson(const FakePod& p) {
  nlohmann::json linux_config = {{"overhead", ResourcesJson(p.overhead)},
                                 {"resources", ResourcesJson(p.resources)},
                                 {"security_context", {{"namespace_options", {{"network", 2}}}}}};
  if (!p.cgroup_parent.empty()) linux_config["cgroup_parent"] = p.cgroup_parent;
  nlohmann::json info = {
      {"cniResult", nullptr},
      {"config",
       {{"annotations", {{"kubernetes.io/config.source", "api"}}},
        {"labels",
         {{"io.kubernetes.pod.name", p.name},
          {"io.kubernetes.pod.namespace", p.namespace_},
          {"io.kubernetes.pod.uid", p.uid}}},
        {"linux", linux_config},
        {"log_directory", fmt::format("/var/log/pods/{}_{}_{}", p.namespace_, p.name, p.uid)},
        {"metadata", {{"name", p.name}, {"namespace", p.namespace_}, {"uid", p.uid}}}}},
      {"image", "registry.k8s.io/pause:3.6"},
      {"netNamespaceClosed", false},
      {"pid", 24832},
      {"processStatus", "running"},
      {"runtimeHandler", "kata-cc"},
      {"runtimeOptions",
       {{"config_path",
         "/opt/confidential-containers/share/defaults/kata-containers/configuration-clh-snp.toml"}}},
      {"runtimeSpec",
       {{"annotations",
         {{"io.kubernetes.cri.container-type", "sandbox"},
          {"io.kubernetes.cri.sandbox-cpu-period", std::to_string(p.resources.cpu_period())},
          {"io.kubernetes.cri.sandbox-cpu-quota", std::to_string(p.resources.cpu_quota())},
          {"io.kubernetes.cri.sandbox-cpu-shares", std::to_string(p.resources.cpu_shares())},
          {"io.kubernetes.cri.sandbox-id", p.id},
          {"io.kubernetes.cri.sandbox-memory", std::to_string(p.resources.memory_limit_in_bytes())}}},
        {"linux",
         {{"cgroupsPath", p.cgroup_parent + "/" + p.id},
          {"namespaces", {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "mount"}}}},
          {"resources", {{"cpu", {{"shares", 2}}}}}}},
        {"mounts", {{{"destination", "/proc"}, {"source", "proc"}, {"type", "proc"}}}},
        {"ociVersion", "1.0.2-dev"}}},
      {"runtimeType", "io.containerd.kata-cc.v2"},
      {"snapshotKey", p.id},
      {"snapshotter", "tardev"}};
  return info.dump();
}

class FakeRuntimeService final : public v1::RuntimeService::Service {
 public:
  explicit FakeRuntimeService(const std::vector<FakePod>& pods) {
    for (const auto& p : pods) {
      v1::PodSandboxMetadata md;
      md.set_name(p.name);
      md.set_namespace_(p.namespace_);
      md.set_uid(p.uid);
      std::map<std::string, std::string> labels = {{"io.kubernetes.pod.name", p.name},
                                                   {"io.kubernetes.pod.namespace", p.namespace_},
                                                   {"io.kubernetes.pod.uid", p.uid}};
      auto* item = list_.add_items();
      item->set_id(p.id);
      *item->mutable_metadata() = md;
      item->set_state(v1::SANDBOX_READY);
      item->set_created_at(p.created_at_ns);
      item->mutable_labels()->insert(labels.begin(), labels.end());
      item->set_runtime_handler("kata-cc");

      v1::PodSandboxStatusResponse& st = status_[p.id];
      auto* s = st.mutable_status();
      s->set_id(p.id);
      *s->mutable_metadata() = md;
      s->set_state(v1::SANDBOX_READY);
      s->set_created_at(p.created_at_ns);
      s->mutable_labels()->insert(labels.begin(), labels.end());
      s->set_runtime_handler("kata-cc");
      s->mutable_linux()->mutable_namespaces()->mutable_options()->set_network(v1::NODE);
      info_[p.id] = SandboxInfoJson(p);
    }
  }

  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* out) override {
    out->set_version("0.1.0");
    out->set_runtime_name("containerd");
    out->set_runtime_version("v1.6.20");
    out->set_runtime_api_version("v1");
    return grpc::Status::OK;
  }

  grpc::Status ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest*,
                              v1::ListPodSandboxResponse* out) override {
    *out = list_;  // every sandbox is ready, so a state filter changes nothing
    return grpc::Status::OK;
  }

  grpc::Status PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* req,
                                v1::PodSandboxStatusResponse* out) override {
    auto it = status_.find(req->pod_sandbox_id());
    if (it == status_.end()) {
      return {
          grpc::StatusCode::NOT_FOUND,
          fmt::format("an error occurred when try to find sandbox \"{}\": not found", req->pod_sandbox_id())};
    }
    *out = it->second;
    if (req->verbose()) (*out->mutable_info())["info"] = info_.at(req->pod_sandbox_id());
    return grpc::Status::OK;
  }

  // Sandboxes without containers: both lists are empty.
  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest*,
                              v1::ListContainersResponse*) override {
    return grpc::Status::OK;
  }
  grpc::Status ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest*,
                                  v1::ListContainerStatsResponse*) override {
    return grpc::Status::OK;
  }

 private:
  v1::ListPodSandboxResponse list_;
  std::map<std::string, v1::PodSandboxStatusResponse> status_;
  std::map<std::string, std::string> info_;
};

int Serve(const std::string& socket, int pods, bool cgroup_parents) {
  FakeRuntimeService service(MakePods(pods, cgroup_parents));
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server) {
    fmt::print(stderr, "fake CRI: cannot listen on {}\n", socket);
    return 1;
  }
  server->Wait();  // until the parent kills us
  return 0;
}

bool CanConnect(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::vector<FakePodCgroup> FakePodCgroups(int pods) {
  std::vector<FakePodCgroup> out;
  for (const auto& p : MakePods(pods, true)) {
    out.push_back(
        {.cgroup_parent = p.cgroup_parent,
         .memory_limit_bytes = p.resources.memory_limit_in_bytes() + p.overhead.memory_limit_in_bytes(),
         .cpu_quota_us = p.resources.cpu_quota() + p.overhead.cpu_quota()});
  }
  return out;
}

int MaybeServeFakeCri(int argc, char** argv) {
  std::string socket;
  int pods = 250;
  bool cgroup_parents = true;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a.starts_with(kServeFlag)) socket = a.substr(kServeFlag.size());
    if (a.starts_with(kPodsFlag)) pods = std::atoi(argv[i] + kPodsFlag.size());
    if (a == kNoCgroupFlag) cgroup_parents = false;
  }
  if (socket.empty()) return -1;
  return Serve(socket, pods, cgroup_parents);
}

Result<std::unique_ptr<FakeCriProcess>> FakeCriProcess::Start(const std::string& dir,
                                                              const FakeCriOptions& options) {
  std::string socket = dir + "/cri.sock";
  std::vector<std::string> args = {"/proc/self/exe", std::string(kServeFlag) + socket,
                                   std::string(kPodsFlag) + std::to_string(options.pods)};
  if (!options.cgroup_parents) args.emplace_back(kNoCgroupFlag);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error{fmt::format("fake CRI: fork: {}", std::strerror(errno))};
  if (pid == 0) {
    // Never outlive the benchmark, whatever ends it.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  std::unique_ptr<FakeCriProcess> p(new FakeCriProcess);
  p->pid_ = pid;
  p->endpoint_ = "unix://" + socket;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!CanConnect(socket)) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      p->pid_ = -1;
      return Error{fmt::format("fake CRI server exited (status {}) before listening on {}", status, socket)};
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Error{fmt::format("fake CRI server did not listen on {} within 10 s", socket)};
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return p;
}

FakeCriProcess::~FakeCriProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

TempDir::TempDir(const char* prefix) {
  std::string tmpl = fmt::format("/tmp/{}.XXXXXX", prefix);
  if (::mkdtemp(tmpl.data())) path_ = tmpl;
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace uvm::bench
