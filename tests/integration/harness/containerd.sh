#!/bin/bash
# A private containerd 1.6 with the CRI plugin for integration tests: no network, no Kata, no system
# containerd touched. Everything (root, state, sockets, runc root, logs, CNI dirs) lives under BASE;
# the runtime handlers kata, kata-cc and runc are all io.containerd.runc.v2 with /usr/bin/runc, so pods
# carry the Kata handler names end to end while running as plain runc containers.
#
#   containerd.sh up      BASE         build the pause image, render the config, start, import the image
#   containerd.sh start   BASE         start containerd (after stop), wait for its socket
#   containerd.sh stop    BASE         SIGTERM containerd only: shims and pods keep running (restart tests)
#   containerd.sh cleanup BASE [TOP]   stop containerd, kill our shims and the processes in our cgroups,
#                                      unmount what is left under BASE, remove cgroups named TOP (depth
#                                      first, every hierarchy), rm -rf BASE. Idempotent.
#   containerd.sh watch   BASE TOP PID run `cleanup BASE TOP` once process PID is gone (a crash guard)
#
# The socket is BASE/containerd.sock; the sandbox image is $IMAGE below. Needs root, containerd, ctr,
# runc, gcc and libc6-dev (static libc), tar and sha256sum.
# Why some settings (found running Debian 12's containerd 1.6.20 + runc 1.1.5 in a container):
# - restrict_oom_score_adj = true: without CAP_SYS_RESOURCE runc cannot set the sandbox's
#   oom_score_adj -998 ("can't get final child's PID from pipe: EOF").
# - no CNI: only hostNetwork sandboxes (NamespaceMode NODE) run, and they need an empty hostname.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
IMAGE="registry.local/uvm-sizer-test/pause:1.0"

log() { echo "[containerd.sh] $*" >&2; }
die() { log "$*"; exit 1; }

