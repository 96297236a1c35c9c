#!/usr/bin/env bash
# Self-test of the cgroup v2 guest runner: boots the guest three times and checks that
#  - the guest is pure cgroup v2: cgroup.controllers lists memory and cpu (all enabled in the
#    root's subtree_control), and no cgroup v1 hierarchy can be mounted;
#  - a cgroup with memory.max=32M OOM-kills a busybox sh filler (exit 137, oom_kill in
#    memory.events);
#  - overlay, tmpfs, proc, sysfs, devpts, mqueue and cgroup2 mount in a new mount namespace, and
#    pivot_root works into a rootfs on the 9p-shared host root and into an overlay;
#  - the command's exit status comes back (exit 3 -> run.sh exits 3);
#  - --timeout kills a hung guest (exit 124).
# usage: tests/guest/selftest.sh   (prints timings; exits non-zero on any failure)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${RT_GUEST_CACHE:-$repo/target/guest}
run=$here/run.sh
fails=0
pass() { echo "selftest: ok   $*"; }
fail() {
    echo "selftest: FAIL $*" >&2
    fails=$((fails + 1))
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }

t0=$(now)
"$here/prepare.sh"
t1=$(now)
echo "selftest: prepare.sh took $(secs "$t0" "$t1") s"

# A tiny rootfs on the host's disk (so on the 9p share in the guest), for pivot_root.
work=$cache/selftest
rm -rf "$work" && mkdir -p "$work/rootfs"/{bin,proc,sys,dev,tmp,old}
cp "$cache/bin/busybox" "$work/rootfs/bin/busybox"
ln -s busybox "$work/rootfs/bin/sh"

cat >"$work/guest-checks.sh" <<'EOF'
# runs inside the guest, as root, under /bin/sh
BB=$1
R=$2
n=0
ok() { echo "guest: ok   $*"; }
bad() { echo "guest: FAIL $*"; n=$((n + 1)); }
CG=/sys/fs/cgroup

[ "$RT_GUEST" = 1 ] && ok "RT_GUEST=1 in the environment" || bad "RT_GUEST not set"
ctrls=$(cat $CG/cgroup.controllers)
echo "guest: cgroup.controllers: $ctrls"
for c in memory cpu pids io cpuset; do
    case " $ctrls " in *" $c "*) ok "controller $c available" ;; *) bad "controller $c missing" ;; esac
done
[ "$(cat $CG/cgroup.subtree_control)" = "$ctrls" ] && ok "all controllers enabled in the root's subtree_control" ||
    bad "subtree_control is '$(cat $CG/cgroup.subtree_control)'"
grep -q ' /sys/fs/cgroup cgroup2 .*nsdelegate.*memory_recursiveprot' /proc/mounts &&
    ok "cgroup2 at /sys/fs/cgroup with nsdelegate,memory_recursiveprot" || bad "cgroup2 mount: $(grep cgroup /proc/mounts)"
awk '$3 == "cgroup"' /proc/mounts | grep -q . && bad "a cgroup v1 hierarchy is mounted" || ok "no cgroup v1 hierarchy mounted"
mkdir -p /tmp/v1
v1=0
for c in memory cpu cpuacct cpuset pids blkio devices freezer net_cls perf_event hugetlb rdma misc; do
    if mount -t cgroup -o "$c" none /tmp/v1 2>/dev/null; then
        bad "cgroup v1 '$c' hierarchy mountable"
        umount /tmp/v1
        v1=1
    fi
done
if mount -t cgroup -o none,name=selftest none /tmp/v1 2>/dev/null; then
    bad "named cgroup v1 hierarchy mountable"
    umount /tmp/v1
    v1=1
fi
[ $v1 = 0 ] && ok "no cgroup v1 hierarchy mountable (every controller, and named ones)"
[ "$(cat /proc/self/cgroup)" = "0::/" ] && ok "the command runs in the root cgroup (0::/)" || bad "/proc/self/cgroup: $(cat /proc/self/cgroup)"

