// Kubernetes resource quantities, exactly as apimachinery's pkg/api/resource parses and rounds them
// (rules and vectors: SIZING.md §6). Pure: no I/O.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace uvm::sizer {

// The suffix family a quantity was written in; it picks the canonical spelling (apimachinery `Format`).
enum class QuantityFormat { kDecimalSI, kBinarySI, kDecimalExponent };

// An exact quantity, held as a signed count of nano-units (10^-9), the finest step apimachinery keeps.
// Magnitudes above 2^63-1 units are clamped to it, as apimachinery's maxAllowed cap does.
//
// Where we knowingly differ from apimachinery (all far outside any real pod limit):
// - apimachinery caps only binary-suffix values ("8Ei"); "10E" or "1e30" stay exact there and Value()
//   overflows. We clamp every format, so such values print as "9223372036854775807", and
//   ValueOverflows() says which clamps apimachinery would not have made.
// - apimachinery's String() hands back the input text verbatim when it looks canonical ("+1", "01",
//   "1E3", "1.500" print as written); ours is always the computed canonical form ("1", "1", "1e3", "1500m").
// - Exponents beyond +-(2^31-1) are rejected: apimachinery truncates them to int32 (garbage) or spins.
//   Every exponent inside that range is evaluated exactly in time linear in the text.
// - Value()/MilliValue() round negative values away from zero everywhere; apimachinery does so only for
//   values it keeps in int64 form (its big-decimal path rounds negatives toward +inf).
class Quantity {
 public:
  // Exponents (`1e<N>`) with |N| above this are refused as "exponent out of range".
  static constexpr int64_t kMaxExponent = 2147483647;

  Quantity() = default;

  // Parses `text` with apimachinery's grammar. The error says what is wrong with which text, e.g.
  // `invalid quantity "1.5.5Gi": unexpected "." after "1.5"`, on one line (control bytes escaped, long
  // text shortened). Input that apimachinery would spin on for minutes or overflow on (huge exponents)
  // is rejected. Like apimachinery, a number without digits is zero: "+", "-", ".", "Mi" and "e3" parse as 0.
  static Result<Quantity> Parse(std::string_view text);

  static Quantity FromInt(int64_t units, QuantityFormat format = QuantityFormat::kDecimalSI);
  static Quantity FromMilli(int64_t milli_units);

  // Integer value rounded up in magnitude (apimachinery `Value()`).
  int64_t Value() const;
  // Thousandths rounded up in magnitude (apimachinery `MilliValue()`); saturates at INT64_MAX/MIN for
  // values beyond ±9.2e15 units (apimachinery returns garbage there; callers reject such limits).
  int64_t MilliValue() const;
  // True when the exact value is beyond ±(2^63-1) units (we hold it clamped) and apimachinery would not
  // clamp it: every format but a binary suffix ("8Ei" is clamped there too, by maxAllowed), and any sum
  // that overflowed. apimachinery's Value() is then garbage, not the clamp: for "1e19", held as
  // int64Amount{1, 19}, AsScaledInt64 -> positiveScaleInt64 overflows and ScaledValue returns its 0 (the
  // `ok` is discarded); a 20-digit integer takes ParseQuantity's inf.Dec path, where scaledValue returns
  // big.Int.Int64(), the low 64 bits. Callers refuse such a memory quantity, naming the field.
  bool ValueOverflows() const;
  // True when MilliValue() would not fit int64 (such a CPU quantity is refused as a limit).
  bool MilliValueOverflows() const;

  bool IsZero() const { return nanos_ == 0; }
  bool IsNegative() const { return nanos_ < 0; }
  QuantityFormat format() const { return format_; }

  // Canonical spelling, as apimachinery's `String()` prints it (e.g. "1536Mi", "1500m", "1e3").
  std::string String() const;

  // Saturating at +-(2^63-1) units; keeps the left operand's format unless it is zero, when the right
  // operand's format wins (apimachinery `Add`).
  Quantity operator+(const Quantity& other) const;
  Quantity& operator+=(const Quantity& other) { return *this = *this + other; }
  std::strong_ordering operator<=>(const Quantity& other) const { return nanos_ <=> other.nanos_; }
  bool operator==(const Quantity& other) const { return nanos_ == other.nanos_; }

 private:
  __int128 nanos_ = 0;
  QuantityFormat format_ = QuantityFormat::kDecimalSI;
  bool value_overflows_ = false;
};

}  // namespace uvm::sizer
