#!/bin/bash
# The CRI tier: containerd's CRI plugin runs pods on rt, driven by tests/cri (a Rust CRI client,
# as the kubelet drives it), and the same flow on runc for reference.
#
#   tests/cri/run.sh [RT]        (as root; RT defaults to target/debug/rt)
#   make test-cri-v2             (the same inside the cgroup v2 qemu guest, tests/guest/)
#
# Installs containerd, runc, containernetworking-plugins and protobuf-compiler from Debian when
# missing; builds the client (target/cri) and lints it; builds a pause image (tests/cri/pause.c,
# static) and a busybox image (the bundle's rootfs, Debian's busybox-static) as OCI archives;
# starts a containerd of its own (config, root, state, sockets, CNI config under a temporary
# directory) with the runtime handlers `rt` and `runc`; runs the client; and on exit stops
# containerd and removes what the run made: shims, shim sockets, mounts, network namespaces,
# the CNI bridge, the cgroups under the run's own parent, the temporary directory.
# Ends with "N passed, M failed" (the client's); exits non-zero on any failure.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RT=$(realpath "${1:-$REPO/target/debug/rt}")
ROOTFS=$REPO/bundles/busybox/rootfs
TARGET_DIR=${CRI_TARGET_DIR:-$REPO/target/cri}
START=$(date +%s)

