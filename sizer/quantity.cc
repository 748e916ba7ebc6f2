// Kubernetes quantities. Behaviour follows k8s.io/apimachinery pkg/api/resource (quantity.go:
// parseQuantityString, ParseQuantity, CanonicalizeBytes, ScaledValue; suffix.go: interpret/construct;
// amount.go: AsCanonicalBytes, AsCanonicalBase1024Bytes; math.go: maxAllowed, removeInt64Factors).
// Where apimachinery mixes an int64 fast path with an exact big-decimal slow path, both compute the same
// exact value; here one exact nano-unit computation replaces both.
#include "sizer/quantity.h"

#include <algorithm>
#include <array>
#include <limits>

#include <fmt/format.h>

#include "base/error_codes.h"

namespace uvm::sizer {
namespace {

using i128 = __int128;
using u128 = unsigned __int128;

constexpr int64_t kNanosPerUnit = 1'000'000'000;
// math.go maxAllowed = 2^63-1 units, here in nano-units.
constexpr u128 kMaxNanos = static_cast<u128>(std::numeric_limits<int64_t>::max()) * kNanosPerUnit;
// Quoted user text is cut at this many characters (after escaping): error messages stay short lines.
constexpr size_t kMaxQuotedChars = 64;

constexpr std::array<u128, 39> kPow10 = [] {
  std::array<u128, 39> p{};
  p[0] = 1;
  for (size_t i = 1; i < p.size(); ++i) p[i] = p[i - 1] * 10;
  return p;
}();

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// The characters parseQuantityString accepts as the letter part of a suffix.
bool IsSuffixLetter(char c) {
  switch (c) {
    case 'e':
    case 'E':
    case 'i':
    case 'n':
    case 'u':
    case 'm':
    case 'k':
    case 'K':
    case 'M':
    case 'G':
    case 'T':
    case 'P':
      return true;
    default:
      return false;
  }
}

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Quotable form of user text: printable ASCII stays, quotes/backslashes/other bytes are escaped.
std::string Escape(std::string_view text) {
  std::string out;
  out.reserve(std::min(text.size(), kMaxQuotedChars) + 3);
  for (char ch : text) {
    char buf[5];
    size_t n = 0;
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      buf[n++] = '\\';
      buf[n++] = ch;
    } else if (c >= 0x20 && c < 0x7f) {
      buf[n++] = ch;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      buf[n++] = '\\';
      buf[n++] = 'x';
      buf[n++] = kHex[c >> 4];
      buf[n++] = kHex[c & 0xf];
    }
    if (out.size() + n > kMaxQuotedChars) {
      out += "...";
      break;
    }
    out.append(buf, n);
  }
  return out;
}

Error Invalid(std::string_view text, std::string_view reason) {
  return InvalidInput(fmt::format("invalid quantity \"{}\": {}", Escape(text), reason));
}

// Why parseQuantityString's grammar stops at text[pos] (it returns ErrFormatWrong there).
Error FormatError(std::string_view text, size_t pos, size_t suffix_begin) {
  if (IsSpace(text[pos])) return Invalid(text, "whitespace is not allowed");
  if (pos == suffix_begin) {
    if (pos == 0) return Invalid(text, fmt::format("unexpected \"{}\"", Escape(text.substr(pos, 1))));
    return Invalid(text, fmt::format("unexpected \"{}\" after \"{}\"", Escape(text.substr(pos, 1)),
                                     Escape(text.substr(0, pos))));
  }
  return Invalid(text, fmt::format("unknown suffix \"{}\"", Escape(text.substr(suffix_begin))));
}

struct Suffix {
  QuantityFormat format;
  int64_t exp10;  // value multiplier 10^exp10 ...
  int exp2;       // ... times 2^exp2
};

enum class SuffixError { kNone, kUnknown, kExponentRange };

// suffix.go fastLookup.interpret / suffixHandler.interpret.
SuffixError Interpret(std::string_view s, Suffix& out) {
  out = {QuantityFormat::kDecimalSI, 0, 0};
  if (s.empty()) return SuffixError::kNone;
  if (s.size() == 1) {
    switch (s[0]) {
      case 'n':
        out.exp10 = -9;
        return SuffixError::kNone;
      case 'u':
        out.exp10 = -6;
        return SuffixError::kNone;
      case 'm':
        out.exp10 = -3;
        return SuffixError::kNone;
      case 'k':
        out.exp10 = 3;
        return SuffixError::kNone;
      case 'M':
        out.exp10 = 6;
        return SuffixError::kNone;
      case 'G':
        out.exp10 = 9;
        return SuffixError::kNone;
      case 'T':
        out.exp10 = 12;
        return SuffixError::kNone;
      case 'P':
        out.exp10 = 15;
        return SuffixError::kNone;
      case 'E':
        out.exp10 = 18;
        return SuffixError::kNone;
      default:
        return SuffixError::kUnknown;
    }
  }
  if (s.size() == 2 && s[1] == 'i') {
    int exp2 = 0;
    switch (s[0]) {
      case 'K':
        exp2 = 10;
        break;
      case 'M':
        exp2 = 20;
        break;
      case 'G':
        exp2 = 30;
        break;
      case 'T':
        exp2 = 40;
        break;
      case 'P':
        exp2 = 50;
        break;
      case 'E':
        exp2 = 60;
        break;
      default:
        break;
    }
    if (exp2 != 0) {
      out = {QuantityFormat::kBinarySI, 0, exp2};
      return SuffixError::kNone;
    }
  }
  if (s[0] != 'e' && s[0] != 'E') return SuffixError::kUnknown;
  // strconv.ParseInt(s[1:], 10, 64): optional sign, then at least one digit and nothing else.
  std::string_view rest = s.substr(1);
  bool negative = false;
  if (rest[0] == '+' || rest[0] == '-') {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest.empty()) return SuffixError::kUnknown;
  int64_t magnitude = 0;
  bool too_big = false;
  for (char c : rest) {
    if (!IsDigit(c)) return SuffixError::kUnknown;
    if (!too_big) {
      magnitude = magnitude * 10 + (c - '0');
      too_big = magnitude > Quantity::kMaxExponent;
    }
  }
  if (too_big) return SuffixError::kExponentRange;
  out = {QuantityFormat::kDecimalExponent, negative ? -magnitude : magnitude, 0};
  return SuffixError::kNone;
}

i128 Clamp(i128 nanos) {
  const auto max = static_cast<i128>(kMaxNanos);
  return nanos > max ? max : nanos < -max ? -max : nanos;
}

// n / d rounded away from zero (amount.go negativeScaleInt64 rounds "up" in magnitude).
i128 DivAwayFromZero(i128 n, i128 d) {
  i128 q = n / d;
  if (n % d != 0) q += n > 0 ? 1 : -1;
  return q;
}

int64_t SaturateInt64(i128 v) {
  constexpr auto kMin = std::numeric_limits<int64_t>::min();
  constexpr auto kMax = std::numeric_limits<int64_t>::max();
  return v > kMax ? kMax : v < kMin ? kMin : static_cast<int64_t>(v);
}

void AppendU128(std::string& out, u128 v) {
  char buf[40];
  char* p = buf + sizeof(buf);
  do {
    *--p = static_cast<char>('0' + static_cast<int>(v % 10));
    v /= 10;
  } while (v != 0);
  out.append(p, buf + sizeof(buf));
}

// The digits num + denom as one sequence, indexable without copying.
struct Digits {
  std::string_view num, denom;
  size_t size() const { return num.size() + denom.size(); }
  int operator[](size_t i) const { return (i < num.size() ? num[i] : denom[i - num.size()]) - '0'; }
};

// |value| in nano-units, rounded up to a whole nano-unit and clamped (`clamped` says whether it was), for
// value = digits * 10^exp10 / 10^len(denom) * 2^exp2. Linear in the number of digits for any exponent.
u128 Magnitude(const Digits& d, int64_t exp10, int exp2, bool& clamped) {
  clamped = false;
  auto cap = [&] {
    clamped = true;
    return kMaxNanos;
  };
  const size_t total = d.size();
  size_t lead = 0;
  while (lead < total && d[lead] == 0) ++lead;
  if (lead == total) return 0;
  size_t trail = 0;
  while (d[total - 1 - trail] == 0) ++trail;
  const auto nd = static_cast<int64_t>(total - lead - trail);  // significant digits, last one non-zero
  // nanos = D * 10^p * 2^exp2, D the significant digits as an integer.
  const int64_t p = exp10 - static_cast<int64_t>(d.denom.size()) + static_cast<int64_t>(trail) + 9;
  // D >= 10^(nd-1), so from 10^28 nano-units on (> 2^63-1 units) the cap applies whatever the digits.
  if (nd + p >= 29) return cap();
  const u128 mult = static_cast<u128>(1) << exp2;
  if (p >= 0) {
    u128 v = 0;
    for (int64_t i = 0; i < nd; ++i) v = v * 10 + static_cast<unsigned>(d[lead + i]);
    v *= kPow10[p];  // < 10^28
    return v > kMaxNanos / mult ? cap() : v * mult;
  }
  // Split D = Q * 10^m + R: Q are whole nano-units, R (non-zero: it holds D's last digit) a fraction.
  const int64_t m = -p;
  const int64_t qd = nd > m ? nd - m : 0;  // <= 28 digits, see the cap test above
  u128 q = 0;
  for (int64_t i = 0; i < qd; ++i) q = q * 10 + static_cast<unsigned>(d[lead + i]);
  if (exp2 == 0) {
    q += 1;  // rounding a non-zero fraction up (inf.RoundUp in ParseQuantity)
    return q > kMaxNanos ? cap() : q;
  }
  if (q > kMaxNanos / mult) return cap();
  q *= mult;
  // ceil(R * 2^exp2 / 10^m) by schoolbook multiplication from the last digit: the carry out of the
  // top is the integer part, any non-zero digit left behind is a remainder. carry < 2^60 throughout.
  uint64_t carry = 0;
  bool remainder = false;
  const auto small_mult = static_cast<uint64_t>(mult);
  for (int64_t i = nd - 1; i >= qd; --i) {
    uint64_t t = static_cast<uint64_t>(d[lead + i]) * small_mult + carry;
    remainder = remainder || t % 10 != 0;
    carry = t / 10;
  }
  // R's implicit leading zeros (m > nd): shifting the carry right; it reaches 0 within 20 steps.
  for (int64_t zeros = m - (nd - qd); zeros > 0 && carry != 0; --zeros) {
    remainder = remainder || carry % 10 != 0;
    carry /= 10;
  }
  q += carry + (remainder ? 1 : 0);
  return q > kMaxNanos ? cap() : q;
}

}  // namespace

