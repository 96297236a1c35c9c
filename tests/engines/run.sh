#!/bin/bash
# The engines tier: podman (through conmon), containerd (ctr + containerd-shim-runc-v2) and
# docker (dockerd -> that containerd -> the shim) drive rt unchanged.
#
#   tests/engines/run.sh [RT]        (as root; RT defaults to target/debug/rt)
#   ENGINES="podman containerd docker" selects the engines (default: all three);
#   ENGINES=podman-checkpoint runs only podman's checkpoint/restore checks.
#
# Installs podman, containerd and docker.io from Debian when missing, configures each in a
# temporary directory of its own (storage, state, sockets; no network; cgroupfs), starts the
# daemons, runs the checks (one PASS/FAIL line each), and on exit stops the daemons it started
# and removes everything it made: mounts and files under its directory, the cgroups it created.
# Ends with "N passed, M failed"; exits 1 on any failure.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RT=$(realpath "${1:-$REPO/target/debug/rt}")
ROOTFS=$REPO/bundles/busybox/rootfs
ENGINES=${ENGINES:-podman containerd docker}
START=$(date +%s)
# Debugging aid only (never set by `make test-engines`): ENGINES_SECCOMP=unconfined runs the
# podman and docker containers without the engines' default seccomp profile.
# ENGINES_DOCKER_RUNTIME=PATH registers PATH instead of rt as docker's "rt" runtime (e.g. a
# wrapper that logs argv or edits config.json, to tell rt's failures from the harness's).
SECCOMP_OPT=
[ "${ENGINES_SECCOMP:-}" = unconfined ] && SECCOMP_OPT="--security-opt seccomp=unconfined"

. "$HERE/lib.sh"

if [ "$(id -u)" != 0 ]; then
    echo "tests/engines: must run as root" >&2
    exit 1
fi
if [ ! -x "$RT" ] || [ ! -x "$ROOTFS/bin/busybox" ]; then
    echo "tests/engines: need $RT and $ROOTFS (make build-debug bundle)" >&2
    exit 1
fi

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
for engine in $ENGINES; do
    case $engine in
    podman | podman-checkpoint)
        command -v podman >/dev/null && command -v conmon >/dev/null || apt_install podman
        ;;
    containerd)
        command -v containerd >/dev/null && command -v containerd-shim-runc-v2 >/dev/null ||
            apt_install containerd
        ;;
    docker)
        command -v containerd >/dev/null && command -v containerd-shim-runc-v2 >/dev/null ||
            apt_install containerd
        command -v dockerd >/dev/null || apt_install --no-install-recommends docker.io
        ;;
    *)
        echo "tests/engines: unknown engine $engine" >&2
        exit 1
        ;;
    esac
done

# ---------------------------------------------------------------- workspace and cleanup
W=$(mktemp -d /tmp/rt-engines.XXXXXX)
chmod 0711 "$W"
TAG=rtengines$$                    # containerd namespaces and cgroup parents of this run
CTR_NS=$TAG
DOCKER_NS=$TAG-docker
DOCKER_CGROUP_PARENT=/$TAG-docker
CONTAINERD_PID=
DOCKERD_PID=
# Cgroups under libpod_parent before we start (podman's parent is shared with other users).
PODMAN_CG_BEFORE=$W/podman-cgroups-before
find /sys/fs/cgroup/libpod_parent /sys/fs/cgroup/*/libpod_parent -maxdepth 2 -type d 2>/dev/null |
    sort >"$PODMAN_CG_BEFORE" || true

stop_pid() { # stop_pid PID SECONDS: TERM, wait, then KILL (only processes this script started)
    local pid=$1 secs=$2
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    wait_for "$secs" sh -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# pids whose command line mentions our workspace: the conmons and shims our engines spawned.
our_helpers() {
    local p
    for p in /proc/[0-9]*; do
        [ "${p#/proc/}" = $$ ] && continue
        if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q -- "$W/" &&
            grep -Eq 'conmon|containerd-shim' "$p/comm" 2>/dev/null; then
            echo "${p#/proc/}"
        fi
    done
}

remove_cgroups() { # remove_cgroups LIST-FILE-OF-OLD-DIRS DIR...: rmdir new cgroups, deepest first
    local old=$1 d p
    shift
    for d in $(find "$@" -type d 2>/dev/null | sort -r); do
        grep -qxF "$d" "$old" 2>/dev/null && continue
        case $d in */process_api*) continue ;; esac
        # Leftover container processes in a cgroup we created are ours: kill them first.
        for p in $(cat "$d/cgroup.procs" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null || true
        done
        rmdir "$d" 2>/dev/null || { sleep 0.2; rmdir "$d" 2>/dev/null; } || [ ! -d "$d" ] ||
            echo "cleanup: could not remove cgroup $d" >&2
    done
}

