// One fake CRI runtime (runtime.v1.RuntimeService on a unix socket) for the tests and benchmarks that need a
// runtime containerd cannot be made to play: thousands of pods created and removed in waves, a runtime
// without verbose sandbox info (as CRI-O's differs), an API version other than v1, stats with values left
// out. It answers Version, ListPodSandbox, PodSandboxStatus (with containerd 1.6's verbose SandboxInfo JSON
// when the sandbox has one), ListContainers (empty) and ListContainerStats; every other method answers
// UNIMPLEMENTED, as gRPC does for any unregistered method, so a daemon's change feed falls back to polling.
//
// Two ways to run it:
//   - FakeCriServer, in this process: the sandbox set can change while clients watch (tests).
//   - FakeCriProcess, a child of this process (this binary re-executed, see MaybeServeFakeCri) serving a
//     fixed set: the runtime's CPU time is then not the caller's (benchmarks of a client's cost).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace uvm::testing {

// CRI LinuxContainerResources, the four fields the kubelet sends for a sandbox.
struct FakeResources {
  int64_t cpu_period = 0, cpu_quota = 0, cpu_shares = 0, memory_limit_in_bytes = 0;
};

struct FakeSandbox {
  std::string id, name, namespace_, uid;
  uint32_t attempt = 0;
  std::string handler = "kata-cc";
  std::string cgroup_parent;  // "" = none in the verbose info
  int64_t created_at_ns = 0;
  bool ready = true;
  std::optional<FakeResources> resources, overhead;
  std::map<std::string, std::string> annotations;
  // true: PodSandboxStatus(verbose) carries containerd 1.6's SandboxInfo JSON (resources, overhead and
  // cgroup_parent in it); false: no info at all, so a client falls back to the sandbox annotations.
  bool verbose_info = true;
};

// One ListContainerStats entry; nullopt fields are left out of the answer (a runtime may omit them).
struct FakeContainerStats {
  std::string id, name;
  int64_t memory_timestamp_ns = 0;
  std::optional<uint64_t> working_set_bytes;
};

// Deterministic kata-cc sandboxes number `first` .. `first + n - 1`: sizes spread over what kata-cc
// workloads ask for (250m..2 CPU, 256 MiB..4 GiB) so that a sizer takes more than one path, and a typical
// RuntimeClass overhead (250m, 160 MiB). With `cgroup_parents`, each one's cgroup_parent is the kubelet's
// cgroupfs path "/kubepods/burstable/pod<uid>".
std::vector<FakeSandbox> MakeFakeSandboxes(int n, bool cgroup_parents, int first = 0);

// The pod cgroups the kubelet would have made for MakeFakeSandboxes(n, true, first): the cgroupfs path,
// the memory limit (resources + overhead) and the CFS quota per 100000 µs (likewise).
struct FakePodCgroup {
  std::string cgroup_parent;
  int64_t memory_limit_bytes = 0;
  int64_t cpu_quota_us = 0;
};
std::vector<FakePodCgroup> FakePodCgroups(int n, int first = 0);

// The server in this process (gRPC threads). Thread-safe: the setters may run while calls are served.
class FakeCriServer {
 public:
  // Listens on `socket_path` (a unix socket path; an existing file there is replaced).
  static Result<std::unique_ptr<FakeCriServer>> Start(const std::string& socket_path);
  ~FakeCriServer();  // stops at once, cancelling calls in flight
  FakeCriServer(const FakeCriServer&) = delete;
  FakeCriServer& operator=(const FakeCriServer&) = delete;

  std::string endpoint() const { return "unix://" + socket_path_; }

  void Upsert(const FakeSandbox& sandbox);
  void Upsert(const std::vector<FakeSandbox>& sandboxes);
  void Remove(const std::string& sandbox_id);
  void Remove(const std::vector<FakeSandbox>& sandboxes);
  size_t size() const;

  // VersionResponse.runtime_api_version (default "v1").
  void set_api_version(const std::string& version);
  // What ListContainerStats answers, whatever the filter (default: nothing).
  void set_container_stats(std::vector<FakeContainerStats> stats);
  // The pod_sandbox_id filter of the last ListContainerStats call.
  std::string last_stats_filter() const;

  struct State;  // shared with the gRPC service

 private:
  FakeCriServer() = default;
  std::string socket_path_;
  std::shared_ptr<State> state_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct FakeCriOptions {
  int pods = 250;
  bool cgroup_parents = true;  // see MakeFakeSandboxes
};

// The server in a child process serving MakeFakeSandboxes(options.pods, options.cgroup_parents).
class FakeCriProcess {
 public:
  // Starts the server on `dir`/cri.sock and waits (up to 10 s) until it answers connections. The calling
  // binary's main() must call MaybeServeFakeCri first.
  static Result<std::unique_ptr<FakeCriProcess>> Start(const std::string& dir, const FakeCriOptions& options);
  ~FakeCriProcess();  // SIGKILL and reap
  FakeCriProcess(const FakeCriProcess&) = delete;
  FakeCriProcess& operator=(const FakeCriProcess&) = delete;

  const std::string& endpoint() const { return endpoint_; }  // unix:///...
  pid_t pid() const { return pid_; }

 private:
  FakeCriProcess() = default;
  std::string endpoint_;
  pid_t pid_ = -1;
};

// Call first in main(): when argv asks for the fake server (FakeCriProcess re-executes the binary so),
// serves until killed and returns its exit code; otherwise returns -1.
int MaybeServeFakeCri(int argc, char** argv);

// A private temp dir /tmp/<prefix>.XXXXXX, removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const char* prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace uvm::testing
