#include "tests/support/fake_cri.h"

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
#include <string_view>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "proto/cri.grpc.pb.h"
#include "proto/cri.pb.h"

namespace uvm::testing {

namespace v1 = runtime::v1;

struct FakeCriServer::State {
  mutable std::mutex mutex;
  std::map<std::string, FakeSandbox> sandboxes;  // by id; a std::map lists them in a stable order
  std::string api_version = "v1";
  std::vector<FakeContainerStats> stats;
  std::string last_stats_filter;
};

namespace {

constexpr std::string_view kServeFlag = "--uvm-fake-cri-serve=";
constexpr std::string_view kPodsFlag = "--uvm-fake-cri-pods=";
constexpr std::string_view kNoCgroupFlag = "--uvm-fake-cri-no-cgroup-parent";
constexpr int64_t kMib = 1 << 20;

nlohmann::json ResourcesJson(const FakeResources& r) {
  return {{"cpu_period", r.cpu_period},
          {"cpu_quota", r.cpu_quota},
          {"cpu_shares", r.cpu_shares},
          {"memory_limit_in_bytes", r.memory_limit_in_bytes}};
}

std::map<std::string, std::string> KubeletLabels(const FakeSandbox& p) {
  // The labels the kubelet puts on every sandbox (pkg/kubelet/types/labels.go).
  return {{"io.kubernetes.pod.name", p.name},
          {"io.kubernetes.pod.namespace", p.namespace_},
          {"io.kubernetes.pod.uid", p.uid}};
}

// containerd 1.6's SandboxInfo (pkg/cri/server/sandbox_status.go v1.6.20; CRI.md §3,
// tests/fixtures/cri/containerd-1.6-sandbox-info.json): config with snake_case proto names, the OCI spec.
std::string SandboxInfoJson(const FakeSandbox& p) {
  nlohmann::json linux_config = {{"security_context", {{"namespace_options", {{"network", 2}}}}}};
  if (p.overhead) linux_config["overhead"] = ResourcesJson(*p.overhead);
  if (p.resources) linux_config["resources"] = ResourcesJson(*p.resources);
  if (!p.cgroup_parent.empty()) linux_config["cgroup_parent"] = p.cgroup_parent;
  const FakeResources r = p.resources.value_or(FakeResources{});
  nlohmann::json info = {
      {"cniResult", nullptr},
      {"config",
       {{"annotations", p.annotations.empty() ? nlohmann::json::object() : nlohmann::json(p.annotations)},
        {"labels", KubeletLabels(p)},
        {"linux", linux_config},
        {"log_directory", fmt::format("/var/log/pods/{}_{}_{}", p.namespace_, p.name, p.uid)},
        {"metadata",
         {{"name", p.name}, {"namespace", p.namespace_}, {"uid", p.uid}, {"attempt", p.attempt}}}}},
      {"image", "registry.k8s.io/pause:3.6"},
      {"netNamespaceClosed", false},
      {"pid", 24832},
      {"processStatus", p.ready ? "running" : "stopped"},
      {"runtimeHandler", p.handler},
      {"runtimeOptions",
       {{"config_path",
         "/opt/confidential-containers/share/defaults/kata-containers/configuration-clh-snp.toml"}}},
      {"runtimeSpec",
       {{"annotations",
         {{"io.kubernetes.cri.container-type", "sandbox"},
          {"io.kubernetes.cri.sandbox-cpu-period", std::to_string(r.cpu_period)},
          {"io.kubernetes.cri.sandbox-cpu-quota", std::to_string(r.cpu_quota)},
          {"io.kubernetes.cri.sandbox-cpu-shares", std::to_string(r.cpu_shares)},
          {"io.kubernetes.cri.sandbox-id", p.id},
          {"io.kubernetes.cri.sandbox-memory", std::to_string(r.memory_limit_in_bytes)}}},
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

void FillMetadata(const FakeSandbox& p, v1::PodSandboxMetadata* md) {
  md->set_name(p.name);
  md->set_namespace_(p.namespace_);
  md->set_uid(p.uid);
  md->set_attempt(p.attempt);
}

class FakeRuntimeService final : public v1::RuntimeService::Service {
 public:
  explicit FakeRuntimeService(std::shared_ptr<FakeCriServer::State> state) : state_(std::move(state)) {}

  grpc::Status Version(grpc::ServerContext*, const v1::VersionRequest*, v1::VersionResponse* out) override {
    std::lock_guard lock(state_->mutex);
    out->set_version("0.1.0");
    out->set_runtime_name("containerd");
    out->set_runtime_version("v1.6.20");
    out->set_runtime_api_version(state_->api_version);
    return grpc::Status::OK;
  }

  grpc::Status ListPodSandbox(grpc::ServerContext*, const v1::ListPodSandboxRequest* req,
                              v1::ListPodSandboxResponse* out) override {
    std::lock_guard lock(state_->mutex);
    const bool filter_state = req->filter().has_state();
    for (const auto& [id, p] : state_->sandboxes) {
      const auto state = p.ready ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY;
      if (filter_state && req->filter().state().state() != state) continue;
      if (!req->filter().id().empty() && req->filter().id() != id) continue;
      auto* item = out->add_items();
      item->set_id(p.id);
      FillMetadata(p, item->mutable_metadata());
      item->set_state(state);
      item->set_created_at(p.created_at_ns);
      auto labels = KubeletLabels(p);
      item->mutable_labels()->insert(labels.begin(), labels.end());
      item->mutable_annotations()->insert(p.annotations.begin(), p.annotations.end());
      item->set_runtime_handler(p.handler);
    }
    return grpc::Status::OK;
  }

  grpc::Status PodSandboxStatus(grpc::ServerContext*, const v1::PodSandboxStatusRequest* req,
                                v1::PodSandboxStatusResponse* out) override {
    std::lock_guard lock(state_->mutex);
    auto it = state_->sandboxes.find(req->pod_sandbox_id());
    if (it == state_->sandboxes.end()) {
      // containerd 1.6's wording (pkg/cri/store errors).
      return {
          grpc::StatusCode::NOT_FOUND,
          fmt::format("an error occurred when try to find sandbox \"{}\": not found", req->pod_sandbox_id())};
    }
    const FakeSandbox& p = it->second;
    auto* s = out->mutable_status();
    s->set_id(p.id);
    FillMetadata(p, s->mutable_metadata());
    s->set_state(p.ready ? v1::SANDBOX_READY : v1::SANDBOX_NOTREADY);
    s->set_created_at(p.created_at_ns);
    auto labels = KubeletLabels(p);
    s->mutable_labels()->insert(labels.begin(), labels.end());
    s->mutable_annotations()->insert(p.annotations.begin(), p.annotations.end());
    s->set_runtime_handler(p.handler);
    s->mutable_linux()->mutable_namespaces()->mutable_options()->set_network(v1::NODE);
    if (req->verbose() && p.verbose_info) (*out->mutable_info())["info"] = SandboxInfoJson(p);
    return grpc::Status::OK;
  }

  // Sandboxes without containers.
  grpc::Status ListContainers(grpc::ServerContext*, const v1::ListContainersRequest*,
                              v1::ListContainersResponse*) override {
    return grpc::Status::OK;
  }

  grpc::Status ListContainerStats(grpc::ServerContext*, const v1::ListContainerStatsRequest* req,
                                  v1::ListContainerStatsResponse* out) override {
    std::lock_guard lock(state_->mutex);
    state_->last_stats_filter = req->filter().pod_sandbox_id();
    for (const FakeContainerStats& c : state_->stats) {
      auto* stats = out->add_stats();
      stats->mutable_attributes()->set_id(c.id);
      stats->mutable_attributes()->mutable_metadata()->set_name(c.name);
      stats->mutable_memory()->set_timestamp(c.memory_timestamp_ns);
      if (c.working_set_bytes)
        stats->mutable_memory()->mutable_working_set_bytes()->set_value(*c.working_set_bytes);
    }
    return grpc::Status::OK;
  }

 private:
  std::shared_ptr<FakeCriServer::State> state_;
};

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

struct FakeCriServer::Impl {
  explicit Impl(std::shared_ptr<State> state) : service(std::move(state)) {}
  FakeRuntimeService service;
  std::unique_ptr<grpc::Server> server;
};

std::vector<FakeSandbox> MakeFakeSandboxes(int n, bool cgroup_parents, int first) {
  std::vector<FakeSandbox> pods;
  pods.reserve(static_cast<size_t>(n));
  for (int i = first; i < first + n; ++i) {
    FakeSandbox p;
    p.id = fmt::format("{:064x}", 0x5c1e0000u + static_cast<unsigned>(i));
    p.name = fmt::format("web-{}-7d4b9", i);
    p.namespace_ = fmt::format("shop-{}", i % 10);
    p.uid = fmt::format("{:08x}-3d4a-4b5c-8d9e-{:012x}", 0x0f6b2c1eu + static_cast<unsigned>(i), i);
    if (cgroup_parents) p.cgroup_parent = "/kubepods/burstable/pod" + p.uid;
    p.created_at_ns = 1700000000000000000LL + i * 1000000000LL;
    int64_t millicpu = 250 * (1 + i % 8);        // 250m .. 2000m
    int64_t memory = 256 * kMib * (1 + i % 16);  // 256 MiB .. 4 GiB
    p.resources = FakeResources{100000, millicpu * 100, millicpu * 1024 / 1000, memory};
    p.overhead = FakeResources{100000, 25000, 256, 160 * kMib};
    pods.push_back(std::move(p));
  }
  return pods;
}

std::vector<FakePodCgroup> FakePodCgroups(int n, int first) {
  std::vector<FakePodCgroup> out;
  for (const auto& p : MakeFakeSandboxes(n, true, first)) {
    out.push_back(
        {.cgroup_parent = p.cgroup_parent,
         .memory_limit_bytes = p.resources->memory_limit_in_bytes + p.overhead->memory_limit_in_bytes,
         .cpu_quota_us = p.resources->cpu_quota + p.overhead->cpu_quota});
  }
  return out;
}

Result<std::unique_ptr<FakeCriServer>> FakeCriServer::Start(const std::string& socket_path) {
  std::unique_ptr<FakeCriServer> self(new FakeCriServer());
  self->socket_path_ = socket_path;
  self->state_ = std::make_shared<State>();
  self->impl_ = std::make_unique<Impl>(self->state_);
  ::unlink(socket_path.c_str());
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix://" + socket_path, grpc::InsecureServerCredentials());
  // The kubelet's and containerd's limit (CRI.md §1.2).
  builder.SetMaxReceiveMessageSize(16 << 20);
  builder.SetMaxSendMessageSize(16 << 20);
  builder.RegisterService(&self->impl_->service);
  self->impl_->server = builder.BuildAndStart();
  if (!self->impl_->server) return Error{fmt::format("fake CRI: cannot listen on {}", socket_path)};
  return self;
}

FakeCriServer::~FakeCriServer() {
  if (impl_ && impl_->server) impl_->server->Shutdown(std::chrono::system_clock::now());
}

void FakeCriServer::Upsert(const FakeSandbox& sandbox) {
  std::lock_guard lock(state_->mutex);
  state_->sandboxes[sandbox.id] = sandbox;
}
void FakeCriServer::Upsert(const std::vector<FakeSandbox>& sandboxes) {
  std::lock_guard lock(state_->mutex);
  for (const auto& s : sandboxes) state_->sandboxes[s.id] = s;
}
void FakeCriServer::Remove(const std::string& sandbox_id) {
  std::lock_guard lock(state_->mutex);
  state_->sandboxes.erase(sandbox_id);
}
void FakeCriServer::Remove(const std::vector<FakeSandbox>& sandboxes) {
  std::lock_guard lock(state_->mutex);
  for (const auto& s : sandboxes) state_->sandboxes.erase(s.id);
}
size_t FakeCriServer::size() const {
  std::lock_guard lock(state_->mutex);
  return state_->sandboxes.size();
}
void FakeCriServer::set_api_version(const std::string& version) {
  std::lock_guard lock(state_->mutex);
  state_->api_version = version;
}
void FakeCriServer::set_container_stats(std::vector<FakeContainerStats> stats) {
  std::lock_guard lock(state_->mutex);
  state_->stats = std::move(stats);
}
std::string FakeCriServer::last_stats_filter() const {
  std::lock_guard lock(state_->mutex);
  return state_->last_stats_filter;
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
  auto server = FakeCriServer::Start(socket);
  if (!server) {
    fmt::print(stderr, "{}\n", server.error().message);
    return 1;
  }
  (*server)->Upsert(MakeFakeSandboxes(pods, cgroup_parents));
  for (;;) ::pause();  // until the parent kills us
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
    // Never outlive the caller, whatever ends it.
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

}  // namespace uvm::testing
