#include "sizer/formats/nodes.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace uvm::sizer::formats {
namespace {

using ::testing::HasSubstr;

NodeList MustParse(std::string_view text) {
  auto n = ParseNodes(text);
  EXPECT_TRUE(n.ok()) << n.error().message;
  return n.ok() ? std::move(*n) : NodeList{};
}

std::string ErrorOf(std::string_view text) {
  auto n = ParseNodes(text);
  EXPECT_FALSE(n.ok()) << "parsed, but an error was expected";
  return n.ok() ? std::string() : n.error().message;
}

constexpr int64_t kKi = 1024;

// `kubectl get nodes -o json` of an AKS Standard_D4s_v5 node, trimmed to the fields read and a few that are
// not.
constexpr std::string_view kNodeListJson = R"({
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Node",
      "metadata": {
        "name": "aks-kata-12345678-vmss000000",
        "uid": "3c1f2e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "labels": {"kubernetes.azure.com/kata-vm-isolation": "true", "kubernetes.io/os": "linux"}
      },
      "spec": {"providerID": "azure:///x"},
      "status": {
        "allocatable": {"cpu": "3860m", "ephemeral-storage": "119703055367", "memory": "12880528Ki", "pods": "110"},
        "capacity": {"cpu": "4", "memory": "16375440Ki", "pods": "110"}
      }
    },
    {
      "apiVersion": "v1",
      "kind": "Node",
      "metadata": {"name": "aks-system-0"},
      "spec": {"unschedulable": true},
      "status": {"allocatable": {"cpu": 2, "memory": 6000000000}, "capacity": {"cpu": "2", "memory": "8Gi"}}
    }
  ]
})";

TEST(Nodes, ReadsAllocatableCapacityLabelsAndCordon) {
  NodeList list = MustParse(kNodeListJson);
  ASSERT_EQ(list.nodes.size(), 2u);
  const NodeObject& a = list.nodes[0];
  EXPECT_EQ(a.ref.name, "aks-kata-12345678-vmss000000");
  EXPECT_EQ(a.ref.uid, "3c1f2e4d-5a6b-4c7d-8e9f-0a1b2c3d4e5f");
  EXPECT_EQ(a.allocatable.memory_bytes, 12880528 * kKi);
  EXPECT_EQ(a.allocatable.cpu_millis, 3860);
  EXPECT_EQ(a.allocatable.pods, 110);
  EXPECT_EQ(a.capacity.memory_bytes, 16375440 * kKi);
  EXPECT_EQ(a.capacity.cpu_millis, 4000);
  EXPECT_FALSE(a.allocatable_from_capacity);
  EXPECT_FALSE(a.unschedulable);
  EXPECT_EQ(a.labels.at("kubernetes.azure.com/kata-vm-isolation"), "true");
  EXPECT_EQ(LedgerAllocatable(a),
            (NodeAllocatable{.memory_bytes = 12880528 * kKi, .cpu_millis = 3860, .pods = 110}));
  EXPECT_EQ(NodeCpus(a), 4u);  // from capacity, not the 3.86 allocatable

  const NodeObject& b = list.nodes[1];
  EXPECT_TRUE(b.unschedulable);
  // Bare JSON numbers are quantities too; no pod limit stated: 0.
  EXPECT_EQ(LedgerAllocatable(b),
            (NodeAllocatable{.memory_bytes = 6000000000, .cpu_millis = 2000, .pods = 0}));
  EXPECT_TRUE(list.warnings.empty());
}

TEST(Nodes, YamlNodeListAndSingleNodesPerDocument) {
  NodeList list = MustParse(R"(
apiVersion: v1
kind: NodeList
items:
  - metadata: {name: n1}
    status: {allocatable: {cpu: "1", memory: 1Gi, pods: "30"}}
---
kind: Node
metadata: {name: n2}
status: {allocatable: {cpu: 500m, memory: 512Mi}}
)");
  ASSERT_EQ(list.nodes.size(), 2u);
  EXPECT_EQ(list.nodes[0].ref.name, "n1");  // items of a NodeList carry no kind of their own
  EXPECT_EQ(list.nodes[0].allocatable.pods, 30);
  EXPECT_EQ(list.nodes[1].ref.name, "n2");
  EXPECT_EQ(list.nodes[1].ref.document, 2);
  EXPECT_EQ(list.nodes[1].allocatable.memory_bytes, 512 << 20);
  EXPECT_EQ(NodeCpus(list.nodes[1]), 0u);  // half a CPU is no whole CPU to check vCPUs against
}

