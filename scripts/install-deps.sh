#!/usr/bin/env bash
# Installs everything uvm-sizer needs to build, run and test on Debian 12, from Debian's packages only.
# Idempotent; needs root. Set UVM_SKIP_APT=1 to skip (e.g. on a machine you manage yourself).
set -euo pipefail
[[ "${UVM_SKIP_APT:-0}" == 1 ]] && exit 0

packages=(
  # build
  build-essential cmake ninja-build pkg-config clang-format
  # libsystemd-dev first in the list on purpose: it pins libsystemd0 (TOOLCHAIN.md)
  libsystemd-dev
  libboost-dev libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libfmt-dev libyaml-cpp-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev          # libFuzzer targets, sanitizer builds (scripts/sanitize.sh)
  llvm-14                              # llvm-symbolizer-14: file:line in sanitizer reports
  strace                               # bench_daemon_rss: cgroup syscalls per pod per minute
  containerd runc                      # CRI integration tests (a private containerd per run)
  dbus                                 # private bus for the systemd cgroup writer's tests
  prometheus                           # promtool and a real scrape in end-to-end tests
  chromium                             # headless screenshots of Prometheus's graph page (metrics end to end)
  python3                              # the dashboard generator and the rules' coverage check (stdlib only)
  gnuplot-nox                          # uvm-sizer capacity --plot (and its tests)
  systemd                              # systemd-analyze security --offline=yes on the unit
  iproute2 util-linux procps psmisc    # ip, unshare/mount, ps/pkill, fuser in test harnesses
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's prometheus package starts a system service where systemd runs; our tests start their own.
command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null && systemctl stop prometheus || true
echo "install-deps: all packages present" >&2
