#!/usr/bin/env bash
# The README's "run" command: installs what is needed, builds, and runs uvm-sizer's main job.
# Today that is `uvm-sizer size` over the example manifests in examples/; it becomes the daemon once the
# daemon lands (issue 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
for f in examples/*.yaml; do
  echo "== uvm-sizer size $f"
  rc=0
  build/cli/uvm-sizer size "$f" || rc=$?
  # 3 = the runtime would refuse a pod: that is an answer, not a failure of this script.
  [[ $rc -eq 0 || $rc -eq 3 ]] || exit "$rc"
done
