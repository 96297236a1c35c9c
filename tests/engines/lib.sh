# Helpers shared by the engine checks (sourced by run.sh).
# Every check prints one line "PASS name" or "FAIL name: why"; run.sh counts them.

PASSED=0
FAILED=0
FAILED_NAMES=()

pass() {
    PASSED=$((PASSED + 1))
    echo "PASS $1"
}

fail() {
    FAILED=$((FAILED + 1))
    FAILED_NAMES+=("$1")
    echo "FAIL $1: $2"
}

# check NAME CMD...: PASS when CMD exits 0.
check() {
    local name=$1
    shift
    local out
    if out=$("$@" 2>&1); then
        pass "$name"
    else
        fail "$name" "$(printf '%s' "$out" | tail -n 5 | tr '\n' ' ')"
    fi
}

# expect_eq NAME EXPECTED ACTUAL
expect_eq() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected [$2], got [$(printf '%s' "$3" | head -c 600 | tr '\n' '|')]"
    fi
}

# expect_match NAME EXTENDED-REGEX ACTUAL
expect_match() {
    if printf '%s' "$3" | grep -Eq -- "$2"; then
        pass "$1"
    else
        fail "$1" "no match for /$2/ in [$(printf '%s' "$3" | head -c 600 | tr '\n' '|')]"
    fi
}

# run_rc VAR CMD...: runs CMD (stdout+stderr captured in OUT), its exit status in VAR.
run_rc() {
    local __var=$1
    shift
    set +e
    OUT=$("$@" 2>&1)
    printf -v "$__var" '%s' "$?"
    set -e
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s until it succeeds.
wait_for() {
    local deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@" >/dev/null 2>&1; do
        if [ "$(date +%s)" -ge "$deadline" ]; then
            return 1
        fi
        sleep 0.1
    done
}

# This host is cgroup v1 (hybrid); on a unified (v2-only) host the same checks read the v2
# equivalents.
CGV2=
[ -f /sys/fs/cgroup/cgroup.controllers ] && CGV2=1

# cgdir CONTROLLER CGROUPS-PATH: a container's cgroup directory.
cgdir() {
    if [ -n "$CGV2" ]; then echo "/sys/fs/cgroup$2"; else echo "/sys/fs/cgroup/$1$2"; fi
}

# cg CONTROLLER CGROUPS-PATH V1-FILE: prints a cgroup file of a container, in v1 terms.
cg() {
    local d
    d=$(cgdir "$1" "$2")
    if [ -z "$CGV2" ]; then
        cat "$d/$3"
        return
    fi
    case $3 in
    memory.limit_in_bytes) cat "$d/memory.max" ;;
    cpu.cfs_quota_us) cut -d ' ' -f 1 "$d/cpu.max" ;;
    cpu.shares) cat "$d/cpu.weight" ;; # runc's conversion: 512 -> 20
    freezer.state) sed 's/^1$/FROZEN/; s/^0$/THAWED/' "$d/cgroup.freeze" ;;
    *) cat "$d/$3" ;;
    esac
}

# Allocates and touches ~256 MiB in one go (dd's buffer): an OOM kill under a 32 MiB limit.
OOM_CMD='dd if=/dev/zero of=/dev/null bs=256M count=1'

log() {
    echo "--- $*" >&2
}
