// The real ports: CRI over gRPC (kubelet-plugin/) and the host cgroup tree (cgroups/).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "daemon/ports.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace uvm::daemon {

std::unique_ptr<RuntimePort> MakeCriRuntime(const std::string& endpoint,
                                            std::chrono::milliseconds call_timeout);
// `kubelet_cgroup_root` is the kubelet's --cgroup-root: pod cgroups must lie beneath it.
std::unique_ptr<CgroupPort> MakeCgroupfsPort(const std::string& root, const std::string& kubelet_cgroup_root);

// The guest port over the Kata shim's monitor socket (guest/shim_monitor.h), answering on `io`.
std::unique_ptr<GuestPort> MakeShimMonitorGuest(boost::asio::io_context& io, std::string sandboxes_dir,
                                                std::chrono::milliseconds timeout);

// A runtime change feed (CRI events, else containerd's event stream, else nothing): `on_change` is called
// from the feed's own thread whenever a sandbox or container may have changed. Stop() returns promptly.
class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;
  virtual std::string Mode() const = 0;  // "cri-events", "containerd-events", "poll"
  virtual void Stop() = 0;
};
std::unique_ptr<ChangeFeed> StartChangeFeed(const std::string& endpoint, std::function<void()> on_change);

}  // namespace uvm::daemon
