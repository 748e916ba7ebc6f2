// containerd's verbose sandbox info comes from the runtime, which tenants influence (pod annotations,
// names): the parser must never crash, hang or accept a value outside its rules.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "kubelet-plugin/sandbox_info.h"

namespace {

void CheckResources(const std::optional<uvm::cri::LinuxResources>& r) {
  if (!r) return;
  // ParseSandboxInfo / ResourcesFromAnnotations rules: sizes, periods, shares >= 0; quota >= -1.
  if (r->cpu_period < 0 || r->cpu_quota < -1 || r->cpu_shares < 0 || r->memory_limit_in_bytes < 0)
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  uvm::Result<uvm::cri::SandboxInfo> info = uvm::cri::ParseSandboxInfo(text);
  if (info.ok()) {
    CheckResources(info->resources);
    CheckResources(info->overhead);
    if (info->pid && (*info->pid <= 0 || *info->pid > 0xffffffffLL)) std::abort();
    if (info->cgroup_parent && info->cgroup_parent->empty()) std::abort();
    if (info->resources.has_value() == info->resources_source.empty()) std::abort();
    if (info->overhead.has_value() == info->overhead_source.empty()) std::abort();
  } else if (info.error().message.empty()) {
    std::abort();
  }

  // The same bytes as annotation values: the first line picks the key, the rest is the value.
  static const char* const kKeys[] = {
      "io.kubernetes.cri.sandbox-cpu-period", "io.kubernetes.cri.sandbox-cpu-quota",
      "io.kubernetes.cri.sandbox-cpu-shares", "io.kubernetes.cri.sandbox-memory"};
  std::map<std::string, std::string> annotations;
  size_t start = 0;
  for (size_t k = 0; start <= text.size() && k < 4; ++k) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    annotations[kKeys[k]] = std::string(text.substr(start, end - start));
    start = end + 1;
  }
  std::vector<std::string> warnings;
  auto from_annotations = uvm::cri::ResourcesFromAnnotations(annotations, "annotations", &warnings);
  CheckResources(from_annotations);
  if (!from_annotations && warnings.empty()) std::abort();  // four keys present: a result or a reason

  uvm::cri::SandboxDetail detail;
  detail.summary.annotations = annotations;
  uvm::cri::ApplyVerboseInfo({{"info", std::string(text)}}, detail);
  CheckResources(detail.resources);
  CheckResources(detail.overhead);
  return 0;
}
