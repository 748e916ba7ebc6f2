#include "config/duration.h"

#include <gtest/gtest.h>

namespace uvm::daemon {
namespace {

using namespace std::chrono_literals;

TEST(GoDuration, ReadsGoSpellings) {
  EXPECT_EQ(*ParseGoDuration("30s"), 30s);
  EXPECT_EQ(*ParseGoDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseGoDuration("1m30s"), 90s);
  EXPECT_EQ(*ParseGoDuration("1.5s"), 1500ms);
  EXPECT_EQ(*ParseGoDuration("1h2m3s4ms5us6ns"), 1h + 2min + 3s + 4ms + 5us + 6ns);
  EXPECT_EQ(*ParseGoDuration("250us"), 250us);
  EXPECT_EQ(*ParseGoDuration("250\xC2\xB5s"), 250us);  // U+00B5 MICRO SIGN
  EXPECT_EQ(*ParseGoDuration("250\xCE\xBCs"), 250us);  // U+03BC GREEK SMALL LETTER MU
  EXPECT_EQ(*ParseGoDuration("0.1s"), 100ms);
  EXPECT_EQ(*ParseGoDuration("0s"), 0s);
  // Go drops what is finer than a nanosecond.
  EXPECT_EQ(*ParseGoDuration("1.0000000009s"), 1s);
  EXPECT_EQ(*ParseGoDuration("0.33333333333333333333333333h"), 1199999999999ns);
}

TEST(GoDuration, RefusesWhatGoWouldMisreadOrWeCannotHold) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"", "invalid duration \"\" (empty; e.g. 30s, 500ms, 1m30s)"},
           {".s", "invalid duration \".s\" (a number must come before each unit; e.g. 30s, 500ms, 1m30s)"},
           {".5s", "invalid duration \".5s\" (a number must come before each unit"},
           {"1.2.3s", "invalid duration \"1.2.3s\" (a number has at most one decimal point)"},
           {"1..5m", "invalid duration \"1..5m\" (a decimal point must be followed by digits)"},
           {"5.s", "invalid duration \"5.s\" (a decimal point must be followed by digits)"},
           {"1e400s", "invalid duration \"1e400s\" (unknown unit \"e\" (ns, us, ms, s, m, h))"},
           {"-1s", "invalid duration \"-1s\" (no sign: durations are positive)"},
           {"+1s", "invalid duration \"+1s\" (no sign"},
           {"5", "invalid duration \"5\" (missing unit (ns, us, ms, s, m, h))"},
           {"10 s", "invalid duration \"10 s\" (unknown unit \" s\""},
           {" 10s", "invalid duration \" 10s\" (a number must come before each unit"},
           {"5d", "invalid duration \"5d\" (unknown unit \"d\""},
           {"1s5", "invalid duration \"1s5\" (missing unit"},
           {"99999999999999999999s", "invalid duration \"99999999999999999999s\" (number too large)"},
           {"2562048h", "invalid duration \"2562048h\" (too long: at most 2562047h)"},
           {"2562047h2562047h", "invalid duration \"2562047h2562047h\" (too long"},
           {"1\ns", "invalid duration \"1\\u000as\" (unknown unit \"\\u000as\""},
       }) {
    auto d = ParseGoDuration(c.text);
    ASSERT_FALSE(d.ok()) << c.text;
    EXPECT_EQ(d.error().message.rfind(c.message, 0), 0u) << c.text << " -> " << d.error().message;
    EXPECT_EQ(d.error().code, ErrorCode::kInvalidInput);
  }
}

TEST(Duration, TheDaemonTakesWholeMillisecondsUpToAWeek) {
  EXPECT_EQ(*ParseDuration("30s"), 30000ms);
  EXPECT_EQ(*ParseDuration("1m30s"), 90000ms);
  EXPECT_EQ(*ParseDuration("168h"), 168h);
  EXPECT_EQ(ParseDuration("10us").error().message, "duration \"10us\" is shorter than 1ms");
  EXPECT_EQ(ParseDuration("0s").error().message, "duration \"0s\" is shorter than 1ms");
  EXPECT_EQ(ParseDuration("169h").error().message, "duration \"169h\" is longer than a week");
  EXPECT_EQ(ParseDuration("1500us").error().message,
            "duration \"1500us\" is not a whole number of milliseconds");
  EXPECT_FALSE(ParseDuration(".s").ok());
}

TEST(Duration, PrintsTheShortestExactSpellingAndReadsItBack) {
  using std::chrono::nanoseconds;
  for (nanoseconds d :
       {nanoseconds(0ns), nanoseconds(1ns), nanoseconds(250us), nanoseconds(1500ms), nanoseconds(2s),
        nanoseconds(90s), nanoseconds(5min), nanoseconds(1h), nanoseconds(61min), nanoseconds(36h)}) {
    std::string text = FormatDuration(d);
    EXPECT_EQ(*ParseGoDuration(text), d) << text;
  }
  EXPECT_EQ(FormatDuration(2s), "2s");
  EXPECT_EQ(FormatDuration(1500ms), "1500ms");
  EXPECT_EQ(FormatDuration(5min), "5m");
  EXPECT_EQ(FormatDuration(1h), "1h");
  EXPECT_EQ(FormatDuration(250us), "250us");
}

TEST(CfsQuotaPeriod, OneBoundForTheConfigAndTheCli) {
  EXPECT_EQ(*ParseCfsQuotaPeriod("100ms"), 100000us);
  EXPECT_EQ(*ParseCfsQuotaPeriod("1ms"), 1000us);
  EXPECT_EQ(*ParseCfsQuotaPeriod("1s"), 1000000us);
  EXPECT_EQ(*ParseCfsQuotaPeriod("50000us"), 50000us);
  EXPECT_EQ(*ParseCfsQuotaPeriod("0.1s"), 100000us);
  EXPECT_EQ(ParseCfsQuotaPeriod("5s").error().message, "must be between 1ms and 1s, got \"5s\"");
  EXPECT_EQ(ParseCfsQuotaPeriod("999us").error().message, "must be between 1ms and 1s, got \"999us\"");
  EXPECT_EQ(ParseCfsQuotaPeriod("1000500ns").error().message,
            "must be whole microseconds, got \"1000500ns\"");
  EXPECT_FALSE(ParseCfsQuotaPeriod("100").ok());
}

}  // namespace
}  // namespace uvm::daemon
