// Quantity parsing sits on the CRI sizing path (DESIGN.md budget: one pod < 200 ns), so it should take
// tens of nanoseconds for the spellings pods use.
#include <benchmark/benchmark.h>

#include <string_view>

#include "sizer/quantity.h"

namespace uvm::sizer {
namespace {

void BM_QuantityParse(benchmark::State& state, std::string_view text) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(text);
    auto q = Quantity::Parse(text);
    benchmark::DoNotOptimize(q);
  }
}
BENCHMARK_CAPTURE(BM_QuantityParse, milli_250m, std::string_view("250m"));
BENCHMARK_CAPTURE(BM_QuantityParse, binary_1_5Gi, std::string_view("1.5Gi"));
BENCHMARK_CAPTURE(BM_QuantityParse, plain_128974848, std::string_view("128974848"));
BENCHMARK_CAPTURE(BM_QuantityParse, exponent_1e3, std::string_view("1e3"));

void BM_QuantityParseMilliValue(benchmark::State& state) {
  for (auto _ : state) {
    std::string_view text = "250m";
    benchmark::DoNotOptimize(text);
    auto q = Quantity::Parse(text);
    benchmark::DoNotOptimize(q->MilliValue());
  }
}
BENCHMARK(BM_QuantityParseMilliValue);

void BM_QuantityString(benchmark::State& state) {
  Quantity q = *Quantity::Parse("1.5Gi");
  for (auto _ : state) {
    benchmark::DoNotOptimize(q);
    benchmark::DoNotOptimize(q.String());
  }
}
BENCHMARK(BM_QuantityString);

}  // namespace
}  // namespace uvm::sizer
