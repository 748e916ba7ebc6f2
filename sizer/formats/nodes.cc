#include "sizer/formats/nodes.h"

#include <limits>
#include <set>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::sizer::formats {

Result<NodeList> ParseNodes(std::string_view text) {
  auto manifest = ParseManifest(text, ManifestKinds::kNodes);
  if (!manifest) return manifest.error();
  if (manifest->nodes.empty()) {
    return InvalidInput("no Node objects (want the output of `kubectl get nodes -o json` or `-o yaml`)");
  }
  std::set<std::string, std::less<>> names;
  for (const auto& node : manifest->nodes) {
    if (!names.insert(node.ref.name).second) {
      return InvalidInput(fmt::format("document {} (Node {}): metadata.name: a second Node named \"{}\"",
                                      node.ref.document, node.ref.name, node.ref.name));
    }
  }
  return NodeList{.nodes = std::move(manifest->nodes), .warnings = std::move(manifest->warnings)};
}

NodeAllocatable LedgerAllocatable(const NodeObject& node) {
  return NodeAllocatable{.memory_bytes = node.allocatable.memory_bytes.value_or(0),
                         .cpu_millis = node.allocatable.cpu_millis.value_or(0),
                         .pods = node.allocatable.pods.value_or(0)};
}

uint32_t NodeCpus(const NodeObject& node) {
  std::optional<int64_t> millis =
      node.capacity.cpu_millis ? node.capacity.cpu_millis : node.allocatable.cpu_millis;
  if (!millis || *millis <= 0) return 0;
  int64_t cpus = *millis / 1000;
  if (cpus > std::numeric_limits<uint32_t>::max()) return std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(cpus);
}

}  // namespace uvm::sizer::formats