log() { echo "--- $*" >&2; }
die() {
    echo "tests/cri: $*" >&2
    exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root"
[ -x "$RT" ] && [ -x "$ROOTFS/bin/busybox" ] || die "need $RT and $ROOTFS (make build-debug bundle)"

# ---------------------------------------------------------------- install (Debian packages)
APT_UPDATED=
apt_install() {
    if [ -z "$APT_UPDATED" ]; then
        log "apt-get update"
        apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "$@" >/dev/null
}
CNI_BIN=/usr/lib/cni
RUNC=/usr/sbin/runc
missing=()
command -v containerd >/dev/null && command -v containerd-shim-runc-v2 >/dev/null &&
    command -v ctr >/dev/null || missing+=(containerd)
[ -x "$RUNC" ] || missing+=(runc)
[ -x "$CNI_BIN/bridge" ] && [ -x "$CNI_BIN/loopback" ] && [ -x "$CNI_BIN/host-local" ] ||
    missing+=(containernetworking-plugins)
command -v protoc >/dev/null || missing+=(protobuf-compiler)
command -v ip >/dev/null || missing+=(iproute2)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(gcc -print-file-name=libc.a | grep /)" ] ||
    missing+=(libc6-dev)
[ ${#missing[@]} = 0 ] || apt_install --no-install-recommends "${missing[@]}"
for f in containerd containerd-shim-runc-v2 ctr protoc ip; do
    command -v "$f" >/dev/null || die "$f is missing after the install"
done

# ---------------------------------------------------------------- the client: build and lint
# CRI_CLIENT=PATH runs a client built before (the v2 guest, where cargo would be slow).
CLIENT=${CRI_CLIENT:-}
if [ -z "$CLIENT" ]; then
    log "linting and building the CRI client (tests/cri, target dir $TARGET_DIR)"
    CARGO=${CARGO:-cargo}
    MANIFEST=$HERE/Cargo.toml
    "$CARGO" fmt --manifest-path "$MANIFEST" -- --check || die "cargo fmt: tests/cri is not formatted"
    "$CARGO" clippy -q --manifest-path "$MANIFEST" --target-dir "$TARGET_DIR" --all-targets \
        --locked -- -D warnings || die "cargo clippy failed on tests/cri"
    "$CARGO" test -q --manifest-path "$MANIFEST" --target-dir "$TARGET_DIR" --locked >/dev/null ||
        die "the unit tests of tests/cri failed"
    "$CARGO" build -q --manifest-path "$MANIFEST" --target-dir "$TARGET_DIR" --locked ||
        die "cargo build failed on tests/cri"
    CLIENT=$TARGET_DIR/debug/rt-cri
fi
[ -x "$CLIENT" ] || die "no client at $CLIENT"
# CRI_PREPARE_ONLY=1: the packages and the client only (before a run in the v2 guest, which
# has no network and where cargo would be slow).
[ -z "${CRI_PREPARE_ONLY:-}" ] || exit 0

# ---------------------------------------------------------------- workspace and cleanup
W=$(mktemp -d /tmp/rt-cri.XXXXXX)
chmod 0711 "$W"
TAG=rtcri$$                        # the run's cgroup parent, CNI network and bridge names
CGROUP_PARENT=/$TAG
BRIDGE=$TAG
CONTAINERD_PID=
CLIENT_PID=
SOCK=$W/containerd.sock
SUBNET=10.250.250.                 # the pods' CNI network, 10.250.250.0/24 (no host address)
SHIM_SOCKETS=/run/containerd/s
# Directories that the shims or libcni may create on the host; removed afterwards when they
# did not exist before and are empty then.
HOST_DIRS=(/run/containerd/s /run/containerd /var/lib/cni/results /var/lib/cni)
HOST_DIRS_NEW=()
for d in "${HOST_DIRS[@]}"; do [ -e "$d" ] || HOST_DIRS_NEW+=("$d"); done

wait_for() { # wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# pids of the shims our containerd spawned (their command line names our socket).
our_shims() {
    local p
    for p in /proc/[0-9]*; do
        grep -q '^containerd-shim' "$p/comm" 2>/dev/null || continue
        { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "-address $SOCK " &&
            echo "${p#/proc/}"
    done
}

# Adds the ids (-id ID) of our running shims to the list of the run's sandboxes.
record_shim_ids() {
    local p
    for p in $(our_shims); do
        tr '\0' '\n' <"/proc/$p/cmdline" 2>/dev/null | sed -n '/^-id$/{n;p}'
    done >>"$W/sandbox-ids"
}

# The shim's socket is /run/containerd/s/<sha256 of ADDRESS/NAMESPACE/ID> (containerd 1.6's
# shim.SocketAddress): the sockets of the shims of this run, from the pods' ids it recorded.
remove_shim_sockets() {
    local id h
    [ -f "$W/sandbox-ids" ] || return 0
    sort -u "$W/sandbox-ids" | while read -r id; do
        h=$(printf '%s' "$SOCK/k8s.io/$id" | sha256sum | cut -d ' ' -f 1)
        rm -f "$SHIM_SOCKETS/$h" "$SHIM_SOCKETS/$h.debug"
    done
}

remove_cgroups() { # remove_cgroups DIR...: rmdir every cgroup under DIR, deepest first
    local d p
    for d in $(find "$@" -type d 2>/dev/null | sort -r); do
        case $d in */process_api*) continue ;; esac
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || true
        done
        rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; } || [ ! -d "$d" ] ||
            echo "cleanup: could not remove cgroup $d" >&2
    done
}

stop_pid() { # stop_pid PID SECONDS: TERM, wait, then KILL (only a process this script started)
    local pid=$1 secs=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_for "$secs" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? p m d
    set +e
    log "cleanup"
    [ -n "$CLIENT_PID" ] && kill -TERM "$CLIENT_PID" 2>/dev/null && wait "$CLIENT_PID" 2>/dev/null
    if [ -n "$CONTAINERD_PID" ]; then
        # What the client left (it removes its pods itself when it gets that far).
        for c in $(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null); do
            ctr -a "$SOCK" -n k8s.io tasks kill -a -s SIGKILL "$c" >/dev/null 2>&1
            ctr -a "$SOCK" -n k8s.io tasks delete -f "$c" >/dev/null 2>&1
        done
        stop_pid "$CONTAINERD_PID" 20
    fi
    record_shim_ids
    for p in $(our_shims); do
        kill -KILL "$p" 2>/dev/null
    done
    for _ in $(seq 50); do
        [ -z "$(our_shims)" ] && break
        sleep 0.1
    done
    remove_shim_sockets
    # Mounts under the workspace (rootfs overlays, shm, network namespaces), deepest first.
    for m in $(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    remove_cgroups /sys/fs/cgroup/{,*/}"$TAG"
    ip link del "$BRIDGE" 2>/dev/null
    rm -f /var/lib/cni/results/"$TAG"-* 2>/dev/null
    for d in "${HOST_DIRS_NEW[@]}"; do rmdir "$d" 2>/dev/null; done
    if [ -n "${KEEP_CRI_DIR:-}" ]; then
        echo "kept $W" >&2
    else
        rm -rf --one-file-system "$W"
    fi
    echo "cri tier: $(($(date +%s) - START)) s" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "rt: $RT ($("$RT" --version | head -n 1)); workspace $W"

# ---------------------------------------------------------------- images (no registry)
PAUSE_IMAGE=localhost/rt-cri-pause:1
BUSYBOX_IMAGE=localhost/rt-cri-busybox:1
mkdir -p "$W/images/pause-rootfs"
gcc -static -Os -s -Wall -Wextra -Werror -o "$W/images/pause-rootfs/pause" "$HERE/pause.c"
tar -C "$W/images/pause-rootfs" -cf "$W/images/pause-rootfs.tar" .
python3 "$REPO/tests/engines/mkimage.py" "$W/images/pause-rootfs.tar" "$W/images/pause.tar" \
    "$PAUSE_IMAGE" --entrypoint /pause --user 65535:65535
tar -C "$ROOTFS" -cf "$W/images/busybox-rootfs.tar" .
python3 "$REPO/tests/engines/mkimage.py" "$W/images/busybox-rootfs.tar" "$W/images/busybox.tar" \
    "$BUSYBOX_IMAGE"

# ---------------------------------------------------------------- CNI (the pod network)
mkdir -p "$W/cni/net.d" "$W/cni/ipam"
cat >"$W/cni/net.d/10-$TAG.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$TAG",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": false,
      "ipMasq": false,
      "hairpinMode": false,
      "ipam": {
        "type": "host-local",
        "dataDir": "$W/cni/ipam",
        "ranges": [[{ "subnet": "${SUBNET}0/24" }]]
      }
    },
    { "type": "loopback" }
  ]
}
EOF

# ---------------------------------------------------------------- containerd
runtime_conf() { # runtime_conf NAME BINARY
    cat <<EOF
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.$1.options]
  BinaryName = "$2"
  Root = "$W/runtime-root/$1"
  SystemdCgroup = false
EOF
}
mkdir -p "$W/logs"
{
    cat <<EOF
version = 2
root = "$W/root"
state = "$W/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = "$W/debug.sock"
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This host has no CAP_SYS_RESOURCE: the sandbox's oom_score_adj (-998) cannot be set.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
[plugins."io.containerd.grpc.v1.cri".cni]
  bin_dir = "$CNI_BIN"
  conf_dir = "$W/cni/net.d"
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "rt"
  snapshotter = "overlayfs"
EOF
    runtime_conf rt "$RT"
    runtime_conf runc "$RUNC"
} >"$W/config.toml"

containerd --config "$W/config.toml" >"$W/containerd.log" 2>&1 &
CONTAINERD_PID=$!
if ! wait_for 60 ctr -a "$SOCK" version; then
    tail -n 30 "$W/containerd.log" >&2
    die "containerd did not come up"
fi
log "containerd $(containerd --version | awk '{ print $3 }') up (pid $CONTAINERD_PID)"
for img in pause busybox; do
    ctr -a "$SOCK" -n k8s.io images import "$W/images/$img.tar" >/dev/null ||
        die "ctr images import $img.tar failed"
done

# ---------------------------------------------------------------- the flow
if [ -n "${CRI_HOLD:-}" ]; then # debugging aid: containerd stays up for a client run by hand
    echo "containerd: $SOCK (CRI_HOLD: kill $$ to stop); client: $CLIENT --socket $SOCK" \
        "--dir $W --cgroup-parent $CGROUP_PARENT --image $BUSYBOX_IMAGE --bridge $BRIDGE" \
        "--subnet $SUBNET --sandbox-ids $W/sandbox-ids" >&2
    sleep "$CRI_HOLD" &
    wait $! || true
    exit 0
fi
: >"$W/client.out"
# In the background, so that a signal to this script ends the run (and the trap cleans up)
# without waiting for the client.
"$CLIENT" --socket "$SOCK" --dir "$W" --cgroup-parent "$CGROUP_PARENT" \
    --image "$BUSYBOX_IMAGE" --bridge "$BRIDGE" --subnet "$SUBNET" --sandbox-ids "$W/sandbox-ids" \
    --handlers "${CRI_HANDLERS:-rt,runc}" --rounds "${CRI_ROUNDS:-2}" >"$W/client.out" 2>&1 &
CLIENT_PID=$!
tail -n +1 -f --pid "$CLIENT_PID" "$W/client.out" &
TAIL_PID=$!
rc=0
wait "$CLIENT_PID" || rc=$?
CLIENT_PID=
wait "$TAIL_PID" 2>/dev/null || true
if [ -d "$TARGET_DIR" ]; then
    cp "$W/client.out" "$TARGET_DIR/latest.txt"
    cp "$W/containerd.log" "$TARGET_DIR/containerd.log"
fi
if [ "$rc" != 0 ]; then
    echo "--- containerd.log (last 40 lines)" >&2
    tail -n 40 "$W/containerd.log" >&2
fi
exit "$rc"
