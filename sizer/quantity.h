// Kubernetes resource quantities, exactly as apimachinery's pkg/api/resource parses and rounds them
// (rules and vectors: SIZING.md §6). Pure: no I/O.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "sizer/result.h"

namespace uvm::sizer {

// The suffix family a quantity was written in; it picks the canonical spelling (apimachinery `Format`).
enum class QuantityFormat { kDecimalSI, kBinarySI, kDecimalExponent };

// An exact quantity, held as a signed count of nano-units (10^-9), the finest step apimachinery keeps.
// Magnitudes above 2^63-1 units are clamped to it, as apimachinery's maxAllowed cap does.
class Quantity {
 public:
  Quantity() = default;

  // Parses `text` with apimachinery's grammar. The error says what is wrong with which text, e.g.
  // `invalid quantity "1.5.5Gi": unexpected "." after "1.5"`. Input that apimachinery would spin on for
  // minutes or overflow on (huge exponents) is rejected.
  static Result<Quantity> Parse(std::string_view text);

  static Quantity FromInt(int64_t units, QuantityFormat format = QuantityFormat::kDecimalSI);
  static Quantity FromMilli(int64_t milli_units);

  // Integer value rounded up in magnitude (apimachinery `Value()`).
  int64_t Value() const;
  // Thousandths rounded up in magnitude (apimachinery `MilliValue()`); saturates at INT64_MAX/MIN for
  // values beyond ±9.2e15 units (apimachinery returns garbage there; callers reject such limits).
  int64_t MilliValue() const;
  // True when MilliValue() would not fit int64 (such a CPU quantity is refused as a limit).
  bool MilliValueOverflows() const;

  bool IsZero() const { return nanos_ == 0; }
  bool IsNegative() const { return nanos_ < 0; }
  QuantityFormat format() const { return format_; }

  // Canonical spelling, as apimachinery's `String()` prints it (e.g. "1536Mi", "1500m", "1e3").
  std::string String() const;

  Quantity operator+(const Quantity& other) const;  // saturating; keeps the left operand's format
  Quantity& operator+=(const Quantity& other) { return *this = *this + other; }
  std::strong_ordering operator<=>(const Quantity& other) const { return nanos_ <=> other.nanos_; }
  bool operator==(const Quantity& other) const { return nanos_ == other.nanos_; }

 private:
  __int128 nanos_ = 0;
  QuantityFormat format_ = QuantityFormat::kDecimalSI;
};

}  // namespace uvm::sizer
