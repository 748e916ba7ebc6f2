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

# Off by default until both trees have passed a full run on a CI-sized machine (the first builds there were
# not finished in time); SANITIZERS="asan tsan" turns the stage on, and CI should once it is verified.
echo "== sanitizers (${SANITIZERS:-none}: ASan+UBSan runs unit + integration, TSan daemon, API, pressure)"
SANITIZERS=${SANITIZERS-} scripts/sanitize.sh

echo "== fuzz smoke"
FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh

echo "test.sh: all passed in $(( $(date +%s) - start )) s"