cmd="${1:-}"
BASE="${2:-}"
[ -n "$cmd" ] && [ -n "$BASE" ] || { sed -n '2,16p' "$0" >&2; exit 2; }
case "$BASE" in /*) ;; *) die "BASE must be an absolute path, got '$BASE'";; esac
[ "$BASE" != "/" ] || die "refusing BASE=/"
SOCK="$BASE/containerd.sock"
PIDFILE="$BASE/containerd.pid"

oci_arch() {
  case "$(uname -m)" in
    x86_64) echo amd64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

# Writes $1 into the OCI blob store; prints "<sha256 hex> <size>".
put_blob() {
  local file="$1" digest size
  digest="$(sha256sum "$file" | cut -d' ' -f1)"
  size="$(stat -c %s "$file")"
  mv "$file" "$BASE/build/oci/blobs/sha256/$digest"
  echo "$digest $size"
}

# An OCI image layout tarball (image-spec v1.0: oci-layout, index.json, blobs/sha256/*) holding one
# uncompressed layer with /pause; `ctr images import` reads it, taking the name from the index
# annotation io.containerd.image.name.
build_image() {
  local b="$BASE/build" arch layer config manifest
  arch="$(oci_arch)"
  rm -rf "$b/rootfs" "$b/oci"
  mkdir -p "$b/rootfs" "$b/oci/blobs/sha256"
  gcc -O2 -static -o "$b/rootfs/pause" "$HERE/pause.c"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$b/rootfs" -cf "$b/layer.tar" pause
  read -r layer layer_size < <(put_blob "$b/layer.tar")
  printf '{"architecture":"%s","os":"linux","config":{"Entrypoint":["/pause"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$arch" "$layer" > "$b/config.json"
  read -r config config_size < <(put_blob "$b/config.json")
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$config_size" "$layer" "$layer_size" > "$b/manifest.json"
  read -r manifest manifest_size < <(put_blob "$b/manifest.json")
  printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"1.0"}}]}' \
    "$manifest" "$manifest_size" "$arch" "$IMAGE" > "$b/oci/index.json"
  echo '{"imageLayoutVersion":"1.0.0"}' > "$b/oci/oci-layout"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$b/oci" -cf "$b/pause-image.tar" .
}

runtime_table() {  # $1 = handler name
  cat <<EOF
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1]
      runtime_type = "io.containerd.runc.v2"
      pod_annotations = ["io.katacontainers.*"]
      container_annotations = ["io.katacontainers.*"]
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1.options]
        BinaryName = "/usr/bin/runc"
        Root = "$BASE/runc"
        SystemdCgroup = false
EOF
}

render_config() {
  mkdir -p "$BASE"/{root,state,runc,opt,pods,cni/bin,cni/net.d}
  cat > "$BASE/config.toml" <<EOF
# Rendered by tests/integration/harness/containerd.sh; containerd 1.6 config format version 2.
version = 2
root = "$BASE/root"
state = "$BASE/state"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$SOCK"
  # The kubelet's limit; uvm-sizer's client uses the same.
  max_recv_message_size = 16777216
  max_send_message_size = 16777216

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = "$BASE/debug.sock"
  level = "info"

[metrics]
  # Off unless asked: UVM_CTRD_METRICS_ADDRESS=127.0.0.1:PORT serves /v1/metrics (the profiler's cross-check).
  address = "${UVM_CTRD_METRICS_ADDRESS:-}"

[plugins."io.containerd.internal.v1.opt"]
  path = "$BASE/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$IMAGE"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

$(runtime_table runc)

$(runtime_table kata)

$(runtime_table kata-cc)

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$BASE/cni/bin"
    conf_dir = "$BASE/cni/net.d"
EOF
}

running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  # The pid file may be stale and the pid reused: it must be our containerd.
  case "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" in
    *"containerd --config $BASE/config.toml"*) ;;
    *) return 1 ;;
  esac
  echo "$pid"
}

start() {
  command -v containerd >/dev/null || die "containerd not found (Debian: apt-get install containerd runc)"
  [ -f "$BASE/config.toml" ] || die "$BASE/config.toml missing: run 'up' first"
  if pid="$(running_pid)"; then log "containerd already running (pid $pid)"; return 0; fi
  rm -f "$SOCK"
  # Own session and no inherited descriptors: the test's signals and pipes stay the test's.
  setsid containerd --config "$BASE/config.toml" >>"$BASE/containerd.log" 2>&1 </dev/null &
  echo $! > "$PIDFILE"
  for _ in $(seq 1 150); do
    if [ -S "$SOCK" ] && ctr --address "$SOCK" version >/dev/null 2>&1; then
      log "containerd $(cat "$PIDFILE") listening on $SOCK"
      return 0
    fi
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.1
  done
  log "containerd did not come up; last lines of $BASE/containerd.log:"
  tail -n 20 "$BASE/containerd.log" >&2 || true
  return 1
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; log "containerd $pid killed"; else log "containerd $pid stopped"; fi
  fi
  rm -f "$PIDFILE"
}

# Shims started by this containerd carry "-address $SOCK" on their command line.
our_shims() {
  local p
  for p in /proc/[0-9]*; do
    local line
    line="$(tr '\0' ' ' < "$p/cmdline" 2>/dev/null)" || continue
    case "$line" in *containerd-shim*" -address $SOCK "*) echo "${p#/proc/}" ;; esac
  done
  return 0
}

cgroup_dirs() {  # every directory named TOP at the top of a cgroup hierarchy
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [ -L "${h%/}" ] && continue  # cpu -> cpu,cpuacct: visit the real one once
    [ -d "$h$1" ] && echo "$h$1"
  done
  return 0
}

cleanup() {
  local top="${1:-}" s d pids
  stop
  for s in $(our_shims); do log "killing shim $s"; kill -TERM "$s" 2>/dev/null || true; done
  if [ -n "$top" ]; then
    case "$top" in */*|.|..) die "TOP must be one plain name, got '$top'";; esac
    # Pod processes outlive a killed shim; everything in our cgroups is ours.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      pids="$(for d in $(cgroup_dirs "$top"); do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u)"
      [ -z "$pids" ] && break
      kill -KILL $pids 2>/dev/null || true
      sleep 0.1
    done
  fi
  for s in $(our_shims); do kill -KILL "$s" 2>/dev/null || true; done
  # Lazy-unmount leftovers (rootfs overlays, shm) below BASE, deepest first.
  awk -v b="$BASE/" 'index($2, b) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null && log "unmounted $m"
  done
  if [ -n "$top" ]; then
    for _ in 1 2 3 4 5; do
      for d in $(cgroup_dirs "$top"); do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
      [ -z "$(cgroup_dirs "$top")" ] && break
      sleep 0.2
    done
    for d in $(cgroup_dirs "$top"); do log "WARNING: could not remove cgroup $d"; done
  fi
  rm -rf "$BASE"
  return 0
}

watch_owner() {  # $1 = TOP, $2 = PID
  local top="$1" owner="$2"
  [ -n "$top" ] && [ -n "$owner" ] || die "watch needs BASE TOP PID"
  while kill -0 "$owner" 2>/dev/null && [ -d "$BASE" ]; do sleep 0.5; done
  [ -d "$BASE" ] && cleanup "$top"
  return 0
}

case "$cmd" in
  up)
    mkdir -p "$BASE/build"
    build_image
    render_config
    start
    ctr --address "$SOCK" -n k8s.io images import "$BASE/build/pause-image.tar" >/dev/null
    # Not grep -q: it exits at the first match, and ctr, killed by SIGPIPE, then fails the pipeline (pipefail).
    ctr --address "$SOCK" -n k8s.io images ls -q | grep -x "$IMAGE" >/dev/null || die "image $IMAGE not imported"
    log "image $IMAGE imported"
    ;;
  start) start ;;
  stop) stop ;;
  cleanup) cleanup "${3:-}" ;;
  watch) watch_owner "${3:-}" "${4:-}" ;;
  *) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
