#!/usr/bin/env bash
# The README's "run" command: installs what is needed, builds, and starts the daemon in the foreground on
# its built-in defaults (or /etc/uvm-sizer/config.toml when there is one). With no runtime socket it
# starts anyway, says it is waiting, and keeps retrying. Metrics: http://localhost:9842/metrics;
# `build/cli/uvm-sizer status` talks to it. Ctrl-C (SIGINT) or SIGTERM stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec build/cli/uvm-sizer daemon "$@"
