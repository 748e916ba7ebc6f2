// A test-only pod cgroup on the real kernel: <hierarchy>/uvm-test-<pid>-<n>/kubepods/burstable/pod<uid> in
// every v1 hierarchy we use and in the unified tree, removed on destruction even when the test failed
// (children it started are killed first). The unique top directory doubles as the kubelet --cgroup-root.
#pragma once

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cgroups/layout.h"

namespace uvm::cgroups::testing {

inline constexpr char kTestUid[] = "7e1d3c5a-0f2b-4c6d-8e9f-0a1b2c3d4e5f";

inline bool WriteSysFile(const std::string& path, const std::string& value) {
  std::ofstream out(path);
  out << value;
  out.flush();
  return static_cast<bool>(out);
}

inline std::string ReadSysFile(const std::string& path) {
  std::ifstream in(path);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

class RealPodCgroup {
 public:
  // Creates the pod cgroup in the memory, cpu, cpuacct and unified hierarchies of `layout` (those it has).
  explicit RealPodCgroup(const CgroupLayout& layout) {
    static std::atomic<int> counter{0};
    top_ = "uvm-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
    pod_ = top_ + "/kubepods/burstable/pod" + kTestUid;
    for (const std::string* root : {&layout.memory_v1, &layout.cpu_v1, &layout.cpuacct_v1, &layout.unified}) {
      if (root->empty()) continue;
      bool seen = false;
      for (const auto& r : roots_) seen = seen || r == *root;
      if (seen) continue;  // co-mounted cpu,cpuacct
      roots_.push_back(*root);
      std::error_code ec;
      std::filesystem::create_directories(*root + "/" + pod_, ec);
      if (ec) ADD_FAILURE() << "mkdir " << *root << "/" << pod_ << ": " << ec.message();
    }
  }
  ~RealPodCgroup() {
    for (pid_t pid : children_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    for (const auto& root : roots_) {
      // Deepest first; a cgroup whose last task just died can be busy for a moment.
      for (std::string dir = root + "/" + pod_; dir.size() > root.size();
           dir = dir.substr(0, dir.rfind('/'))) {
        for (int i = 0; i < 100 && rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
      }
    }
  }
  RealPodCgroup(const RealPodCgroup&) = delete;
  RealPodCgroup& operator=(const RealPodCgroup&) = delete;

  // The kubelet --cgroup-root and CRI cgroup_parent of this pod.
  std::string kubelet_root() const { return "/" + top_; }
  std::string cgroup_parent() const { return "/" + pod_; }
  const std::string& relative() const { return pod_; }
  std::string Dir(const std::string& root) const { return root + "/" + pod_; }
  // A child this test started: killed and reaped on destruction if still there.
  void Adopt(pid_t pid) { children_.push_back(pid); }
  void Reaped(pid_t pid) { std::erase(children_, pid); }

 private:
  std::string top_;
  std::string pod_;
  std::vector<std::string> roots_;
  std::vector<pid_t> children_;
};

}  // namespace uvm::cgroups::testing
