// `uvm-sizer status`: what the running daemon sees, over its API socket.
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/table.h"
#include "kubelet-plugin/api/api_server.h"

namespace uvm::cli {
namespace {

using nlohmann::json;
constexpr int64_t kMib = 1 << 20;

struct StatusOptions {
  std::string socket = "/run/uvm-sizer/uvm-sizer.sock";
  std::string output = "text";
  int timeout_ms = 3000;
};

template <class T>
json Opt(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json PodJson(const api::PodView& p) {
  return {{"sandbox_id", p.sandbox_id},
          {"namespace", p.namespace_},
          {"name", p.name},
          {"uid", p.uid},
          {"handler", p.runtime_handler},
          {"profile", Opt(p.profile)},
          {"vm_isolated", p.profile.has_value()},
          {"phase", p.phase},
          {"uvm", p.vcpus ? json{{"vcpus", *p.vcpus}, {"memory_mib", *p.memory_mib}} : json(nullptr)},
          {"error", Opt(p.refusal)},
          {"host_memory_bytes", Opt(p.host_memory_bytes)},
          {"overhead",
           {{"required_memory_bytes", p.overhead_required_bytes},
            {"declared_memory_bytes", p.overhead_declared_bytes},
            {"shortfall_bytes", p.overhead_shortfall_bytes}}},
          {"cgroup",
           {{"parent", p.cgroup_parent},
            {"memory_limit_bytes", Opt(p.cgroup_memory_limit_bytes)},
            {"memory_usage_bytes", Opt(p.cgroup_memory_usage_bytes)},
            {"writes", p.cgroup_writes}}},
          {"pressure",
           {{"level", p.pressure_level},
            {"cause", p.pressure_cause},
            {"basis", p.pressure_basis},
            {"exhaustion_seconds", Opt(p.exhaustion_seconds)},
            {"advice", p.pressure_advice}}},
          {"host_overhead_measured_bytes", Opt(p.host_overhead_measured_bytes)},
          {"host_overhead_model_bytes", p.host_overhead_model_bytes},
          {"notes", p.notes},
          {"last_error", Opt(p.last_error)}};
}

json LedgerJson(const api::LedgerView& l) {
  json shapes = json::array();
  for (const auto& s : l.shapes) {
    shapes.push_back({{"shape", s.shape},
                      {"host_fit", Opt(s.host_fit)},
                      {"host_binding", s.host_binding},
                      {"host_memory_bytes", s.host_memory_bytes},
                      {"scheduler_memory_bytes", s.scheduler_memory_bytes},
                      {"cpu_millis", s.cpu_millis}});
  }
  return {{"node", l.node},
          {"allocatable",
           {{"memory_bytes", l.allocatable_memory_bytes},
            {"cpu_millis", l.allocatable_cpu_millis},
            {"pods", l.allocatable_pods > 0 ? json(l.allocatable_pods) : json(nullptr)},
            {"source", l.allocatable_source}}},
          {"host",
           {{"committed_memory_bytes", l.committed_memory_bytes},
            {"committed_cpu_millis", l.committed_cpu_millis},
            {"free_memory_bytes", l.free_memory_bytes},
            {"free_cpu_millis", l.free_cpu_millis}}},
          {"pods", l.pods},
          {"vm_pods", l.vm_pods},
          {"vm_pods_unlimited_cgroup", l.vm_pods_unlimited_cgroup},
          {"pods_request_unknown", l.pods_request_unknown},
          {"vm_pods_measured_above_model", l.vm_pods_measured_above_model},
          {"shapes", shapes},
          {"notes", l.notes}};
}

std::string Mib(std::optional<int64_t> bytes, const char* none) {
  return bytes ? fmt::format("{}Mi", (*bytes + kMib - 1) / kMib) : none;
}

std::string SignedMib(int64_t bytes) {
  return bytes < 0 ? "-" + Mib(-bytes, "") : Mib(bytes, "");
}

// The node ledger, host view: a short block below the pod table.
void PrintLedger(const api::LedgerView& l) {
  std::cout << fmt::format("node {}: allocatable {} memory, {}m CPU, {} pods (from {})\n", l.node,
                           Mib(l.allocatable_memory_bytes, "-"), l.allocatable_cpu_millis,
                           l.allocatable_pods > 0 ? std::to_string(l.allocatable_pods) : "any",
                           l.allocatable_source);
  std::cout << fmt::format(
      "host view: committed {} memory, {}m CPU; free {}, {}m CPU; {} pods, {} in a VM ({} with an unlimited "
      "pod cgroup, bounded by their UVM)\n",
      Mib(l.committed_memory_bytes, "-"), l.committed_cpu_millis, SignedMib(l.free_memory_bytes),
      l.free_cpu_millis, l.pods, l.vm_pods, l.vm_pods_unlimited_cgroup);
  if (l.pods_request_unknown > 0) {
    std::cout << fmt::format(
        "memory requests: unknown for {} pods (CRI carries none), so the daemon has the host view only; pods "
        "not in a VM count by their cgroup usage (`uvm-sizer capacity` and the rules give the scheduler "
        "view)\n",
        l.pods_request_unknown);
  }
  if (!l.shapes.empty()) {
    std::vector<std::vector<std::string>> rows = {
        {"SHAPE", "HOST FIT", "BINDING", "HOST NEED", "SCHEDULER NEED", "CPU NEED"}};
    for (const auto& s : l.shapes) {
      rows.push_back({s.shape, s.host_fit ? std::to_string(*s.host_fit) : "unbounded", s.host_binding,
                      Mib(s.host_memory_bytes, "-"), Mib(s.scheduler_memory_bytes, "-"),
                      fmt::format("{}m", s.cpu_millis)});
    }
    std::cout << '\n';
    PrintTable(rows);
  }
  for (const auto& n : l.notes) std::cout << fmt::format("note: {}\n", n);
}

void PrintText(const api::DaemonView& v) {
  std::cout << fmt::format("uvm-sizer {}: runtime {} {}, change feed {}, cgroups {} mode, {} pods\n\n",
                           v.version, v.cri_endpoint, v.cri_up ? "up" : "DOWN", v.change_feed, v.cgroup_mode,
                           v.pods.size());
  std::vector<std::vector<std::string>> rows = {{"POD", "HANDLER", "PROFILE", "PHASE", "UVM", "HOST",
                                                 "VMM MEASURED", "CGROUP LIMIT", "USAGE", "SHORT",
                                                 "PRESSURE"}};
  for (const auto& p : v.pods) {
    std::string uvm = p.refusal ? "REFUSED" : p.vcpus ? fmt::format("{}/{}Mi", *p.vcpus, *p.memory_mib) : "-";
    std::string pressure = p.pressure_level;
    if (p.exhaustion_seconds) pressure += fmt::format(" ({:.0f}s left)", *p.exhaustion_seconds);
    rows.push_back({p.namespace_ + "/" + p.name, p.runtime_handler, p.profile.value_or("not VM"), p.phase,
                    uvm, Mib(p.host_memory_bytes, "-"), Mib(p.host_overhead_measured_bytes, "-"),
                    Mib(p.cgroup_memory_limit_bytes, "unlimited"), Mib(p.cgroup_memory_usage_bytes, "-"),
                    p.overhead_shortfall_bytes > 0 ? Mib(p.overhead_shortfall_bytes, "-") : "-",
                    p.profile ? pressure : "-"});
  }
  PrintTable(rows);
  for (const auto& p : v.pods) {
    if (!p.pressure_advice.empty() && p.pressure_level != "ok") {
      std::cout << fmt::format("\n{}/{}: {}", p.namespace_, p.name, p.pressure_advice);
    }
    if (p.last_error) std::cout << fmt::format("\n{}/{}: error: {}", p.namespace_, p.name, *p.last_error);
  }
  std::cout << '\n';
  if (v.ledger) PrintLedger(*v.ledger);
}

}  // namespace

void AddStatusCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<StatusOptions>();
  auto* cmd =
      app.add_subcommand("status", "Show what the running daemon sees (pods, sizing, cgroups, pressure)");
  cmd->add_option("--socket", opt->socket, "the daemon's API socket")->capture_default_str();
  cmd->add_option("-o,--output", opt->output, "text or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--timeout-ms", opt->timeout_ms, "give up after this long")->capture_default_str();
  cmd->callback([opt, &exit_code] {
    auto view = api::FetchStatus(opt->socket, std::chrono::milliseconds(opt->timeout_ms));
    if (!view) {
      std::cerr << "uvm-sizer status: cannot reach the daemon: " << view.error().message << '\n';
      exit_code = 2;
      return;
    }
    if (opt->output == "json") {
      json out = {{"version", view->version},
                  {"cri_endpoint", view->cri_endpoint},
                  {"cri_up", view->cri_up},
                  {"cgroup_mode", view->cgroup_mode},
                  {"change_feed", view->change_feed},
                  {"started_at_unix_seconds", view->started_at_unix_seconds},
                  {"pods", json::array()}};
      for (const auto& p : view->pods) out["pods"].push_back(PodJson(p));
      out["ledger"] = view->ledger ? LedgerJson(*view->ledger) : json(nullptr);
      std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    } else {
      PrintText(*view);
    }
    exit_code = 0;
  });
}

}  // namespace uvm::cli