# OOM: memory.max=32M, a busybox sh filler doubling a string.
O=$CG/selftest-oom
mkdir $O && echo 32M >$O/memory.max && echo 0 >$O/memory.swap.max 2>/dev/null
$BB sh -c "echo \$\$ >$O/cgroup.procs && x=0123456789abcdef && while :; do x=\$x\$x; done"
rc=$?
[ $rc = 137 ] && ok "filler in memory.max=32M killed (exit $rc)" || bad "filler exit $rc, not 137"
grep -q '^oom_kill [1-9]' $O/memory.events && ok "memory.events: $(tr '\n' ' ' <$O/memory.events)" ||
    bad "memory.events: $(tr '\n' ' ' <$O/memory.events)"
rmdir $O || bad "rmdir $O"

# Mounts a container needs, in a new mount+pid namespace.
unshare -m -p -f sh -c '
    set -e
    mount --make-rprivate /
    mkdir -p /tmp/m/proc /tmp/m/sys /tmp/m/pts /tmp/m/mq /tmp/m/cg /tmp/m/t
    mount -t tmpfs tmpfs /tmp/m/t
    mount -t proc proc /tmp/m/proc
    mount -t sysfs sysfs /tmp/m/sys
    mount -t devpts -o newinstance,ptmxmode=0666 devpts /tmp/m/pts
    mount -t mqueue mqueue /tmp/m/mq
    mount -t cgroup2 cgroup2 /tmp/m/cg
    echo mounts-ok
' | grep -q mounts-ok && ok "tmpfs, proc, sysfs, devpts, mqueue, cgroup2 mount in a new mount+pid namespace" ||
    bad "container mounts"
mkdir -p /tmp/o/u /tmp/o/w /tmp/o/m
if mount -t overlay overlay -o "lowerdir=$R,upperdir=/tmp/o/u,workdir=/tmp/o/w" /tmp/o/m; then
    ok "overlay (lower on the 9p share, upper on tmpfs)"
else
    bad "overlay mount"
fi
for root in "$R" /tmp/o/m; do
    out=$(unshare -m sh -c "mount --make-rprivate / && mount --bind $root $root && cd $root && pivot_root . old &&
        /bin/busybox umount -l /old && /bin/busybox cat /proc/self/mountinfo 2>/dev/null | /bin/busybox wc -l; /bin/busybox ls /bin/busybox")
    case $out in *"/bin/busybox"*) ok "pivot_root into $root" ;; *) bad "pivot_root into $root: $out" ;; esac
done
echo "guest: $n failure(s)"
exit $n
EOF

t2=$(now)
if RT_GUEST_VERBOSE=1 "$run" -- sh "$work/guest-checks.sh" "$cache/bin/busybox" "$work/rootfs"; then
    pass "guest checks"
else
    fail "guest checks (exit $?)"
fi
t3=$(now)

rc=0
"$run" -- sh -c 'echo "to stdout"; echo "to stderr" >&2; exit 3' >"$work/out" 2>"$work/err" || rc=$?
t4=$(now)
check() { # description command...
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
check "exit status propagates (got $rc, want 3)" test "$rc" = 3
check "stdout streams back" test "$(cat "$work/out")" = "to stdout"
check "stderr streams back" grep -qx 'to stderr' "$work/err"

rc=0
"$run" --timeout 12 -- sleep 600 >"$work/out" 2>"$work/err" || rc=$?
t5=$(now)
if [[ $rc == 124 ]] && grep -q TIMEOUT "$work/err"; then
    pass "--timeout kills the guest (exit 124, $(secs "$t4" "$t5") s)"
else
    fail "--timeout: exit $rc: $(tail -3 "$work/err")"
fi

echo "selftest: times: guest checks $(secs "$t2" "$t3") s, exit-status boot $(secs "$t3" "$t4") s, total $(secs "$t0" "$t5") s"
rm -rf "$work"
if ((fails)); then
    echo "selftest: $fails FAILED" >&2
    exit 1
fi
echo "selftest: all passed"
