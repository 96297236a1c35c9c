#!/usr/bin/env bash
# Run a command as root inside a cgroup-v2-only Linux guest (qemu), on the host's own files.
#
# usage: tests/guest/run.sh [options] [--] CMD [ARGS...]
#
# The guest boots Debian's kernel with cgroup_no_v1=all,named (no v1 hierarchy at all), mounts
# cgroup2 at /sys/fs/cgroup (nsdelegate,memory_recursiveprot) with every controller enabled in
# the root's cgroup.subtree_control, and runs CMD in the host's root filesystem (shared read-write over
# virtio-9p) with fresh /proc, /sys, /dev and tmpfs over /run and /tmp, in the caller's working
# directory. CMD's stdout and stderr stream to run.sh's; run.sh exits with CMD's status.
#
# options:
#   --timeout SECS   kill the guest after SECS seconds (default $RT_GUEST_TIMEOUT or 900)
#   --mem SIZE       guest memory, qemu syntax (default $RT_GUEST_MEM or 2G)
#   --cpus N         vCPUs (default $RT_GUEST_CPUS or 2)
#   -e NAME=VALUE    set NAME in CMD's environment; -e NAME passes the caller's value
#   -C DIR           working directory (default: the current one; must not be under /tmp or /run)
#   --cgroup NAME    run CMD in /sys/fs/cgroup/NAME (default: in the root cgroup)
#   --modules "M.."  load these kernel modules before CMD (default: $RT_GUEST_MODULES or "loop",
#                    whose /dev node only exists once loaded; others load on demand anyway)
#   --console        copy the guest's console (kernel messages, boot steps) to stderr live
#   --keep           keep the run directory (target/guest/runs/...) for inspection
#
# CMD's environment: PATH, HOME, LANG, LC_ALL, TZ, CI, RUST_BACKTRACE, RUST_LOG, RUST_TEST_*,
# RUST_MIN_STACK, CARGO_TERM_COLOR, NO_COLOR and every RT_* variable of the caller, the -e ones,
# TERM=dumb, and RT_GUEST=1. Exit status: CMD's; 124 on timeout; 125 when the guest failed
# (boot failure, kernel panic, missing qemu/kernel), with a loud message on stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}

timeout=${RT_GUEST_TIMEOUT:-900}
mem=${RT_GUEST_MEM:-2G}
cpus=${RT_GUEST_CPUS:-2}
cwd=$PWD
cgroup=
modules=${RT_GUEST_MODULES:-loop}
console=0
keep=0
envs=()

usage() {
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}
die() {
    {
        echo
        echo "################################################################################"
        echo "## rt guest FAILED: $*"
        echo "################################################################################"
    } >&2
    exit 125
}
valid_name() { [[ $1 =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; }

while (($#)); do
    case $1 in
    --timeout) timeout=${2:?--timeout needs a value} && shift 2 ;;
    --mem) mem=${2:?--mem needs a value} && shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a value} && shift 2 ;;
    -e)
        e=${2:?-e needs NAME=VALUE or NAME}
        if [[ $e != *=* ]]; then
            valid_name "$e" || die "bad -e $e"
            [[ -v $e ]] && envs+=("$e=${!e}")
        else
            valid_name "${e%%=*}" || die "bad -e ${e%%=*}"
            envs+=("$e")
        fi
        shift 2
        ;;
    -C) cwd=${2:?-C needs a directory} && shift 2 ;;
    --cgroup) cgroup=${2:?--cgroup needs a name} && shift 2 ;;
    --modules) modules=${2?--modules needs a list} && shift 2 ;;
    --console) console=1 && shift ;;
    --keep) keep=1 && shift ;;
    -h | --help) usage 0 ;;
    --) shift && break ;;
    -*) echo "run.sh: unknown option $1" >&2 && usage ;;
    *) break ;;
    esac
