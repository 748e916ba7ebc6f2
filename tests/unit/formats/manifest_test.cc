#include "sizer/formats/manifest.h"

#include <sys/mman.h>

#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/error_codes.h"

namespace uvm::sizer::formats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

Manifest MustParse(std::string_view yaml) {
  auto m = ParseManifest(yaml);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return m.ok() ? std::move(*m) : Manifest{};
}

std::string ErrorOf(std::string_view yaml) {
  auto m = ParseManifest(yaml);
  EXPECT_FALSE(m.ok()) << "parsed, but an error was expected";
  return m.ok() ? std::string() : m.error().message;
}

int64_t Bytes(const std::optional<Quantity>& q) {
  return q ? q->Value() : -1;
}
int64_t Milli(const std::optional<Quantity>& q) {
  return q ? q->MilliValue() : -1;
}

constexpr const char* kPodSpec = R"(
    containers:
    - name: app
      image: nginx
      resources:
        limits: {cpu: 500m, memory: 512Mi}
        requests: {cpu: 250m, memory: 256Mi}
)";

TEST(Manifest, PodWithLimitsAndRequests) {
  auto m = MustParse(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  runtimeClassName: kata-vm-isolation
  containers:
  - name: app
    resources:
      limits: {cpu: 500m, memory: 512Mi, ephemeral-storage: 1Gi}
      requests: {cpu: 250m, memory: 256Mi}
  - name: log
)");
  ASSERT_EQ(m.pods.size(), 1u);
  const Pod& p = m.pods[0];
  EXPECT_EQ(p.ref.kind, "Pod");
  EXPECT_EQ(p.ref.namespace_, "shop");
  EXPECT_EQ(p.ref.name, "web");
  EXPECT_EQ(p.ref.document, 1);
  EXPECT_EQ(p.spec.runtime_class_name, "kata-vm-isolation");
  ASSERT_EQ(p.spec.containers.size(), 2u);
  EXPECT_EQ(p.spec.containers[0].name, "app");
  EXPECT_EQ(Milli(p.spec.containers[0].resources.limits.cpu), 500);
  EXPECT_EQ(Bytes(p.spec.containers[0].resources.limits.memory), 536870912);
  EXPECT_EQ(Milli(p.spec.containers[0].resources.requests.cpu), 250);
  EXPECT_EQ(Bytes(p.spec.containers[0].resources.requests.memory), 268435456);
  EXPECT_FALSE(p.spec.containers[1].resources.limits.cpu.has_value());
  EXPECT_FALSE(p.spec.containers[1].resources.limits.memory.has_value());
  EXPECT_TRUE(m.warnings.empty());
}

TEST(Manifest, NamespaceDefaultsAndTemplatePodsAreNamedAfterTheirOwner) {
  struct Case {
    const char* kind;
    std::string body;
  };
  auto indent = [](std::string_view text, size_t n) {
    std::string out;
    std::istringstream in{std::string(text)};
    for (std::string line; std::getline(in, line);)
      out += (line.empty() ? "" : std::string(n, ' ')) + line + "\n";
    return out;
  };
  const std::string tmpl =
      "  template:\n    metadata: {name: ignored, namespace: ignored}\n    spec:" + indent(kPodSpec, 2);
  const std::string indented_pod_spec = indent(kPodSpec, 6);  // for CronJob
  const Case cases[] = {
      {"Pod", std::string("spec:") + kPodSpec},
      {"Deployment", "spec:\n  replicas: 3\n" + tmpl},
      {"StatefulSet", "spec:\n" + tmpl},
      {"DaemonSet", "spec:\n" + tmpl},
      {"ReplicaSet", "spec:\n" + tmpl},
      {"ReplicationController", "spec:\n" + tmpl},
      {"Job", "spec:\n" + tmpl},
      {"CronJob",
       "spec:\n  schedule: '*/5 * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:" +
           indented_pod_spec},
      {"PodTemplate", "template:\n  spec:" + std::string(kPodSpec)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    auto m = MustParse(fmt::format("kind: {}\nmetadata:\n  name: thing\n{}", c.kind, c.body));
    ASSERT_EQ(m.pods.size(), 1u);
    EXPECT_EQ(m.pods[0].ref.kind, c.kind);
    EXPECT_EQ(m.pods[0].ref.namespace_, "default");
    EXPECT_EQ(m.pods[0].ref.name, "thing");
    ASSERT_EQ(m.pods[0].spec.containers.size(), 1u);
    EXPECT_EQ(Milli(m.pods[0].spec.containers[0].resources.limits.cpu), 500);
    EXPECT_EQ(Bytes(m.pods[0].spec.containers[0].resources.limits.memory), 536870912);
  }
}

TEST(Manifest, MultiDocumentWithEmptyDocumentsAndSkippedKinds) {
  auto m = MustParse(R"(---
---
# only a comment
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c}]}
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c}]}
...
)");
  ASSERT_EQ(m.pods.size(), 2u);
  EXPECT_EQ(m.pods[0].ref.name, "a");
  EXPECT_EQ(m.pods[1].ref.name, "b");
  EXPECT_EQ(m.pods[1].ref.document, m.pods[0].ref.document + 1);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_THAT(m.warnings[0], HasSubstr("(Service shop/web): kind Service skipped"));
  EXPECT_THAT(m.warnings[0], StartsWith(fmt::format("document {} ", m.pods[0].ref.document - 1)));
}

TEST(Manifest, DocumentNumbersCountFromOne) {
  auto m = MustParse(
      "kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\n"
      "kind: Pod\nmetadata: {name: b}\nspec: {containers: [{name: c}]}\n");
  ASSERT_EQ(m.pods.size(), 2u);
  EXPECT_EQ(m.pods[0].ref.document, 1);
  EXPECT_EQ(m.pods[1].ref.document, 2);
  EXPECT_THAT(
      ErrorOf("kind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\n"
              "metadata: {name: b}\nspec: {containers: [{name: c, resources: {limits: {cpu: x}}}]}\n"),
      StartsWith("document 2 (Pod default/b): spec.containers[0].resources.limits.cpu: invalid quantity"));
}

TEST(Manifest, EmptyInputIsNoPods) {
  for (const char* text : {"", "\n", "---\n", "# nothing\n", "---\n...\n"}) {
    auto m = MustParse(text);
    EXPECT_TRUE(m.pods.empty());
    EXPECT_TRUE(m.runtime_classes.empty());
  }
}

