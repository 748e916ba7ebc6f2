#include "guest/exposition.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

namespace uvm::guest {
namespace {

using testing::HasSubstr;

Exposition Parse(std::string_view text) {
  auto r = ParseExpositionText(text, "test");
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : Exposition{};
}

std::string ReadFixture(const char* name) {
  std::ifstream in(std::string(UVM_FIXTURES_DIR) + "/guest/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Exposition, HelpTypeLabelsAndValues) {
  auto e = Parse(
      "# HELP http_requests_total The total number of HTTP requests.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n"
      "http_requests_total{method=\"post\",code=\"400\"}    3 1395066363000\n"
      "\n"
      "# Escaping in label values:\n"
      "msdos_file_access_time_seconds{path=\"C:\\\\DIR\\\\FILE.TXT\",error=\"Cannot find "
      "file:\\n\\\"FILE.TXT\\\"\"} "
      "1.458255915e9\n"
      "metric_without_timestamp_and_labels 12.47\n"
      "something_weird{problem=\"division by zero\"} +Inf -3982045\n"
      "nan_value NaN\n"
      "neg_inf -Inf\n");
  ASSERT_EQ(e.samples.size(), 7u);
  const Sample& a = e.samples[0];
  EXPECT_EQ(a.name, "http_requests_total");
  ASSERT_EQ(a.labels.size(), 2u);
  EXPECT_EQ(a.labels[0].name, "method");
  EXPECT_EQ(a.labels[0].value, "post");
  EXPECT_EQ(*a.FindLabel("code"), "200");
  EXPECT_EQ(a.value, 1027);
  EXPECT_EQ(a.timestamp_ms, 1395066363000);
  EXPECT_EQ(a.line, 3);
  EXPECT_EQ(e.samples[1].value, 3);
  const Sample& ms = e.samples[2];
  EXPECT_EQ(*ms.FindLabel("path"), "C:\\DIR\\FILE.TXT");
  EXPECT_EQ(*ms.FindLabel("error"), "Cannot find file:\n\"FILE.TXT\"");
  EXPECT_DOUBLE_EQ(ms.value, 1.458255915e9);
  EXPECT_EQ(ms.line, 7);
  EXPECT_FALSE(e.samples[3].timestamp_ms.has_value());
  EXPECT_TRUE(std::isinf(e.samples[4].value) && e.samples[4].value > 0);
  EXPECT_EQ(e.samples[4].timestamp_ms, -3982045);
  EXPECT_TRUE(std::isnan(e.samples[5].value));
  EXPECT_TRUE(std::isinf(e.samples[6].value) && e.samples[6].value < 0);
  ASSERT_EQ(e.families.size(), 1u);
  EXPECT_EQ(e.families[0].type, MetricType::kCounter);
  EXPECT_EQ(e.families[0].help, "The total number of HTTP requests.");
}

TEST(Exposition, LenientWhereTheMeaningIsClear) {
  auto e = Parse(
      "  # TYPE g gauge\r\n"
      "# TYPE g gauge\n"                 // repeated identical TYPE
      "g{ a = \"1\" , b=\"2\", } 1\r\n"  // blanks around labels, trailing comma, CRLF
      "g{} 2\n"                          // empty label set
      "g{a=\"x\"}3\n"                    // no blank between '}' and the value (expfmt accepts it)
      "\tg\t4\t\n"                       // tabs
      "# HELP g first\n# HELP g second \\\\ and \\n\n"  // the last HELP wins
      "#comment without blank\n"
      "# HELP\n"  // HELP without a name is a comment
      "g 5");     // no final newline
  ASSERT_EQ(e.samples.size(), 5u);
  EXPECT_EQ(*e.samples[0].FindLabel("a"), "1");
  EXPECT_EQ(*e.samples[0].FindLabel("b"), "2");
  EXPECT_TRUE(e.samples[1].labels.empty());
  EXPECT_EQ(e.samples[2].value, 3);
  EXPECT_EQ(e.samples[3].value, 4);
  EXPECT_EQ(e.samples[4].value, 5);
  EXPECT_EQ(e.samples[4].line, 11);
  ASSERT_NE(e.FindFamily("g"), nullptr);
  EXPECT_EQ(e.FindFamily("g")->help, "second \\ and \n");
}

TEST(Exposition, ValueForms) {
  struct Row {
    const char* text;
    double want;
  };
  for (const Row& r : {Row{"1", 1}, Row{"-1.5", -1.5}, Row{"+2", 2}, Row{".5", 0.5}, Row{"5.", 5},
                       Row{"1e3", 1000}, Row{"2.078076928e+09", 2078076928}, Row{"1E-2", 0.01},
                       Row{"+inf", INFINITY}, Row{"Infinity", INFINITY}, Row{"-INF", -INFINITY}}) {
    auto e = Parse(std::string("m ") + r.text + "\n");
    ASSERT_EQ(e.samples.size(), 1u) << r.text;
    EXPECT_DOUBLE_EQ(e.samples[0].value, r.want) << r.text;
  }
  EXPECT_TRUE(std::isnan(Parse("m nan\n").samples.at(0).value));
}

TEST(Exposition, ErrorsNameTheLineAndTheProblem) {
  struct Row {
    const char* text;
    const char* want;
  };
  std::vector<Row> rows = {
      {"ok 1\nm{a=\"1\"\n", "test: line 2: unterminated label set of \"m\""},
      {"m{a}\n", "line 1: expected '=' after label name \"a\", got '}'"},
      {"m{a=1} 1\n", "expected '\"' to open the value of label \"a\", got '1'"},
      {"m{a=\"1} 1\n", "unterminated value of label \"a\""},
      {"m{a=\"\\t\"} 1\n", "invalid escape sequence \"\\\\t\" in the value of label \"a\""},
      {"m{a=\"1\" b=\"2\"} 1\n", "expected ',' or '}' after the value of label \"a\", got 'b'"},
      {"m{a=\"1\",a=\"2\"} 1\n", "duplicate label \"a\" in \"m\""},
      {"m{__name__=\"x\"} 1\n", "label name \"__name__\" is reserved"},
      {"m{1a=\"x\"} 1\n", "invalid label name at \"1a=\\\"x\\\"}\" in \"m\""},
      {"m\n", "line 1: no value after \"m\""},
      {"m{}\n", "no value after \"m\""},
      {"m abc\n", "invalid value \"abc\" for \"m\""},
      {"m 0x10\n", "invalid value \"0x10\""},
      {"m 1_000\n", "invalid value \"1_000\""},
      {"m 1 2 3\n", "unexpected \"3\" after the timestamp of \"m\""},
      {"m 1 1.5\n", "invalid timestamp \"1.5\" for \"m\""},
      {"m 1 99999999999999999999\n", "invalid timestamp"},
      {"m-x 1\n", "invalid character '-' in metric name \"m\""},
      {"1m 1\n", "invalid metric name at \"1m\""},
      {"# TYPE m gauge\n# TYPE m counter\n", "line 2: second TYPE line for \"m\": counter after gauge"},
      {"# TYPE m\n", "TYPE line for \"m\" has no type"},
      {"# TYPE m gauges\n", "unknown metric type \"gauges\" for \"m\""},
      {"# TYPE m gauge extra\n", "unexpected \"extra\" after the type of \"m\""},
      {"# TYPE 1m gauge\n", "invalid metric name \"1m\" in TYPE line"},
      {"# HELP m bad \\x escape\n", "invalid escape sequence \"\\\\x\" in HELP text of \"m\""},
      {"m{a=\"\xff\"} 1\n", "value of label \"a\" is not UTF-8"},
      {"m{a=\"\xc0\xaf\"} 1\n", "not UTF-8"},  // overlong '/'
  };
  for (const auto& r : rows) {
    auto e = ParseExpositionText(r.text, "test");
    ASSERT_FALSE(e.ok()) << r.text;
    EXPECT_THAT(e.error().message, HasSubstr(r.want)) << r.text;
  }
}

TEST(Exposition, Utf8LabelValuesAreKept) {
  auto e = Parse("m{path=\"/var/log/caf\xc3\xa9\",emoji=\"\xf0\x9f\x93\x88\"} 1\n");
  EXPECT_EQ(*e.samples.at(0).FindLabel("path"), "/var/log/caf\xc3\xa9");
}

TEST(Exposition, TooManyLabelsIsAnError) {
  std::string line = "m{";
  for (int i = 0; i < 129; ++i) line += "l" + std::to_string(i) + "=\"v\",";
  line += "} 1\n";
  auto e = ParseExpositionText(line, "test");
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(e.error().message, HasSubstr("more than 128 labels"));
}

TEST(Exposition, FamilyOfHistogramAndSummarySeries) {
  auto e = Parse(
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n"
      "# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 1\ns_count 1\ns_bucket 9\n"
      "# TYPE c counter\nc_total 4\nfree 1\n");
  ASSERT_EQ(e.samples.size(), 10u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(e.FamilyOf(e.samples[i])->name, "h");
  for (int i = 4; i < 7; ++i) EXPECT_EQ(e.FamilyOf(e.samples[i])->name, "s");
  EXPECT_EQ(e.FamilyOf(e.samples[7]), nullptr);  // summaries have no buckets
  EXPECT_EQ(e.FamilyOf(e.samples[8])->name, "c");
  EXPECT_EQ(e.FamilyOf(e.samples[9]), nullptr);
  EXPECT_EQ(*e.samples[1].FindLabel("le"), "+Inf");
}

TEST(Exposition, StreamingSeesTheSameAsOwned) {
  std::string text = ReadFixture("shim_metrics.txt");
  ASSERT_FALSE(text.empty());
  auto owned = ParseExpositionText(text, "fixture");
  ASSERT_TRUE(owned.ok()) << owned.error().message;
  size_t n = 0;
  size_t families = 0;
  Status st = ParseExposition(
      text, "fixture",
      [&](const SampleView& s) {
        ASSERT_LT(n, owned->samples.size());
        const Sample& o = owned->samples[n++];
        EXPECT_EQ(s.name, o.name);
        EXPECT_EQ(s.line, o.line);
        ASSERT_EQ(s.labels.size(), o.labels.size());
        for (size_t i = 0; i < s.labels.size(); ++i) EXPECT_EQ(s.labels[i].value, o.labels[i].value);
      },
      [&](const FamilyView&) { ++families; });
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(n, owned->samples.size());
  EXPECT_GT(n, 400u);
  EXPECT_GT(families, 40u);
  const Family* hist = owned->FindFamily("kata_shim_agent_rpc_durations_histogram_milliseconds");
  ASSERT_NE(hist, nullptr);
  EXPECT_EQ(hist->type, MetricType::kHistogram);
}

}  // namespace
}  // namespace uvm::guest
