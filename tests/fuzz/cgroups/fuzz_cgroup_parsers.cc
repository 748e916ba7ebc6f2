// libFuzzer over every cgroups/ text parser and the pod path rules. The first byte picks the parser, the
// rest is the text. Besides "no crash, no sanitizer report", accepted paths must satisfy the rules.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cgroups/layout.h"
#include "cgroups/parsers.h"
#include "cgroups/paths.h"

namespace {

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// An accepted relative path never climbs, never starts at "/", never holds a NUL.
void CheckRelative(std::string_view p) {
  if (p.empty()) return;
  Check(p.front() != '/');
  Check(p.find('\0') == std::string_view::npos);
  Check(uvm::cgroups::ValidateRelativeCgroupPath(p).ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using namespace uvm::cgroups;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 12) {
    case 0:
      (void)ParseCgroupMounts(text);
      break;
    case 1:
      (void)LayoutFromMountInfo(text, "/sys/fs/cgroup");
      break;
    case 2:
      (void)ParseU64(text, "f");
      break;
    case 3:
      (void)ParseV2Limit(text, "f");
      break;
    case 4:
      if (auto v = ParseV1MemoryLimit(text, "f"); v.ok() && *v) Check(**v < kV1UnlimitedBytes);
      break;
    case 5:
      (void)ParseV1CfsQuota(text, "f");
      break;
    case 6:
      if (auto v = ParseCpuMax(text, "f"); v.ok()) Check(v->period_us > 0);
      break;
    case 7:
      if (auto kv = ParseKeyedValues(text, "f"); kv.ok()) {
        for (const auto& e : *kv) Check(!e.key.empty());
      }
      break;
    case 8:
      if (auto p = ParsePressure(text, "f"); p.ok()) Check(p->some.avg10 >= 0);
      break;
    case 9:
      if (auto e = ExpandSystemdSlice(text); e.ok()) CheckRelative(*e);
      break;
    case 10: {
      // parent \x01 sandbox id \x01 pod uid
      size_t a = text.find('\x01');
      std::string_view parent = text.substr(0, a);
      std::string_view rest = a == std::string_view::npos ? std::string_view() : text.substr(a + 1);
      size_t b = rest.find('\x01');
      std::string_view sandbox = rest.substr(0, b);
      PathRules rules;
      if (b != std::string_view::npos) rules.pod_uid = std::string(rest.substr(b + 1));
      if (auto p = ResolvePodCgroupPaths(parent, sandbox, rules); p.ok()) {
        CheckRelative(p->pod);
        CheckRelative(p->sandbox);
        CheckRelative(p->kata_overhead);
        Check(p->pod.find("kubepods") == 0);
      }
      break;
    }
    case 11:
      (void)QuoteForError(text);
      break;
  }
  return 0;
}