TEST(Manifest, ListsAndTypedListsRecursively) {
  auto m = MustParse(R"(
apiVersion: v1
kind: List
items:
- apiVersion: node.k8s.io/v1
  kind: RuntimeClass
  metadata: {name: kata-vm-isolation}
  handler: kata
  overhead:
    podFixed: {cpu: 250m, memory: 600Mi}
- kind: List
  items:
  - kind: Deployment
    metadata: {name: inner, namespace: ns1}
    spec: {template: {spec: {containers: [{name: c}]}}}
- kind: ConfigMap
  metadata: {name: cfg}
- apiVersion: v1
  kind: PodList
  items:
  - metadata: {name: typed, namespace: ns2}
    spec: {containers: [{name: c}]}
)");
  ASSERT_EQ(m.runtime_classes.size(), 1u);
  EXPECT_EQ(m.runtime_classes[0].name, "kata-vm-isolation");
  ASSERT_EQ(m.pods.size(), 2u);
  EXPECT_EQ(m.pods[0].ref.kind, "Deployment");
  EXPECT_EQ(m.pods[0].ref.namespace_, "ns1");
  EXPECT_EQ(m.pods[0].ref.name, "inner");
  EXPECT_EQ(m.pods[0].ref.document, 1);
  EXPECT_EQ(m.pods[1].ref.kind, "Pod");
  EXPECT_EQ(m.pods[1].ref.name, "typed");
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_EQ(m.warnings[0], "document 1 (ConfigMap default/cfg): kind ConfigMap skipped");
}

TEST(Manifest, ListItemErrorsNameTheItemAndItsPath) {
  EXPECT_EQ(ErrorOf(R"(kind: List
items:
- kind: Pod
  metadata: {name: ok}
  spec: {containers: [{name: c}]}
- kind: Deployment
  metadata: {name: web}
  spec:
    template:
      spec:
        containers:
        - name: c
          resources: {limits: {memory: -1Gi}}
)"),
            "document 1 (Deployment default/web): "
            "items[1].spec.template.spec.containers[0].resources.limits.memory: "
            "must not be negative, got \"-1Gi\"");
  EXPECT_EQ(ErrorOf("kind: List\nitems: [3]\n"),
            "document 1 (List default/<unnamed>): items[0]: must be a map (a Kubernetes object), got \"3\"");
  EXPECT_EQ(ErrorOf("kind: List\nitems: {a: b}\n"),
            "document 1 (List default/<unnamed>): items: must be a list, got a map");
}

TEST(Manifest, RuntimeClasses) {
  auto m = MustParse(R"(
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: kata-cc-isolation
handler: kata-cc
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kata-vm-isolation}
handler: kata
overhead:
  podFixed:
    memory: 600Mi
    cpu: 250m
scheduling:
  nodeSelector: {kubernetes.azure.com/kata-vm-isolation: "true"}
---
apiVersion: node.k8s.io/v1alpha1
kind: RuntimeClass
metadata: {name: old}
spec: {runtimeHandler: kata}
)");
  ASSERT_EQ(m.runtime_classes.size(), 2u);
  EXPECT_EQ(m.runtime_classes[0].name, "kata-cc-isolation");
  EXPECT_EQ(m.runtime_classes[0].handler, "kata-cc");
  EXPECT_FALSE(m.runtime_classes[0].overhead_pod_fixed.memory.has_value());
  EXPECT_EQ(m.runtime_classes[1].handler, "kata");
  EXPECT_EQ(Bytes(m.runtime_classes[1].overhead_pod_fixed.memory), 600 * 1048576);
  EXPECT_EQ(Milli(m.runtime_classes[1].overhead_pod_fixed.cpu), 250);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_THAT(m.warnings[0], HasSubstr("document 3 (RuntimeClass default/old): RuntimeClass with apiVersion "
                                       "node.k8s.io/v1alpha1 skipped"));
  EXPECT_TRUE(m.pods.empty());
}

TEST(Manifest, RuntimeClassErrors) {
  EXPECT_EQ(ErrorOf("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: k}\n"),
            "document 1 (RuntimeClass default/k): handler: missing");
  EXPECT_EQ(ErrorOf("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nhandler: kata\n"),
            "document 1 (RuntimeClass default/<unnamed>): metadata.name: missing");
  EXPECT_EQ(ErrorOf("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: k}\nhandler: kata\n"
                    "overhead: {podFixed: {memory: 6OOMi}}\n"),
            "document 1 (RuntimeClass default/k): overhead.podFixed.memory: invalid quantity \"6OOMi\": " +
                Quantity::Parse("6OOMi").error().message.substr(
                    std::string("invalid quantity \"6OOMi\": ").size()));
  EXPECT_EQ(ErrorOf("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: k}\nhandler: [kata]\n"),
            "document 1 (RuntimeClass default/k): handler: must be a string, got a list");
}

TEST(Manifest, InitContainersAndSidecars) {
  auto m = MustParse(R"(
kind: Pod
metadata: {name: p}
spec:
  initContainers:
  - name: setup
    resources: {limits: {cpu: "2", memory: 1Gi}}
  - name: proxy
    restartPolicy: Always
    resources: {limits: {cpu: 100m, memory: 64Mi}}
  containers:
  - name: app
)");
  ASSERT_EQ(m.pods.size(), 1u);
  const auto& init = m.pods[0].spec.init_containers;
  ASSERT_EQ(init.size(), 2u);
  EXPECT_EQ(init[0].name, "setup");
  EXPECT_FALSE(init[0].restart_policy_always);
  EXPECT_EQ(Milli(init[0].resources.limits.cpu), 2000);
  EXPECT_EQ(init[1].name, "proxy");
  EXPECT_TRUE(init[1].restart_policy_always);
  EXPECT_EQ(Bytes(init[1].resources.limits.memory), 64 * 1048576);
}

TEST(Manifest, PodLevelResourcesAndOverhead) {
  auto m = MustParse(R"(
kind: Pod
metadata: {name: p}
spec:
  resources:
    limits: {cpu: "4", memory: 8Gi}
    requests: {cpu: "1"}
  overhead: {cpu: 250m, memory: 600Mi}
  containers: [{name: app}]
)");
  ASSERT_EQ(m.pods.size(), 1u);
  const auto& s = m.pods[0].spec;
  EXPECT_EQ(Milli(s.pod_resources.limits.cpu), 4000);
  EXPECT_EQ(Bytes(s.pod_resources.limits.memory), int64_t{8} << 30);
  EXPECT_EQ(Milli(s.pod_resources.requests.cpu), 1000);
  EXPECT_FALSE(s.pod_resources.requests.memory.has_value());
  EXPECT_EQ(Milli(s.overhead.cpu), 250);
  EXPECT_EQ(Bytes(s.overhead.memory), 600 * 1048576);
}

