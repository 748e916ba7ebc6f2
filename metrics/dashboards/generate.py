#!/usr/bin/env python3
"""Generates uvm-sizer.json, the Grafana dashboard of uvm-sizer's metrics and recorded series.

    python3 metrics/dashboards/generate.py           # rewrite uvm-sizer.json beside this file
    python3 metrics/dashboards/generate.py --check   # exit 1 (and show a diff) when the file is stale (ctest)
    python3 metrics/dashboards/generate.py --queries # every panel query, one JSON object a line

Python 3 standard library only. Each query is written once, here; the JSON is never edited by hand.
Classic dashboard JSON at schemaVersion 41, a current classic schema (the newest is 42, LATEST_VERSION of
grafana/grafana apps/dashboard/pkg/migration/schemaversion/migrations.go; ../shared CAPACITY.md §1.3).

Variables: $datasource, $cluster (absent on a per-cluster Prometheus: "All" matches the empty label),
$node (the `node` label, from uvm_sizer_node_info), $namespace, $runtime_handler, $shape.
Cluster-wide panels read the per-cluster recorded series only (cluster:*, cluster_shape:*,
cluster_runtime_handler:*), so they stay cheap on a central Prometheus holding thousands of nodes.
"""
import argparse
import difflib
import json
import os
import sys

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCHEMA_VERSION = 41

# Label matchers, written once.
CLUSTER = 'cluster=~"$cluster"'
NODE = CLUSTER + ',node=~"$node"'
POD = NODE + ',namespace=~"$namespace",runtime_handler=~"$runtime_handler"'
HANDLER = CLUSTER + ',runtime_handler=~"$runtime_handler"'
SHAPE = 'shape=~"$shape"'


class Layout:
    """Places panels left to right in rows of 24 grid units and numbers them."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.row_height = 0
        self.next_id = 1

    def _id(self):
        self.next_id += 1
        return self.next_id - 1

    def row(self, title):
        self._newline()
        self.panels.append({"id": self._id(), "type": "row", "title": title, "collapsed": False,
                            "panels": [], "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}})
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self._newline()
        panel["id"] = self._id()
        panel["gridPos"] = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        self.panels.append(panel)


def target(ref, expr, legend=None, instant=False, table=False):
    t = {"datasource": DATASOURCE, "refId": ref, "expr": expr}
    if legend is not None:
        t["legendFormat"] = legend
    if instant or table:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def panel(kind, title, description, targets, unit=None, **extra):
    defaults = {}
    if unit:
        defaults["unit"] = unit
    defaults.update(extra.pop("defaults", {}))
    p = {"type": kind, "title": title, "description": description, "datasource": DATASOURCE,
         "targets": [target(chr(ord("A") + i), *t) if isinstance(t, tuple) else t for i, t in enumerate(targets)],
         "fieldConfig": {"defaults": defaults, "overrides": extra.pop("overrides", [])},
         "options": extra.pop("options", {})}
    p.update(extra)
    return p


def stat(title, description, targets, unit=None, thresholds=None):
    defaults = {}
    if thresholds:
        defaults["thresholds"] = {"mode": "absolute",
                                  "steps": [{"color": c, "value": v} for v, c in thresholds]}
        defaults["color"] = {"mode": "thresholds"}
    return panel("stat", title, description,
                 [target(chr(ord("A") + i), e, legend, instant=True) for i, (e, legend) in enumerate(targets)],
                 unit, defaults=defaults,
                 options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                          "colorMode": "value", "graphMode": "none", "textMode": "auto"})


def timeseries(title, description, targets, unit, stacked=False):
    custom = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if stacked:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    return panel("timeseries", title, description, targets, unit, defaults={"custom": custom},
                 options={"legend": {"displayMode": "table", "placement": "bottom", "showLegend": True,
                                     "calcs": ["lastNotNull", "max"]},
                          "tooltip": {"mode": "multi", "sort": "desc"}})


def bargauge(title, description, targets, unit, maximum=None):
    defaults = {"min": 0}
    if maximum is not None:
        defaults["max"] = maximum
    return panel("bargauge", title, description,
                 [target(chr(ord("A") + i), e, legend, instant=True) for i, (e, legend) in enumerate(targets)],
                 unit, defaults=defaults,
                 options={"displayMode": "gradient", "orientation": "horizontal", "showUnfilled": True,
                          "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}})


def table(title, description, targets, unit=None, rename=None, exclude=()):
    """An instant table: one row per series, the queries merged on their labels, Value #X renamed."""
    excluded = {"Time": True, "__name__": True, "job": True, "instance": True}
    excluded.update({name: True for name in exclude})
    return panel("table", title, description,
                 [target(chr(ord("A") + i), e, table=True) for i, e in enumerate(targets)], unit,
                 transformations=[{"id": "merge", "options": {}},
                                  {"id": "organize", "options": {"excludeByName": excluded,
                                                                 "renameByName": rename or {}}}])