done
(($#)) || usage
[[ $timeout =~ ^[0-9]+$ && $timeout -gt 0 ]] || die "bad --timeout $timeout"
[[ $cpus =~ ^[0-9]+$ && $cpus -gt 0 ]] || die "bad --cpus $cpus"
cwd=$(cd "$cwd" && pwd -P) || die "no such directory: $cwd"
# The guest has tmpfs over /tmp and /run; a working directory under them (a CI checkout in
# /tmp, say) is carried over into the guest with a bind mount (rt.share=).
share=
case $cwd/ in
/tmp/* | /run/*)
    case $cwd in *[[:space:]]*) die "working directory $cwd: a path under /tmp or /run with spaces cannot be shared" ;; esac
    share=$cwd ;;
esac
case $cgroup in
'' | [A-Za-z0-9_]*) ;;
*) die "bad --cgroup $cgroup" ;;
esac
[[ $cgroup != *..* ]] || die "bad --cgroup $cgroup"

# qemu, kernel, initramfs: prepare.sh is quick when all is cached.
"$here/prepare.sh" >&2 || die "tests/guest/prepare.sh failed: no qemu or guest kernel (see above)"
# shellcheck source=/dev/null
source "$cache/guest.env"
# shellcheck source=SCRIPTDIR/qemu.sh
source "$here/qemu.sh"

# Accelerator: KVM only when it can run an ordinary guest. This machine kind's /dev/kvm is PVM
# (kvm_pvm, no vmx/svm), which cannot run Debian's kernel: use TCG there.
accel=${RT_GUEST_ACCEL:-}
if [[ -z $accel ]]; then
    accel=tcg
    if [[ -r /dev/kvm && -w /dev/kvm && ! -d /sys/module/kvm_pvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
        accel=kvm
    fi
fi
if [[ $accel == kvm ]]; then cpu=host; else cpu=max; fi

mkdir -p "$cache/runs"
# Run dirs kept by --keep or after a failure: drop those older than a day.
find "$cache/runs" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
run=$(mktemp -d "$cache/runs/run.XXXXXX")
qpid=
cpids=()
# shellcheck disable=SC2317 # (called by trap)
cleanup() {
    if [[ -n $qpid ]]; then kill "$qpid" 2>/dev/null || true; fi
    for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
    if ((keep)); then echo "run.sh: kept $run" >&2; else rm -rf "$run"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# What the guest runs.
q() { local s=${1//\'/\'\\\'\'} && printf "'%s'" "$s"; } # POSIX sh single-quoting
{
    printf 'RT_GUEST_MODDIR=%s\n' "$(q "$RT_GUEST_MODDIR")"
    printf 'RT_GUEST_CMD_CGROUP=%s\n' "$(q "$cgroup")"
    printf 'RT_GUEST_MODULES=%s\n' "$(q "$modules")"
} >"$run/config"

cmdenv=("PATH=$PATH" "HOME=${HOME:-/root}" "TERM=dumb" "RT_GUEST=1")
while IFS= read -r name; do
    case $name in
    LANG | LC_ALL | TZ | CI | RUST_BACKTRACE | RUST_LOG | RUST_MIN_STACK | CARGO_TERM_COLOR | NO_COLOR | RUST_TEST_* | RT_*)
        [[ $name == RT_GUEST || $name == RT_GUEST_* ]] || cmdenv+=("$name=${!name}")
        ;;
    esac
done < <(compgen -e)
cmdenv+=("${envs[@]}")
{
    echo "cd -- $(q "$cwd") || exit 126"
    printf 'exec /run/rt-guest/busybox env -i'
    for e in "${cmdenv[@]}"; do printf ' %s' "$(q "$e")"; done
    for a in "$@"; do printf ' %s' "$(q "$a")"; done
    echo
} >"$run/cmd.sh"

mkfifo "$run/out" "$run/err"
: >"$run/console.log"

guest_boot "$RT_GUEST_INITRD" "console=ttyS0 quiet loglevel=4 panic=-1 cgroup_no_v1=all,named rdinit=/init i8042.noaux i8042.nokbd i8042.nopnp tsc=reliable rt.cache=${RT_GUEST_9P_CACHE:-loose}${share:+ rt.share=$share} ${RT_GUEST_APPEND:-}"
[[ -n ${RT_GUEST_VERBOSE:-} ]] && echo "run.sh: guest: ${boot:-?} s to the command, ${elapsed} s in all (accel $accel)" >&2

guest_exit guest 40
