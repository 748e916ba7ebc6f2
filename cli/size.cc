// `uvm-sizer size`: what UVM each pod of some manifests gets, and what it really costs the node.
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
using sizer::formats::SizeReport;

constexpr int64_t kMib = 1 << 20;

struct SizeOptions {
  std::vector<std::string> files;  // -f and positional, in command-line order
  bool recursive = false;
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

std::string HandlerText(const std::string& handler) {
  return handler.empty() ? "(default)" : handler;
}

std::string PodText(const PodSizing& s) {
  return fmt::format("{} {}/{}", s.ref.kind, s.ref.namespace_, s.ref.name);
}

void PrintTotals(const SizeReport& report) {
  auto totals = sizer::formats::Totals(report);
  std::vector<std::vector<std::string>> rows = {
      {"HANDLER", "PODS", "VM PODS", "REFUSED", "VCPUS", "UVM", "HOST", "SHORT"}};
  auto row = [&](std::string label, const sizer::formats::SizeTotals& t) {
    rows.push_back({std::move(label), std::to_string(t.pods), std::to_string(t.vm_pods),
                    std::to_string(t.refused_pods), std::to_string(t.uvm_vcpus),
                    fmt::format("{}Mi", t.uvm_memory_mib), MibText(t.host_memory_bytes, "-"),
                    MibText(t.overhead_shortfall_bytes, "-")});
  };
  for (const auto& h : totals.by_handler) row(HandlerText(h.handler), h.totals);
  row("(all)", totals.all);
  std::cout << "\nTotals:\n";
  PrintTable(rows);
}

void PrintText(const SizeReport& report, bool several_inputs) {
  bool nodes = false;
  for (const auto& s : report.pods) nodes = nodes || !s.ref.node_name.empty();
  // Optional columns lead, so the fixed ones keep their order for people who read them by position.
  auto with_optional = [&](const PodSizing* s, std::vector<std::string> rest) {
    std::vector<std::string> row;
    if (several_inputs) row.push_back(s ? DisplayName(s->ref.source) : "SOURCE");
    row.push_back(s ? PodText(*s) : "POD");
    if (nodes) row.push_back(s ? (s->ref.node_name.empty() ? "-" : s->ref.node_name) : "NODE");
    row.insert(row.end(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
    return row;
  };
  std::vector<std::vector<std::string>> rows = {with_optional(
      nullptr,
      {"HANDLER", "PROFILE", "VCPUS", "UVM", "HOST", "POD CGROUP", "OVERHEAD NEED", "DECLARED", "SHORT"})};
  for (const auto& s : report.pods) {
    std::string handler = HandlerText(s.handler);
    if (!s.profile) {
      rows.push_back(
          with_optional(&s, {handler, "-", "-", "not VM-isolated", "-",
                             MibText(s.pod_cgroup.memory_limit_bytes, "unlimited"), "-", "-", "-"}));
      continue;
    }
    if (!s.uvm) {
      rows.push_back(with_optional(&s, {handler, *s.profile, "-", "REFUSED", "-", "-", "-", "-", "-"}));
      continue;
    }
    rows.push_back(with_optional(
        &s, {handler, *s.profile, std::to_string(s.uvm->vcpus), fmt::format("{}Mi", s.uvm->memory_mib),
             MibText(s.host_memory_bytes, "-"), MibText(s.pod_cgroup.memory_limit_bytes, "unlimited"),
             MibText(s.overhead.required_memory_bytes, "-"), MibText(s.overhead.declared_memory_bytes, "-"),
             MibText(s.overhead.shortfall_bytes, "-")}));
  }
  PrintTable(rows);
  if (!report.pods.empty()) PrintTotals(report);
  bool header = false;
  auto warn = [&](const std::string& who, const std::string& what) {
    if (!header) std::cout << "\nWarnings:\n";
    header = true;
    std::cout << "  " << Printable(who + what) << '\n';
  };
  for (const auto& w : report.warnings) warn("", w);
  for (const auto& s : report.pods) {
    std::string who = several_inputs ? fmt::format("{}: ", DisplayName(s.ref.source)) : "";
    for (const auto& w : s.warnings) warn(who + PodText(s) + ": ", w);
  }
}

int Run(SizeOptions opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer size: " << message << '\n';
    return 2;
  };
  if (opt.output != "text" && opt.output != "json" && opt.output != "csv")
    return fail(fmt::format("-o: unknown format \"{}\" (text, json or csv)", opt.output));
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

  // Nothing named: standard input, as before -f existed.
  if (opt.files.empty()) opt.files.push_back("-");
  auto paths = ExpandInputPaths(opt.files, opt.recursive);
  if (!paths) return fail(paths.error().message);
  // Every input is read (and parsed, in SizeManifests) before any pod is sized: a RuntimeClass in the
  // last file applies to pods of the first.
  std::vector<std::string> texts;
  texts.reserve(paths->size());
  for (const auto& path : *paths) {
    auto text = ReadInput(path);
    if (!text) return fail(text.error().message);
    texts.push_back(std::move(*text));
  }
  std::vector<sizer::formats::NamedInput> inputs;
  for (size_t i = 0; i < paths->size(); ++i) inputs.push_back({.source = (*paths)[i], .text = texts[i]});
  auto report = sizer::formats::SizeManifests(inputs, *ctx);
  if (!report) return fail(report.error().message);

  if (opt.output == "json") {
    std::cout << sizer::formats::SizeReportJson(*report) << '\n';
  } else if (opt.output == "csv") {
    std::cout << sizer::formats::SizeReportCsv(*report);
  } else {
    if (report->pods.empty()) {
      std::string names;
      for (const auto& path : *paths) names += (names.empty() ? "" : ", ") + DisplayName(path);
      std::cout << "no pods in " << Printable(names) << '\n';
    }
    PrintText(*report, paths->size() > 1);
  }
  return report->refused ? 3 : 0;
}

}  // namespace

void AddSizeCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SizeOptions>();
  auto* cmd = app.add_subcommand(
      "size", "Size the UVM of every pod in some manifests and show what it costs the node, with totals");
  cmd->add_option(
      "-f,--filename,files", opt->files,
      "manifests (YAML or JSON, `kubectl get pods -A -o json|yaml` too), directories (their "
      ".json/.yaml/.yml files), - for stdin (once); -f repeats, or name them without it; none: stdin");
  cmd->add_flag("-R,--recursive", opt->recursive, "read the subdirectories of a directory too");
  cmd->add_option("--handler", opt->handler, "size every pod for this runtime handler (e.g. kata-cc)");
  cmd->add_option("--profile", opt->profile, "size every pod with this profile (see `uvm-sizer profiles`)");
  cmd->add_option("--overhead-memory", opt->overhead_memory,
                  "declared overhead memory for every pod (e.g. 600Mi)");
  cmd->add_option("--overhead-cpu", opt->overhead_cpu, "declared overhead cpu for every pod (e.g. 250m)");
  cmd->add_option("-o,--output", opt->output, "text (a table and totals per handler), json or csv")
      ->capture_default_str();
  opt->sizing.Register(*cmd);
  cmd->footer(
      "Each file is its own YAML stream (documents are numbered from 1 in each, messages name the file);\n"
      "RuntimeClasses from any input apply to the pods of all of them.\n"
      "Exit status: 0 every pod sized; 3 the runtime would refuse at least one pod (output still printed);\n"
      "2 invalid input or usage (one message on stderr, nothing on stdout).");
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
