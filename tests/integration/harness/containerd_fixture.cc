#include "tests/integration/harness/containerd_fixture.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "tests/support/subprocess.h"

#ifndef UVM_CONTAINERD_HARNESS
#error "UVM_CONTAINERD_HARNESS must name tests/integration/harness/containerd.sh"
#endif

namespace uvm::testing {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kCfsPeriodUs = 100000;  // the kubelet's pod-level cfs period (cm.QuotaPeriod)

std::string RandomUid() {
  std::random_device rd;
  std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd());
  uint64_t a = gen(), b = gen();
  // RFC 4122 version 4 layout; the kubelet's UIDs look the same.
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffULL);
}

Status WriteFile(const fs::path& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.close();
  if (!out) return Error{fmt::format("write {:?} to {}: failed", value, path.string())};
  return {};
}

struct Hierarchy {
  fs::path root;
  bool memory = false;  // v1 memory controller (or v2 tree)
  bool cpu = false;     // v1 cpu controller (or v2 tree)
  bool v2 = false;
};

// The cgroup hierarchies to create a pod cgroup in, as the kubelet's cgroupfs driver does (all of them).
std::vector<Hierarchy> Hierarchies() {
  std::vector<Hierarchy> out;
  const fs::path top = "/sys/fs/cgroup";
  std::error_code ec;
  if (fs::exists(top / "cgroup.controllers", ec) && !fs::exists(top / "memory", ec)) {
    out.push_back({top, true, true, true});  // pure v2
    return out;
  }
  for (const auto& entry : fs::directory_iterator(top, ec)) {
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    if (!fs::exists(entry.path() / "cgroup.procs", ec)) continue;
    const std::string name = entry.path().filename().string();
    Hierarchy h{entry.path()};
    h.memory = name == "memory";
    h.cpu = fs::exists(entry.path() / "cpu.cfs_quota_us", ec);
    h.v2 = fs::exists(entry.path() / "cgroup.controllers", ec);  // hybrid's unified: no controllers to set
    out.push_back(h);
  }
  return out;
}

// Removes `dir` and its children, deepest first; cgroup dirs go with rmdir only.
void RemoveCgroupTree(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return;
  std::vector<fs::path> dirs;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec) && !it->is_symlink(ec)) dirs.push_back(it->path());
  }
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir(it->c_str());
  ::rmdir(dir.c_str());
}

}  // namespace

Status PrivateContainerd::Script(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/bash", UVM_CONTAINERD_HARNESS};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessResult r = RunProcess(argv);
  if (r.exit_code != 0) {
    return Error{
        fmt::format("containerd.sh {} (exit {}): {}{}", fmt::join(args, " "), r.exit_code, r.err, r.out)};
  }
  return {};
}