TEST(Manifest, BareNumbersUseTheScalarText) {
  auto m = MustParse(R"(
kind: Pod
metadata: {name: p}
spec:
  containers:
  - name: a
    resources: {limits: {cpu: 1.5, memory: 1e9}}
  - name: b
    resources: {limits: {cpu: 2, memory: 1073741824}}
  - name: c
    resources: {limits: {cpu: "0.25", memory: '1E3'}}
  - name: d
    resources: {limits: {cpu: 007, memory: null}, requests: {cpu: ~}}
)");
  ASSERT_EQ(m.pods.size(), 1u);
  const auto& c = m.pods[0].spec.containers;
  EXPECT_EQ(Milli(c[0].resources.limits.cpu), 1500);
  EXPECT_EQ(Bytes(c[0].resources.limits.memory), 1000000000);
  EXPECT_EQ(Milli(c[1].resources.limits.cpu), 2000);
  EXPECT_EQ(Bytes(c[1].resources.limits.memory), 1073741824);
  EXPECT_EQ(Milli(c[2].resources.limits.cpu), 250);
  EXPECT_EQ(Bytes(c[2].resources.limits.memory), 1000);
  EXPECT_EQ(Milli(c[3].resources.limits.cpu), 7000);
  EXPECT_FALSE(c[3].resources.limits.memory.has_value());
  EXPECT_FALSE(c[3].resources.requests.cpu.has_value());
}

TEST(Manifest, BareYaml11IntegersThatKubernetesReadsDifferentlyAreRefused) {
  for (const char* v : {"010", "0x10", "0b101", "0o17", "1_000", "-0x1"}) {
    SCOPED_TRACE(v);
    EXPECT_THAT(
        ErrorOf(fmt::format("kind: Pod\nmetadata: {{name: p}}\nspec: {{containers: [{{name: a, resources: "
                            "{{limits: {{cpu: {}}}}}}}]}}\n",
                            v)),
        HasSubstr(fmt::format("spec.containers[0].resources.limits.cpu: bare number \"{}\" means something "
                              "else to Kubernetes",
                              v)));
  }
  // Quoted, the same text is an ordinary quantity string.
  auto m = MustParse(
      "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, resources: {limits: "
      "{cpu: '010'}}}]}\n");
  EXPECT_EQ(Milli(m.pods[0].spec.containers[0].resources.limits.cpu), 10000);
}

TEST(Manifest, QuantityErrorsNameDocumentObjectPathAndValue) {
  const std::string yaml = R"(kind: Pod
metadata: {name: first}
spec: {containers: [{name: c}]}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
      - name: app
        resources:
          limits:
            memory: 1.5.5Gi
)";
  auto q = Quantity::Parse("1.5.5Gi");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(ErrorOf(yaml),
            "document 2 (Deployment default/web): spec.template.spec.containers[0].resources.limits."
            "memory: " +
                q.error().message);
  EXPECT_THAT(q.error().message, StartsWith("invalid quantity \"1.5.5Gi\": "));
}

TEST(Manifest, NegativeAndOverflowingLimits) {
  auto pod = [](std::string_view resources) {
    return fmt::format(
        "kind: Pod\nmetadata: {{name: p, namespace: ns}}\nspec:\n  containers:\n  - name: a\n"
        "    resources: {}\n",
        resources);
  };
  EXPECT_EQ(
      ErrorOf(pod("{limits: {cpu: -1}}")),
      "document 1 (Pod ns/p): spec.containers[0].resources.limits.cpu: must not be negative, got \"-1\"");
  EXPECT_EQ(ErrorOf(pod("{requests: {memory: '-5Mi'}}")),
            "document 1 (Pod ns/p): spec.containers[0].resources.requests.memory: must not be negative, got "
            "\"-5Mi\"");
  EXPECT_EQ(ErrorOf(pod("{limits: {cpu: 1e16}}")),
            "document 1 (Pod ns/p): spec.containers[0].resources.limits.cpu: \"1e16\" is too large for a CPU "
            "quantity (its millicores overflow int64)");
  // The same size is fine as memory: Value() fits.
  auto m = MustParse(pod("{limits: {memory: 1e16}}"));
  EXPECT_EQ(Bytes(m.pods[0].spec.containers[0].resources.limits.memory), 10000000000000000);
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\n  overhead: {memory: -1}\n"),
      "document 1 (Pod default/p): spec.overhead.memory: must not be negative, got \"-1\"");
  // Memory above 2^63-1 bytes: apimachinery's Value() gives 0 for 1e19 (positiveScaleInt64 overflow) and the
  // low 64 bits for a 20-digit number (scaledValue), neither a size: refused, naming the field.
  EXPECT_EQ(ErrorOf(pod("{limits: {memory: 1e19}}")),
            "document 1 (Pod ns/p): spec.containers[0].resources.limits.memory: \"1e19\" is too large for a "
            "memory quantity (its bytes overflow int64)");
  EXPECT_EQ(
      ErrorOf(pod("{requests: {memory: '10000000000000000000'}}")),
      "document 1 (Pod ns/p): spec.containers[0].resources.requests.memory: \"10000000000000000000\" is "
      "too large for a memory quantity (its bytes overflow int64)");
  // Binary suffixes are clamped by apimachinery itself (maxAllowed), so 16Ei is 2^63-1 bytes, not an error.
  auto clamped = MustParse(pod("{limits: {memory: 16Ei}}"));
  EXPECT_EQ(Bytes(clamped.pods[0].spec.containers[0].resources.limits.memory), INT64_MAX);
}

TEST(Manifest, StructureErrors) {
  EXPECT_EQ(ErrorOf("- a\n- b\n"), "document 1: must be a map (a Kubernetes object), got a list");
  EXPECT_EQ(ErrorOf("just text\n"), "document 1: must be a map (a Kubernetes object), got \"just text\"");
  EXPECT_EQ(
      ErrorOf("---\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c}]}\n---\napiVersion: v1\n"),
      "document 2: kind: missing");
  EXPECT_EQ(ErrorOf("kind: {a: b}\n"), "document 1: kind: must be a string, got a map");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: {name: c}}\n"),
            "document 1 (Pod default/p): spec.containers: must be a list of containers, got a map");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: []}\n"),
            "document 1 (Pod default/p): spec.containers: missing (a pod needs at least one container)");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\n"), "document 1 (Pod default/p): spec: missing");
  EXPECT_EQ(ErrorOf("kind: Deployment\nmetadata: {name: d}\nspec: {replicas: 2}\n"),
            "document 1 (Deployment default/d): spec.template: missing");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [nginx]}\n"),
            "document 1 (Pod default/p): spec.containers[0]: must be a map (a container), got \"nginx\"");
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {limits: "
              "{memory: {value: 1Gi}}}}]}\n"),
      "document 1 (Pod default/p): spec.containers[0].resources.limits.memory: must be a quantity (a string "
      "or a number), got a map");
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {limits: [1]}}]}\n"),
      "document 1 (Pod default/p): spec.containers[0].resources.limits: must be a map, got a list");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: [p]}\n"),
            "document 1 (Pod default/<unnamed>): metadata.name: "
            "must be a string, got a list");
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {runtimeClassName: {a: 1}, containers: [{name: c}]}\n"),
      "document 1 (Pod default/p): spec.runtimeClassName: must be a string, got a map");
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {initContainers: [{name: i, restartPolicy: [Always]}], "
              "containers: [{name: c}]}\n"),
      "document 1 (Pod default/p): spec.initContainers[0].restartPolicy: must be a string, got a list");
}

