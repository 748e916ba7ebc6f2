// ApplyConfigText and ParseGoDuration on arbitrary bytes: no crash, no exception, no undefined behaviour,
// and for every accepted config, the properties reload relies on: the printed config parses back to the
// same configuration (DiffConfig finds nothing), and printing is stable.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"
#include "config/duration.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace uvm::daemon;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  if (size < 64) {
    auto d = ParseGoDuration(text);
    if (d.ok()) {
      Check(d->count() >= 0);
      auto back = ParseGoDuration(FormatDuration(*d));
      Check(back.ok() && *back == *d);
    } else {
      Check(d.error().code == uvm::ErrorCode::kInvalidInput);
      Check(d.error().message.find('\n') == std::string::npos);
    }
    (void)ParseCfsQuotaPeriod(text);
  }

  DaemonConfig config;
  auto st = ApplyConfigText(text, "fuzz.toml", config);
  if (!st.ok()) {
    Check(st.error().message.rfind("fuzz.toml", 0) == 0);
    Check(DiffConfig(DaemonConfig{}, config).empty());  // nothing half-applied
    return 0;
  }
  (void)ValidateConfig(config, "fuzz.toml");
  std::string printed = ConfigToToml(config);
  DaemonConfig back;
  auto again = ApplyConfigText(printed, "printed.toml", back);
  Check(again.ok());
  Check(DiffConfig(config, back).empty());
  Check(ConfigToToml(back) == printed);
  (void)DescribeChanges(DiffConfig(DaemonConfig{}, config));
  return 0;
}
