// ParseManifest on arbitrary bytes: no crash, no undefined behaviour, no runaway time or memory (the
// -timeout and -rss_limit_mb flags catch those), and what callers rely on for every answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sizer/formats/manifest.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

// Messages go to logs and terminals: one line of printable text, bounded.
void CheckLine(const std::string& s, size_t max) {
  Check(s.size() < max);
  for (char c : s) Check(c != '\n' && c != '\r' && c != '\0' && c != '\x1b');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = uvm::sizer::formats::ParseManifest(text);
  if (!m.ok()) {
    Check(m.error().message.rfind("document ", 0) == 0);
    CheckLine(m.error().message, 2000);
    return 0;
  }
  for (const auto& pod : m->pods) {
    Check(pod.ref.document >= 1);
    Check(!pod.ref.kind.empty() && !pod.ref.namespace_.empty());
    Check(!pod.spec.containers.empty());
    for (const auto* list : {&pod.spec.containers, &pod.spec.init_containers}) {
      for (const auto& c : *list) {
        for (const auto* r : {&c.resources.limits, &c.resources.requests}) {
          if (r->cpu) Check(!r->cpu->IsNegative() && !r->cpu->MilliValueOverflows());
          if (r->memory) Check(!r->memory->IsNegative());
        }
      }
    }
  }
  for (const auto& rc : m->runtime_classes) Check(!rc.name.empty() && !rc.handler.empty());
  for (const auto& w : m->warnings) CheckLine(w, 1000);
  return 0;
}
