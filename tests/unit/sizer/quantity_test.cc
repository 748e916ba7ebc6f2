#include "sizer/quantity.h"

#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace uvm::sizer {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

Quantity Q(const std::string& text) {
  auto q = Quantity::Parse(text);
  EXPECT_TRUE(q.ok()) << text << ": " << (q.ok() ? "" : q.error().message);
  return q.ok() ? *q : Quantity{};
}

std::string ErrorOf(const std::string& text) {
  auto q = Quantity::Parse(text);
  EXPECT_FALSE(q.ok()) << text << " parsed as " << (q.ok() ? q->String() : "");
  return q.ok() ? "" : q.error().message;
}

struct Valid {
  const char* text;
  int64_t value;
  int64_t milli;
  const char* canonical;
};

void ExpectValid(const std::vector<Valid>& rows) {
  for (const auto& r : rows) {
    SCOPED_TRACE(r.text);
    auto q = Quantity::Parse(r.text);
    ASSERT_TRUE(q.ok()) << q.error().message;
    EXPECT_EQ(q->Value(), r.value);
    EXPECT_EQ(q->MilliValue(), r.milli);
    EXPECT_EQ(q->String(), r.canonical);
    // The canonical form names the same amount.
    EXPECT_EQ(Q(q->String()), *q);
  }
}

TEST(Quantity, VectorsOfSizingMd) {
  // SIZING.md §6, with the canonical spelling CanonicalizeBytes prints.
  ExpectValid({
      {"0", 0, 0, "0"},
      {".5", 1, 500, "500m"},
      {"1.5", 2, 1500, "1500m"},
      {"250m", 1, 250, "250m"},
      {"100.5m", 1, 101, "100500u"},
      {"0.1m", 1, 1, "100u"},
      {"1n", 1, 1, "1n"},
      {"1e3", 1000, 1000000, "1e3"},
      {"1E+3", 1000, 1000000, "1e3"},  // apimachinery echoes the input "1E+3" (see quantity.h)
      {"1.5e-3", 1, 2, "1500e-6"},
      {"1k", 1000, 1000000, "1k"},
      {"1Ki", 1024, 1024000, "1Ki"},
      {"0.5Ki", 512, 512000, "512"},
      {"1.25Ki", 1280, 1280000, "1280"},
      {"123Mi", 128974848, 128974848000, "123Mi"},
      {"127.9Mi", 134112871, 134112870400, "134112870400m"},
      {"128M", 128000000, 128000000000, "128M"},
      {".5Gi", 536870912, 536870912000, "512Mi"},
      {"1.5Gi", 1610612736, 1610612736000, "1536Mi"},
      {"1E", 1000000000000000000, kMax, "1E"},
      {"1Ei", 1152921504606846976, kMax, "1Ei"},
      {"07", 7, 7000, "7"},
      {"8Ei", kMax, kMax, "9223372036854775807"},
  });
}

TEST(Quantity, InvalidVectorsOfSizingMdSayWhatIsWrong) {
  struct Row {
    const char* text;
    const char* message;
  };
  const std::vector<Row> rows = {
      {"", R"(invalid quantity "": empty)"},
      {"1K", R"(invalid quantity "1K": unknown suffix "K")"},
      {"1ki", R"(invalid quantity "1ki": unknown suffix "ki")"},
      {"1Mi1", R"(invalid quantity "1Mi1": unknown suffix "Mi1")"},
      {"1e", R"(invalid quantity "1e": unknown suffix "e")"},
      {"++1", R"(invalid quantity "++1": unknown suffix "+1")"},
      {"1KiB", R"(invalid quantity "1KiB": unknown suffix "KiB")"},
      {"1 Mi", R"(invalid quantity "1 Mi": whitespace is not allowed)"},
      {" 1Mi", R"(invalid quantity " 1Mi": whitespace is not allowed)"},
      {"1.2.3", R"(invalid quantity "1.2.3": unexpected "." after "1.2")"},
      {"1.5.5Gi", R"(invalid quantity "1.5.5Gi": unexpected "." after "1.5")"},
      {"0x10", R"(invalid quantity "0x10": unexpected "x" after "0")"},
      {"1_000", R"(invalid quantity "1_000": unexpected "_" after "1")"},
      {"1e3Mi", R"(invalid quantity "1e3Mi": unknown suffix "e3Mi")"},
  };
  for (const auto& r : rows) EXPECT_EQ(ErrorOf(r.text), r.message);
}

