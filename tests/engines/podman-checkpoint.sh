# podman container checkpoint / restore through rt. Sourced by podman.sh (after the other podman
# checks) and by run.sh for ENGINES=podman-checkpoint (`make test-engines` runs that in the
# cgroup v2 guest: CRIU works on its kernel, not on this host's).
#
# Where CRIU works, podman checkpoints a counting container (rt checkpoint: CRIU dumps it, rt
# deletes it), restores it (conmon runs rt restore) and it counts on from where it was; then
# a checkpoint with --leave-running. Where it cannot, podman must say that the runtime does not
# support checkpointing (its probe, `rt checkpoint --help`, fails there) and leave the
# container alone.

cd "$W/scratch"
pm() { podman "$@"; }
pm_run() { podman run --network none $SECCOMP_OPT "$@"; }
COUNTER='i=0; while :; do echo $i; i=$((i+1)); sleep 0.2; done'

if criu check >/dev/null 2>&1; then
    pm_run -d --name pc --rootfs "$ROOTFS:O" /bin/sh -c "$COUNTER" >/dev/null 2>&1 || true
    PC=$(pm inspect --format '{{.Id}}' pc 2>/dev/null || true)
    wait_for 60 sh -c '[ "$(podman logs pc 2>/dev/null | wc -l)" -ge 3 ]' || true
    run_rc rc pm container checkpoint pc
    check podman-checkpoint test "$rc" = 0
    expect_eq podman-checkpoint-exited exited "$(pm inspect --format '{{.State.Status}}' pc 2>&1)"
    # rt checkpoint deleted the container: rt no longer knows it.
    run_rc rc "$RT" state "$PC"
    check podman-checkpoint-rt-state-gone test "$rc" != 0
    LINES=$(pm logs pc 2>/dev/null | wc -l)
    LAST=$(pm logs pc 2>/dev/null | tail -n 1)

    run_rc rc pm container restore pc
    check podman-restore test "$rc" = 0
    expect_eq podman-restore-running running "$(pm inspect --format '{{.State.Status}}' pc 2>&1)"
    expect_match podman-restore-rt-state '"status": *"running"' "$("$RT" state "$PC" 2>&1)"
    # The first line the restored process writes (conmon hands rt restore new pipes) is the
    # number after the last one before the checkpoint.
    wait_for 60 sh -c "[ \"\$(podman logs pc 2>/dev/null | wc -l)\" -gt $LINES ]" || true
    expect_eq podman-restore-counts-on "$((LAST + 1))" \
        "$(pm logs pc 2>/dev/null | sed -n "$((LINES + 1))p")"

    run_rc rc pm container checkpoint --leave-running pc
    check podman-checkpoint-leave-running test "$rc" = 0
    expect_eq podman-checkpoint-leave-running-running running \
        "$(pm inspect --format '{{.State.Status}}' pc 2>&1)"
    pm rm -f -t 0 pc >/dev/null 2>&1 || true
    run_rc rc "$RT" state "$PC"
    check podman-checkpoint-rm-rt-state-gone test "$rc" != 0
else
    pm_run -d --name pc --rootfs "$ROOTFS:O" /bin/sleep 1000 >/dev/null 2>&1 || true
    run_rc rc pm container checkpoint pc
    log "podman checkpoint without CRIU: $OUT"
    expect_match podman-checkpoint-unsupported 'does not support checkpoint' "$OUT"
    expect_eq podman-checkpoint-unsupported-still-running running \
        "$(pm inspect --format '{{.State.Status}}' pc 2>&1)"
    pm rm -f -t 0 pc >/dev/null 2>&1 || true
fi
