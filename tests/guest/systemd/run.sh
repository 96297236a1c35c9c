#!/usr/bin/env bash
# Run a command as root inside a Linux guest (qemu) whose PID 1 is systemd, with dbus up.
#
# usage: tests/guest/systemd/run.sh [--timeout SECS] [--mem SIZE] [--cpus N] [--console]
#                                   [--keep] [--] CMD [ARGS...]
#
# The guest boots the cgroup v2 tier's kernel (cgroup_no_v1=all: systemd runs on the unified
# hierarchy) into the Debian root made by prepare.sh (a tmpfs overlay over it: the cached root
# is never written), with the repository (and $CARGO_TARGET_DIR when outside it) bound at the
# same paths as on the host. systemd boots to rt-test.target: basic.target, dbus, and
# rt-test.service, which runs CMD in the caller's working directory (system.slice/
# rt-test.service cgroup). CMD's stdout and stderr stream to run.sh's; run.sh exits with its
# status; 124 on timeout; 125 when the guest failed, with a loud message.
#
# CMD's environment: PATH, HOME, LANG, LC_ALL, TZ, CI, RUST_*, CARGO_TERM_COLOR, NO_COLOR and
# RT_* of the caller, TERM=dumb, RT_GUEST=1 and RT_GUEST_SYSTEMD=1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}
timeout=${RT_GUEST_TIMEOUT:-900}
mem=${RT_GUEST_MEM:-2G}
cpus=${RT_GUEST_CPUS:-2}
console=0 keep=0
die() {
    {
        echo
        echo "################################################################################"
        echo "## rt systemd guest FAILED: $*"
        echo "################################################################################"
    } >&2
    exit 125
}
while (($#)); do
    case $1 in
    --timeout) timeout=${2:?} && shift 2 ;;
    --mem) mem=${2:?} && shift 2 ;;
    --cpus) cpus=${2:?} && shift 2 ;;
    --console) console=1 && shift ;;
    --keep) keep=1 && shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' && exit 0 ;;
    --) shift && break ;;
    -*) die "unknown option $1" ;;
    *) break ;;
    esac
done
(($#)) || die "no command"
cwd=$(pwd -P)
# The guest's systemd mounts a fresh /run; /tmp stays the root's directory, so a checkout
# under /tmp (a CI clone, say) is bound in like any other path.
case $cwd/ in /run/*) die "working directory $cwd: must not be under /run" ;; esac

"$here/prepare.sh" >&2 || die "tests/guest/systemd/prepare.sh failed (see above)"
# shellcheck source=/dev/null
source "$cache/guest.env"
# shellcheck source=SCRIPTDIR/../qemu.sh
source "$here/../qemu.sh"
# shellcheck source=/dev/null
source "$cache/systemd.env"

binds=$repo
if [[ -n ${CARGO_TARGET_DIR:-} ]]; then
    t=$(cd "$CARGO_TARGET_DIR" 2>/dev/null && pwd -P || true)
    [[ -n $t && $t != "$repo"/* ]] && binds+=",$t"
fi
[[ $cwd == "$repo" || $cwd == "$repo"/* ]] || binds+=",$cwd"
[[ $binds != *[[:space:]]* ]] || die "paths with spaces cannot be shared: $binds"

accel=${RT_GUEST_ACCEL:-tcg}
if [[ -z ${RT_GUEST_ACCEL:-} && -r /dev/kvm && -w /dev/kvm && ! -d /sys/module/kvm_pvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
    accel=kvm
fi
if [[ $accel == kvm ]]; then cpu=host; else cpu=max; fi

mkdir -p "$cache/runs"
run=$(mktemp -d "$cache/runs/systemd.XXXXXX")
qpid=
cpids=()
# shellcheck disable=SC2317 # (called by trap)
cleanup() {
    [[ -z $qpid ]] || kill "$qpid" 2>/dev/null || true
    for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
    if ((keep)); then echo "run.sh: kept $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

q() { local s=${1//\'/\'\\\'\'} && printf "'%s'" "$s"; }
cmdenv=("PATH=$PATH" "HOME=${HOME:-/root}" "TERM=dumb" "RT_GUEST=1" "RT_GUEST_SYSTEMD=1")
while IFS= read -r name; do
    case $name in
    LANG | LC_ALL | TZ | CI | RUST_* | CARGO_TERM_COLOR | NO_COLOR | CARGO_TARGET_DIR | RT_*)
        [[ $name == RT_GUEST || $name == RT_GUEST_* ]] || cmdenv+=("$name=${!name}")
        ;;
    esac
done < <(compgen -e)
{
    echo "cd -- $(q "$cwd") || exit 126"
    printf 'exec env -i'
    for e in "${cmdenv[@]}"; do printf ' %s' "$(q "$e")"; done
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    echo
} >"$run/cmd.sh"
mkfifo "$run/out" "$run/err"
: >"$run/console.log"

guest_boot "$RT_SYSTEMD_INITRD" "console=ttyS0 quiet loglevel=4 panic=-1 cgroup_no_v1=all,named rdinit=/sdinit i8042.noaux i8042.nokbd i8042.nopnp tsc=reliable systemd.show_status=0 systemd.log_target=console systemd.log_level=warning rt.sdroot=$RT_SYSTEMD_ROOT rt.bind=$binds rt.moddir=$RT_GUEST_MODDIR rt.cache=${RT_GUEST_9P_CACHE:-loose} ${RT_GUEST_APPEND:-}"
echo "run.sh: systemd guest: ${boot:-?} s to the command, ${elapsed} s in all (accel $accel)" >&2
guest_exit "systemd guest" 60
