# containerd 1.6 + ctr + containerd-shim-runc-v2 with `--runc-binary rt`. Sourced by run.sh
# (containerd is running; CONTAINERD_ADDRESS and CONTAINERD_NAMESPACE=$CTR_NS are exported).
# The shim calls `rt --root <runc-root>/<ns> --log <bundle>/log.json --log-format json ...`.

CTR_IMG=localhost/rt-busybox:latest
RT_ROOT_CTR=$W/runc-root/$CTR_NS
CTR_RUN=(ctr run --runc-binary "$RT" --runc-root "$W/runc-root")
# ctr --rootfs uses the directory in place: give it a copy.
cp -a "$ROOTFS" "$W/ctr-rootfs"
rtc() { "$RT" --root "$RT_ROOT_CTR" "$@"; }
task_status() { ctr task ls 2>/dev/null | awk -v id="$1" '$1 == id { print $3 }'; }
# ctr -t wants a terminal on its own stdio: give it one with script(1).
with_pty() { script -qec "$*" /dev/null; }

run_rc rc "${CTR_RUN[@]}" --rm --rootfs "$W/ctr-rootfs" k0 /bin/sh -c 'echo hello from rt; exit 42'
expect_eq ctr-run-rootfs-output "hello from rt" "$OUT"
expect_eq ctr-run-rootfs-exit-code-42 42 "$rc"

run_rc rc python3 "$HERE/mkimage.py" "$W/rootfs.tar" "$W/busybox-oci.tar" "$CTR_IMG"
check ctr-mkimage test "$rc" = 0
run_rc rc ctr image import "$W/busybox-oci.tar"
check ctr-image-import test "$rc" = 0
run_rc rc "${CTR_RUN[@]}" --rm "$CTR_IMG" k1 /bin/sh -c 'echo image ok; exit 5'
expect_eq ctr-run-image-output "image ok" "$OUT"
expect_eq ctr-run-image-exit-code 5 "$rc"
run_rc rc with_pty "${CTR_RUN[@]}" --rm -t "$CTR_IMG" k1t /usr/bin/tty
expect_match ctr-run-tty '/dev/pts/[0-9]+' "$OUT"

# ---- a detached task: exec, ps, pause/resume, metrics, SIGTERM, delete
run_rc rc "${CTR_RUN[@]}" -d --memory-limit 67108864 --cpus 0.5 "$CTR_IMG" k2 \
    /bin/sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
wait_for 5 sh -c "[ \"\$(ctr task ls | awk '\$1 == \"k2\" { print \$3 }')\" = RUNNING ]" || true
expect_eq ctr-run-detached-running RUNNING "$(task_status k2)"
expect_match ctr-rt-state-running '"status": *"running"' "$(rtc state k2 2>&1)"
K2_CG=/$CTR_NS/k2
expect_eq ctr-memory-limit-cgroup 67108864 "$(cg memory "$K2_CG" memory.limit_in_bytes 2>&1)"
expect_eq ctr-cpu-quota-cgroup 50000 "$(cg cpu "$K2_CG" cpu.cfs_quota_us 2>&1)"

run_rc rc ctr task exec --exec-id e1 k2 /bin/sh -c 'echo exec ok; exit 3'
expect_eq ctr-exec-output "exec ok" "$OUT"
expect_eq ctr-exec-exit-code 3 "$rc"
run_rc rc with_pty ctr task exec -t --exec-id e2 k2 /usr/bin/tty
expect_match ctr-exec-tty '/dev/pts/[0-9]+' "$OUT"

K2_PID=$(ctr task ls | awk '$1 == "k2" { print $2 }') || true
run_rc rc ctr task ps k2
expect_match ctr-task-ps "(^|[[:space:]])${K2_PID:-no-pid}[[:space:]]" "$OUT"

run_rc rc ctr task pause k2
expect_eq ctr-pause-status PAUSED "$(task_status k2)"
expect_eq ctr-pause-freezer FROZEN "$(cg freezer "$K2_CG" freezer.state 2>&1)"
expect_match ctr-pause-rt-state '"status": *"paused"' "$(rtc state k2 2>&1)"
run_rc rc ctr task resume k2
expect_eq ctr-resume-status RUNNING "$(task_status k2)"
expect_eq ctr-resume-freezer THAWED "$(cg freezer "$K2_CG" freezer.state 2>&1)"