TEST(Manifest, DuplicateKeysAreErrorsAsInKubectl) {
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n"
                    "      limits:\n        memory: 1Gi\n        memory: 2Gi\n"),
            "document 1 (Pod default/p): spec.containers[0].resources.limits.memory: duplicate key (line 9)");
}

TEST(Manifest, YamlSyntaxErrorsHaveLineAndColumn) {
  std::string e = ErrorOf(
      "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n---\nkind: Pod\nspec: [a, b\n");
  EXPECT_THAT(e, StartsWith("document 2: YAML syntax error at line "));
  EXPECT_THAT(e, HasSubstr(", column "));
  EXPECT_THAT(ErrorOf("kind: Pod\n  bad: indent\n"),
              StartsWith("document 1: YAML syntax error at line 2, column "));
  EXPECT_THAT(ErrorOf("a: *nowhere\n"), StartsWith("document 1: YAML syntax error at line 1, column 4: "));
  // yaml-cpp alone would loop forever on these, one empty document after another (found by fuzz_manifest).
  for (const char* text : {",{\t", ",{ ", ",["}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ErrorOf(text),
                HasSubstr("YAML syntax error at line 1, column 1: did not find expected node content"));
  }
}

TEST(Manifest, PodAnnotationsComeFromThePodOrItsTemplate) {
  auto m = MustParse(R"(
kind: Pod
metadata:
  name: p
  annotations:
    io.katacontainers.config.hypervisor.default_vcpus: "4"
    empty:
    note: plain text
spec:
  nodeName: node-7
  containers: [{name: c}]
---
kind: Deployment
metadata:
  name: d
  annotations: {deployment.kubernetes.io/revision: "3"}
spec:
  template:
    metadata:
      annotations: {io.katacontainers.config.hypervisor.default_memory: "4096"}
    spec:
      nodeName: pinned
      containers: [{name: c}]
---
kind: CronJob
metadata: {name: cj}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {annotations: {a: b}}
        spec: {containers: [{name: c}]}
)");
  ASSERT_EQ(m.pods.size(), 3u);
  using Annotations = std::map<std::string, std::string, std::less<>>;
  EXPECT_EQ(m.pods[0].annotations, (Annotations{{"io.katacontainers.config.hypervisor.default_vcpus", "4"},
                                                {"empty", ""},
                                                {"note", "plain text"}}));
  EXPECT_EQ(m.pods[0].ref.node_name, "node-7");
  // The Deployment's own annotations are not the pod's; a template's nodeName is not where a pod runs.
  EXPECT_EQ(m.pods[1].annotations,
            (Annotations{{"io.katacontainers.config.hypervisor.default_memory", "4096"}}));
  EXPECT_EQ(m.pods[1].ref.node_name, "");
  EXPECT_EQ(m.pods[2].annotations, (Annotations{{"a", "b"}}));
}

TEST(Manifest, LivePodsCarryTheirPhaseAndUidTemplatesDoNot) {
  auto m = MustParse(R"(
kind: Pod
metadata: {name: done, uid: 0b6f1a2c-1111-4e5f-8a9b-0c1d2e3f4a5b}
spec: {nodeName: n1, containers: [{name: c}]}
status: {phase: Succeeded}
---
kind: Pod
metadata: {name: waiting}
spec: {containers: [{name: c}]}
status: {phase: Pending}
---
kind: Deployment
metadata: {name: d, uid: 9a8b7c6d-2222-4e5f-8a9b-0c1d2e3f4a5b}
spec:
  template:
    spec: {containers: [{name: c}]}
status: {phase: Running}
)");
  ASSERT_EQ(m.pods.size(), 3u);
  EXPECT_EQ(m.pods[0].ref.phase, "Succeeded");
  EXPECT_EQ(m.pods[0].ref.uid, "0b6f1a2c-1111-4e5f-8a9b-0c1d2e3f4a5b");
  EXPECT_EQ(m.pods[0].ref.node_name, "n1");
  EXPECT_EQ(m.pods[1].ref.phase, "Pending");
  EXPECT_EQ(m.pods[1].ref.node_name, "");
  // A template's pods are not live: the object's own status and uid are not theirs.
  EXPECT_EQ(m.pods[2].ref.phase, "");
  EXPECT_EQ(m.pods[2].ref.uid, "");
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\nstatus: {phase: [a]}\n"),
      "document 1 (Pod default/p): status.phase: must be a string, got a list");
}

TEST(Manifest, AnnotationValuesMustBeStrings) {
  auto pod = [](std::string_view annotations) {
    return fmt::format(
        "kind: Pod\nmetadata:\n  name: p\n  annotations: {}\nspec: {{containers: [{{name: c}}]}}\n",
        annotations);
  };
  EXPECT_EQ(
      ErrorOf(pod("{io.katacontainers.config.hypervisor.default_vcpus: 4}")),
      "document 1 (Pod default/p): "
      "metadata.annotations[\"io.katacontainers.config.hypervisor.default_vcpus\"]: "
      "must be a string, got the bare \"4\" (YAML reads it as a number or a boolean, which the API refuses): "
      "quote it");
  for (const char* v : {"true", "yes", "off", "1.5", "0x1f", "-3", "1e3", ".inf"}) {
    SCOPED_TRACE(v);
    EXPECT_THAT(ErrorOf(pod(fmt::format("{{a: {}}}", v))),
                HasSubstr("metadata.annotations[\"a\"]: must be a string"));
  }
  EXPECT_EQ(ErrorOf(pod("{a: [1]}")),
            "document 1 (Pod default/p): metadata.annotations[\"a\"]: must be a string, got a list");
  EXPECT_EQ(ErrorOf(pod("[a]")),
            "document 1 (Pod default/p): metadata.annotations: must be a map, got a list");
  EXPECT_THAT(ErrorOf(pod("{a: x, a: z}")), HasSubstr("metadata.annotations[\"a\"]: duplicate key"));
  // Plain words, versions and quoted numbers are strings.
  auto m = MustParse(pod("{a: 1.2.3, b: \"4\", c: v1, d: 10Gi, e: '0x10'}"));
  EXPECT_EQ(m.pods[0].annotations.at("a"), "1.2.3");
  EXPECT_EQ(m.pods[0].annotations.at("b"), "4");
  EXPECT_EQ(m.pods[0].annotations.at("d"), "10Gi");
  // The API's 256 KiB bound on all annotations together (keys and values).
  EXPECT_TRUE(ParseManifest(pod(fmt::format("{{a: {}}}", std::string(262143, 'x')))).ok());
  EXPECT_EQ(ErrorOf(pod(fmt::format("{{a: {}, b: x}}", std::string(262143, 'x')))),
            "document 1 (Pod default/p): metadata.annotations: more than 262144 bytes in total (the API's "
            "limit for "
            "annotations)");
}

