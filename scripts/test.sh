#!/usr/bin/env bash
# The one command that installs, builds and runs every test (README; CI calls it from .ci/run):
# unit + integration tests (real cgroupfs, a private containerd + runc, a real Prometheus) through ctest,
# with SANITIZERS="asan tsan" the same suites under ASan+UBSan and the daemon/API/pressure ones under TSan
# (scripts/sanitize.sh),
# a short libFuzzer smoke of every fuzz target, and the formatting check.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

scripts/install-deps.sh

echo "== formatting (clang-format --dry-run)"
mapfile -t sources < <(git ls-files '*.cc' '*.h' 2>/dev/null || find . -name '*.cc' -o -name '*.h' | grep -v '^./build')
clang-format --dry-run -Werror "${sources[@]}"

BUILD_DIR=${BUILD_DIR:-build} scripts/build.sh -DUVM_SIZER_WERROR=ON
build_dir=${BUILD_DIR:-build}

echo "== ctest"
(cd "$build_dir" && ctest --output-on-failure --timeout 300 -j1)

# ASan+UBSan runs every unit and integration test, TSan the daemon, API and pressure suites; a report
# fails the run. SANITIZERS="asan" (or "tsan", or "") narrows it for a quick local run.
echo "== sanitizers (${SANITIZERS-asan tsan})"
SANITIZERS=${SANITIZERS-asan tsan} scripts/sanitize.sh

echo "== fuzz smoke"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

echo "test.sh: all passed in $(( $(date +%s) - start )) s"
