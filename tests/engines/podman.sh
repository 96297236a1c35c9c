# podman 4.3 (through conmon) with rt as its runtime. Sourced by run.sh (W, RT, ROOTFS, lib.sh).
# containers.conf makes "rt" the default runtime and lists it in runtime_supports_json, so
# conmon calls `rt --log-format=json --log <userdata>/oci-log create ...`.

PODMAN_IMG=localhost/rt-busybox:latest
# podman's cwd is conmon's cwd, where conmon 2.1.6 writes its "oom" marker (see the OOM check).
cd "$W/scratch"

pm() { podman "$@"; }
# pm_run ARGS...: podman run without a network; the rootfs overlay is ours (DIR:O leaves DIR alone).
pm_run() { podman run --network none $SECCOMP_OPT "$@"; }

# The runtime podman records for a container must be rt.
run_rc rc pm_run --rm --rootfs "$ROOTFS:O" /bin/sh -c 'echo hello from rt; exit 42'
expect_eq podman-run-foreground-output "hello from rt" "$OUT"
expect_eq podman-run-exit-code-42 42 "$rc"

run_rc rc pm import "$W/rootfs.tar" "$PODMAN_IMG"
check podman-import-image test "$rc" = 0
run_rc rc pm_run --rm "$PODMAN_IMG" /bin/sh -c 'echo image ok; cat /etc/hostname >/dev/null'
expect_eq podman-run-from-image "image ok" "$OUT"

# ---- detached container: runtime, exec, pause, stats, top, update, kill, rm
run_rc rc pm_run -d --name p1 --rootfs "$ROOTFS:O" /bin/sleep 1000
P1=$(pm inspect --format '{{.Id}}' p1 2>/dev/null || true)
expect_eq podman-run-detached-running true "$(pm inspect --format '{{.State.Running}}' p1 2>&1)"
expect_eq podman-runtime-is-rt rt "$(pm inspect --format '{{.OCIRuntime}}' p1 2>&1)"
# rt itself knows the container (podman uses rt's default --root).
expect_match podman-rt-state-running '"status": *"running"' "$("$RT" state "$P1" 2>&1)"
P1_CG=/libpod_parent/libpod-$P1

run_rc rc pm exec p1 /bin/sh -c 'echo exec ok; exit 3'
expect_eq podman-exec-output "exec ok" "$OUT"
expect_eq podman-exec-exit-code 3 "$rc"
run_rc rc pm exec -t p1 /usr/bin/tty
expect_match podman-exec-tty '^/dev/pts/[0-9]+' "$OUT"
run_rc rc pm exec -d p1 /bin/sh -c 'echo detached >/tmp/exec-d'
wait_for 5 pm exec p1 /bin/cat /tmp/exec-d || true
expect_eq podman-exec-detached detached "$(pm exec p1 /bin/cat /tmp/exec-d 2>&1)"
run_rc rc pm exec --user 1000:1000 p1 /usr/bin/id
expect_match podman-exec-user '^uid=1000(\(user\))? gid=1000' "$OUT"

run_rc rc pm pause p1
expect_eq podman-pause-inspect paused "$(pm inspect --format '{{.State.Status}}' p1 2>&1)"
expect_eq podman-pause-freezer FROZEN "$(cg freezer "$P1_CG" freezer.state 2>&1)"
run_rc rc pm unpause p1
expect_eq podman-unpause-inspect running "$(pm inspect --format '{{.State.Status}}' p1 2>&1)"
expect_eq podman-unpause-freezer THAWED "$(cg freezer "$P1_CG" freezer.state 2>&1)"

run_rc rc pm stats --no-stream --format '{{.Name}} {{.PIDs}} {{.MemUsage}}' p1
expect_match podman-stats-no-stream '^p1 [1-9][0-9]* [0-9.]+[kMG]?B / ' "$OUT"
run_rc rc pm top p1
expect_match podman-top 'sleep 1000' "$OUT"

run_rc rc pm update --memory 64m p1
expect_eq podman-update-memory 67108864 "$(cg memory "$P1_CG" memory.limit_in_bytes 2>&1)"

run_rc rc pm kill p1
wait_for 10 sh -c "[ \"\$(podman inspect --format '{{.State.Status}}' p1)\" = exited ]" || true
expect_eq podman-kill "exited 137" "$(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' p1 2>&1)"
run_rc rc pm rm p1
check podman-rm test "$rc" = 0
# rm made podman call `rt delete`: rt no longer knows the container, its cgroup is gone.
run_rc rc "$RT" state "$P1"
check podman-rm-rt-state-gone test "$rc" != 0
check podman-rm-cgroup-gone test ! -d "$(cgdir memory "$P1_CG")"

# ---- stop: SIGTERM reaches the container's init (a shell that exits 7 on TERM)
pm_run -d --name p2 --rootfs "$ROOTFS:O" /bin/sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done' >/dev/null 2>&1 || true
run_rc rc pm stop -t 5 p2
expect_eq podman-stop-sigterm "exited 7" "$(pm inspect --format '{{.State.Status}} {{.State.ExitCode}}' p2 2>&1)"
pm rm -f -t 0 p2 >/dev/null 2>&1 || true

