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
          {"notes", p.notes},
          {"last_error", Opt(p.last_error)}};
}

std::string Mib(std::optional<int64_t> bytes, const char* none) {
  return bytes ? fmt::format("{}Mi", (*bytes + kMib - 1) / kMib) : none;
}

void PrintText(const api::DaemonView& v) {
  std::cout << fmt::format("uvm-sizer {}: runtime {} {}, change feed {}, cgroups {} mode, {} pods\n\n",
                           v.version, v.cri_endpoint, v.cri_up ? "up" : "DOWN", v.change_feed, v.cgroup_mode,
                           v.pods.size());
  std::vector<std::vector<std::string>> rows = {
      {"POD", "HANDLER", "PROFILE", "PHASE", "UVM", "HOST", "CGROUP LIMIT", "USAGE", "SHORT", "PRESSURE"}};
  for (const auto& p : v.pods) {
    std::string uvm = p.refusal ? "REFUSED" : p.vcpus ? fmt::format("{}/{}Mi", *p.vcpus, *p.memory_mib) : "-";
    std::string pressure = p.pressure_level;
    if (p.exhaustion_seconds) pressure += fmt::format(" ({:.0f}s left)", *p.exhaustion_seconds);
    rows.push_back({p.namespace_ + "/" + p.name, p.runtime_handler, p.profile.value_or("not VM"), p.phase,
                    uvm, Mib(p.host_memory_bytes, "-"), Mib(p.cgroup_memory_limit_bytes, "unlimited"),
                    Mib(p.cgroup_memory_usage_bytes, "-"),
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
      std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << '\n';
    } else {
      PrintText(*view);
    }
    exit_code = 0;
  });
}

}  // namespace uvm::cli