// go-yaml v2 (gopkg.in/yaml.v2 2.4.0, decode.go, decoder.mapping and decoder.merge; checked with a Go
// program): a key written after `<<` wins, and earlier maps of a merge list win over later ones.
TEST(Manifest, MergeKeysAsGoYamlAppliesThem) {
  auto m = MustParse(R"(
kind: List
defaults: &limits {cpu: 500m, memory: 512Mi}
small: &small {memory: 128Mi}
items:
- kind: Pod
  metadata: {name: a}
  spec:
    containers:
    - name: c
      resources:
        limits:
          <<: *limits
          memory: 1Gi
- kind: Pod
  metadata: {name: b}
  spec:
    containers:
    - name: c
      resources:
        limits:
          <<: [*small, *limits]
- kind: Pod
  metadata: {name: c}
  spec:
    containers:
    - name: c
      resources:
        limits: {<<: {cpu: "2"}}
        requests:
          "<<": {cpu: "9"}
)");
  ASSERT_EQ(m.pods.size(), 3u);
  const auto& a = m.pods[0].spec.containers[0].resources.limits;
  EXPECT_EQ(Milli(a.cpu), 500);
  EXPECT_EQ(Bytes(a.memory), int64_t{1} << 30);  // explicit, not "duplicate key"
  const auto& b = m.pods[1].spec.containers[0].resources.limits;
  EXPECT_EQ(Bytes(b.memory), 128 * 1048576);  // the earlier map of the list
  EXPECT_EQ(Milli(b.cpu), 500);
  EXPECT_EQ(Milli(m.pods[2].spec.containers[0].resources.limits.cpu), 2000);
  // A quoted "<<" is an ordinary key.
  EXPECT_FALSE(m.pods[2].spec.containers[0].resources.requests.cpu.has_value());
}

TEST(Manifest, MergeKeysKubectlAndTheSpecDisagreeOnAreRefused) {
  const std::string head =
      "kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources:\n";
  EXPECT_EQ(
      ErrorOf(head + "      limits:\n        memory: 1Gi\n        <<: {memory: 2Gi}\n"),
      "document 1: YAML syntax error at line 8, column 9: key \"memory\" is set before the `<<` merge at "
      "line 9 "
      "that sets it too: kubectl (go-yaml) keeps the merged value, the YAML merge spec the explicit one; put "
      "`<<` first");
  EXPECT_EQ(
      ErrorOf(head + "      limits:\n        <<: [1]\n"),
      "document 1: YAML syntax error at line 8, column 14: map merge requires a map or a list of maps as the "
      "value of `<<`");
  EXPECT_THAT(ErrorOf(head + "      limits:\n        <<: {cpu: 1}\n        <<: {memory: 1Gi}\n"),
              HasSubstr("line 9, column 9: a second `<<` merge key in one map"));
  // Explicit duplicates stay errors.
  EXPECT_THAT(
      ErrorOf(head + "      limits:\n        <<: {cpu: 1}\n        memory: 1Gi\n        memory: 2Gi\n"),
      HasSubstr("resources.limits.memory: duplicate key (line 10)"));
}

// yaml-cpp 0.7 accepts both and loses values; go-yaml refuses them (scannerc.go: "could not find expected
// ':'" in yaml_simple_key_is_valid, "found unexpected end of stream" in yaml_parser_scan_flow_scalar).
TEST(Manifest, YamlThatKubectlRefusesButYamlCppAcceptsIsRefused) {
  EXPECT_EQ(ErrorOf("kind: Pod\nspec: {containers: [{name: c}]}\nmetadata:\n  name: p\n  labels\n"),
            "document 1: YAML syntax error at line 5, column 3: could not find expected ':' after \"labels\" "
            "(a line "
            "without `:` inside a map; kubectl refuses it too)");
  EXPECT_THAT(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    resources\n"),
              HasSubstr("line 6, column 5: could not find expected ':' after \"resources\""));
  EXPECT_EQ(
      ErrorOf("kind: Pod\nmetadata: {name: \"p}\n"),
      "document 1: YAML syntax error at line 2, column 18: found unexpected end of stream while scanning a "
      "quoted scalar (its closing quote is missing)");
  EXPECT_THAT(ErrorOf("kind: Pod\nmetadata:\n  name: 'p\nspec: {containers: [{name: c}]}\n"),
              HasSubstr("line 3, column 9: found unexpected end of stream while scanning a quoted scalar"));
  // What both accept still parses: a key with an empty value, at the end and before a dedent, `''` and
  // `\"` inside quotes, block scalars, explicit keys.
  auto m = MustParse(
      "kind: Pod\nmetadata:\n  name: 'it''s'\n  labels:\n  annotations:\n    a: \"x\\\"y\"\n    b: |\n      "
      "text\n"
      "    ? c\nspec: {containers: [{name: c}]}\nstatus:");
  ASSERT_EQ(m.pods.size(), 1u);
  EXPECT_EQ(m.pods[0].ref.name, "it's");
  EXPECT_EQ(m.pods[0].annotations.at("a"), "x\"y");
  EXPECT_EQ(m.pods[0].annotations.at("c"), "");
}

constexpr const char* kRuntimeClassList = R"(apiVersion: v1
items:
- apiVersion: node.k8s.io/v1
  handler: kata
  kind: RuntimeClass
  metadata:
    name: kata-vm-isolation
  overhead:
    podFixed: {cpu: 250m, memory: 600Mi}
kind: List
metadata:
  resourceVersion: ""
)";

