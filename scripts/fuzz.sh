#!/usr/bin/env bash
# Builds every libFuzzer target with clang-14 (ASan + UBSan) into ./build-fuzz and runs each for
# $FUZZ_SECONDS (default 60) from its seed corpus. A crash fails the script and leaves the input in
# build-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
cmake -S . -B "$build_dir" -G Ninja -DUVM_SIZER_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_C_COMPILER=clang-14 >/dev/null
ninja -C "$build_dir" -j"${JOBS:-2}"
mkdir -p "$build_dir/artifacts"
mapfile -t fuzzers < <(find "$build_dir/tests/fuzz" -maxdepth 1 -type f -name 'fuzz_*' -perm -u+x | sort)
((${#fuzzers[@]})) || { echo "fuzz.sh: no fuzz targets built" >&2; exit 1; }
for f in "${fuzzers[@]}"; do
  name=$(basename "$f")
  corpus="$build_dir/corpus/$name"
  mkdir -p "$corpus"
  seeds="tests/fuzz/seeds/$name"
  [[ -d "$seeds" ]] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
  echo "-- $name: ${seconds}s"
  log="$build_dir/artifacts/$name.log"
  if ! "$f" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -artifact_prefix="$build_dir/artifacts/$name-" -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "fuzz.sh: $name failed (input saved under $build_dir/artifacts/)" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" | tr '\n' ' '; echo
done
