// A fake CRI runtime for the daemon benchmarks: a gRPC server of runtime.v1.RuntimeService (Version,
// ListPodSandbox, PodSandboxStatus with containerd 1.6's verbose info, and empty ListContainers /
// ListContainerStats) on a unix socket, serving N ready kata-cc sandboxes with resources and overhead.
//
// The server runs in a child process (this same binary, re-executed with --uvm-fake-cri-serve=...), so
// the benchmark's process CPU time is the client's alone: the runtime's side of a call is containerd's
// cost, not ours. Methods not listed answer UNIMPLEMENTED, as gRPC does for any unregistered method, so
// the daemon's change feed falls back to polling.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"

namespace uvm::bench {

struct FakeCriOptions {
  int pods = 250;
  // true: each sandbox's cgroup_parent is the cgroupfs path of its pod ("/kubepods/burstable/pod<uid>");
  // false: "" (the daemon then reads no cgroup at all).
  bool cgroup_parents = true;
};

class FakeCriProcess {
 public:
  // Starts the server on `dir`/cri.sock and waits (up to 10 s) until it answers connections.
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

// The pod cgroups the kubelet would have made for the fake's sandboxes (FakeCriOptions::cgroup_parents):
// the cgroupfs path and the memory limit it set (resources + overhead).
struct FakePodCgroup {
  std::string cgroup_parent;
  int64_t memory_limit_bytes = 0;
  int64_t cpu_quota_us = 0;  // per 100000 µs, resources + overhead
};
std::vector<FakePodCgroup> FakePodCgroups(int pods);

// Call first in main(): when argv asks for the fake server, serves until killed and returns its exit code;
// otherwise returns -1 and the benchmark runs as usual.
int MaybeServeFakeCri(int argc, char** argv);

// A private temp dir, removed with everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const char* prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace uvm::bench