TEST(Manifest, ConcatenatedFilesWithoutSeparatorsAreSeparateObjects) {
  // `kubectl get runtimeclass -o yaml | cat - deploy.yaml`
  auto m = MustParse(std::string(kRuntimeClassList) +
                     "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
                     "    spec:\n      runtimeClassName: kata-vm-isolation\n      containers: [{name: c}]\n");
  ASSERT_EQ(m.runtime_classes.size(), 1u);
  ASSERT_EQ(m.pods.size(), 1u);
  EXPECT_EQ(m.pods[0].ref.name, "web");
  EXPECT_EQ(m.pods[0].ref.document, 2);
  ASSERT_EQ(m.warnings.size(), 1u);
  EXPECT_EQ(
      m.warnings[0],
      "document 2: a new object starts at line 13: key \"apiVersion\" repeats at the top level of document 1 "
      "without a `---` between them (files concatenated?)");
  // `cat a.yaml b.yaml c.yaml`, and a later real document is numbered after them.
  const std::string pod =
      "apiVersion: v1\nkind: Pod\nmetadata: {{name: {}}}\nspec: {{containers: [{{name: c}}]}}\n";
  m = MustParse(fmt::format(fmt::runtime(pod), "a") + fmt::format(fmt::runtime(pod), "b") +
                fmt::format(fmt::runtime(pod), "c") + "---\n" + fmt::format(fmt::runtime(pod), "d"));
  ASSERT_EQ(m.pods.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(m.pods[i].ref.document, i + 1);
  EXPECT_EQ(m.warnings.size(), 2u);
  // An error in such an object says where it began.
  EXPECT_EQ(
      ErrorOf(fmt::format(fmt::runtime(pod), "a") + "kind: Pod\nmetadata: {name: b}\n"),
      "document 2 (Pod default/b): spec: missing (document 2 began at line 5, where key \"kind\" repeats at "
      "the top level of document 1; separate objects with `---`)");
  // Only the root map of a document splits: anywhere else a repeated key stays an error, and so does one in
  // a flow (JSON-style) root map.
  EXPECT_THAT(ErrorOf("kind: Pod\nmetadata:\n  name: a\n  name: b\nspec: {containers: [{name: c}]}\n"),
              HasSubstr("metadata.name: duplicate key (line 4)"));
  EXPECT_THAT(ErrorOf("{kind: Pod, kind: Pod}\n"), HasSubstr("JSON"));
  EXPECT_THAT(ErrorOf("x: {kind: Pod, kind: Pod}\nkind: Pod\n"), HasSubstr("document 1"));
}

TEST(Manifest, ListItemsAreStreamedAndTheListKindMayComeLast) {
  // More nodes than the bound of 2^21 held at once (25,000 items of 90 nodes): each item is read and freed
  // as it completes. JSON, because it parses fast; YAML goes through the same tree builder.
  std::string list = "{\"apiVersion\": \"v1\", \"items\": [";
  const int kPods = 25000;
  std::string ports = "[0";
  for (int i = 0; i < 80; ++i) ports += ",0";
  ports += "]";
  for (int i = 0; i < kPods; ++i) {
    list += fmt::format(
        "{}{{\"kind\": \"Pod\", \"metadata\": {{\"name\": \"p{}\"}}, \"spec\": {{\"nodeName\": \"n{}\", "
        "\"containers\": [{{\"name\": \"c\", \"ports\": {}}}]}}}}",
        i ? "," : "", i, i % 7, ports);
  }
  list += "], \"kind\": \"List\", \"metadata\": {\"resourceVersion\": \"\"}}";
  auto m = MustParse(list);
  ASSERT_EQ(m.pods.size(), size_t{kPods});
  EXPECT_EQ(m.pods[kPods - 1].ref.name, fmt::format("p{}", kPods - 1));
  EXPECT_EQ(m.pods[kPods - 1].ref.node_name, fmt::format("n{}", (kPods - 1) % 7));
  // The same in YAML, smaller, with the List's kind after its items as kubectl prints it.
  std::string yaml = "apiVersion: v1\nitems:\n";
  for (int i = 0; i < 2000; ++i) {
    yaml += fmt::format(
        "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: p{}, namespace: ns}}\n  spec:\n    nodeName: "
        "n{}\n"
        "    containers:\n    - name: c\n      resources: {{limits: {{cpu: 500m, memory: 1Gi}}}}\n",
        i, i % 7);
  }
  yaml += "kind: List\nmetadata: {resourceVersion: \"\"}\n";
  auto y = MustParse(yaml);
  ASSERT_EQ(y.pods.size(), 2000u);
  EXPECT_EQ(y.pods[1999].ref.node_name, "n4");
  EXPECT_EQ(Bytes(y.pods[1999].spec.containers[0].resources.limits.memory), int64_t{1} << 30);
  // Items are committed only when the root turns out to be a List.
  auto not_list = MustParse(
      "items:\n- kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c}]}\nkind: Thing\n");
  EXPECT_TRUE(not_list.pods.empty());
  EXPECT_EQ(not_list.warnings,
            std::vector<std::string>{"document 1 (Thing default/<unnamed>): kind Thing skipped"});
  EXPECT_TRUE(ParseManifest("items:\n- kind: Pod\n  metadata: {name: a}\nkind: Thing\n").ok());
  // A typed list's items without kind wait for the list's kind; errors keep their order and path.
  auto typed = MustParse(
      "items:\n- metadata: {name: a}\n  spec: {containers: [{name: c}]}\n- kind: RuntimeClass\n"
      "  apiVersion: node.k8s.io/v1\n  metadata: {name: k}\n  handler: kata\nkind: PodList\n");
  ASSERT_EQ(typed.pods.size(), 1u);
  EXPECT_EQ(typed.pods[0].ref.kind, "Pod");
  EXPECT_EQ(typed.runtime_classes.size(), 1u);
  EXPECT_EQ(ErrorOf("items:\n- metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\nkind: PodList\n"),
            "document 1 (Pod default/a): items[0].spec: missing");
  EXPECT_EQ(ErrorOf("items:\n- kind: Pod\n  metadata: {name: a}\n  spec: {containers: [{name: c}]}\n- 3\n"
                    "kind: List\nmetadata: {name: l}\n"),
            "document 1 (List default/l): items[1]: must be a map (a Kubernetes object), got \"3\"");
  // Anchors inside an item stay readable after the item is done.
  auto anchored = MustParse(
      "kind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n  spec:\n    containers:\n    - name: c\n"
      "      resources: &r {limits: {memory: 1Gi}}\n- kind: Pod\n  metadata: {name: b}\n  spec:\n    "
      "containers:\n"
      "    - name: c\n      resources: *r\n");
  ASSERT_EQ(anchored.pods.size(), 2u);
  EXPECT_EQ(Bytes(anchored.pods[1].spec.containers[0].resources.limits.memory), int64_t{1} << 30);
}

TEST(Manifest, JsonIsReadByTheSameRules) {
  // `kubectl get pods -A -o json` of a live pod: admission set runtimeClassName and overhead.
  auto m = MustParse(R"({
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "annotations": {"io.katacontainers.config.hypervisor.default_vcpus": "2"},
                "creationTimestamp": "2024-05-01T10:00:00Z",
                "managedFields": [{"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}},
                                   "manager": "kubectl", "operation": "Update"}],
                "name": "web-7d9c",
                "namespace": "shop",
                "ownerReferences": [{"apiVersion": "apps/v1", "controller": true, "kind": "ReplicaSet",
                                     "name": "web", "uid": "1"}]
            },
            "spec": {
                "containers": [{"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "1Gi"},
                                "requests": {"cpu": 0.25, "memory": 268435456}}}],
                "nodeName": "aks-node-1",
                "overhead": {"cpu": "250m", "memory": "600Mi"},
                "runtimeClassName": "kata-vm-isolation"
            },
            "status": {"phase": "Running", "containerStatuses": [{"name": "app", "ready": true,
                       "restartCount": 0}]}
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "second"}, "spec": {"containers": [{"name": "c"}]}}
)");
  ASSERT_EQ(m.pods.size(), 2u);
  const Pod& p = m.pods[0];
  EXPECT_EQ(p.ref.kind, "Pod");
  EXPECT_EQ(p.ref.namespace_, "shop");
  EXPECT_EQ(p.ref.name, "web-7d9c");
  EXPECT_EQ(p.ref.node_name, "aks-node-1");
  EXPECT_EQ(p.spec.runtime_class_name, "kata-vm-isolation");
  EXPECT_EQ(Bytes(p.spec.overhead.memory), 600 * 1048576);
  EXPECT_EQ(Milli(p.spec.containers[0].resources.requests.cpu), 250);
  EXPECT_EQ(Bytes(p.spec.containers[0].resources.requests.memory), 268435456);
  EXPECT_EQ(p.annotations.at("io.katacontainers.config.hypervisor.default_vcpus"), "2");
  EXPECT_EQ(m.pods[1].ref.name, "second");
  EXPECT_EQ(m.pods[1].ref.document, 2);

  EXPECT_EQ(ErrorOf("{\"kind\": \"Pod\",\n \"kind\": \"Pod\"}"), "document 1: kind: duplicate key (line 2)");
  EXPECT_EQ(ErrorOf("{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\", \"annotations\": {\"a\": true}},"
                    " \"spec\": {\"containers\": [{\"name\": \"c\"}]}}"),
            "document 1 (Pod default/p): metadata.annotations[\"a\"]: must be a string, got the bare "
            "\"true\" (YAML "
            "reads it as a number or a boolean, which the API refuses): quote it");
  EXPECT_EQ(
      ErrorOf("{\"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}, \"spec\": {\"containers\": [{\"name\": "
              "\"c\", \"resources\": {\"limits\": {\"cpu\": -1}}}]}}"),
      "document 1 (Pod default/p): spec.containers[0].resources.limits.cpu: must not be negative, got "
      "\"-1\"");
  EXPECT_THAT(
      ErrorOf("{\"kind\": \"Pod\",\n  \"spec\": }"),
      StartsWith("document 1: JSON parse error at line 2, column 11: syntax error while parsing value"));
  EXPECT_THAT(ErrorOf("{\"kind\": \"Pod\""), StartsWith("document 1: JSON parse error at line 1, column "));
  EXPECT_EQ(ErrorOf("[1]"), "document 1: must be a map (a Kubernetes object), got a list");
  // Lines count from the start of the input, not of the value in error.
  EXPECT_THAT(
      ErrorOf("{\"kind\": \"Pod\", \"metadata\": {\"name\": \"a\"}, \"spec\": {\"containers\": "
              "[{\"name\": \"c\"}]}}\n\n{\"kind\":\n tru}"),
      StartsWith("document 2: JSON parse error at line 4, column 5: syntax error while parsing value - "
                 "invalid literal"));
}

