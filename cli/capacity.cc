// `uvm-sizer capacity`: offline node ledgers from what a planner already has (`kubectl get pods -A -o json`,
// `kubectl get nodes -o json`, the RuntimeClasses, manifests of the shapes to place): both views, fit per
// shape, gap, binding resource; and a gnuplot chart of committed memory per node.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "base/error_codes.h"
#include "cli/commands.h"
#include "cli/io.h"
#include "cli/sizing_flags.h"
#include "sizer/capacity.h"
#include "sizer/formats/capacity_report.h"
#include "sizer/formats/manifest.h"
#include "sizer/formats/nodes.h"
#include "sizer/size_pod.h"

extern char** environ;

namespace uvm::cli {
namespace {

using sizer::LedgerPod;
using sizer::formats::CapacityReport;

struct CapacityOptions {
  std::string pods;
  std::string nodes;
  std::string runtime_classes;
  std::vector<std::string> shapes;
  std::string output = "text";
  std::string plot;
  SizingFlags sizing;
};

// An error that names the file it is about.
Error InFile(const std::string& path, const Error& e) {
  return WithMessage(e, fmt::format("{}: {}", DisplayName(path), e.message));
}

Result<sizer::formats::Manifest> ReadManifest(const std::string& path, sizer::formats::ManifestKinds kinds) {
  auto text = ReadInput(path);
  if (!text) return text.error();
  auto manifest = sizer::formats::ParseManifest(*text, kinds);
  if (!manifest) return InFile(path, manifest.error());
  return manifest;
}

// The shape's name: its file's base name without the extension ("web" for shapes/web.yaml), so two shapes
// whose manifests name the same object stay apart.
std::string ShapeName(const std::string& path) {
  if (path == "-") return "stdin";
  std::string stem = std::filesystem::path(path).stem().string();
  return stem.empty() ? path : stem;
}

// The pod sized with its node's rules: the node's CPUs for Kata's vCPU checks.
Result<LedgerPod> SizeForNode(const sizer::Pod& pod, const sizer::SizingContext& base, uint32_t node_cpus,
                              const std::string& path) {
  sizer::SizingContext ctx = base;
  if (node_cpus > 0) ctx.host_cpus = node_cpus;
  auto sizing = sizer::SizePod(pod, ctx);
  if (!sizing) return InFile(path, sizing.error());
  LedgerPod out = sizer::LedgerPodFromSizing(pod, *sizing);
  if (out.uid.empty()) out.uid = pod.ref.uid;
  return out;
}

const sizer::RuntimeClass* FindRuntimeClass(const sizer::SizingContext& ctx, const std::string& name) {
  for (const auto& rc : ctx.runtime_classes)
    if (rc.name == name) return &rc;
  return nullptr;
}

bool KnownRuntimeClass(const sizer::SizingContext& ctx, const std::string& name) {
  return FindRuntimeClass(ctx, name) != nullptr;
}

// The first label of the RuntimeClass's scheduling.nodeSelector the node lacks, if any: RuntimeClass
// admission adds the selector to the pod's nodeSelector (kubernetes.io/docs/concepts/containers/
// runtime-class, "Scheduling"), so no pod of the shape lands on such a node.
std::optional<std::string> MissingLabel(const sizer::RuntimeClass& rc,
                                        const sizer::formats::NodeObject& node) {
  for (const auto& [key, value] : rc.node_selector) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != value) return fmt::format("{}={}", key, value);
  }
  return std::nullopt;
}

struct ShapeInput {
  std::string name;
  std::string path;
  sizer::Pod pod;
};

