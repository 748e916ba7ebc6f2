// `kubectl get nodes -o json|yaml` -> the nodes a capacity ledger is built for. Takes text, never opens a
// file (the caller prefixes its name to messages). The reading itself is ParseManifest's, with
// ManifestKinds::kNodes: the same YAML/JSON rules, bounds and error messages as for pods.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "sizer/capacity.h"
#include "sizer/formats/manifest.h"

namespace uvm::sizer::formats {

struct NodeList {
  std::vector<NodeObject> nodes;      // in input order
  std::vector<std::string> warnings;  // skipped kinds, allocatable taken from capacity
};

// A NodeList, a List of Nodes, or Nodes one per document. Errors: ParseManifest's; no Node at all; two
// Nodes of one name; a Node without metadata.name or without memory and cpu in status.allocatable (and
// status.capacity). Each names the document, the node, the field and the value.
Result<NodeList> ParseNodes(std::string_view text);

// What the scheduler may place on the node (status.allocatable, else status.capacity); pods 0 when the
// node states no pod limit.
NodeAllocatable LedgerAllocatable(const NodeObject& node);

// The node's CPUs for Kata's vCPU checks (SizingContext::host_cpus): status.capacity.cpu rounded down to
// whole CPUs, else allocatable's; 0 when neither is known.
uint32_t NodeCpus(const NodeObject& node);

}  // namespace uvm::sizer::formats