TEST(Manifest, LivePodsAsKubectlPrintsThemInYaml) {
  // `kubectl get pods -A -o yaml`: kind List after items, managedFields keys such as `f:metadata` and
  // `k:{"uid":"..."}`, status, admission's runtimeClassName and overhead, nodeName.
  auto m = MustParse(R"(apiVersion: v1
items:
- apiVersion: v1
  kind: Pod
  metadata:
    annotations:
      io.katacontainers.config.hypervisor.default_memory: "4096"
    creationTimestamp: "2024-05-01T10:00:00Z"
    generateName: web-7d9c-
    managedFields:
    - apiVersion: v1
      fieldsType: FieldsV1
      fieldsV1:
        f:metadata:
          f:ownerReferences:
            .: {}
            k:{"uid":"5e6f"}: {}
      manager: kube-controller-manager
      operation: Update
    name: web-7d9c-x2x4
    namespace: shop
    ownerReferences:
    - apiVersion: apps/v1
      controller: true
      kind: ReplicaSet
      name: web-7d9c
      uid: 5e6f
  spec:
    containers:
    - image: nginx
      name: app
      resources:
        limits:
          cpu: 500m
          memory: 1Gi
    nodeName: aks-nodepool1-0
    overhead:
      cpu: 250m
      memory: 600Mi
    runtimeClassName: kata-vm-isolation
  status:
    conditions:
    - lastProbeTime: null
      status: "True"
      type: Ready
    phase: Running
kind: List
metadata:
  resourceVersion: ""
)");
  ASSERT_EQ(m.pods.size(), 1u);
  const Pod& p = m.pods[0];
  EXPECT_EQ(p.ref.kind, "Pod");
  EXPECT_EQ(p.ref.namespace_, "shop");
  EXPECT_EQ(p.ref.name, "web-7d9c-x2x4");
  EXPECT_EQ(p.ref.node_name, "aks-nodepool1-0");
  EXPECT_EQ(p.spec.runtime_class_name, "kata-vm-isolation");
  EXPECT_EQ(Milli(p.spec.overhead.cpu), 250);
  EXPECT_EQ(p.annotations.at("io.katacontainers.config.hypervisor.default_memory"), "4096");
  EXPECT_TRUE(m.warnings.empty());
}

TEST(Manifest, InputOverTheCapIsRefusedAtOnce) {
  // 1 GiB of never-touched zero pages: the size alone refuses it, without reading a byte.
  const size_t size = size_t{1} << 30;
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  auto r = ParseManifest(std::string_view(static_cast<const char*>(p), size));
  munmap(p, size);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "the input is 1073741824 bytes; at most 268435456 are read");
  EXPECT_EQ(r.error().code, ErrorCode::kResourceExhausted);
}

