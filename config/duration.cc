#include "config/duration.h"

#include <charconv>
#include <cstdint>
#include <limits>

#include <fmt/format.h>

namespace uvm::daemon {
namespace {

using std::chrono::milliseconds;
using std::chrono::nanoseconds;

constexpr size_t kQuoteBytes = 64;

struct Unit {
  std::string_view name;
  int64_t ns;
};
// Go's unitMap (src/time/format.go): "µs" is U+00B5 MICRO SIGN, "μs" U+03BC GREEK SMALL LETTER MU.
constexpr Unit kUnits[] = {{"ns", 1},
                           {"us", 1000},
                           {"\xC2\xB5s", 1000},
                           {"\xCE\xBCs", 1000},
                           {"ms", 1000 * 1000},
                           {"s", 1000 * 1000 * 1000},
                           {"m", int64_t{60} * 1000 * 1000 * 1000},
                           {"h", int64_t{3600} * 1000 * 1000 * 1000}};

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

Error Invalid(std::string_view text, std::string_view why) {
  return Error{.message = fmt::format("invalid duration {} ({})", QuoteText(text, kQuoteBytes), why),
               .code = ErrorCode::kInvalidInput};
}

}  // namespace

Result<nanoseconds> ParseGoDuration(std::string_view text) {
  constexpr std::string_view kExamples = "e.g. 30s, 500ms, 1m30s";
  if (text.empty()) return Invalid(text, fmt::format("empty; {}", kExamples));
  unsigned __int128 total_ns = 0;
  constexpr auto kMaxNs = static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max());
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t whole_len = 0;
    while (whole_len < rest.size() && IsDigit(rest[whole_len])) ++whole_len;
    if (whole_len == 0) {
      return Invalid(text, rest[0] == '-' || rest[0] == '+'
                               ? std::string("no sign: durations are positive")
                               : fmt::format("a number must come before each unit; {}", kExamples));
    }
    uint64_t whole = 0;
    auto [end, ec] = std::from_chars(rest.data(), rest.data() + whole_len, whole);
    if (ec != std::errc() || end != rest.data() + whole_len) return Invalid(text, "number too large");
    rest.remove_prefix(whole_len);
    uint64_t frac = 0;
    uint64_t frac_scale = 1;
    if (!rest.empty() && rest[0] == '.') {
      rest.remove_prefix(1);
      size_t frac_len = 0;
      while (frac_len < rest.size() && IsDigit(rest[frac_len])) {
        // Digits beyond 10^-18 cannot move a nanosecond of any unit up to an hour (3.6e12 ns).
        if (frac_scale < uint64_t{1000000000000000000}) {
          frac = frac * 10 + static_cast<uint64_t>(rest[frac_len] - '0');
          frac_scale *= 10;
        }
        ++frac_len;
      }
      if (frac_len == 0) return Invalid(text, "a decimal point must be followed by digits");
      rest.remove_prefix(frac_len);
    }
    size_t unit_len = 0;
    while (unit_len < rest.size() && !IsDigit(rest[unit_len]) && rest[unit_len] != '.') ++unit_len;
    std::string_view unit = rest.substr(0, unit_len);
    rest.remove_prefix(unit_len);
    if (unit.empty()) {
      return Invalid(text, !rest.empty() && rest[0] == '.'
                               ? std::string("a number has at most one decimal point")
                               : "missing unit (ns, us, ms, s, m, h)");
    }
    int64_t unit_ns = 0;
    for (const Unit& u : kUnits) {
      if (u.name == unit) unit_ns = u.ns;
    }
    if (unit_ns == 0) {
      return Invalid(text,
                     fmt::format("unknown unit {} (ns, us, ms, s, m, h)", QuoteText(unit, kQuoteBytes)));
    }
    auto scale = static_cast<unsigned __int128>(unit_ns);
    total_ns += static_cast<unsigned __int128>(whole) * scale +
                static_cast<unsigned __int128>(frac) * scale / frac_scale;
    if (total_ns > kMaxNs) return Invalid(text, "too long: at most 2562047h");
  }
  return nanoseconds(static_cast<int64_t>(total_ns));
}

Result<milliseconds> ParseDuration(std::string_view text) {
  auto d = ParseGoDuration(text);
  if (!d) return d.error();
  auto fail = [&](std::string_view why) {
    return Error{.message = fmt::format("duration {} {}", QuoteText(text, kQuoteBytes), why),
                 .code = ErrorCode::kInvalidInput};
  };
  if (*d < milliseconds(1)) return fail("is shorter than 1ms");
  if (*d > std::chrono::hours(24 * 7)) return fail("is longer than a week");
  if (*d % milliseconds(1) != nanoseconds(0)) return fail("is not a whole number of milliseconds");
  return std::chrono::duration_cast<milliseconds>(*d);
}

std::string FormatDuration(nanoseconds d) {
  if (d.count() == 0) return "0s";
  for (auto it = std::rbegin(kUnits); it != std::rend(kUnits); ++it) {
    // One spelling per unit: "us", not its non-ASCII aliases.
    if (static_cast<unsigned char>(it->name.front()) >= 0x80) continue;
    if (d.count() % it->ns == 0) return fmt::format("{}{}", d.count() / it->ns, it->name);
  }
  return fmt::format("{}ns", d.count());
}

Result<std::chrono::microseconds> ParseCfsQuotaPeriod(std::string_view text) {
  auto d = ParseGoDuration(text);
  if (!d) return d.error();
  auto fail = [&](std::string_view why) {
    return Error{.message = fmt::format("{}, got {}", why, QuoteText(text, kQuoteBytes)),
                 .code = ErrorCode::kInvalidInput};
  };
  if (*d < kMinCfsPeriod || *d > kMaxCfsPeriod) {
    return fail(fmt::format("must be between {} and {}", FormatDuration(kMinCfsPeriod),
                            FormatDuration(kMaxCfsPeriod)));
  }
  if (*d % std::chrono::microseconds(1) != nanoseconds(0)) return fail("must be whole microseconds");
  return std::chrono::duration_cast<std::chrono::microseconds>(*d);
}

}  // namespace uvm::daemon
