#!/usr/bin/env bash
# Profiles pod startup against a private containerd (tests/integration/harness/containerd.sh: handlers
# runc, kata and kata-cc, all runc underneath, so kata rows are marked as runc stand-ins) and prints the
# report. Builds uvm-sizer-startup first if needed; always stops the containerd and removes what it made.
# Needs root and the Debian packages containerd runc gcc libc6-dev. Environment:
#   BUILD_DIR     build directory (default: build)
#   OUT           result directory (default: a fresh /tmp/uvm-sizer-startup.XXXXXX, kept)
#   PROFILE_ARGS  arguments of `run` (default: the acceptance profile of issue 11,
#                 --handlers runc,kata,kata-cc --mode burst --levels 1,4,16 -n 16)
# On a real node, run the binary directly against the node's containerd (README "Profiling pod startup").
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
bin=$build_dir/bench/startup/uvm-sizer-startup
if [[ ! -x $bin ]]; then
  BUILD_DIR=$build_dir scripts/build.sh >/dev/null
fi
[[ -x $bin ]] || { echo "bench-startup.sh: no $bin after the build" >&2; exit 1; }

base=$(mktemp -d /tmp/uvmtest-ctrd.bench.XXXXXX)
top="uvmtest-bench-$$"
out=${OUT:-$(mktemp -d /tmp/uvm-sizer-startup.XXXXXX)}
cleanup() { tests/integration/harness/containerd.sh cleanup "$base" "$top" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

# A free loopback port for containerd's /v1/metrics (the cross-check of RunPodSandbox).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
  echo $((20000 + $$ % 20000)))
UVM_CTRD_METRICS_ADDRESS=127.0.0.1:$port tests/integration/harness/containerd.sh up "$base" >/dev/null

read -r -a profile <<<"${PROFILE_ARGS:---handlers runc,kata,kata-cc --mode burst --levels 1,4,16 -n 16}"
start=$SECONDS
status=0
"$bin" run --cri "unix://$base/containerd.sock" "${profile[@]}" \
  --containerd-metrics "http://127.0.0.1:$port/v1/metrics" --cgroup-root "/$top/startup" --out "$out" || status=$?
echo "bench-startup.sh: run took $((SECONDS - start)) s (exit $status); results in $out" >&2
[[ -f $out/report.md ]] && cat "$out/report.md"
exit "$status"
