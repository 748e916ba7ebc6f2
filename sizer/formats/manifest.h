// Kubernetes manifests (YAML, several documents, `List`s) -> pods and RuntimeClasses. Takes text, never
// opens a file: the caller reads the file or stdin and prefixes its name to error messages.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/pod.h"

namespace uvm::sizer::formats {

struct Manifest {
  // Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, PodTemplate, and the same inside
  // `kind: List` items: one Pod each (its template's spec), in input order.
  std::vector<Pod> pods;
  // node.k8s.io/v1 RuntimeClass objects found in the same input.
  std::vector<RuntimeClass> runtime_classes;
  // Things skipped, one line each: `document 3 (Service default/web): kind Service skipped`.
  std::vector<std::string> warnings;
};

// Parses every document of `yaml_text`. Quantities may be strings or bare numbers. On the first error the
// result is an error, nothing partial: `document 2 (Deployment default/web):
// spec.template.spec.containers[0].resources.limits.memory: invalid quantity "1.5.5Gi": <reason>`.
// Typed lists (PodList, DeploymentList, ...) and ReplicationController are read too. Refused, with a
// message: negative resources, CPU quantities whose millicores overflow int64, duplicate keys, a pod
// without containers, bare numbers YAML 1.1 reads differently from the quantity grammar (`010`, `0x10`,
// `1_000`), YAML nested over 499 levels, more than 2^21 YAML nodes, Lists nested over 8 deep, and alias
// expansions far larger than the input. Never throws.
Result<Manifest> ParseManifest(std::string_view yaml_text);

}  // namespace uvm::sizer::formats