TEST(Quantity, InvalidInputsOfApimachineryTests) {
  // quantity_test.go TestQuantityParse "invalid".
  for (const char* text :
       {"1.1.M", "1+1.0M", "0.1mi", "0.1am", "aoeu", ".5i", "1i", "-3.01i", "-3.01e-", " 1", "1 "}) {
    EXPECT_FALSE(Quantity::Parse(text).ok()) << text;
  }
  EXPECT_EQ(ErrorOf("aoeu"), R"(invalid quantity "aoeu": unexpected "a")");
  EXPECT_EQ(ErrorOf("-3.01e-"), R"(invalid quantity "-3.01e-": unknown suffix "e-")");
}

TEST(Quantity, NumbersWithoutDigitsAreZeroLikeApimachinery) {
  // parseQuantityString returns "0" when the text ends after sign and zeros, and reads a missing
  // numerator as 0; only the big-decimal path (exponents below -9) insists on a digit.
  for (const char* text : {"+", "-", "-0", "+0", "000", "-000", ".", "-.", "Mi", "-Ki", "e3", "m", "e-9",
                           "0e-10", "0.000e-300", "0Ki", "0e2147483647"}) {
    SCOPED_TRACE(text);
    Quantity q = Q(text);
    EXPECT_TRUE(q.IsZero());
    EXPECT_FALSE(q.IsNegative());
    EXPECT_EQ(q.String(), "0");
  }
  EXPECT_EQ(ErrorOf("e-10"), R"(invalid quantity "e-10": no digits before the exponent)");
  EXPECT_EQ(ErrorOf("-.e-10"), R"(invalid quantity "-.e-10": no digits before the exponent)");
}

TEST(Quantity, SignsLeadingZerosAndDots) {
  ExpectValid({
      {"+1", 1, 1000, "1"},
      {"-1", -1, -1000, "-1"},
      {"0001", 1, 1000, "1"},
      {"-007Ki", -7168, -7168000, "-7Ki"},
      {"1.", 1, 1000, "1"},
      {"1.G", 1000000000, 1000000000000, "1G"},
      {"1.000", 1, 1000, "1"},
      {"1.500", 2, 1500, "1500m"},
      {"00.50", 1, 500, "500m"},
      {".0001k", 1, 100, "100m"},
      {"1500m", 2, 1500, "1500m"},
  });
}

TEST(Quantity, NegativeValuesRoundAwayFromZero) {
  ExpectValid({
      {"-1.5", -2, -1500, "-1500m"},
      {"-100.5m", -1, -101, "-100500u"},
      {"-0.1m", -1, -1, "-100u"},
      {"-1Ki", -1024, -1024000, "-1Ki"},
      {"-0.5Ki", -512, -512000, "-512"},
      {"-1.5Gi", -1610612736, -1610612736000, "-1536Mi"},
      {"-8Ei", -kMax, kMin, "-9223372036854775807"},
  });
}

TEST(Quantity, RoundsUpToNanoLikeApimachineryTests) {
  // quantity_test.go TestQuantityParse "Things that saturate/round" and "written by trolls".
  ExpectValid({
      {"3.001n", 1, 1, "4n"},
      {"1.1E-9", 1, 1, "2e-9"},
      {"0.0000000001", 1, 1, "1n"},
      {"0.00000000050", 1, 1, "1n"},
      {"0.5e-9", 1, 1, "1e-9"},
      {"0.9n", 1, 1, "1n"},
      {"0.00000012345", 1, 1, "124n"},
      {"0.00000012354", 1, 1, "124n"},
      {"0.000000000001Ki", 1, 1, "2n"},
      {"1.0000000001", 2, 1001, "1000000001n"},
      {"-1.0000000001", -2, -1001, "-1000000001n"},
      {"1e-10", 1, 1, "1e-9"},
  });
  // A binary-suffix value below 1 is kept as DecimalSI (ParseQuantity).
  EXPECT_EQ(Q("0.000000000001Ki").format(), QuantityFormat::kDecimalSI);
  EXPECT_EQ(Q("0.5Ki").format(), QuantityFormat::kBinarySI);
}

