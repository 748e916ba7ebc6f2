// The slice of a Kubernetes pod that decides its sandbox resources, and the RuntimeClass fields that
// decide its handler and declared overhead. Filled by sizer/formats (manifests) or by the daemon (CRI).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sizer/quantity.h"

namespace uvm::sizer {

// cpu and memory of one `resources.limits` / `resources.requests` map; other resources are ignored.
struct ResourceList {
  std::optional<Quantity> cpu;
  std::optional<Quantity> memory;
};

struct ResourceRequirements {
  ResourceList limits;
  ResourceList requests;
};

struct Container {
  std::string name;
  ResourceRequirements resources;
  // An init container with `restartPolicy: Always` is a sidecar (KEP-753): it runs beside the regular
  // containers, so its limits add to theirs.
  bool restart_policy_always = false;
};

// Where a pod came from, for messages and the JSON output ("Deployment default/web").
struct ObjectRef {
  std::string kind;
  std::string namespace_;  // "default" when the manifest leaves it out
  std::string name;
  int document = 0;  // 1-based index of the YAML document in its input
  // The input it came from (a file name, "-" for stdin); empty when there is only one input.
  std::string source;
  // spec.nodeName of a live pod (`kubectl get pods -o yaml`), so a planner can group by node; empty for
  // templates and unscheduled pods.
  std::string node_name;
  // status.phase of a live pod ("Pending", "Running", "Succeeded", "Failed", "Unknown"); empty for
  // templates. The scheduler stops counting a pod once it has terminated (Succeeded or Failed).
  std::string phase;
  // metadata.uid of a live pod; empty for templates.
  std::string uid;
};

struct PodSpec {
  std::vector<Container> init_containers;
  std::vector<Container> containers;
  // Pod-level resources (spec.resources, KEP-2837); when a resource is set here it replaces the
  // aggregate of the containers for that resource.
  ResourceRequirements pod_resources;
  std::optional<std::string> runtime_class_name;
  // spec.overhead as written in the manifest (RuntimeClass admission normally fills it).
  ResourceList overhead;
};

struct Pod {
  ObjectRef ref;
  PodSpec spec;
  // metadata.annotations (for a template: spec.template.metadata.annotations, which is what the pod gets).
  // Kata reads io.katacontainers.* ones that containerd forwards to the sandbox.
  std::map<std::string, std::string, std::less<>> annotations;
};

// node.k8s.io/v1 RuntimeClass: the CRI handler a pod's runtimeClassName maps to, and overhead.podFixed.
struct RuntimeClass {
  std::string name;
  std::string handler;
  ResourceList overhead_pod_fixed;
  // scheduling.nodeSelector: admission adds it to the pod's nodeSelector, so its pods only go to nodes
  // with these labels.
  std::map<std::string, std::string, std::less<>> node_selector;
};

}  // namespace uvm::sizer