cleanup() {
    local rc=$? p m
    set +e
    log "cleanup"
    if [ -n "${CONTAINERS_CONF:-}" ] && command -v podman >/dev/null; then
        podman rm -a -f -t 0 >/dev/null 2>&1
        podman rmi -a -f >/dev/null 2>&1
    fi
    if [ -n "$DOCKERD_PID" ]; then
        docker rm -f $(docker ps -aq 2>/dev/null) >/dev/null 2>&1
        stop_pid "$DOCKERD_PID" 20
    fi
    if [ -n "$CONTAINERD_PID" ]; then
        for ns in "$CTR_NS" "$DOCKER_NS"; do
            for t in $(ctr -n "$ns" task ls -q 2>/dev/null); do
                ctr -n "$ns" task kill -a -s SIGKILL "$t" >/dev/null 2>&1
                ctr -n "$ns" task delete -f "$t" >/dev/null 2>&1
            done
            for c in $(ctr -n "$ns" container ls -q 2>/dev/null); do
                ctr -n "$ns" container rm "$c" >/dev/null 2>&1
            done
        done
        stop_pid "$CONTAINERD_PID" 20
    fi
    for p in $(our_helpers); do
        kill -KILL "$p" 2>/dev/null
    done
    # Mounts under the workspace (overlays, shm, netns files), deepest first.
    for m in $(awk -v w="$W/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
    done
    # Ours alone (named after this run), in every v1 hierarchy or the v2 tree.
    remove_cgroups /dev/null /sys/fs/cgroup/{,*/}"$CTR_NS" /sys/fs/cgroup/{,*/}"$DOCKER_NS" \
        /sys/fs/cgroup{,/*}"$DOCKER_CGROUP_PARENT"
    # Shared with other podman users: only what appeared during this run.
    remove_cgroups "$PODMAN_CG_BEFORE" /sys/fs/cgroup/{,*/}libpod_parent
    if [ -n "${KEEP_ENGINES_DIR:-}" ]; then
        echo "kept $W" >&2
    else
        rm -rf --one-file-system "$W"
    fi
    echo "engines tier: $(($(date +%s) - START)) s" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/scratch" "$W/vol"
# The busybox bundle's rootfs as a tarball: imported as an image by podman and docker.
tar -C "$ROOTFS" -cf "$W/rootfs.tar" .

log "rt: $RT ($("$RT" --version | head -n 1)); workspace $W"

# ---------------------------------------------------------------- configuration
write_podman_conf() {
    local NOFILE NPROC
    NOFILE=$(ulimit -Hn)
    [ "$NOFILE" = unlimited ] && NOFILE=1048576
    NPROC=$(ulimit -Hu)
    { [ "$NPROC" = unlimited ] || [ "$NPROC" -gt 32768 ]; } && NPROC=32768
    mkdir -p "$W/podman/tmp" "$W/podman/net"
    cat >"$W/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$W/podman/graphroot"
runroot = "$W/podman/runroot"
EOF
    cat >"$W/podman/containers.conf" <<EOF
[containers]
log_driver = "k8s-file"
cgroups = "enabled"
# Without CAP_SYS_RESOURCE (as on the dev host, hard nofile 20000) podman's default nofile
# (1048576) cannot be set: use this machine's hard limit. default_ulimits replaces podman's
# whole list, so nproc is repeated.
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=$NPROC:$NPROC"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/podman/events.log"
tmp_dir = "$W/podman/tmp"
static_dir = "$W/podman/graphroot/libpod"
volume_path = "$W/podman/graphroot/volumes"
runtime = "rt"
# Names listed here get --log-format=json --log <userdata>/oci-log (podman reads errors from it).
runtime_supports_json = ["crun", "runc", "kata", "runsc", "krun", "rt"]

[engine.runtimes]
rt = ["$RT"]

[network]
network_config_dir = "$W/podman/net"
EOF
    export CONTAINERS_CONF=$W/podman/containers.conf
    export CONTAINERS_STORAGE_CONF=$W/podman/storage.conf
}

start_containerd() {
    [ -n "$CONTAINERD_PID" ] && return 0
    mkdir -p "$W/containerd"
    cat >"$W/containerd/config.toml" <<EOF
version = 2
root = "$W/containerd/root"
state = "$W/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$W/containerd/containerd.sock"
[ttrpc]
  address = "$W/containerd/containerd.sock.ttrpc"
[debug]
  address = "$W/containerd/debug.sock"
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "$W/containerd/opt"
EOF
    containerd --config "$W/containerd/config.toml" >"$W/containerd/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    export CONTAINERD_ADDRESS=$W/containerd/containerd.sock
    export CONTAINERD_NAMESPACE=$CTR_NS
    if ! wait_for 30 ctr version; then
        tail -n 20 "$W/containerd/containerd.log" >&2
        fail containerd-start "containerd did not come up"
        return 1
    fi
}

start_dockerd() {
    mkdir -p "$W/docker" "$W/docker-cli"
    cat >"$W/docker/daemon.json" <<EOF
{
  "data-root": "$W/docker/data",
  "exec-root": "$W/docker/exec",
  "pidfile": "$W/docker/dockerd.pid",
  "hosts": ["unix://$W/docker/docker.sock"],
  "containerd": "$W/containerd/containerd.sock",
  "containerd-namespace": "$DOCKER_NS",
  "containerd-plugins-namespace": "$DOCKER_NS-plugins",
  "cgroup-parent": "$DOCKER_CGROUP_PARENT",
  "iptables": false, "ip6tables": false, "ip-masq": false, "ip-forward": false,
  "bridge": "none", "userland-proxy": false,
  "storage-driver": "overlay2",
  "exec-opts": ["native.cgroupdriver=cgroupfs"],
  "runtimes": { "rt": { "path": "${ENGINES_DOCKER_RUNTIME:-$RT}" } },
  "default-runtime": "runc"
}
EOF
    dockerd --config-file "$W/docker/daemon.json" >"$W/docker/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    export DOCKER_HOST=unix://$W/docker/docker.sock
    export DOCKER_CONFIG=$W/docker-cli
    if ! wait_for 60 docker version; then
        tail -n 20 "$W/docker/dockerd.log" >&2
        fail dockerd-start "dockerd did not come up"
        return 1
    fi
}

# ---------------------------------------------------------------- the checks
for engine in $ENGINES; do
    t0=$(date +%s)
    case $engine in
    podman)
        write_podman_conf
        . "$HERE/podman.sh"
        ;;
    podman-checkpoint)
        # podman's checkpoint/restore checks alone (make test-engines runs them in the
        # cgroup v2 guest, where CRIU works).
        write_podman_conf
        . "$HERE/podman-checkpoint.sh"
        ;;
    containerd)
        start_containerd && . "$HERE/containerd.sh"
        ;;
    docker)
        start_containerd && start_dockerd && . "$HERE/docker.sh"
        ;;
    esac
    log "$engine: $(($(date +%s) - t0)) s"
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