TEST(Quantity, CanonicalFormsOfApimachineryTests) {
  // quantity_test.go TestQuantityString (alternate -> expect) and TestQuantityParseEmit.
  struct Row {
    const char* text;
    const char* canonical;
  };
  const std::vector<Row> rows = {
      {"1024Mi", "1Gi"},
      {"307200Ki", "300Mi"},
      {"1025024Mi", "1001Gi"},
      {"1024Gi", "1Ti"},
      {"5000m", "5"},
      {"0.5", "500m"},
      {"1000M", "1G"},
      {"0.001T", "1G"},
      {"1000u", "1m"},
      {"1.08", "1080m"},
      {"1080000000n", "1080m"},
      {".001e12", "1e9"},
      {"0.001e0", "1e-3"},
      {"1000e-12", "1e-9"},
      {"00", "0"},
      {"1Ki", "1Ki"},
      {"1Gi", "1Gi"},
      {".001Ki", "1024m"},
      {".000001Ki", "1024u"},
      {".000000001Ki", "1024n"},
      {".000000000001Ki", "2n"},
      {"100.035Ki", "102435840m"},
      {"0.5Mi", "512Ki"},
      {"0.05Gi", "53687091200m"},
      {"0.5e0", "500e-3"},
      {"1.2e3", "1200"},
      {"1.3E+6", "1300e3"},
      {"1.40e9", "1400e6"},
      {"50k", "50k"},
      {"40T", "40T"},
      {"300.2T", "300200G"},
      {"1.01E", "1010P"},
      {"6.987654321G", "6987654321"},
      {"1025Ki", "1025Ki"},
      {"1023.5Ki", "1048064"},
  };
  for (const auto& r : rows) {
    EXPECT_EQ(Q(r.text).String(), r.canonical) << r.text;
    if (std::string(r.canonical) != "0") {
      EXPECT_EQ(Q(std::string("-") + r.text).String(), std::string("-") + r.canonical) << r.text;
    }
  }
}

TEST(Quantity, LargeValuesClampToMaxInt64Units) {
  Quantity max = Quantity::FromInt(kMax);
  for (const char* text : {"9223372036854775807", "9223372036854775808", "9223372036854775807.5", "8Ei",
                           "9Ei", "9223372036854775807Ki", "10E", "12E", "1e19", "1e2147483647"}) {
    SCOPED_TRACE(text);
    Quantity q = Q(text);
    EXPECT_EQ(q, max);
    EXPECT_EQ(q.Value(), kMax);
    EXPECT_EQ(q.String(), "9223372036854775807");
    EXPECT_EQ(Q(std::string("-") + text).Value(), -kMax);
  }
  // One nano-unit below the cap is kept exactly.
  EXPECT_EQ(Q("9223372036854775806999999999n").String(), "9223372036854775806999999999n");
  EXPECT_LT(Q("9223372036854775806999999999n"), max);
}

TEST(Quantity, HugeExponentsAndDigitStringsAreExactOrRefused) {
  const std::string range = "exponent out of range (|exponent| must be <= 2147483647)";
  EXPECT_EQ(ErrorOf("1e2147483648"), "invalid quantity \"1e2147483648\": " + range);
  EXPECT_EQ(ErrorOf("1e-2147483648"), "invalid quantity \"1e-2147483648\": " + range);
  EXPECT_EQ(ErrorOf("1E99999999999999999999"), "invalid quantity \"1E99999999999999999999\": " + range);
  EXPECT_EQ(Q("1e-2147483647").String(), "1e-9");  // rounds up to one nano-unit, at once
  EXPECT_EQ(Q("1e00000000000000000003").Value(), 1000);

  const std::string zeros(20000, '0');
  EXPECT_EQ(Q("1" + zeros).Value(), kMax);
  EXPECT_EQ(Q("0." + zeros + "1").String(), "1n");
  EXPECT_EQ(Q(zeros + "42" + zeros + "e-20000").String(), "42");
  // 10^-20001 * 10^20009 = 10^8: the exponent still counts when the digits are long enough.
  EXPECT_EQ(Q("0." + zeros + "1e20009").String(), "100e6");
  EXPECT_EQ(Q("0." + zeros + "1e20009").format(), QuantityFormat::kDecimalExponent);
  EXPECT_EQ(Q("0." + zeros + "5Ei").String(), "1n");
  EXPECT_EQ(Q("0.5" + zeros + "1Ki").String(), "512000000001n");
  EXPECT_EQ(Q("0.5" + zeros + "Ki").String(), "512");
}