def query_variable(name, label, metric_selector, label_name, include_all=True):
    query = f"label_values({metric_selector}, {label_name})"
    v = {"name": name, "label": label, "type": "query", "datasource": DATASOURCE,
         "query": {"query": query, "refId": name}, "definition": query,
         "multi": True, "includeAll": include_all, "refresh": 2, "sort": 1, "regex": "",
         "current": {"text": "All", "value": "$__all"}, "options": [], "hide": 0}
    if include_all:
        v["allValue"] = ".*"
    return v


def templating():
    return {"list": [
        {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0, "options": [], "refresh": 1, "regex": ""},
        query_variable("cluster", "Cluster", "uvm_sizer_node_info", "cluster"),
        query_variable("node", "Node", f"uvm_sizer_node_info{{{CLUSTER}}}", "node"),
        query_variable("namespace", "Namespace", f"uvm_sizer_pod_cgroup_memory_usage_bytes{{{NODE}}}",
                       "namespace"),
        query_variable("runtime_handler", "RuntimeClass handler",
                       f"uvm_sizer_pod_cgroup_memory_usage_bytes{{{NODE}}}", "runtime_handler"),
        query_variable("shape", "Shape", f"uvm_sizer_shape_memory_bytes{{{NODE}}}", "shape"),
    ]}


