// libFuzzer target: any bytes through the exposition parser and the Kata shim metrics mapping. Beyond
// "no crash, no sanitizer report", it checks invariants a caller relies on: an error names its line, a
// parsed sample has a valid metric name and UTF-8 label values, and the streaming and owned parsers
// agree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "guest/exposition.h"
#include "guest/shim_metrics.h"

namespace {

bool ValidName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  size_t streamed = 0;
  uvm::Status st = uvm::guest::ParseExposition(
      text, "fuzz",
      [&](const uvm::guest::SampleView& s) {
        ++streamed;
        if (!ValidName(s.name) || s.line < 1) std::abort();
        if (s.labels.size() > 128) std::abort();
      },
      [](const uvm::guest::FamilyView& f) {
        if (!ValidName(f.name)) std::abort();
      });
  auto owned = uvm::guest::ParseExpositionText(text, "fuzz");
  if (st.ok() != owned.ok()) std::abort();
  if (st.ok()) {
    if (owned->samples.size() != streamed) std::abort();
  } else {
    if (st.error().message.find("fuzz: line ") != 0) std::abort();
    if (st.error().message != owned.error().message) std::abort();
  }
  auto guest = uvm::guest::GuestObservationFromShimMetrics(text, "fuzz", "sb");
  if (guest.ok() && (guest->mem_total_bytes <= 0 || guest->mem_available_bytes < 0)) std::abort();
  return 0;
}