TEST(Quantity, ErrorsAreOneEscapedLine) {
  EXPECT_EQ(ErrorOf("1\n"), R"(invalid quantity "1\x0a": whitespace is not allowed)");
  EXPECT_EQ(ErrorOf("1\x01"), R"(invalid quantity "1\x01": unexpected "\x01" after "1")");
  EXPECT_EQ(ErrorOf("1\""), R"(invalid quantity "1\"": unexpected "\"" after "1")");
  EXPECT_EQ(ErrorOf("1\xc2\xb5"), R"(invalid quantity "1\xc2\xb5": unexpected "\xc2" after "1")");
  std::string error = ErrorOf("1" + std::string(5000, 'K'));
  EXPECT_LT(error.size(), 200u);
  EXPECT_NE(error.find("...\": unknown suffix \"KKK"), std::string::npos) << error;
  // Escaping counts against the length too.
  error = ErrorOf("K" + std::string(100, '\0'));
  EXPECT_LT(error.size(), 200u);
  EXPECT_EQ(error.find('\0'), std::string::npos);
}

TEST(Quantity, MilliValueOverflowIsReported) {
  // math.go MaxMilliValue = (2^63-1)/1000 units.
  EXPECT_FALSE(Q("9223372036854775").MilliValueOverflows());
  EXPECT_EQ(Q("9223372036854775.807").MilliValue(), kMax);
  EXPECT_FALSE(Q("9223372036854775.807").MilliValueOverflows());
  EXPECT_TRUE(Q("9223372036854775.8071").MilliValueOverflows());
  EXPECT_EQ(Q("9223372036854775.8071").MilliValue(), kMax);
  EXPECT_TRUE(Q("9223372036854776").MilliValueOverflows());
  EXPECT_FALSE(Q("-9223372036854775.808").MilliValueOverflows());
  EXPECT_EQ(Q("-9223372036854775.808").MilliValue(), kMin);
  EXPECT_TRUE(Q("-9223372036854775.8081").MilliValueOverflows());
  EXPECT_EQ(Q("-9223372036854775.8081").MilliValue(), kMin);
  EXPECT_TRUE(Q("1Ei").MilliValueOverflows());
}

TEST(Quantity, FromIntAndFromMilli) {
  EXPECT_EQ(Quantity::FromInt(5, QuantityFormat::kBinarySI).String(), "5");
  EXPECT_EQ(Quantity::FromInt(2048, QuantityFormat::kBinarySI).String(), "2Ki");
  EXPECT_EQ(Quantity::FromInt(2048).String(), "2048");
  EXPECT_EQ(Quantity::FromInt(3000, QuantityFormat::kDecimalExponent).String(), "3e3");
  EXPECT_EQ(Quantity::FromInt(-3, QuantityFormat::kDecimalExponent).String(), "-3");
  EXPECT_EQ(Quantity::FromInt(1536 * 1024 * 1024LL, QuantityFormat::kBinarySI), Q("1.5Gi"));
  EXPECT_EQ(Quantity::FromInt(kMin).Value(), -kMax);  // clamped like every other magnitude
  EXPECT_EQ(Quantity::FromInt(kMax).Value(), kMax);
  Quantity m = Quantity::FromMilli(1500);
  EXPECT_EQ(m.String(), "1500m");
  EXPECT_EQ(m.Value(), 2);
  EXPECT_EQ(m.MilliValue(), 1500);
  EXPECT_EQ(m, Q("1.5"));
  EXPECT_EQ(Quantity::FromMilli(-1).Value(), -1);
  EXPECT_EQ(Quantity::FromMilli(kMin).MilliValue(), kMin);
  EXPECT_EQ(Quantity::FromMilli(kMax).MilliValue(), kMax);
  EXPECT_TRUE(Quantity::FromMilli(0).IsZero());
}