def panels():
    L = Layout()

    L.row("Overview (cluster-wide: recorded per-cluster series)")
    L.add(stat("uvm-sizer nodes", "Nodes whose uvm-sizer daemon is scraped (uvm_sizer_node_info).",
               [(f"sum(cluster:uvm_sizer_nodes:count{{{CLUSTER}}})", None)]), 3, 4)
    L.add(stat("Memory commitment", "Committed / allocatable memory of the uvm-sizer nodes, in both views: "
               "scheduler = Σ requests + declared overhead of Pending/Running pods (kube-state-metrics); host = "
               "Σ UVM memory + VMM overhead of VM pods + usage of the others (the daemons). The host view above "
               "the scheduler's is memory the scheduler does not know is taken.",
               [(f"cluster:uvm_sizer_memory_commitment:ratio{{{CLUSTER}}}", "{{cluster}} {{view}}")],
               "percentunit", thresholds=[(None, "green"), (0.8, "orange"), (1, "red")]), 5, 4)
    L.add(stat("CPU commitment", "Committed / allocatable CPU (requests + overhead.cpu) in both views.",
               [(f"cluster:uvm_sizer_cpu_commitment:ratio{{{CLUSTER}}}", "{{cluster}} {{view}}")],
               "percentunit", thresholds=[(None, "green"), (0.8, "orange"), (1, "red")]), 4, 4)
    L.add(stat("Pods the scheduler would overcommit", "Σ over nodes of the positive gap scheduler fit − host "
               "fit: pods of the selected shapes the scheduler will still place that the hosts cannot hold.",
               [(f"sum(cluster_shape:uvm_sizer_fit_gap_pods:sum{{{CLUSTER},{SHAPE}}})", None)],
               thresholds=[(None, "green"), (1, "red")]), 4, 4)
    L.add(stat("Worst overhead shortfall", "The most pod overhead any pod of a selected RuntimeClass handler "
               "needs beyond what it declares (0: none is short).",
               [(f"max(cluster_runtime_handler:uvm_sizer_overhead_shortfall_bytes:max{{{HANDLER}}}) or vector(0)",
                 None)], "bytes", thresholds=[(None, "green"), (1, "orange")]), 4, 4)
    L.add(stat("Targets down", "uvm-sizer scrape targets Prometheus cannot reach (up == 0).",
               [(f'count(up{{job="uvm-sizer",{CLUSTER}}} == 0) or vector(0)', None)],
               thresholds=[(None, "green"), (1, "red")]), 4, 4)

    L.row("Capacity per node: scheduler view and host view")
    L.add(timeseries("Memory: committed vs allocatable, both views", "Per node, what is committed in each view "
                     "against its allocatable. Scheduler: Σ requests + spec.overhead of Pending/Running pods, "
                     "allocatable from the node status. Host: the daemon's ledger (UVM memory + the larger of "
                     "modelled and measured VMM overhead per VM pod; cgroup usage of other pods).",
                     [(f"node:uvm_sizer_committed_memory_bytes:sum{{{NODE}}}", "{{node}} committed ({{view}})"),
                      (f"node:uvm_sizer_allocatable_memory_bytes{{{NODE}}}", "{{node}} allocatable ({{view}})")],
                     "bytes"), 12, 8)
    L.add(timeseries("CPU: committed vs allocatable, both views", "Per node, CPU requests + overhead.cpu "
                     "against allocatable CPU (CPU is compressible: both views count requests, never vCPUs).",
                     [(f"node:uvm_sizer_committed_cpu_cores:sum{{{NODE}}}", "{{node}} committed ({{view}})"),
                      (f"node:uvm_sizer_allocatable_cpu_cores{{{NODE}}}", "{{node}} allocatable ({{view}})")],
                     "short"), 12, 8)
    L.add(bargauge("Memory commitment per node", "Committed / allocatable memory per node and view.",
                   [(f"node:uvm_sizer_memory_commitment:ratio{{{NODE}}}", "{{node}} {{view}}")],
                   "percentunit", maximum=1), 8, 8)
    L.add(bargauge("CPU commitment per node", "Committed / allocatable CPU per node and view.",
                   [(f"node:uvm_sizer_cpu_commitment:ratio{{{NODE}}}", "{{node}} {{view}}")],
                   "percentunit", maximum=1), 8, 8)
    L.add(bargauge("Free memory per node", "Allocatable − committed memory per node and view (negative in the "
                   "host view: the node promised its VMs more than it has).",
                   [(f"node:uvm_sizer_free_memory_bytes{{{NODE}}}", "{{node}} {{view}}")], "bytes"), 8, 8)

    L.row("Fit and gap per shape: how many more pods of a manifest fit")
    L.add(table("More pods of each shape per node", "Pods of each shape (a manifest the daemon sized with the "
                "node's own rules) that still fit, in both views: the smallest of memory, CPU and (scheduler) "
                "pod count. Gap = scheduler fit − host fit: > 0 is how many the scheduler will still place that "
                "the host cannot hold.",
                [f'node_shape:uvm_sizer_fit_pods{{{NODE},{SHAPE},view="scheduler"}}',
                 f'node_shape:uvm_sizer_fit_pods{{{NODE},{SHAPE},view="host"}}',
                 f"node_shape:uvm_sizer_fit_gap_pods{{{NODE},{SHAPE}}}"],
                rename={"Value #A": "scheduler fit", "Value #B": "host fit", "Value #C": "gap"},
                exclude=("view",)), 12, 8)
    L.add(timeseries("Scheduler overcommit gap per node and shape", "Scheduler fit − host fit over time "
                     "(UvmSizerSchedulerOvercommit fires after 10 minutes above 0).",
                     [(f"node_shape:uvm_sizer_fit_gap_pods{{{NODE},{SHAPE}}}", "{{node}} {{shape}}")], "short"),
          12, 8)
    L.add(timeseries("Cluster-wide fit per shape, both views", "Σ over the uvm-sizer nodes of the pods of each "
                     "shape that still fit, per view.",
                     [(f"cluster_shape:uvm_sizer_fit_pods:sum{{{CLUSTER},{SHAPE}}}", "{{cluster}} {{shape}} {{view}}"),
                      (f"cluster_shape:uvm_sizer_fit_gap_pods:sum{{{CLUSTER},{SHAPE}}}", "{{cluster}} {{shape}} gap")],
                     "short"), 12, 8)
    L.add(timeseries("What one more pod of a shape needs", "Memory one more pod of the shape takes, per node, in "
                     "each view: scheduler = its requests + the RuntimeClass's podFixed; host = its UVM memory + "
                     "VMM overhead.",
                     [(f"uvm_sizer_shape_memory_bytes{{{NODE},{SHAPE}}}", "{{node}} {{shape}} ({{view}})")], "bytes"),
          12, 8)

    L.row("Pod overhead per RuntimeClass handler")
    L.add(bargauge("Overhead shortfall per handler", "Per handler, the most pod overhead one of its pods needs "
                   "beyond what the RuntimeClass declares (UvmSizerRuntimeClassOverheadTooLow).",
                   [(f"cluster_runtime_handler:uvm_sizer_overhead_shortfall_bytes:max{{{HANDLER}}}",
                     "{{cluster}} {{runtime_handler}}")], "bytes"), 8, 8)
    L.add(table("Handlers: pods short and the podFixed that covers them", "Per handler: how many pods are short "
                "of overhead, and the largest overhead a running pod needs (the podFixed.memory that covers them "
                "all; `uvm-sizer runtimeclass --from-node` recommends one from measurement).",
                [f"cluster_runtime_handler:uvm_sizer_pods_short_of_overhead:count{{{HANDLER}}}",
                 f"cluster_runtime_handler:uvm_sizer_overhead_required_bytes:max{{{HANDLER}}}"],
                rename={"Value #A": "pods short", "Value #B": "overhead needed (bytes)"}), 8, 8)
    L.add(table("Pods declaring too little overhead", "The 50 pods furthest below the overhead their UVM needs.",
                [f"topk(50, pod:uvm_sizer_overhead_shortfall_bytes{{{POD}}})"], "bytes",
                rename={"Value": "shortfall"}), 8, 8)
    L.add(timeseries("VMM overhead per pod: measured vs modelled", "Measured: pod cgroup usage − guest memory in "
                     "use (reported where the shim reports guest memory). Modelled: host memory − UVM memory. A "
                     "measurement above the model is evidence for a larger podFixed.",
                     [(f"uvm_sizer_pod_host_overhead_measured_bytes{{{POD}}}", "{{namespace}}/{{pod}} measured"),
                      (f"uvm_sizer_pod_host_memory_bytes{{{POD}}} - uvm_sizer_pod_uvm_memory_bytes{{{POD}}}",
                       "{{namespace}}/{{pod}} modelled")], "bytes"), 12, 8)
    L.add(timeseries("VMM overhead per handler: measured vs modelled (max)", "Per handler and cluster, the "
                     "largest measured and modelled VMM overhead of its pods.",
                     [(f"cluster_runtime_handler:uvm_sizer_host_overhead_measured_bytes:max{{{HANDLER}}}",
                       "{{cluster}} {{runtime_handler}} measured"),
                      (f"cluster_runtime_handler:uvm_sizer_host_overhead_modelled_bytes:max{{{HANDLER}}}",
                       "{{cluster}} {{runtime_handler}} modelled")], "bytes"), 12, 8)

    L.row("Real cost vs limits")
    L.add(timeseries("VM pods: real host cost, measured usage and memory limits, per namespace", "Σ per "
                     "namespace of the VM pods' modelled host cost (UVM + VMM), their measured pod cgroup usage, "
                     "and their pod cgroup limits (VM pods only).",
                     [(f"sum by (namespace) (uvm_sizer_pod_host_memory_bytes{{{POD}}})", "{{namespace}} real cost"),
                      (f"sum by (namespace) (uvm_sizer_pod_cgroup_memory_usage_bytes{{{POD}}} and on (uid) "
                       f"uvm_sizer_pod_uvm_vcpus)", "{{namespace}} measured usage"),
                      (f"sum by (namespace) (uvm_sizer_pod_cgroup_memory_limit_bytes{{{POD}}} and on (uid) "
                       f"uvm_sizer_pod_uvm_vcpus)", "{{namespace}} limits")], "bytes"), 16, 8)
    L.add(bargauge("Memory beyond limits, per namespace", "Host memory VM pods cost beyond their pod cgroup "
                   "limit: memory the node gives without accounting.",
                   [(f"sort_desc(sum by (namespace) (pod:uvm_sizer_unaccounted_host_memory_bytes{{{POD}}}))",
                     "{{namespace}}")], "bytes"), 8, 8)

    L.row("Guest memory pressure")
    L.add(table("Pods at memory pressure, with time left", "VM pods at warning (1) or critical (2) pressure, with the predicted "
                "time until guest memory runs out.",
                [f"uvm_sizer_pod_pressure_level{{{POD}}} >= 1",
                 f"uvm_sizer_pod_memory_exhaustion_seconds{{{POD}}} and on (uid) (uvm_sizer_pod_pressure_level >= 1)"],
                rename={"Value #A": "level", "Value #B": "seconds left"}), 8, 8)
    L.add(timeseries("Guest memory available", "MemAvailable inside each VM pod's guest, as its shim reports it.",
                     [(f"uvm_sizer_pod_guest_memory_available_bytes{{{POD}}}", "{{namespace}}/{{pod}}")], "bytes"),
          8, 8)
    L.add(timeseries("Memory growth by cause", "How fast VM pods' memory grows, by what grows it (files, logs, "
                     "anonymous memory).",
                     [(f"sum by (cause) (uvm_sizer_pod_memory_growth_bytes_per_second{{{POD}}})", "{{cause}}")],
                     "Bps"), 8, 8)
    L.add(stat("Pods at memory pressure", "VM pods at warning and at critical pressure now.",
               [(f"count(uvm_sizer_pod_pressure_level{{{POD}}} == 1) or vector(0)", "warning"),
                (f"count(uvm_sizer_pod_pressure_level{{{POD}}} == 2) or vector(0)", "critical")],
               thresholds=[(None, "green"), (1, "orange")]), 8, 4)
    L.add(timeseries("OOM kills and pressure transitions", "OOM kills in VM pods' cgroups and the pressure "
                     "levels pods entered.",
                     [(f"sum(increase(uvm_sizer_pod_oom_kills_total{{{POD}}}[$__rate_interval]))", "OOM kills"),
                      (f"sum by (level) (increase(uvm_sizer_pressure_transitions_total{{{NODE}}}[$__rate_interval]))",
                       "entered {{level}}")], "short"), 16, 8)

    L.row("Pod startup by runtime class")
    start = "cluster_runtime_handler:uvm_sizer_sandbox_start_seconds_bucket:rate5m"
    L.add(timeseries("Pod start p50 / p90 / p99 per handler", "Sandbox created → first container started "
                     "(CRI timestamps), once per sandbox the daemon saw created: for a Kata pod that includes "
                     "the VM boot, the image check or pull and the container start. From the recorded 5-minute "
                     "bucket rates, over every node of the cluster.",
                     [(f"histogram_quantile({q}, sum by (le, cluster, runtime_handler) ({start}{{{HANDLER}}}))",
                       f"{{{{cluster}}}} {{{{runtime_handler}}}} p{int(q * 100)}") for q in (0.5, 0.9, 0.99)],
                     "s"), 12, 8)
    L.add(bargauge("Pod start p90 by handler and UVM memory", "p90 of the pod start per handler and bucket of "
                   "the UVM memory the sizer predicts (\"none\": not VM-isolated): does a bigger UVM start "
                   "slower (memory acceptance on confidential VMs)?",
                   [(f"sort_desc(histogram_quantile(0.9, sum by (le, cluster, runtime_handler, uvm_memory_bucket) "
                     f"({start}{{{HANDLER}}})))", "{{cluster}} {{runtime_handler}} {{uvm_memory_bucket}}")], "s"),
          6, 8)
    L.add(timeseries("Pod starts per second", "How many pods start, per handler and UVM memory bucket (the "
                     "load behind the quantiles: few starts make a noisy p99).",
                     [(f"cluster_runtime_handler:uvm_sizer_sandbox_starts:rate5m{{{HANDLER}}}",
                       "{{cluster}} {{runtime_handler}} {{uvm_memory_bucket}}")], "ops", stacked=True), 6, 8)
    L.add(timeseries("Kata shim create p50 / p90 per handler", "The Kata shim's own create of the sandbox (VM "
                     "boot and agent CreateSandbox), where the daemon could read it alone from the shim's "
                     "monitor socket (Kata runtime types only).",
                     [(f"histogram_quantile({q}, sum by (le, cluster, runtime_handler) "
                       f"(cluster_runtime_handler:uvm_sizer_sandbox_shim_create_seconds_bucket:rate5m{{{HANDLER}}}))",
                       f"{{{{cluster}}}} {{{{runtime_handler}}}} p{int(q * 100)}") for q in (0.5, 0.9)], "s"), 12, 8)
    L.add(timeseries("Pod start p90 per node", "p90 of the pod start per node and handler, from the daemons' "
                     "own histograms: a node much slower than its peers is worth a look.",
                     [(f"histogram_quantile(0.9, sum by (le, node, runtime_handler) (rate("
                       f"uvm_sizer_sandbox_start_seconds_bucket{{{NODE},runtime_handler=~\"$runtime_handler\"}}"
                       f"[$__rate_interval])))", "{{node}} {{runtime_handler}}")], "s"), 6, 8)
    L.add(timeseries("Starts not profiled", "Starts the daemon did not observe, by reason: clock_skew "
                     "(started before created), implausible (over an hour), never_started, and Kata shim "
                     "creates it could not isolate (shim_create_ambiguous: a container create was already in "
                     "the shim's sum).",
                     [(f"sum by (reason) (increase(uvm_sizer_sandbox_start_skipped_total{{{NODE}}}[$__rate_interval]))",
                       "{{reason}}")], "short"), 6, 8)

    L.row("uvm-sizer itself")
    L.add(timeseries("Reconcile duration", "How long one reconcile of a node's pods takes.",
                     [(f"histogram_quantile(0.5, sum by (le, node) (rate(uvm_sizer_reconcile_duration_seconds_bucket"
                       f"{{{NODE}}}[$__rate_interval])))", "{{node}} p50"),
                      (f"histogram_quantile(0.99, sum by (le, node) (rate(uvm_sizer_reconcile_duration_seconds_bucket"
                       f"{{{NODE}}}[$__rate_interval])))", "{{node}} p99")], "s"), 8, 8)
    L.add(timeseries("Errors and cgroup writes", "Errors by cause and cgroup writes by result.",
                     [(f"sum by (cause) (rate(uvm_sizer_errors_total{{{NODE}}}[$__rate_interval]))", "error {{cause}}"),
                      (f"sum by (result) (rate(uvm_sizer_cgroup_writes_total{{{NODE}}}[$__rate_interval]))",
                       "write {{result}}")], "ops"), 8, 8)
    L.add(table("Versions and runtime connection", "Each node's uvm-sizer version and whether it reaches the "
                "container runtime (1).",
                [f"uvm_sizer_build_info{{{NODE}}}", f"uvm_sizer_cri_up{{{NODE}}}"],
                rename={"Value #A": "build", "Value #B": "CRI up"}), 8, 8)
    return L.panels


