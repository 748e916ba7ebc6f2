// `uvm-sizer inspect`: what the daemon would see of one pod's cgroup, for operators debugging a node.
// Reads only; a cgroup_parent that fails the path rules is refused (exit 2) before anything is opened.
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cgroups/layout.h"
#include "cgroups/paths.h"
#include "cgroups/pod_cgroup.h"
#include "cli/commands.h"

namespace uvm::cli {
namespace {

using nlohmann::json;

struct InspectOptions {
  std::string cgroup_parent;
  std::string sandbox_id;
  std::string cgroup_root = std::string(cgroups::kDefaultCgroupRoot);
  std::string kubelet_cgroup_root = "/";
  std::string pod_uid;
  std::string output = "text";
};

template <class T>
json OrNull(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json PressureJson(const cgroups::CgroupSample& s) {
  if (!s.memory_pressure && !s.cpu_pressure) return nullptr;
  json p = json::object();
  auto add = [&p](const char* resource, const std::optional<cgroups::Pressure>& pr) {
    auto key = [resource](const char* rest) { return fmt::format("{}_{}", resource, rest); };
    std::optional<cgroups::PressureLine> some, full;
    if (pr) {
      some = pr->some;
      full = pr->full;
    }
    p[key("some_avg10")] = some ? json(some->avg10) : json(nullptr);
    p[key("some_avg60")] = some ? json(some->avg60) : json(nullptr);
    p[key("some_total_us")] = some ? json(some->total_us) : json(nullptr);
    p[key("full_avg10")] = full ? json(full->avg10) : json(nullptr);
    p[key("full_avg60")] = full ? json(full->avg60) : json(nullptr);
    p[key("full_total_us")] = full ? json(full->total_us) : json(nullptr);
  };
  add("memory", s.memory_pressure);
  add("cpu", s.cpu_pressure);
  return p;
}

json SampleJson(const std::string& path, const cgroups::CgroupSample& s) {
  return {{"cgroup_version", s.version},
          {"path", path},
          {"memory",
           {{"limit_bytes", OrNull(s.memory_limit_bytes)},
            {"usage_bytes", s.memory_usage_bytes},
            {"shmem_bytes", OrNull(s.shmem_bytes)},
            {"oom_kill_count", OrNull(s.events.oom_kill)},
            {"high_bytes", OrNull(s.memory_high_bytes)},
            {"memsw_limit_bytes", OrNull(s.memsw_limit_bytes)},
            {"file_bytes", OrNull(s.file_bytes)},
            {"anon_bytes", OrNull(s.anon_bytes)},
            {"events",
             {{"high", OrNull(s.events.high)},
              {"max", OrNull(s.events.max)},
              {"oom", OrNull(s.events.oom)},
              {"oom_kill", OrNull(s.events.oom_kill)}}}}},
          {"cpu",
           {{"quota_us", OrNull(s.cpu_quota_us)},
            {"period_us", OrNull(s.cpu_period_us)},
            {"usage_usec", OrNull(s.cpu_usage_usec)}}},
          {"pressure", PressureJson(s)}};
}

std::string Bytes(std::optional<uint64_t> v, const char* none) {
  if (!v) return none;
  return fmt::format("{:.1f} MiB ({})", static_cast<double>(*v) / (1024.0 * 1024.0), *v);
}

void PrintText(const std::string& label, const std::string& path, const cgroups::CgroupSample& s) {
  std::cout << fmt::format("{:<10} {} (cgroup v{})\n", label, path, s.version);
  std::cout << fmt::format("{:<10} limit {}, usage {}, shmem {}, oom kills {}\n", "memory",
                           Bytes(s.memory_limit_bytes, "unlimited"), Bytes(s.memory_usage_bytes, "-"),
                           Bytes(s.shmem_bytes, "n/a"),
                           s.events.oom_kill ? std::to_string(*s.events.oom_kill) : "n/a");
  if (s.cpu_period_us) {
    std::cout << fmt::format(
        "{:<10} quota {}\n", "cpu",
        s.cpu_quota_us
            ? fmt::format("{} µs per {} µs ({:.2f} CPUs)", *s.cpu_quota_us, *s.cpu_period_us,
                          static_cast<double>(*s.cpu_quota_us) / static_cast<double>(*s.cpu_period_us))
            : std::string("unlimited"));
  } else {
    std::cout << fmt::format("{:<10} no cpu controller\n", "cpu");
  }
  if (s.memory_pressure) {
    std::cout << fmt::format(
        "{:<10} memory some avg10 {:.2f} full avg10 {}\n", "pressure", s.memory_pressure->some.avg10,
        s.memory_pressure->full ? fmt::format("{:.2f}", s.memory_pressure->full->avg10) : "n/a");
  } else {
    std::cout << fmt::format("{:<10} no PSI for this cgroup\n", "pressure");
  }
}

int Run(const InspectOptions& opt) {
  auto fail = [](int code, const std::string& message) {
    std::cerr << "uvm-sizer inspect: " << message << '\n';
    return code;
  };
  if (opt.output != "text" && opt.output != "json")
    return fail(2, fmt::format("-o: unknown format \"{}\"", opt.output));
  // The daemon's own path to a pod cgroup (cgroups::PodCgroups): the path rules first, so a refused
  // cgroup_parent (or a tree refused as hostile: kInvalidInput) exits 2 before any cgroup file is read.
  cgroups::PodCgroups cgroups(
      {.cgroup_root = opt.cgroup_root, .kubelet_cgroup_root = opt.kubelet_cgroup_root});
  auto pod = cgroups.OpenPod(opt.cgroup_parent, opt.pod_uid, opt.sandbox_id);
  if (!pod) return fail(pod.error().code == ErrorCode::kInvalidInput ? 2 : 1, pod.error().message);
  auto layout = cgroups.Layout();
  if (!layout) return fail(1, layout.error().message);
  auto sample = pod->ReadSample();
  if (!sample) return fail(1, sample.error().message);
  const cgroups::PodCgroupPaths& paths = pod->paths();

  std::optional<cgroups::CgroupSample> sandbox;
  std::string sandbox_note;
  if (!paths.sandbox.empty()) {
    auto s = cgroups.ReadSandboxSample(*pod);
    if (s) {
      sandbox = *s;
    } else {
      sandbox_note = s.error().message;
    }
  }

  if (opt.output == "json") {
    json out = SampleJson(pod->path(), *sample);
    out["layout"] = cgroups::LayoutName((*layout)->kind);
    out["driver"] = paths.driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs";
    out["systemd_unit"] = paths.systemd_unit.empty() ? json(nullptr) : json(paths.systemd_unit);
    if (!paths.sandbox.empty()) {
      out["sandbox"] = sandbox ? SampleJson("/" + paths.sandbox, *sandbox) : json(nullptr);
      if (!sandbox) out["sandbox_error"] = sandbox_note;
    }
    std::cout << out.dump(2) << '\n';
    return 0;
  }
  std::cout << fmt::format("{:<10} {} ({} driver{})\n", "layout", cgroups::LayoutName((*layout)->kind),
                           paths.driver == cgroups::CgroupDriver::kSystemd ? "systemd" : "cgroupfs",
                           paths.systemd_unit.empty() ? "" : ", unit " + paths.systemd_unit);
  PrintText("pod", pod->path(), *sample);
  if (sandbox) PrintText("sandbox", "/" + paths.sandbox, *sandbox);
  if (!sandbox_note.empty()) std::cout << fmt::format("{:<10} {}\n", "sandbox", sandbox_note);
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Show a pod's cgroup as the daemon sees it (limits, usage, PSI)");
  cmd->add_option("--cgroup-parent", opt->cgroup_parent,
                  "the CRI cgroup_parent: /kubepods/burstable/pod<uid> or kubepods-burstable-pod<uid>.slice")
      ->required();
  cmd->add_option("--sandbox-id", opt->sandbox_id, "also show the sandbox's own cgroup");
  cmd->add_option("--cgroup-root", opt->cgroup_root,
                  "where the cgroup hierarchies are (a mount, or a copied tree)")
      ->capture_default_str();
  cmd->add_option("--kubelet-cgroup-root", opt->kubelet_cgroup_root,
                  "the kubelet's --cgroup-root (cgroupfs driver)")
      ->capture_default_str();
  cmd->add_option("--pod-uid", opt->pod_uid, "refuse a cgroup_parent that names another pod");
  cmd->add_option("-o,--output", opt->output, "text or json")->capture_default_str();
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
