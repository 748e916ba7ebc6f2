#!/usr/bin/env bash
# Builds uvm-sizer and runs every benchmark binary under <build>/bench (bench_*), each with 5 repetitions,
# aggregates only, JSON into <build>/bench-results/<name>.json; the console shows the same table.
# CI does not run this (timings on shared runners mean little); compare medians against DESIGN.md's
# "Performance budget". Environment:
#   BUILD_DIR                  build directory (default: build)
#   BENCH_FILTER               --benchmark_filter regex (default: all)
#   UVM_BENCH_STEADY_SECONDS   bench_daemon_rss's steady-state window, 0..60 s (default 60; 0 skips it)
# Some cgroup benchmarks need root for their real-kernel cases; they skip those otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
BUILD_DIR=$build_dir scripts/build.sh -DUVM_SIZER_WERROR=ON
results=$build_dir/bench-results
mkdir -p "$results"

shopt -s nullglob
binaries=("$build_dir"/bench/bench_*)
if ((${#binaries[@]} == 0)); then
  echo "bench.sh: no benchmark binaries under $build_dir/bench" >&2
  exit 1
fi
failed=()
for bin in "${binaries[@]}"; do
  [[ -x $bin && -f $bin ]] || continue
  name=$(basename "$bin")
  echo "== $name"
  if ! "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
      --benchmark_filter="${BENCH_FILTER:-.}" \
      --benchmark_format=console --benchmark_out_format=json --benchmark_out="$results/$name.json"; then
    failed+=("$name")
  fi
done
echo "bench.sh: results in $results/"
if ((${#failed[@]})); then
  echo "bench.sh: failed: ${failed[*]}" >&2
  exit 1
fi