# ---- OOM: --memory 32m, exit 137. podman 4.3 never sets OOMKilled (conmon 2.1.6 writes its
# "oom" marker to its cwd, podman reads <bundle>/oom: containers/conmon#504), so the check is
# conmon's marker in podman's cwd: conmon saw the memcg OOM event on the cgroup rt made.
mkdir -p "$W/scratch/oom" && cd "$W/scratch/oom"
run_rc rc pm_run --rm --memory 32m --memory-swap 32m --rootfs "$ROOTFS:O" /bin/sh -c "$OOM_CMD"
expect_eq podman-oom-exit-137 137 "$rc"
check podman-oom-conmon-marker test -e "$W/scratch/oom/oom"
cd "$W/scratch"
run_rc rc pm_run --rm --memory 32m --rootfs "$ROOTFS:O" /bin/sh -c \
    'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'
expect_eq podman-memory-limit-inside 33554432 "$OUT"

# ---- process and rootfs options
run_rc rc pm_run --rm --user 1000:1000 --rootfs "$ROOTFS:O" /usr/bin/id
expect_match podman-user '^uid=1000(\(user\))? gid=1000(\(user\))?' "$OUT"
run_rc rc pm_run --rm --cap-drop all --cap-add NET_RAW --rootfs "$ROOTFS:O" /bin/grep CapEff /proc/self/status
expect_match podman-cap-drop-add 'CapEff:[[:space:]]+0000000000002000$' "$OUT"
run_rc rc pm_run --rm --cap-drop CHOWN --rootfs "$ROOTFS:O" /bin/grep CapEff /proc/self/status
expect_match podman-cap-drop-chown 'CapEff:[[:space:]]+00000000a80425fa$' "$OUT"
# podman's default seccomp profile is installed (filter mode 2) unless the debugging knob is set.
run_rc rc pm_run --rm --rootfs "$ROOTFS:O" /bin/grep Seccomp: /proc/self/status
expect_match podman-seccomp-default-profile "Seccomp:[[:space:]]+$([ -n "$SECCOMP_OPT" ] && echo 0 || echo 2)" "$OUT"
run_rc rc pm_run --rm --read-only --rootfs "$ROOTFS:O" /bin/sh -c 'touch /x && echo writable'
expect_match podman-read-only 'Read-only file system' "$OUT"
run_rc rc pm_run --rm --read-only --tmpfs /scratch --rootfs "$ROOTFS:O" /bin/sh -c 'touch /scratch/x && grep " /scratch " /proc/mounts'
expect_match podman-tmpfs '^tmpfs /scratch tmpfs rw' "$OUT"
# podman's --tmpfs options include "tmpcopyup": the tmpfs starts with the directory's content
# (runc and crun copy it; FINDINGS.md #2).
run_rc rc pm_run --rm --tmpfs /etc --rootfs "$ROOTFS:O" /bin/grep -c '^root:' /etc/passwd
expect_eq podman-tmpfs-copyup 1 "$OUT"
# The tmpfs root takes the mode of the directory it covers (/home is 755 in the bundle), as with
# runc (FINDINGS.md #3): a non-root user cannot write there.
run_rc rc pm_run --rm --user 1000:1000 --tmpfs /home --rootfs "$ROOTFS:O" /bin/stat -c %a /home
expect_eq podman-tmpfs-mode-of-mountpoint 755 "$OUT"
echo from-host >"$W/vol/in"
run_rc rc pm_run --rm -v "$W/vol:/vol" --rootfs "$ROOTFS:O" /bin/sh -c 'cat /vol/in; echo from-container >/vol/out'
expect_eq podman-volume-read from-host "$OUT"
expect_eq podman-volume-write from-container "$(cat "$W/vol/out" 2>&1)"
run_rc rc pm_run --rm -v "$W/vol:/vol:ro" --rootfs "$ROOTFS:O" /bin/sh -c 'echo x >/vol/out2'
expect_match podman-volume-ro 'Read-only file system' "$OUT"

# ---- an error rt reports reaches podman's message, through rt's json log: podman passed
# `--log-format=json --log <userdata>/oci-log` (runtime_supports_json) and reads the error there.
run_rc rc pm_run --name perr --rootfs "$ROOTFS:O" /nonexistent-binary
log "podman error: $OUT"
# podman (libpod getOCIRuntimeError) matches "no such file or directory" in the runtime's
# error: "command not found", exit status 127, as with runc.
expect_match podman-error-from-rt 'nonexistent-binary.*no such file or directory.*OCI runtime attempted to invoke a command that was not found' "$OUT"
expect_eq podman-error-exit-127 127 "$rc"
PERR=$(pm inspect --format '{{.Id}}' perr 2>/dev/null || true)
expect_match podman-error-json-log '^\{.*"level": *"error".*"msg": *".*nonexistent-binary' \
    "$(cat "$W/podman/runroot/overlay-containers/$PERR/userdata/oci-log" 2>&1)"
pm rm -f -t 0 perr >/dev/null 2>&1 || true

# ---- checkpoint / restore (CRIU): its own file, also run alone in the cgroup v2 guest
. "$HERE/podman-checkpoint.sh"