Result<Quantity> Quantity::Parse(std::string_view text) {
  // quantity.go parseQuantityString: [sign] zeros num [. denom] letters [sign] digits.
  if (text.empty()) return Invalid(text, "empty");
  const size_t end = text.size();
  size_t pos = 0;
  bool negative = false;
  if (text[0] == '-' || text[0] == '+') {
    negative = text[0] == '-';
    pos = 1;
  }
  const size_t zeros_begin = pos;
  while (pos < end && text[pos] == '0') ++pos;
  if (pos == end) return Quantity{};  // "+", "-", "000": zero
  bool any_digit = pos > zeros_begin;
  const size_t num_begin = pos;
  while (pos < end && IsDigit(text[pos])) ++pos;
  Digits digits{text.substr(num_begin, pos - num_begin), {}};
  if (pos < end && text[pos] == '.') {
    const size_t denom_begin = ++pos;
    while (pos < end && IsDigit(text[pos])) ++pos;
    digits.denom = text.substr(denom_begin, pos - denom_begin);
  }
  any_digit = any_digit || digits.size() != 0;
  const size_t suffix_begin = pos;
  while (pos < end && IsSuffixLetter(text[pos])) ++pos;
  if (pos < end && (text[pos] == '+' || text[pos] == '-')) ++pos;
  while (pos < end && IsDigit(text[pos])) ++pos;
  if (pos != end) return FormatError(text, pos, suffix_begin);

  const std::string_view suffix_text = text.substr(suffix_begin);
  Suffix suffix{};
  switch (Interpret(suffix_text, suffix)) {
    case SuffixError::kNone:
      break;
    case SuffixError::kUnknown:
      return Invalid(text, fmt::format("unknown suffix \"{}\"", Escape(suffix_text)));
    case SuffixError::kExponentRange:
      return Invalid(text, fmt::format("exponent out of range (|exponent| must be <= {})", kMaxExponent));
  }
  // ParseQuantity's slow path (taken for exponents below -9) hands the digit-less number to
  // inf.Dec.SetString, which fails; with exponents >= -9 the fast path reads the same text as 0.
  if (!any_digit && suffix.exp10 < -9) return Invalid(text, "no digits before the exponent");

  Quantity q;
  bool clamped = false;
  const u128 magnitude = Magnitude(digits, suffix.exp10, suffix.exp2, clamped);
  q.nanos_ = negative ? -static_cast<i128>(magnitude) : static_cast<i128>(magnitude);
  q.format_ = suffix.format;
  // ParseQuantity clamps only BinarySI amounts to maxAllowed; a decimal one stays exact and its Value()
  // is garbage (see ValueOverflows).
  q.value_overflows_ = clamped && q.format_ != QuantityFormat::kBinarySI;
  // ParseQuantity: a binary-suffix value strictly between 0 and 1 in magnitude becomes DecimalSI.
  if (q.format_ == QuantityFormat::kBinarySI && magnitude != 0 && magnitude < kNanosPerUnit) {
    q.format_ = QuantityFormat::kDecimalSI;
  }
  return q;
}

