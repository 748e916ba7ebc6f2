// Quantity::Parse on arbitrary bytes: no crash, no undefined behaviour, no slow input (the time limit
// catches spins), and the properties callers rely on for every accepted text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sizer/quantity.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using uvm::sizer::Quantity;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = Quantity::Parse(text);
  if (!parsed.ok()) {
    // Errors are one line a log can carry.
    const std::string& message = parsed.error().message;
    Check(message.rfind("invalid quantity \"", 0) == 0);
    for (char c : message) Check(c >= 0x20 && c < 0x7f);
    Check(message.size() < 300);
    return 0;
  }
  const Quantity& q = *parsed;

  // The canonical spelling names the same amount, and is a fixed point.
  std::string canonical = q.String();
  auto again = Quantity::Parse(canonical);
  Check(again.ok());
  Check(*again == q);
  Check(again->String() == canonical);

  // Value() is MilliValue() rounded away from zero to whole units (nested ceilings compose).
  int64_t value = q.Value();
  if (!q.MilliValueOverflows()) {
    int64_t milli = q.MilliValue();
    int64_t expect = milli / 1000 + (milli % 1000 == 0 ? 0 : (milli > 0 ? 1 : -1));
    Check(value == expect);
  } else {
    Check(value > INT64_MAX / 1000 - 1 || value < INT64_MIN / 1000 + 1);
  }
  Check(q.IsZero() == (value == 0));
  Check(q.IsNegative() == (value < 0));
  Check(value != INT64_MIN);  // magnitudes are clamped to 2^63-1

  // Addition is ordered, and exact below the cap (where it saturates).
  Quantity twice = q + q;
  Check(q.IsNegative() ? twice <= q : twice >= q);
  if (twice == q) Check(q.IsZero() || twice.Value() == INT64_MAX || twice.Value() == -INT64_MAX);
  Check(twice + Quantity{} == twice);
  return 0;
}