def dashboard():
    return {
        "uid": "uvm-sizer",
        "title": "uvm-sizer: VM pod capacity",
        "tags": ["uvm-sizer", "kata", "capacity"],
        "description": "What Kata VM pods really cost, how many more pods of a shape fit per node in the "
                       "scheduler's view and the host's, where the two differ, which RuntimeClasses declare too "
                       "little overhead and which pods are about to run out of memory. Needs the recording rules "
                       "of metrics/rules/uvm-sizer.rules.yml and kube-state-metrics for the scheduler view. "
                       "Generated by metrics/dashboards/generate.py: do not edit by hand.",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "links": [],
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": templating(),
        "panels": panels(),
    }


def render():
    return json.dumps(dashboard(), indent=2, ensure_ascii=False) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when the committed JSON is not the output")
    parser.add_argument("--queries", action="store_true", help="print every panel query as JSON lines")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                         "uvm-sizer.json"))
    args = parser.parse_args()
    text = render()
    if args.queries:
        for p in dashboard()["panels"]:
            for t in p.get("targets", []):
                print(json.dumps({"panel": p["title"], "refId": t["refId"], "expr": t["expr"]}))
        return 0
    if args.check:
        try:
            with open(args.output, encoding="utf-8") as f:
                committed = f.read()
        except OSError as e:
            print(f"{args.output}: {e.strerror}", file=sys.stderr)
            return 1
        if committed == text:
            return 0
        sys.stderr.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                   args.output, "generate.py output"))
        print(f"\n{args.output} differs from what generate.py makes: run python3 {__file__}", file=sys.stderr)
        return 1
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
