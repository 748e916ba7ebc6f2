#!/usr/bin/env bash
# A newcomer's minute with uvm-sizer: a private containerd whose handlers kata and kata-cc are runc
# underneath (no VM, no Kata needed), a few demo pods created the way the kubelet creates them, the real
# daemon watching them, then `uvm-sizer status` and the metrics it exports. Everything it starts is removed
# at the end. Needs root. `scripts/demo.sh 120` keeps it all running for 120 s to poke at.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec build/tests/uvm-sizer-demo "${1:-0}"