// Runs gnuplot on `script` (a file it reads), its standard output into `out_path`; never through a shell.
// Returns the exit status 0 on success, or an error; kUnavailable when gnuplot is not installed.
Status RunGnuplot(const std::string& script, const std::string& out_path) {
  std::string dir = std::filesystem::temp_directory_path().string();
  std::string script_path = dir + "/uvm-sizer-plot-XXXXXX";
  int script_fd = mkstemp(script_path.data());
  if (script_fd < 0)
    return Error{fmt::format("--plot: cannot create a temporary file in {}: {}", dir, strerror(errno))};
  struct Cleanup {
    std::string path;
    ~Cleanup() { unlink(path.c_str()); }
  } cleanup{script_path};
  size_t written = 0;
  while (written < script.size()) {
    ssize_t n = write(script_fd, script.data() + written, script.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(script_fd);
      return Error{fmt::format("--plot: cannot write {}: {}", script_path, strerror(errno))};
    }
    written += static_cast<size_t>(n);
  }
  close(script_fd);

  int out_fd = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out_fd < 0) return InvalidInput(fmt::format("--plot: cannot write {}: {}", out_path, strerror(errno)));
  int err_pipe[2];
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_fd);
    return Error{fmt::format("--plot: pipe: {}", strerror(errno))};
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  std::string program = "gnuplot";
  std::vector<char*> argv = {program.data(), script_path.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, "gnuplot", &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_fd);
  close(err_pipe[1]);
  auto remove_output = [&] { unlink(out_path.c_str()); };
  if (rc != 0) {
    close(err_pipe[0]);
    remove_output();
    if (rc == ENOENT)
      return Error{.message = "--plot needs gnuplot (apt install gnuplot-nox)",
                   .code = ErrorCode::kUnavailable};
    return Error{fmt::format("--plot: cannot run gnuplot: {}", strerror(rc))};
  }
  std::string errors;
  char buf[4096];
  for (;;) {
    ssize_t n = read(err_pipe[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (errors.size() < 4096) errors.append(buf, static_cast<size_t>(n));
  }
  close(err_pipe[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || std::filesystem::file_size(out_path) == 0) {
    remove_output();
    while (!errors.empty() && (errors.back() == '\n' || errors.back() == ' ')) errors.pop_back();
    return Error{
        fmt::format("--plot: gnuplot failed ({}): {}",
                    WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : "killed by a signal",
                    errors.empty() ? "no message" : errors)};
  }
  return {};
}

int Run(CapacityOptions opt) {
  auto fail = [](const std::string& message) {
    std::cerr << "uvm-sizer capacity: " << message << '\n';
    return 2;
  };
  if (opt.output != "text" && opt.output != "json" && opt.output != "csv")
    return fail(fmt::format("-o: unknown format \"{}\" (text, json or csv)", opt.output));
  if (opt.pods.empty()) return fail("--pods is required (the output of `kubectl get pods -A -o json`)");
  if (opt.nodes.empty()) return fail("--nodes is required (the output of `kubectl get nodes -o json`)");
  std::string plot_terminal;
  if (!opt.plot.empty()) {
    std::string ext = std::filesystem::path(opt.plot).extension().string();
    if (ext == ".svg") {
      plot_terminal = "svg";
    } else if (ext == ".png") {
      plot_terminal = "png";
    } else {
      return fail(fmt::format("--plot: \"{}\" must end in .svg or .png", opt.plot));
    }
  }
  {
    int stdin_inputs = (opt.pods == "-") + (opt.nodes == "-") + (opt.runtime_classes == "-");
    for (const auto& s : opt.shapes) stdin_inputs += s == "-";
    if (stdin_inputs > 1) return fail("\"-\" (standard input) may be given for one input only");
  }
  auto base = opt.sizing.BuildContext();
  if (!base) return fail(base.error().message);

  CapacityReport report;
  // RuntimeClasses: --runtimeclasses first, then any the other inputs carry; the first of a name wins.
  auto add_runtime_classes = [&](std::vector<sizer::RuntimeClass>& classes) {
    for (auto& rc : classes)
      if (!KnownRuntimeClass(*base, rc.name)) base->runtime_classes.push_back(std::move(rc));
  };
  if (!opt.runtime_classes.empty()) {
    auto m = ReadManifest(opt.runtime_classes, sizer::formats::ManifestKinds::kPods);
    if (!m) return fail(m.error().message);
    if (m->runtime_classes.empty())
      return fail(fmt::format("{}: no RuntimeClass objects (want `kubectl get runtimeclass -o yaml` output)",
                              DisplayName(opt.runtime_classes)));
    add_runtime_classes(m->runtime_classes);
  }

  auto nodes_text = ReadInput(opt.nodes);
  if (!nodes_text) return fail(nodes_text.error().message);
  auto nodes = sizer::formats::ParseNodes(*nodes_text);
  if (!nodes) return fail(InFile(opt.nodes, nodes.error()).message);
  for (const auto& w : nodes->warnings) report.warnings.push_back(DisplayName(opt.nodes) + ": " + w);

  auto pods = ReadManifest(opt.pods, sizer::formats::ManifestKinds::kPods);
  if (!pods) return fail(pods.error().message);
  for (const auto& w : pods->warnings) report.warnings.push_back(DisplayName(opt.pods) + ": " + w);
  add_runtime_classes(pods->runtime_classes);

  std::vector<ShapeInput> shapes;
  std::set<std::string, std::less<>> shape_names;
  for (const auto& path : opt.shapes) {
    auto m = ReadManifest(path, sizer::formats::ManifestKinds::kPods);
    if (!m) return fail(m.error().message);
    if (m->pods.empty())
      return fail(
          fmt::format("{}: --shape: no pod-bearing object (Pod, Deployment, Job, ...)", DisplayName(path)));
    std::string name = ShapeName(path);
    if (!shape_names.insert(name).second)
      return fail(
          fmt::format("--shape: two shapes named \"{}\" (a shape is named by its file's base name)", name));
    if (m->pods.size() > 1) {
      report.warnings.push_back(fmt::format(
          "{}: shape {} is its first object ({} {}/{}); the other {} are ignored", DisplayName(path), name,
          m->pods[0].ref.kind, m->pods[0].ref.namespace_, m->pods[0].ref.name, m->pods.size() - 1));
    }
    add_runtime_classes(m->runtime_classes);
    shapes.push_back({.name = std::move(name), .path = path, .pod = std::move(m->pods[0])});
  }
  for (const auto& s : shapes) {
    const auto& rc = s.pod.spec.runtime_class_name;
    if (rc && !KnownRuntimeClass(*base, *rc) && !s.pod.spec.overhead.memory) {
      report.warnings.push_back(
          fmt::format("shape {}: no RuntimeClass \"{}\" in the inputs (give --runtimeclasses): its overhead "
                      "counts as 0 in the "
                      "scheduler view, where admission would add the RuntimeClass's podFixed",
                      s.name, *rc));
    }
  }

  // Pods by node: live, bound pods only.
  std::map<std::string, std::vector<const sizer::Pod*>, std::less<>> by_node;
  std::set<std::string, std::less<>> node_names;
  for (const auto& n : nodes->nodes) node_names.insert(n.ref.name);
  for (const auto& pod : pods->pods) {
    if (pod.ref.kind != "Pod") {
      report.warnings.push_back(
          fmt::format("{}: {} {}/{} is a template, not a pod on a node: skipped (give it as "
                      "--shape to ask how many fit)",
                      DisplayName(opt.pods), pod.ref.kind, pod.ref.namespace_, pod.ref.name));
      continue;
    }
    // The scheduler's NodeInfo drops terminated pods (pkg/scheduler/framework/types.go, via the pod
    // informer's filter on Succeeded/Failed in pkg/scheduler/eventhandlers.go).
    if (pod.ref.phase == "Succeeded" || pod.ref.phase == "Failed") {
      report.terminated.push_back(pod.ref);
      continue;
    }
    if (pod.ref.node_name.empty()) {
      report.unscheduled.push_back(pod.ref);
      continue;
    }
    if (!node_names.contains(pod.ref.node_name)) {
      report.on_unknown_nodes.push_back(pod.ref);
      continue;
    }
    by_node[pod.ref.node_name].push_back(&pod);
  }

  for (const auto& node : nodes->nodes) {
    const uint32_t cpus = sizer::formats::NodeCpus(node);
    std::vector<LedgerPod> ledger_pods;
    for (const sizer::Pod* pod : by_node[node.ref.name]) {
      auto p = SizeForNode(*pod, *base, cpus, opt.pods);
      if (!p) return fail(p.error().message);
      ledger_pods.push_back(std::move(*p));
    }
    std::vector<sizer::Shape> node_shapes;
    for (const auto& s : shapes) {
      auto p = SizeForNode(s.pod, *base, cpus, s.path);
      if (!p) return fail(p.error().message);
      if (report.shapes.size() < shapes.size()) {
        report.shapes.push_back({.name = s.name, .source = s.path, .object = s.pod.ref, .pod = *p});
      }
      sizer::Shape shape{.name = s.name, .pod = std::move(*p)};
      // The scheduler's NodeUnschedulable filter keeps new pods off a cordoned node (pods that tolerate
      // node.kubernetes.io/unschedulable aside).
      if (node.unschedulable) shape.unschedulable_here = "the node is cordoned";
      const auto& rc_name = s.pod.spec.runtime_class_name;
      const sizer::RuntimeClass* rc = rc_name ? FindRuntimeClass(*base, *rc_name) : nullptr;
      if (auto missing = rc && !node.unschedulable ? MissingLabel(*rc, node) : std::nullopt) {
        shape.unschedulable_here =
            fmt::format("RuntimeClass {} schedules only onto nodes labelled {}, which this node is not",
                        rc->name, *missing);
      }
      node_shapes.push_back(std::move(shape));
    }
    sizer::NodeLedger ledger = sizer::BuildNodeLedger(node.ref.name, sizer::formats::LedgerAllocatable(node),
                                                      ledger_pods, node_shapes);
    sizer::formats::NodeReport row{.ledger = std::move(ledger),
                                   .breakdown = sizer::formats::BreakdownOf(ledger_pods),
                                   .allocatable_from_capacity = node.allocatable_from_capacity,
                                   .unschedulable = node.unschedulable};
    report.nodes.push_back(std::move(row));
  }
  sizer::formats::Summarize(report);

  // The chart first: when it fails, nothing has been printed.
  if (!plot_terminal.empty()) {
    auto st = RunGnuplot(sizer::formats::CapacityPlotScript(report, plot_terminal), opt.plot);
    if (!st) return fail(st.error().message);
  }
  if (opt.output == "json") {
    std::cout << sizer::formats::CapacityReportJson(report) << '\n';
  } else if (opt.output == "csv") {
    std::cout << sizer::formats::CapacityReportCsv(report);
  } else {
    std::cout << sizer::formats::CapacityReportText(report);
  }
  return 0;
}

}  // namespace

void AddCapacityCommand(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<CapacityOptions>();
  auto* cmd = app.add_subcommand(
      "capacity",
      "Per node: memory and CPU committed in the scheduler's view and the host's, and how many more pods of "
      "each shape fit");
  cmd->add_option("--pods", opt->pods,
                  "live pods: `kubectl get pods -A -o json` (or -o yaml) output; - for stdin");
  cmd->add_option("--nodes", opt->nodes,
                  "the nodes: `kubectl get nodes -o json` (or -o yaml) output; - for stdin");
  cmd->add_option(
      "--runtimeclasses", opt->runtime_classes,
      "RuntimeClass objects (`kubectl get runtimeclass -o yaml`): handlers and podFixed; else the pods' "
      "own spec.overhead");
  cmd->add_option(
      "--shape", opt->shapes,
      "a manifest (Pod, Deployment, Job, ...; its first pod) to ask how many more fit; repeatable; named "
      "by its file's base name");
  cmd->add_option("-o,--output", opt->output, "text (tables and notes), json or csv")->capture_default_str();
  cmd->add_option(
      "--plot", opt->plot,
      "also draw committed memory per node in both views against allocatable, with gnuplot: FILE.svg "
      "or FILE.png");
  opt->sizing.Register(*cmd);
  cmd->footer(
      "Each pod is sized with its node's rules (the node's CPUs from status.capacity.cpu); terminated pods\n"
      "(Succeeded, Failed) and pods not yet bound to a node are not counted on any node.\n"
      "Exit status: 0 done; 2 invalid input or usage, or --plot without gnuplot (one message on stderr,\n"
      "nothing on stdout).");
  cmd->callback([opt, &exit_code] { exit_code = Run(*opt); });
}

}  // namespace uvm::cli
