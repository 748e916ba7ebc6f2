#!/usr/bin/env bash
# The sanitizer stage of scripts/test.sh (so CI runs it from .ci/run): clang-14 trees built with
# UVM_SIZER_SANITIZE, where any sanitizer report fails the run, in a test binary or in the uvm-sizer
# daemon/CLI a test starts as a child.
#   asan: ASan + UBSan + LeakSanitizer, every unit and integration test (./build-asan)
#   tsan: ThreadSanitizer, the daemon, API and pressure suites, unit and integration (./build-tsan)
# SANITIZERS="asan" (or "tsan") runs one tree only, SANITIZERS="" none. ccache is used when it is installed (not in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
read -r -a stages <<<"${SANITIZERS-asan tsan}"
jobs=${JOBS:-2}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
if ((${#stages[@]} == 0)); then
  echo "sanitize.sh: no stage asked for (SANITIZERS is empty)"
  exit 0
fi
symbolizer=$(command -v llvm-symbolizer-14 || true)
[[ -n "$symbolizer" ]] || { echo "sanitize.sh: llvm-symbolizer-14 missing (Debian package llvm-14)" >&2; exit 1; }

# Reports go to files (log_path) in a directory checked after ctest, not to stderr: the integration tests
# start the sanitized uvm-sizer as a child whose stderr a test may never look at, and a daemon that reports
# while the test kills it would otherwise pass unseen. ctest also fails on its own for a report in a test
# binary (halt_on_error / the sanitizer's exit code).
reports_check() {
  local dir=$1 found
  found=$(find "$dir" -type f | sort)
  [[ -z "$found" ]] && return 0
  echo "sanitize.sh: sanitizer reports in $dir:" >&2
  while read -r f; do
    echo "==== $f" >&2
    head -n 200 "$f" >&2
  done <<<"$found"
  return 1
}

# $1 build dir, $2 -fsanitize= list, then the ninja targets (none: everything).
build_tree() {
  local dir=$1 sanitizers=$2
  shift 2
  local t0=$SECONDS
  # -O1 and line tables only: the sanitizers' advice for usable stacks, and a much cheaper compile than
  # -O2 -g of the generated gRPC code; file:line is all a report needs.
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DUVM_SIZER_SANITIZE="$sanitizers" -DUVM_SIZER_WERROR=ON "${launcher[@]}" >/dev/null
  ninja -C "$dir" -j"$jobs" "$@"
  echo "sanitize.sh: $dir built in $((SECONDS - t0)) s"
}

# $1 build dir, then ctest arguments. The sanitizer *_OPTIONS must be exported by the caller.
run_tests() {
  local dir=$1 reports=$dir/sanitizer-reports status=0
  shift
  local t0=$SECONDS
  rm -rf "$reports" && mkdir -p "$reports"
  (cd "$dir" && ctest --output-on-failure --timeout 600 -j1 "$@") || status=$?
  reports_check "$reports" || status=1
  echo "sanitize.sh: $dir tests ran in $((SECONDS - t0)) s (status $status)"
  return "$status"
}

for stage in "${stages[@]}"; do
  case $stage in
    asan)
      dir=build-asan
      build_tree "$dir" address,undefined
      reports=$root/$dir/sanitizer-reports
      # LeakSanitizer stays on, with the few process-lifetime allocations of the uninstrumented libraries
      # suppressed by name in lsan.supp. halt_on_error is ASan's default; UBSan's comes with
      # -fno-sanitize-recover=all and is set here for clarity.
      export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1:detect_stack_use_after_return=1:log_path=$reports/asan:symbolize=1:external_symbolizer_path=$symbolizer"
      export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan:symbolize=1:external_symbolizer_path=$symbolizer"
      export LSAN_OPTIONS="suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0"
      run_tests "$dir"
      unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
      ;;
    tsan)
      dir=build-tsan
      # Only what the daemon, API and pressure suites run: the daemon unit tests, the daemon binary and
      # the integration tests that start it (the API server lives in it; the rules end to end and
      # runtimeclass --from-node start it too), the shim-monitor client feeding the pressure model. The pure pressure math (tests/unit/sizer/pressure_test.cc) is single-threaded:
      # the ASan tree runs it.
      build_tree "$dir" thread uvm-sizer daemon_tests daemon_integration_tests pressure_integration_tests \
        guest_integration_tests metrics_prometheus_test runtimeclass_node_test
      reports=$root/$dir/sanitizer-reports
      export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:ignore_noninstrumented_modules=1:suppressions=$root/tests/sanitizers/tsan.supp:print_suppressions=0:log_path=$reports/tsan:symbolize=1:external_symbolizer_path=$symbolizer"
      run_tests "$dir" -L '^(daemon|api|pressure)$'
      unset TSAN_OPTIONS
      ;;
    *)
      echo "sanitize.sh: unknown stage '$stage' (asan, tsan)" >&2
      exit 2
      ;;
  esac
done
echo "sanitize.sh: all passed"
