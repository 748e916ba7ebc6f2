// Kubernetes manifests (YAML or JSON, several documents, `List`s) -> pods and RuntimeClasses. Takes text,
// never opens a file: the caller reads the file or stdin and prefixes its name to error messages.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/pod.h"

namespace uvm::sizer::formats {

// cpu, memory and pods of a Node's status.allocatable or status.capacity; nullopt where absent.
struct NodeResources {
  std::optional<int64_t> memory_bytes;
  std::optional<int64_t> cpu_millis;
  std::optional<int64_t> pods;
};

// A Node of `kubectl get nodes -o json|yaml` (read by ParseManifest(text, ManifestKinds::kNodes)).
struct NodeObject {
  ObjectRef ref;              // kind "Node", no namespace
  NodeResources allocatable;  // status.allocatable, or status.capacity when it is missing
  NodeResources capacity;
  bool has_allocatable = false;
  bool has_capacity = false;
  bool allocatable_from_capacity = false;                  // status.allocatable was missing
  bool unschedulable = false;                              // spec.unschedulable (cordoned)
  std::map<std::string, std::string, std::less<>> labels;  // metadata.labels
};

// What ParseManifest reads: the objects that carry pods, or Nodes.
enum class ManifestKinds { kPods, kNodes };

struct Manifest {
  // Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, PodTemplate, and the same inside
  // `kind: List` items: one Pod each (its template's spec), in input order.
  std::vector<Pod> pods;
  // node.k8s.io/v1 RuntimeClass objects found in the same input.
  std::vector<RuntimeClass> runtime_classes;
  // ManifestKinds::kNodes only: the Nodes, in input order (every other kind is skipped with a warning).
  // A Node needs metadata.name and memory and cpu in status.allocatable (else status.capacity, with a
  // warning).
  std::vector<NodeObject> nodes;
  // Things skipped, one line each: `document 3 (Service default/web): kind Service skipped`.
  std::vector<std::string> warnings;
};

// Parses every document of `text`: YAML, or JSON when the first non-space byte is `{` or `[` (as kubectl
// sniffs it; each JSON value is a document). Both feed one reader, so every rule below holds for both.
// Quantities may be strings or bare numbers. On the first error the result is an error, nothing
// partial: `document 2 (Deployment default/web):
// spec.template.spec.containers[0].resources.limits.memory: invalid quantity "1.5.5Gi": <reason>`.
// Typed lists (PodList, DeploymentList, ...) and ReplicationController are read too. Pods carry their
// (template's) metadata.annotations and, for live Pods, spec.nodeName, status.phase and metadata.uid. YAML
// merge keys (`<<`) apply as in go-yaml v2. A repeated top-level key of a document's root block map starts a
// new object (files concatenated without `---`), with a warning. Refused, with a message: negative resources,
// CPU quantities whose millicores overflow int64, duplicate keys, non-string annotation values or more than
// 256 KiB of annotations, a pod without containers, bare numbers YAML 1.1 reads differently from the
// quantity grammar (`010`, `0x10`, `1_000`), what go-yaml refuses and yaml-cpp would accept (a line
// without `:` in a map, an unterminated quoted scalar), YAML or JSON nested over 499 levels, more than
// 2^21 nodes in one document or one item of a List (items of a root `items` list are read and freed one
// by one), map keys over 64 KiB, input over 256 MiB, Lists nested over 8 deep, and alias expansions far
// larger than the input. Never throws.
Result<Manifest> ParseManifest(std::string_view text, ManifestKinds kinds = ManifestKinds::kPods);

}  // namespace uvm::sizer::formats