TEST(Quantity, AdditionIsExactSaturatingAndKeepsFormatLikeApimachineryAdd) {
  EXPECT_EQ((Q("1Gi") + Q("512Mi")).String(), "1536Mi");
  EXPECT_EQ((Q("250m") + Q("250m")).String(), "500m");
  EXPECT_EQ((Q("100.5m") + Q("0.5m")).MilliValue(), 101);
  EXPECT_EQ((Q("1") + Q("1Ki")).String(), "1025");  // left format wins
  EXPECT_EQ((Q("1Ki") + Q("1Ki")).String(), "2Ki");
  EXPECT_EQ((Q("1Ki") + Q("1000")).String(), "2024");  // BinarySI but not a multiple of 1024
  EXPECT_EQ((Quantity{} + Q("1Ki")).String(), "1Ki");  // a zero left operand takes the right format
  EXPECT_EQ((Q("0Ki") + Q("1e3")).String(), "1e3");
  EXPECT_EQ((Q("1Ki") + Q("-1Ki")).String(), "0");
  EXPECT_EQ((Q("8Ei") + Q("8Ei")).Value(), kMax);
  EXPECT_EQ((Q("-8Ei") + Q("-8Ei")).Value(), -kMax);
  EXPECT_EQ((Q("8Ei") + Q("-1")).Value(), kMax - 1);
  Quantity total;
  for (int i = 0; i < 3; ++i) total += Q("1.5Gi");
  EXPECT_EQ(total.String(), "4608Mi");
}

TEST(Quantity, ComparisonIsByAmountNotSpelling) {
  EXPECT_EQ(Q("1000m"), Q("1"));
  EXPECT_EQ(Q("1Ki"), Q("1024"));
  EXPECT_EQ(Q("1e3"), Q("1k"));
  EXPECT_GT(Q("1Gi"), Q("1G"));
  EXPECT_LT(Q("-1"), Q("0"));
  EXPECT_LT(Q("1n"), Q("0.000000002"));
  EXPECT_NE(Q("1.000000001"), Q("1"));
  EXPECT_EQ(Q("1.0000000001"), Q("1.000000001"));  // both rounded up to the same nano-unit
  EXPECT_TRUE(Q("-1").IsNegative());
  EXPECT_FALSE(Q("-0").IsNegative());
}

TEST(QuantityOverflow, ValueOverflowsWhereApimachineryReturnsGarbage) {
  // apimachinery quantity.go ParseQuantity keeps "1e19" as int64Amount{1, 19}; Value() -> ScaledValue(0)
  // -> AsScaledInt64 -> positiveScaleInt64 overflows (returns 0, false) and the false is discarded: 0.
  // A 20-digit integer takes the inf.Dec path: scaledValue returns big.Int.Int64(), the low 64 bits.
  // Binary suffixes are clamped to maxAllowed there too, so "8Ei" and "16Ei" are well defined.
  struct Case {
    const char* text;
    bool overflows;
  };
  for (Case c : {Case{"1e19", true}, Case{"10000000000000000000", true}, Case{"10E", true},
                 Case{"9223372036854775807", false}, Case{"9223372036854775807.5", true}, Case{"8Ei", false},
                 Case{"16Ei", false}, Case{"1Gi", false}, Case{"-1e19", true}}) {
    auto q = Quantity::Parse(c.text);
    ASSERT_TRUE(q.ok()) << c.text;
    EXPECT_EQ(q->ValueOverflows(), c.overflows) << c.text;
  }
  // A sum that leaves int64 becomes an inf.Dec in apimachinery's Add: its Value() is garbage as well.
  auto half = Quantity::Parse("5e18");
  ASSERT_TRUE(half.ok());
  EXPECT_FALSE(half->ValueOverflows());
  EXPECT_TRUE((*half + *half).ValueOverflows());
}

}  // namespace
}  // namespace uvm::sizer