Result<std::unique_ptr<PrivateContainerd>> PrivateContainerd::Start() {
  if (::geteuid() != 0)
    return Error{"the containerd integration tests need root (containerd, runc, cgroups)"};
  char tmpl[] = "/tmp/uvmtest-ctrd.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return Error{fmt::format("mkdtemp {}: {}", tmpl, std::strerror(errno))};
  std::unique_ptr<PrivateContainerd> self(new PrivateContainerd(tmpl, fmt::format("uvmtest-{}", ::getpid())));

  // The watcher first: whatever happens to this process from here on, the dir and cgroups go away.
  const std::string pid = std::to_string(::getpid());
  pid_t child = ::fork();
  if (child < 0) return Error{fmt::format("fork: {}", std::strerror(errno))};
  if (child == 0) {
    ::setsid();
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::closefrom(3);
    ::execl("/bin/bash", "bash", UVM_CONTAINERD_HARNESS, "watch", self->base_.c_str(), self->top_.c_str(),
            pid.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  self->watcher_pid_ = child;

  if (Status up = self->Script({"up", self->base_}); !up.ok()) return up.error();
  auto client = cri::CriClient::Create({.endpoint = self->endpoint()});
  if (!client.ok()) return client.error();
  self->client_ = std::move(*client);
  if (auto version = self->client_->Version(); !version.ok()) return version.error();
  return self;
}

PrivateContainerd::~PrivateContainerd() {
  Cleanup();
}

void PrivateContainerd::Cleanup() {
  if (cleaned_) return;
  cleaned_ = true;
  // Pods first, through CRI, so runc deletes its own cgroups; the script then sweeps whatever is left.
  if (client_ != nullptr) {
    for (const Pod& pod : pods_) {
      (void)client_->StopPodSandbox(pod.sandbox_id);
      (void)client_->RemovePodSandbox(pod.sandbox_id);
    }
    client_.reset();
  }
  if (Status s = Script({"cleanup", base_, top_}); !s.ok()) {
    fmt::print(stderr, "containerd fixture cleanup: {}\n", s.error().message);
  }
  if (watcher_pid_ > 0) {
    ::kill(watcher_pid_, SIGTERM);
    ::waitpid(watcher_pid_, nullptr, 0);
    watcher_pid_ = -1;
  }
}

Status PrivateContainerd::StopContainerd() {
  return Script({"stop", base_});
}
Status PrivateContainerd::StartContainerd() {
  return Script({"start", base_});
}

Result<Pod> PrivateContainerd::CreatePod(const PodOptions& options) {
  Pod pod;
  pod.uid = RandomUid();
  std::string relative = top_ + "/kubepods";
  if (!options.qos.empty()) relative += "/" + options.qos;
  relative += "/pod" + pod.uid;
  pod.cgroup_parent = "/" + relative;

  const cri::LinuxResources res = options.resources.value_or(cri::LinuxResources{});
  const cri::LinuxResources over = options.overhead.value_or(cri::LinuxResources{});
  // kubelet pod-level limits (pkg/kubelet/cm/helpers_linux.go ResourceConfigForPod): limits are summed
  // only when every container has one; the overhead is added on top.
  if (res.memory_limit_in_bytes > 0)
    pod.memory_limit_bytes = res.memory_limit_in_bytes + over.memory_limit_in_bytes;
  if (res.cpu_quota > 0) pod.cpu_quota_us = res.cpu_quota + over.cpu_quota;
  const int64_t shares = std::max<int64_t>(2, res.cpu_shares + over.cpu_shares);

  if (options.create_pod_cgroup) {
    for (const Hierarchy& h : Hierarchies()) {
      const fs::path dir = h.root / relative;
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return Error{fmt::format("mkdir {}: {}", dir.string(), ec.message())};
      pod.pod_cgroup_dirs.push_back(dir.string());
      if (h.v2 && !h.memory) continue;  // hybrid's unified tree: no controllers
      if (h.v2) {
        // Controllers must be enabled on every ancestor for the pod cgroup to get memory.max/cpu.max.
        fs::path level = h.root;
        for (const fs::path& component : fs::path(relative)) {
          (void)WriteFile(level / "cgroup.subtree_control", "+cpu +memory +pids");
          level /= component;
        }
        if (pod.memory_limit_bytes) {
          if (Status s = WriteFile(dir / "memory.max", std::to_string(*pod.memory_limit_bytes)); !s.ok())
            return s.error();
        }
        const std::string quota = pod.cpu_quota_us ? std::to_string(*pod.cpu_quota_us) : "max";
        if (Status s = WriteFile(dir / "cpu.max", fmt::format("{} {}", quota, kCfsPeriodUs)); !s.ok())
          return s.error();
        // runc's shares -> weight conversion (libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value).
        (void)WriteFile(dir / "cpu.weight", std::to_string(1 + ((shares - 2) * 9999) / 262142));
        continue;
      }
      if (h.memory && pod.memory_limit_bytes) {
        if (Status s = WriteFile(dir / "memory.limit_in_bytes", std::to_string(*pod.memory_limit_bytes));
            !s.ok()) {
          return s.error();
        }
      }
      if (h.cpu) {
        if (Status s = WriteFile(dir / "cpu.cfs_period_us", std::to_string(kCfsPeriodUs)); !s.ok())
          return s.error();
        if (pod.cpu_quota_us) {
          if (Status s = WriteFile(dir / "cpu.cfs_quota_us", std::to_string(*pod.cpu_quota_us)); !s.ok())
            return s.error();
        }
        if (Status s = WriteFile(dir / "cpu.shares", std::to_string(shares)); !s.ok()) return s.error();
      }
    }
  }

  cri::PodSandboxSpec& spec = pod.spec;
  spec.name = fmt::format("{}-{}", options.name, pod.uid.substr(0, 8));
  spec.namespace_ = options.namespace_;
  spec.uid = pod.uid;
  spec.runtime_handler = options.handler;
  spec.cgroup_parent = pod.cgroup_parent;
  spec.log_directory = fmt::format("{}/pods/{}", base_, pod.uid);
  spec.host_network = true;
  spec.labels = options.labels;
  // The labels the kubelet puts on every sandbox (pkg/kubelet/types/labels.go).
  spec.labels["io.kubernetes.pod.name"] = spec.name;
  spec.labels["io.kubernetes.pod.namespace"] = spec.namespace_;
  spec.labels["io.kubernetes.pod.uid"] = pod.uid;
  spec.annotations = options.annotations;
  spec.resources = options.resources;
  spec.overhead = options.overhead;
  std::error_code ec;
  fs::create_directories(spec.log_directory, ec);  // the kubelet makes the pod log dir first

  Result<std::string> id = client_->RunPodSandbox(spec);
  if (!id.ok()) {
    for (const std::string& dir : pod.pod_cgroup_dirs) RemoveCgroupTree(dir);
    return id.error();
  }
  pod.sandbox_id = *id;
  pods_.push_back(pod);
  return pod;
}

Result<std::string> PrivateContainerd::StartContainer(Pod& pod, const std::string& name,
                                                      const std::vector<std::string>& args,
                                                      std::optional<cri::LinuxResources> limit) {
  cri::ContainerSpec spec;
  spec.name = name;
  spec.image = kPauseImage;
  spec.command = {"/pause"};
  spec.args = args;
  spec.resources = limit;
  spec.log_path = name + "_0.log";
  spec.labels = {{"io.kubernetes.container.name", name},
                 {"io.kubernetes.pod.name", pod.spec.name},
                 {"io.kubernetes.pod.namespace", pod.spec.namespace_},
                 {"io.kubernetes.pod.uid", pod.uid}};
  Result<std::string> id = client_->CreateContainer(pod.sandbox_id, spec, pod.spec);
  if (!id.ok()) return id.error();
  if (Status started = client_->StartContainer(*id); !started.ok()) {
    (void)client_->RemoveContainer(*id);
    return started.error();
  }
  pod.container_ids.push_back(*id);
  return *id;
}

Status PrivateContainerd::RemovePod(const Pod& pod) {
  if (Status s = client_->StopPodSandbox(pod.sandbox_id); !s.ok()) return s;
  if (Status s = client_->RemovePodSandbox(pod.sandbox_id); !s.ok()) return s;
  std::erase_if(pods_, [&](const Pod& p) { return p.sandbox_id == pod.sandbox_id; });
  for (const std::string& dir : pod.pod_cgroup_dirs) RemoveCgroupTree(dir);
  return {};
}

void ContainerdTest::SetUpTestSuite() {
  if (instance_ != nullptr) return;
  auto started = PrivateContainerd::Start();
  if (!started.ok()) {
    start_error_ = started.error().message;
    return;
  }
  instance_ = std::move(*started);
}

void ContainerdTest::TearDownTestSuite() {
  instance_.reset();
}

void ContainerdTest::SetUp() {
  ASSERT_NE(instance_, nullptr) << "private containerd did not start: " << start_error_;
}

}  // namespace uvm::testing
