// The kubelet's reservations from a hostile KubeletConfiguration or flags file: no crash (yaml-cpp's
// recursion included), and what is accepted is never negative, so allocatable can only shrink.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sizer/formats/kubelet_config.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

void CheckReservations(const uvm::sizer::KubeletReservations& r) {
  Check(r.kube_reserved_memory_bytes >= 0 && r.system_reserved_memory_bytes >= 0);
  Check(r.kube_reserved_cpu_millis >= 0 && r.system_reserved_cpu_millis >= 0);
  Check(!r.eviction_hard_memory_bytes || *r.eviction_hard_memory_bytes >= 0);
  Check(!r.eviction_hard_memory_percent ||
        (*r.eviction_hard_memory_percent >= 0 && *r.eviction_hard_memory_percent <= 100));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto config = uvm::sizer::formats::ParseKubeletConfiguration(text); config.ok())
    CheckReservations(*config);
  if (auto flags = uvm::sizer::formats::ParseKubeletFlags(text); flags.ok()) CheckReservations(*flags);
  return 0;
}