Quantity Quantity::FromInt(int64_t units, QuantityFormat format) {
  Quantity q;
  q.nanos_ = Clamp(static_cast<i128>(units) * kNanosPerUnit);
  q.format_ = format;
  return q;
}

Quantity Quantity::FromMilli(int64_t milli_units) {
  Quantity q;
  q.nanos_ = static_cast<i128>(milli_units) * 1'000'000;  // |.| < 2^63 * 10^6: below the cap
  return q;
}

int64_t Quantity::Value() const {
  return static_cast<int64_t>(DivAwayFromZero(nanos_, kNanosPerUnit));  // |nanos_| <= cap: fits
}

int64_t Quantity::MilliValue() const {
  return SaturateInt64(DivAwayFromZero(nanos_, 1'000'000));
}

bool Quantity::ValueOverflows() const {
  return value_overflows_;
}

bool Quantity::MilliValueOverflows() const {
  i128 milli = DivAwayFromZero(nanos_, 1'000'000);
  return milli != static_cast<i128>(SaturateInt64(milli));
}

std::string Quantity::String() const {
  // quantity.go CanonicalizeBytes.
  if (nanos_ == 0) return "0";
  std::string out;
  if (nanos_ < 0) out += '-';
  u128 mag = nanos_ < 0 ? -static_cast<u128>(nanos_) : static_cast<u128>(nanos_);
  QuantityFormat format = format_;
  // BinarySI only for whole values of at least 1024 in magnitude, else DecimalSI (CanonicalizeBytes).
  if (format == QuantityFormat::kBinarySI &&
      (mag < 1024 * static_cast<u128>(kNanosPerUnit) || mag % kNanosPerUnit != 0)) {
    format = QuantityFormat::kDecimalSI;
  }
  if (format == QuantityFormat::kBinarySI) {
    // amount.go AsCanonicalBase1024Bytes + removeInt64Factors(value, 1024); units <= 2^63-1: <= Ei.
    static constexpr std::array<std::string_view, 7> kBinary = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    u128 units = mag / kNanosPerUnit;
    size_t k = 0;
    while (units % 1024 == 0) {
      units /= 1024;
      ++k;
    }
    AppendU128(out, units);
    out += kBinary[k];
    return out;
  }
  // amount.go AsCanonicalBytes: strip factors of 10, then lower the exponent to a multiple of 3.
  int exponent = -9;
  while (mag % 10 == 0) {
    mag /= 10;
    ++exponent;
  }
  const int down = ((exponent % 3) + 3) % 3;
  mag *= kPow10[down];
  exponent -= down;
  AppendU128(out, mag);
  if (format == QuantityFormat::kDecimalExponent) {
    if (exponent != 0) out += fmt::format("e{}", exponent);
    return out;
  }
  // suffix.go decimal suffixes; the cap keeps the exponent within [-9, 18].
  static constexpr std::array<std::string_view, 10> kDecimal = {"n", "u", "m", "",  "k",
                                                                "M", "G", "T", "P", "E"};
  out += kDecimal[static_cast<size_t>((exponent + 9) / 3)];
  return out;
}

Quantity Quantity::operator+(const Quantity& other) const {
  Quantity sum;
  sum.nanos_ = Clamp(nanos_ + other.nanos_);
  sum.format_ = nanos_ == 0 ? other.format_ : format_;
  // apimachinery's Add moves an overflowing int64Amount sum to inf.Dec, exact, whose Value() is garbage.
  sum.value_overflows_ = value_overflows_ || other.value_overflows_ || sum.nanos_ != nanos_ + other.nanos_;
  return sum;
}

}  // namespace uvm::sizer