TEST(Nodes, MissingAllocatableFallsBackToCapacityWithAWarning) {
  NodeList list = MustParse(R"(
kind: Node
metadata: {name: bare}
status: {capacity: {cpu: "8", memory: 32Gi, pods: "250"}}
)");
  ASSERT_EQ(list.nodes.size(), 1u);
  EXPECT_TRUE(list.nodes[0].allocatable_from_capacity);
  EXPECT_EQ(LedgerAllocatable(list.nodes[0]),
            (NodeAllocatable{.memory_bytes = int64_t{32} << 30, .cpu_millis = 8000, .pods = 250}));
  ASSERT_EQ(list.warnings.size(), 1u);
  EXPECT_EQ(
      list.warnings[0],
      "document 1 (Node bare): status.allocatable missing: status.capacity used, which includes what the "
      "kubelet reserves");
}

TEST(Nodes, ErrorsNameTheNodeTheFieldAndTheValue) {
  EXPECT_THAT(ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '4', memory: 12Gx}}\n"),
              HasSubstr("document 1 (Node n1): status.allocatable.memory: invalid quantity \"12Gx\""));
  EXPECT_EQ(ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '-1', memory: 1Gi}}\n"),
            "document 1 (Node n1): status.allocatable.cpu: must not be negative, got \"-1\"");
  EXPECT_EQ(
      ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {}\n"),
      "document 1 (Node n1): status.allocatable: missing, and so is status.capacity (need the node's memory "
      "and cpu)");
  EXPECT_EQ(ErrorOf("kind: Node\nmetadata: {name: n1}\n"),
            "document 1 (Node n1): status.allocatable: missing (the node has no status)");
  EXPECT_EQ(ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '4'}}\n"),
            "document 1 (Node n1): status.allocatable.memory: missing");
  EXPECT_EQ(ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {capacity: {memory: 1Gi}}\n"),
            "document 1 (Node n1): status.capacity.cpu: missing");
  EXPECT_EQ(ErrorOf("kind: Node\nstatus: {allocatable: {cpu: '4', memory: 1Gi}}\n"),
            "document 1 (Node <unnamed>): metadata.name: missing");
  EXPECT_EQ(ErrorOf("kind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '1', memory: 1Gi}}\n---\n"
                    "kind: Node\nmetadata: {name: n1}\nstatus: {allocatable: {cpu: '1', memory: 1Gi}}\n"),
            "document 2 (Node n1): metadata.name: a second Node named \"n1\"");
  EXPECT_THAT(ErrorOf("kind: Node\nmetadata: {name: n1, labels: {ready: true}}\n"
                      "status: {allocatable: {cpu: '1', memory: 1Gi}}\n"),
              HasSubstr("document 1 (Node n1): metadata.labels[\"ready\"]: must be a string"));
}

TEST(Nodes, OtherKindsAreSkippedAndAnInputWithoutNodesIsRefused) {
  NodeList list = MustParse(R"(
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c}]}
---
kind: Node
metadata: {name: n1}
status: {allocatable: {cpu: "1", memory: 1Gi}}
)");
  ASSERT_EQ(list.nodes.size(), 1u);
  ASSERT_EQ(list.warnings.size(), 1u);
  EXPECT_EQ(list.warnings[0], "document 1 (Pod default/p): kind Pod skipped (want Node)");
  EXPECT_EQ(ErrorOf("kind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n"),
            "no Node objects (want the output of `kubectl get nodes -o json` or `-o yaml`)");
  // The pods reader leaves Nodes alone, as before.
  auto pods = ParseManifest("kind: Node\nmetadata: {name: n1}\n");
  ASSERT_TRUE(pods.ok()) << pods.error().message;
  EXPECT_TRUE(pods->nodes.empty());
  EXPECT_EQ(pods->warnings, std::vector<std::string>{"document 1 (Node n1): kind Node skipped"});
}

TEST(Nodes, RuntimeClassSchedulingNodeSelectorIsRead) {
  auto m = ParseManifest(R"(
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kata-vm-isolation}
handler: kata
scheduling:
  nodeSelector: {kubernetes.azure.com/kata-vm-isolation: "true"}
)");
  ASSERT_TRUE(m.ok()) << m.error().message;
  ASSERT_EQ(m->runtime_classes.size(), 1u);
  EXPECT_EQ(
      m->runtime_classes[0].node_selector,
      (std::map<std::string, std::string, std::less<>>{{"kubernetes.azure.com/kata-vm-isolation", "true"}}));
}

}  // namespace
}  // namespace uvm::sizer::formats