run_rc rc ctr task metrics k2
expect_match ctr-task-metrics 'memory\.usage(_in_bytes)?[[:space:]]+[1-9]' "$OUT"
expect_match ctr-task-metrics-pids 'pids\.current[[:space:]]+[1-9]' "$OUT"

run_rc rc ctr task kill k2
wait_for 10 sh -c "[ \"\$(ctr task ls | awk '\$1 == \"k2\" { print \$3 }')\" = STOPPED ]" || true
expect_eq ctr-kill-sigterm STOPPED "$(task_status k2)"
run_rc rc ctr task delete k2
expect_match ctr-task-delete-exit-status '(^|[^0-9])7([^0-9]|$)' "$OUT rc=$rc"
run_rc rc rtc state k2
check ctr-delete-rt-state-gone test "$rc" != 0
check ctr-delete-cgroup-gone test ! -d "$(cgdir memory "$K2_CG")"
run_rc rc ctr container rm k2
check ctr-container-rm test "$rc" = 0

# ---- kill --all: every process of the task, not just its init
run_rc rc "${CTR_RUN[@]}" -d "$CTR_IMG" k3 /bin/sh -c 'sleep 1000 & sleep 1000 & wait'
wait_for 5 sh -c "[ \"\$(ctr task ps k3 | wc -l)\" -ge 4 ]" || true
K3_PIDS=$(ctr task ps k3 2>/dev/null | awk 'NR > 1 { print $1 }') || true
run_rc rc ctr task kill -a -s SIGKILL k3
wait_for 10 sh -c "[ \"\$(ctr task ls | awk '\$1 == \"k3\" { print \$3 }')\" = STOPPED ]" || true
expect_eq ctr-kill-all STOPPED "$(task_status k3)"
alive=
for p in $K3_PIDS; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
check ctr-kill-all-no-survivors test -n "$K3_PIDS" -a -z "$alive"
ctr task delete k3 >/dev/null 2>&1 || true
ctr container rm k3 >/dev/null 2>&1 || true

# ---- OOM: containerd's /tasks/oom event (the shim watches the memcg rt made)
ctr events >"$W/ctr-events.log" 2>&1 &
EVENTS_PID=$!
sleep 0.3
run_rc rc "${CTR_RUN[@]}" --rm --memory-limit 33554432 "$CTR_IMG" k4 /bin/sh -c "$OOM_CMD"
expect_eq ctr-oom-exit-137 137 "$rc"
wait_for 5 grep -q '/tasks/oom.*k4' "$W/ctr-events.log" || true
expect_match ctr-oom-event '/tasks/oom.*"?k4"?' "$(cat "$W/ctr-events.log")"
kill "$EVENTS_PID" 2>/dev/null || true
wait "$EVENTS_PID" 2>/dev/null || true

# ---- rt's errors reach ctr through the json log (--log ... --log-format json)
run_rc rc "${CTR_RUN[@]}" --rm "$CTR_IMG" k5 /nonexistent-binary
log "ctr error: $OUT"
expect_match ctr-error-from-rt-log 'nonexistent-binary.*no such file or directory' "$OUT"
check ctr-error-exit-nonzero test "$rc" != 0
# The shim falls back to "exit status 1: <stderr>" when the json log holds no error.
check ctr-error-via-json-log test "${OUT#*exit status}" = "$OUT"
ctr container rm k5 >/dev/null 2>&1 || true
# A config rt refuses (an unknown rootfs propagation): rt's reason must be in ctr's message.
run_rc rc "${CTR_RUN[@]}" --rm --rootfs-propagation bogus-propagation "$CTR_IMG" k6 /bin/true
log "ctr error: $OUT"
expect_match ctr-error-bad-config 'OCI runtime create failed: .*bogus-propagation' "$OUT"
ctr container rm k6 >/dev/null 2>&1 || true
