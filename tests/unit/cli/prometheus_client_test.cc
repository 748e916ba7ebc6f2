// The Prometheus HTTP API client's pure parts: URLs and /api/v1/query response bodies, including what a
// broken or lying server sends. (Against a real Prometheus:
// tests/integration/runtimeclass_prometheus_test.cc.)
#include "cli/prometheus_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace uvm::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(ParsePrometheusUrl, HostPortAndPrefix) {
  auto a = ParsePrometheusUrl("http://127.0.0.1:9091");
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 9091);
  EXPECT_EQ(a->path_prefix, "");
  auto b = ParsePrometheusUrl("http://prometheus.monitoring/prom/");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "prometheus.monitoring");
  EXPECT_EQ(b->port, 9090);  // Prometheus's own default port
  EXPECT_EQ(b->path_prefix, "/prom");
  auto c = ParsePrometheusUrl("http://[::1]:9090");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->port, 9090);
}

TEST(ParsePrometheusUrl, RefusesWhatItCannotDoNamingTheUrl) {
  struct Case {
    const char* url;
    const char* why;
  } cases[] = {
      {"https://prom:9090", "only http:// is supported"},
      {"prom:9090", "not an http:// URL"},
      {"http://:9090", "no host"},
      {"http://prom:0", "bad port"},
      {"http://prom:99999", "bad port"},
      {"http://prom:90x", "bad port"},
      {"http://user:pw@prom", "credentials"},
      {"http://prom/api/v1/query?query=up", "query or fragment"},
      {"http://[::1", "unterminated"},
  };
  for (const auto& c : cases) {
    auto r = ParsePrometheusUrl(c.url);
    ASSERT_FALSE(r.ok()) << c.url;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
    EXPECT_THAT(r.error().message, AllOf(HasSubstr("--from-prometheus"), HasSubstr(c.url), HasSubstr(c.why)));
  }
}

TEST(ParseInstantVector, SuccessWithStringValues) {
  auto r = ParseInstantVector("q", 200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"uid":"u1","pod":"web"},"value":[1700000000.5,"1.5e+08"]},
      {"metric":{"uid":"u2"},"value":[1700000000.5,"NaN"]},
      {"metric":{"uid":"u3"},"value":[1700000000.5,"+Inf"]},
      {"metric":{"uid":"u4"},"value":[1700000000.5,"-Inf"]},
      {"metric":{"uid":"u5"},"value":[1700000000.5,"lots"]},
      {"metric":{"uid":"u6"},"value":[1700000000.5,12]}]}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->size(), 6u);
  EXPECT_EQ((*r)[0].labels.at("uid"), "u1");
  EXPECT_EQ((*r)[0].labels.at("pod"), "web");
  EXPECT_TRUE((*r)[0].numeric);
  EXPECT_EQ((*r)[0].value, 1.5e8);
  EXPECT_TRUE((*r)[1].numeric);
  EXPECT_TRUE(std::isnan((*r)[1].value));
  EXPECT_TRUE((*r)[2].numeric);
  EXPECT_EQ((*r)[2].value, INFINITY);
  EXPECT_EQ((*r)[3].value, -INFINITY);
  // Not a number at all: kept as text for the note, never a crash or a zero.
  EXPECT_FALSE((*r)[4].numeric);
  EXPECT_EQ((*r)[4].value_text, "lots");
  EXPECT_TRUE(std::isnan((*r)[4].value));
  // Prometheus always sends a string; a bare JSON number is not what it sends.
  EXPECT_FALSE((*r)[5].numeric);
  EXPECT_EQ((*r)[5].value_text, "12");
}

TEST(ParseInstantVector, EmptyVectorIsNoSamples) {
  auto r = ParseInstantVector("q", 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST(ParseInstantVector, PrometheusErrorNamesTypeAndMessage) {
  auto r = ParseInstantVector("Prometheus http://p:9090: query up[", 400,
                              R"({"status":"error","errorType":"bad_data","error":"1:4: parse error"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  EXPECT_THAT(r.error().message, AllOf(HasSubstr("http://p:9090"), HasSubstr("up["), HasSubstr("HTTP 400"),
                                       HasSubstr("bad_data"), HasSubstr("1:4: parse error")));
  auto busy =
      ParseInstantVector("q", 503, R"({"status":"error","errorType":"unavailable","error":"starting"})");
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().code, ErrorCode::kUnavailable);
}

TEST(ParseInstantVector, NotJsonOrNotAVectorIsAClearError) {
  struct Case {
    int status;
    const char* body;
    const char* says;
  } cases[] = {
      {404, "404 page not found\n",
       "HTTP 404 with a body that is not a Prometheus JSON response: \"404 page"},
      {200, "<html>login</html>", "not a Prometheus JSON response: \"<html>login"},
      {200, "", "an empty body"},
      {200, "[1,2]", "not a Prometheus JSON response"},
      {200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})", "not \"vector\""},
      {200, R"({"status":"success"})", "no \"data\""},
      {200, R"({"status":"success","data":{"resultType":"vector"}})", "no \"result\" array"},
      {200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
       "is not {\"metric\""},
      {200, R"({"status":"weird","data":{}})", "status \"weird\", not a success"},
  };
  for (const auto& c : cases) {
    auto r = ParseInstantVector("Prometheus http://p:9090: query x", c.status, c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_THAT(r.error().message, AllOf(HasSubstr("http://p:9090"), HasSubstr(c.says))) << c.body;
  }
}

TEST(UrlEncodeComponent, KeepsUnreservedOnly) {
  EXPECT_EQ(UrlEncodeComponent("max by (uid) (x{a=\"b\"}[7d])"),
            "max%20by%20%28uid%29%20%28x%7Ba%3D%22b%22%7D%5B7d%5D%29");
  EXPECT_EQ(UrlEncodeComponent("a-b_c.d~"), "a-b_c.d~");
}

}  // namespace
}  // namespace uvm::cli
