// `uvm-sizer size`: what UVM each pod of a manifest gets, and what it really costs the node.
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/io.h"
#include "cli/sizing_flags.h"
#include "cli/table.h"
#include "sizer/formats/size_report.h"
#include "sizer/size_pod.h"

namespace uvm::cli {
namespace {

using sizer::PodSizing;

constexpr int64_t kMib = 1 << 20;

struct SizeOptions {
  std::string file = "-";
  std::string handler;
  std::string profile;
  std::string overhead_memory;
  std::string overhead_cpu;
  std::string output = "text";
  SizingFlags sizing;
};

std::string MibText(std::optional<int64_t> bytes, const char* none) {
  if (!bytes) return none;
  return *bytes % kMib == 0 ? fmt::format("{}Mi", *bytes / kMib)
                            : fmt::format("{:.1f}Mi", static_cast<double>(*bytes) / kMib);
}

void PrintText(const std::vector<PodSizing>& pods, const std::vector<std::string>& input_warnings) {
  std::vector<std::vector<std::string>> rows = {{"POD", "HANDLER", "PROFILE", "VCPUS", "UVM", "HOST",
                                                 "POD CGROUP", "OVERHEAD NEED", "DECLARED", "SHORT"}};
  for (const auto& s : pods) {
    std::string pod = fmt::format("{} {}/{}", s.ref.kind, s.ref.namespace_, s.ref.name);
    std::string handler = s.handler.empty() ? "(default)" : s.handler;
    if (!s.profile) {
      rows.push_back({pod, handler, "-", "-", "not VM-isolated", "-",
                      MibText(s.pod_cgroup.memory_limit_bytes, "unlimited"), "-", "-", "-"});
      continue;
    }
    if (!s.uvm) {
      rows.push_back({pod, handler, *s.profile, "-", "REFUSED", "-", "-", "-", "-", "-"});
      continue;
    }
    rows.push_back(
        {pod, handler, *s.profile, std::to_string(s.uvm->vcpus), fmt::format("{}Mi", s.uvm->memory_mib),
         MibText(s.host_memory_bytes, "-"), MibText(s.pod_cgroup.memory_limit_bytes, "unlimited"),
         MibText(s.overhead.required_memory_bytes, "-"), MibText(s.overhead.declared_memory_bytes, "-"),
         MibText(s.overhead.shortfall_bytes, "-")});
  }
  PrintTable(rows);
  bool header = false;
  auto warn = [&](const std::string& who, const std::string& what) {
    if (!header) std::cout << "\nWarnings:\n";
    header = true;
    std::cout << "  " << who << what << '\n';
  };
  for (const auto& w : input_warnings) warn("", w);
  for (const auto& s : pods) {
    for (const auto& w : s.warnings)
      warn(fmt::format("{} {}/{}: ", s.ref.kind, s.ref.namespace_, s.ref.name), w);
  }
}

int Run(const SizeOptions& opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer size: " << message << '\n';
    return 2;
  };
  if (opt.output != "text" && opt.output != "json")
    return fail(fmt::format("-o: unknown format \"{}\"", opt.output));
  auto ctx = opt.sizing.BuildContext();
  if (!ctx) return fail(ctx.error().message);
  if (!opt.handler.empty()) ctx->handler_override = opt.handler;
  if (!opt.profile.empty()) {
    if (!ctx->catalog.Find(opt.profile))
      return fail(fmt::format("--profile: unknown profile \"{}\"", opt.profile));
    ctx->profile_override = opt.profile;
  }
  if (!opt.overhead_memory.empty()) {
    auto q = ParseFlagQuantity("--overhead-memory", opt.overhead_memory);
    if (!q) return fail(q.error().message);
    ctx->overhead_override.memory = *q;
  }
  if (!opt.overhead_cpu.empty()) {
    auto q = ParseFlagQuantity("--overhead-cpu", opt.overhead_cpu);
    if (!q) return fail(q.error().message);
    ctx->overhead_override.cpu = *q;
  }

  auto text = ReadInput(opt.file);
  if (!text) return fail(text.error().message);
  const std::string name = DisplayName(opt.file);
  auto report = sizer::formats::SizeManifest(*text, *ctx);
  if (!report) return fail(fmt::format("{}: {}", name, report.error().message));

  if (opt.output == "json") {
    std::cout << sizer::formats::SizeReportJson(*report) << '\n';
  } else {
    if (report->pods.empty()) std::cout << "no pods in " << name << '\n';
    PrintText(report->pods, report->warnings);
  }
  return report->refused ? 3 : 0;
}

}  // namespace

void AddSizeCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SizeOptions>();
  auto* cmd =
      app.add_subcommand("size", "Size the UVM of every pod in a manifest and show what it costs the node");
  cmd->add_option("file", opt->file, "manifest file (YAML, several documents, Lists), or - for stdin")
      ->capture_default_str();
  cmd->add_option("--handler", opt->handler, "size every pod for this runtime handler (e.g. kata-cc)");
  cmd->add_option("--profile", opt->profile, "size every pod with this profile (see `uvm-sizer profiles`)");
  cmd->add_option("--overhead-memory", opt->overhead_memory,
                  "declared overhead memory for every pod (e.g. 600Mi)");
  cmd->add_option("--overhead-cpu", opt->overhead_cpu, "declared overhead cpu for every pod (e.g. 250m)");
  cmd->add_option("-o,--output", opt->output, "text or json")->capture_default_str();
  opt->sizing.Register(*cmd);
  cmd->footer(
      "Exit status: 0 every pod sized; 3 the runtime would refuse at least one pod (output still printed);\n"
      "2 invalid input or usage (one message on stderr, nothing on stdout).");
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