TEST(Manifest, HostileNestingIsAnErrorNotACrash) {
  for (int depth : {100, 1999, 2000, 5000, 100000}) {
    SCOPED_TRACE(depth);
    std::string flow(static_cast<size_t>(depth), '[');
    auto r = ParseManifest(flow);
    EXPECT_FALSE(r.ok());
    std::string flow_maps;
    for (int i = 0; i < depth; ++i) flow_maps += "{a: ";
    EXPECT_FALSE(ParseManifest(flow_maps).ok());
    std::string block;
    for (int i = 0; i < std::min(depth, 3000); ++i)
      block += std::string(static_cast<size_t>(i), ' ') + "a:\n";
    (void)ParseManifest(block);  // valid YAML up to yaml-cpp's depth guard; must simply return
    std::string dashes;
    for (int i = 0; i < depth; ++i) dashes += "- ";
    (void)ParseManifest(dashes + "x\n");
  }
  EXPECT_THAT(ParseManifest("a: " + std::string(100000, '[')).error().message,
              StartsWith("document 1: YAML nested more than 499 levels deep at line 1, column "));
  // Input starting with `[` or `{` is JSON, with the same bound.
  EXPECT_EQ(ParseManifest(std::string(100000, '[')).error().message,
            "document 1: JSON error at line 1, column 501: nested more than 499 levels deep");
}

TEST(Manifest, AliasBombsAreBounded) {
  // Each level refers to the previous one 40 times: 40^6 = 4e9 pods if expanded, six lists deep.
  std::string yaml =
      "kind: List\nx0: &a0 {kind: Pod, metadata: {name: p}, spec: {containers: [{name: c}]}}\n";
  for (int i = 1; i <= 5; ++i) {
    yaml += fmt::format("x{}: &a{} {{kind: List, items: [", i, i);
    for (int j = 0; j < 40; ++j) yaml += fmt::format("{}*a{}", j ? ", " : "", i - 1);
    yaml += "]}\n";
  }
  yaml += "items: [";
  for (int j = 0; j < 40; ++j) yaml += fmt::format("{}*a5", j ? ", " : "");
  yaml += "]\n";
  auto r = ParseManifest(yaml);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("too many objects through YAML aliases"));

  // Aliases in ordinary use still work.
  auto m = MustParse(R"(
kind: List
items:
- kind: Pod
  metadata: {name: a}
  spec:
    containers:
    - name: c
      resources: &small {limits: {cpu: 250m, memory: 256Mi}}
- kind: Pod
  metadata: {name: b}
  spec:
    containers:
    - name: c
      resources: *small
)");
  ASSERT_EQ(m.pods.size(), 2u);
  EXPECT_EQ(Bytes(m.pods[1].spec.containers[0].resources.limits.memory), 268435456);
}

TEST(Manifest, HugeInputsAreRefusedOrReadWithoutCrashing) {
  // 2.1 million tiny nodes: over the node cap.
  std::string many = "[";
  for (int i = 0; i < 2'100'000; ++i) many += "1,";
  many += "1]\n";
  auto r = ParseManifest(many);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message, HasSubstr("YAML nodes; split it into smaller files"));

  // Many real documents are fine.
  std::string docs;
  for (int i = 0; i < 2000; ++i) {
    docs += fmt::format(
        "---\nkind: Pod\nmetadata: {{name: p{}}}\nspec: {{containers: [{{name: c, resources: "
        "{{limits: {{memory: 1Gi}}}}}}]}}\n",
        i);
  }
  auto m = MustParse(docs);
  ASSERT_EQ(m.pods.size(), 2000u);
  EXPECT_EQ(m.pods[1999].ref.document, 2000);
}

TEST(Manifest, ControlBytesInValuesAreEscapedAndLongValuesShortened) {
  std::string e = ErrorOf(
      "kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {limits: "
      "{memory: \"-1\\u0007\"}}}]}\n");
  EXPECT_THAT(e, Not(HasSubstr("\a")));
  // yaml-cpp quotes the offending byte in its own messages (found by fuzz_manifest).
  std::string nul_escape = std::string("kind: \"\\") + '\0' + "\"\n";
  e = ErrorOf(nul_escape);
  EXPECT_THAT(e, StartsWith("document 1: YAML syntax error at line 1, column "));
  EXPECT_THAT(e, HasSubstr("\\x00"));
  EXPECT_EQ(e.find('\0'), std::string::npos);
  std::string long_value(10000, '9');
  e = ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, resources: {limits: {cpu: -" +
              long_value + "}}}]}\n");
  EXPECT_LT(e.size(), 400u);
}

TEST(Manifest, Examples) {
  // The shipped examples are also CLI fixtures: they must parse, and say what their names promise.
  auto read = [](const char* name) {
    std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/../../examples/" + name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  auto cc = MustParse(read("kata-cc-deployment.yaml"));
  ASSERT_EQ(cc.pods.size(), 1u);
  EXPECT_EQ(cc.pods[0].ref.kind, "Deployment");
  EXPECT_EQ(cc.pods[0].spec.runtime_class_name, "kata-cc-isolation");
  EXPECT_TRUE(cc.pods[0].spec.containers[0].resources.limits.memory.has_value());

  auto nolimits = MustParse(read("kata-pod-no-limits.yaml"));
  ASSERT_EQ(nolimits.pods.size(), 1u);
  for (const auto& c : nolimits.pods[0].spec.containers) {
    EXPECT_FALSE(c.resources.limits.memory.has_value());
    EXPECT_FALSE(c.resources.limits.cpu.has_value());
  }

  auto rcs = MustParse(read("runtimeclasses.yaml"));
  ASSERT_EQ(rcs.runtime_classes.size(), 2u);
  EXPECT_EQ(rcs.runtime_classes[0].name, "kata-vm-isolation");
  EXPECT_EQ(rcs.runtime_classes[0].handler, "kata");
  EXPECT_EQ(Bytes(rcs.runtime_classes[0].overhead_pod_fixed.memory), 600 * 1048576);
  EXPECT_EQ(rcs.runtime_classes[1].name, "kata-cc-isolation");
  EXPECT_EQ(rcs.runtime_classes[1].handler, "kata-cc");
  ASSERT_EQ(rcs.pods.size(), 1u);
  EXPECT_EQ(rcs.pods[0].spec.runtime_class_name, "kata-vm-isolation");

  auto runc = MustParse(read("runc-pod.yaml"));
  ASSERT_EQ(runc.pods.size(), 1u);
  EXPECT_FALSE(runc.pods[0].spec.runtime_class_name.has_value());
}

}  // namespace
}  // namespace uvm::sizer::formats
