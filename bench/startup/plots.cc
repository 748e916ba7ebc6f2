#include "bench/startup/plots.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include <fmt/format.h>

#include "bench/startup/report.h"

extern char** environ;

namespace uvm::startup {
namespace {

constexpr double kNsPerMs = 1e6;

// A gnuplot single-quoted string: the only escape is '' for '.
std::string Quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

// A whitespace-free token for a .dat column (the legend takes its titles from the script).
std::string Token(const std::string& text) {
  std::string out = "\"";
  for (char c : text) out += (c == '"' || c == '\n') ? '_' : c;
  return out + "\"";
}

std::string Header(const std::string& name, const std::string& title) {
  // noenhanced: handler and phase names have underscores, which enhanced text would make subscripts.
  return fmt::format(
      "# {name}.svg from {name}.dat (uvm-sizer-startup; re-run with: gnuplot {name}.gp)\n"
      "set terminal svg size 900,540 dynamic noenhanced font 'sans,11'\n"
      "set output '{name}.svg'\n"
      "set title {title}\n"
      "set grid\n",
      fmt::arg("name", name), fmt::arg("title", Quoted(title)));
}

std::string NoData(const std::string& what) {
  return fmt::format(
      "unset key\nset xrange [0:1]\nset yrange [0:1]\nset label 1 {} at graph 0.5, graph 0.5 center\n"
      "plot 2 notitle\n",
      Quoted(what));
}

struct Series {
  std::string handler;
  std::string title;
  std::vector<const PodRecord*> pods;  // completed, counted
};

std::vector<Series> SeriesByHandler(const Summary& summary, const std::vector<PodRecord>& pods) {
  std::vector<Series> series;
  for (const Cell& c : summary.cells) {
    if (std::none_of(series.begin(), series.end(),
                     [&](const Series& s) { return s.handler == c.key.handler; })) {
      series.push_back({c.key.handler, HandlerCell(c.key.handler, c.runtime_type, c.stand_in), {}});
    }
  }
  for (const PodRecord& pod : pods) {
    if (pod.warmup || !pod.ok()) continue;
    for (Series& s : series) {
      if (s.handler == pod.handler) s.pods.push_back(&pod);
    }
  }
  std::erase_if(series, [](const Series& s) { return s.pods.empty(); });
  return series;
}

Plot Cdf(const std::vector<Series>& series) {
  Plot plot{.name = "cdf"};
  plot.data = "# total_ms fraction_of_pods, one block per handler\n";
  plot.script = Header("cdf", "Pod start (total) by handler: cumulative distribution");
  if (series.empty()) {
    plot.script += NoData("no completed pods");
    return plot;
  }
  plot.script +=
      "set xlabel 'total (ms)'\nset ylabel 'fraction of pods'\nset yrange [0:1]\nset key bottom right\n";
  std::vector<std::string> parts;
  for (size_t i = 0; i < series.size(); ++i) {
    std::vector<double> totals;
    for (const PodRecord* pod : series[i].pods)
      totals.push_back(static_cast<double>(*pod->total_ns) / kNsPerMs);
    std::sort(totals.begin(), totals.end());
    if (i > 0) plot.data += "\n\n";
    plot.data += fmt::format("# {}\n", series[i].title);
    for (size_t k = 0; k < totals.size(); ++k) {
      plot.data += fmt::format("{:.3f} {:.6f}\n", totals[k], static_cast<double>(k + 1) / totals.size());
    }
    parts.push_back(
        fmt::format("'cdf.dat' index {} using 1:2 with steps lw 2 title {}", i, Quoted(series[i].title)));
  }
  plot.script += fmt::format("plot {}\n", fmt::join(parts, ", \\\n     "));
  return plot;
}

Plot Phases(const std::vector<Series>& series) {
  Plot plot{.name = "phases"};
  plot.script = Header("phases", "Median phases of a pod start by handler (ms, stacked)");
  plot.data = "handler";
  for (int p = 0; p < kPhaseCount; ++p) plot.data += fmt::format(" {}", PhaseName(static_cast<Phase>(p)));
  plot.data += "\n";
  if (series.empty()) {
    plot.script += NoData("no completed pods");
    return plot;
  }
  for (const Series& s : series) {
    plot.data += Token(s.title);
    for (int p = 0; p < kPhaseCount; ++p) {
      std::vector<double> values;
      for (const PodRecord* pod : s.pods) {
        if (pod->phase_ns[p]) values.push_back(static_cast<double>(*pod->phase_ns[p]) / kNsPerMs);
      }
      std::sort(values.begin(), values.end());
      plot.data += fmt::format(" {:.3f}", values.empty() ? 0.0 : *stats::Quantile(values, 0.5));
    }
    plot.data += "\n";
  }
  plot.script += fmt::format(
      "set style data histograms\nset style histogram rowstacked\nset style fill solid 0.8 border -1\n"
      "set boxwidth 0.6\nset ylabel 'median (ms)'\nset yrange [0:*]\nset key outside right\n"
      "set xtics rotate by -20\n"
      "plot for [i=2:{}] 'phases.dat' using i:xtic(1) title columnheader(i)\n",
      kPhaseCount + 1);
  return plot;
}

Plot Concurrency(const Summary& summary, const std::vector<Series>& series) {
  Plot plot{.name = "concurrency"};
  const bool open = summary.info.mode == "open";
  plot.script = Header("concurrency", open ? "Pod start (total) and throughput against the arrival rate"
                                           : "Pod start (total) and throughput against concurrency");
  plot.data = fmt::format("# {} p50_ms p99_ms(NaN below 100 pods) pods_per_s, one block per handler\n",
                          open ? "rate" : "level");
  std::vector<std::string> parts;
  int block = 0;
  for (const Series& s : series) {
    // One size point per handler: its first (the cells are in run order).
    const Cell* first = nullptr;
    std::vector<const Cell*> cells;
    for (const Cell& c : summary.cells) {
      if (c.key.handler != s.handler || c.total_ms.empty()) continue;
      if (first == nullptr) first = &c;
      if (c.key.mem_limit == first->key.mem_limit && c.key.cpu_limit == first->key.cpu_limit)
        cells.push_back(&c);
    }
    if (cells.empty()) continue;
    std::sort(cells.begin(), cells.end(), [&](const Cell* a, const Cell* b) {
      return open ? a->key.rate < b->key.rate : a->key.level < b->key.level;
    });
    if (block > 0) plot.data += "\n\n";
    plot.data += fmt::format("# {}\n", s.title);
    for (const Cell* c : cells) {
      const LatencyStats& total = c->latency.at("total");
      plot.data += fmt::format(
          "{} {:.3f} {} {}\n", open ? fmt::format("{}", c->key.rate) : std::to_string(c->key.level),
          total.p50_ms.value_or(0), total.p99_ms ? fmt::format("{:.3f}", *total.p99_ms) : "NaN",
          c->throughput_pods_per_s ? fmt::format("{:.3f}", *c->throughput_pods_per_s) : "NaN");
    }
    parts.push_back(
        fmt::format("'concurrency.dat' index {0} using 1:2 with linespoints lw 2 lc {1} title {2}", block,
                    block + 1, Quoted(s.title + " p50")));
    parts.push_back(
        fmt::format("'concurrency.dat' index {0} using 1:3 with linespoints dt 2 lc {1} title {2}", block,
                    block + 1, Quoted(s.title + " p99")));
    parts.push_back(
        fmt::format("'concurrency.dat' index {0} using 1:4 axes x1y2 with linespoints dt 3 lc {1} title {2}",
                    block, block + 1, Quoted(s.title + " pods/s")));
    ++block;
  }
  if (parts.empty()) {
    plot.script += NoData("no completed pods");
    return plot;
  }
  plot.script += fmt::format(
      "set xlabel '{}'\nset ylabel 'total (ms)'\nset y2label 'pods/s'\nset ytics nomirror\nset y2tics\n"
      "set yrange [0:*]\nset y2range [0:*]\nset key below\n{}plot {}\n",
      open ? "arrival rate (pods/s)" : "pods started together (c)", open ? "" : "set logscale x 2\n",
      fmt::join(parts, ", \\\n     "));
  return plot;
}

Plot UvmSize(const Summary& summary, const std::vector<Series>& series) {
  Plot plot{.name = "uvm-size"};
  plot.script =
      Header("uvm-size", "RunPodSandbox against the predicted UVM size, with the least-squares lines");
  plot.data = "# uvm_gib run_sandbox_ms, one block per handler\n";
  std::vector<std::string> functions;
  std::vector<std::string> parts;
  int block = 0;
  for (const Series& s : series) {
    std::string rows;
    for (const PodRecord* pod : s.pods) {
      if (auto run = pod->phase(Phase::kRunPodSandbox)) {
        rows += fmt::format("{:.4f} {:.3f}\n", pod->predicted_uvm.memory_mib / 1024.0,
                            static_cast<double>(*run) / kNsPerMs);
      }
    }
    if (rows.empty()) continue;
    if (block > 0) plot.data += "\n\n";
    plot.data += fmt::format("# {}\n{}", s.title, rows);
    parts.push_back(fmt::format("'uvm-size.dat' index {} using 1:2 with points pt 7 ps 0.6 lc {} title {}",
                                block, block + 1, Quoted(s.title)));
    for (const SizeFit& f : summary.fits) {
      if (f.handler == s.handler && f.metric == "run_sandbox" && f.x == "uvm_gib" && f.fit) {
        functions.push_back(fmt::format("f{}(x) = {:.6f} + {:.6f} * x", block, f.fit->a, f.fit->b));
        parts.push_back(fmt::format("f{0}(x) with lines lw 2 lc {1} title {2}", block, block + 1,
                                    Quoted(fmt::format("{}: {:.2f} ms/GiB", s.title, f.fit->b))));
      }
    }
    ++block;
  }
  if (parts.empty()) {
    plot.script += NoData("no RunPodSandbox timed");
    return plot;
  }
  plot.script +=
      "set xlabel 'predicted UVM memory (GiB)'\nset ylabel 'RunPodSandbox (ms)'\nset yrange [0:*]\n"
      "set key below\n";
  for (const std::string& f : functions) plot.script += f + "\n";
  plot.script += fmt::format("plot {}\n", fmt::join(parts, ", \\\n     "));
  return plot;
}

}  // namespace

std::vector<Plot> MakePlots(const Summary& summary, const std::vector<PodRecord>& pods) {
  std::vector<Series> series = SeriesByHandler(summary, pods);
  return {Cdf(series), Phases(series), Concurrency(summary, series), UvmSize(summary, series)};
}

std::string FindGnuplot() {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string_view rest = path;
  while (true) {
    size_t colon = rest.find(':');
    std::string dir(rest.substr(0, colon));
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/gnuplot";
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    if (colon == std::string_view::npos) return "";
    rest.remove_prefix(colon + 1);
  }
}

Status RenderSvg(const std::string& gnuplot, const std::string& dir, const std::string& name) {
  const std::string script = name + ".gp";
  const std::string log = dir + "/" + name + ".gnuplot.log";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // The script names its files relative to its own directory (so the .gp can be re-run by hand there).
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv = {const_cast<char*>(gnuplot.c_str()), const_cast<char*>(script.c_str()), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, gnuplot.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Error{fmt::format("{}.svg: cannot start {}: {}", name, gnuplot, std::strerror(rc)),
                 ErrorCode::kUnavailable, rc};
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error{fmt::format("{}.svg: waitpid: {}", name, std::strerror(errno)), ErrorCode::kInternal,
                   errno};
    }
  }
  std::error_code ec;
  const bool log_empty = std::filesystem::file_size(log, ec) == 0 && !ec;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    if (log_empty) std::filesystem::remove(log, ec);
    return {};
  }
  std::string how = WIFEXITED(status) ? fmt::format("exited with status {}", WEXITSTATUS(status))
                                      : fmt::format("was killed by signal {}", WTERMSIG(status));
  return Error{fmt::format("{}.svg: gnuplot {} (its messages: {})", name, how, log), ErrorCode::kInternal};
}

}  // namespace uvm::startup
