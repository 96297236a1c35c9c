# docker (dockerd 20.10 -> our containerd -> containerd-shim-runc-v2 -> rt), rt registered in
# daemon.json "runtimes" as "rt". Sourced by run.sh (DOCKER_HOST, DOCKER_CONFIG exported).

DOCKER_IMG=localhost/rt-busybox:latest
# dockerd 20.10 gives the shim BinaryName=<path> and Root=<exec-root>/runtime-runc (for every
# runtime); the shim adds the namespace. rt keeps its state there.
RT_ROOT_DOCKER=$W/docker/exec/runtime-runc/$DOCKER_NS
dk_run() { docker run --runtime rt --network none $SECCOMP_OPT "$@"; }

run_rc rc docker import "$W/rootfs.tar" "$DOCKER_IMG"
check docker-import-image test "$rc" = 0

run_rc rc dk_run --rm "$DOCKER_IMG" /bin/sh -c 'echo hello from rt; exit 42'
expect_eq docker-run-output "hello from rt" "$OUT"
expect_eq docker-run-exit-code-42 42 "$rc"

# ---- a detached container: exec, top, pause, update, stop, rm
run_rc rc dk_run -d --name d1 "$DOCKER_IMG" /bin/sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
D1=$(docker inspect --format '{{.Id}}' d1 2>/dev/null || true)
expect_eq docker-run-detached-running true "$(docker inspect --format '{{.State.Running}}' d1 2>&1)"
expect_eq docker-runtime-is-rt rt "$(docker inspect --format '{{.HostConfig.Runtime}}' d1 2>&1)"
expect_match docker-rt-state-running '"status": *"running"' "$("$RT" --root "$RT_ROOT_DOCKER" state "$D1" 2>&1)"
D1_CG=$DOCKER_CGROUP_PARENT/$D1

run_rc rc docker exec d1 /bin/sh -c 'echo exec ok; exit 3'
expect_eq docker-exec-output "exec ok" "$OUT"
expect_eq docker-exec-exit-code 3 "$rc"
run_rc rc docker exec -t d1 /usr/bin/tty
expect_match docker-exec-tty '/dev/pts/[0-9]+' "$OUT"
run_rc rc docker top d1
expect_match docker-top 'sleep 0\.1|trap' "$OUT"

run_rc rc docker pause d1
expect_eq docker-pause "paused" "$(docker inspect --format '{{.State.Status}}' d1 2>&1)"
expect_eq docker-pause-freezer FROZEN "$(cg freezer "$D1_CG" freezer.state 2>&1)"
run_rc rc docker unpause d1
expect_eq docker-unpause "running" "$(docker inspect --format '{{.State.Status}}' d1 2>&1)"

run_rc rc docker update --memory 64m --memory-swap 64m --cpu-shares 512 d1
expect_match docker-update-ok '^0 d1' "$rc $OUT"
expect_eq docker-update-memory 67108864 "$(cg memory "$D1_CG" memory.limit_in_bytes 2>&1)"
expect_eq docker-update-cpu-shares "$([ -n "$CGV2" ] && echo 20 || echo 512)" "$(cg cpu "$D1_CG" cpu.shares 2>&1)"

run_rc rc docker stats --no-stream --format '{{.Name}} {{.PIDs}}' d1
expect_match docker-stats-no-stream '^d1 [1-9]' "$OUT"

run_rc rc docker stop -t 5 d1
expect_eq docker-stop-sigterm "exited 7" "$(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' d1 2>&1)"
run_rc rc docker rm d1
check docker-rm test "$rc" = 0
run_rc rc "$RT" --root "$RT_ROOT_DOCKER" state "$D1"
check docker-rm-rt-state-gone test "$rc" != 0
check docker-rm-cgroup-gone test ! -d "$(cgdir memory "$D1_CG")"

# ---- kill
run_rc rc dk_run -d --name d2 "$DOCKER_IMG" /bin/sleep 1000
run_rc rc docker kill d2
wait_for 10 sh -c "[ \"\$(docker inspect --format '{{.State.Status}}' d2)\" = exited ]" || true
expect_eq docker-kill "exited 137" "$(docker inspect --format '{{.State.Status}} {{.State.ExitCode}}' d2 2>&1)"
docker rm -f d2 >/dev/null 2>&1 || true
run_rc rc dk_run --rm --cap-drop all --cap-add NET_RAW "$DOCKER_IMG" /bin/grep CapEff /proc/self/status
expect_match docker-cap-drop-add 'CapEff:[[:space:]]+0000000000002000$' "$OUT"
run_rc rc dk_run --rm "$DOCKER_IMG" /bin/grep Seccomp: /proc/self/status
expect_match docker-seccomp-default-profile "Seccomp:[[:space:]]+$([ -n "$SECCOMP_OPT" ] && echo 0 || echo 2)" "$OUT"

# ---- OOM: exit 137 and OOMKilled=true (the shim's OOM watch on the memcg rt made)
run_rc rc dk_run --name d3 --memory 32m --memory-swap 32m "$DOCKER_IMG" /bin/sh -c "$OOM_CMD"
expect_eq docker-oom-exit-137 137 "$rc"
expect_eq docker-oom-killed true "$(docker inspect --format '{{.State.OOMKilled}}' d3 2>&1)"
docker rm -f d3 >/dev/null 2>&1 || true

# ---- process options
run_rc rc dk_run --rm --user 1000:1000 --read-only --tmpfs /scratch --cap-drop all --cap-add NET_RAW \
    "$DOCKER_IMG" /bin/sh -c 'id; grep CapBnd /proc/self/status; touch /scratch/x && echo tmpfs-ok; touch /x'
expect_match docker-user '^uid=1000(\(user\))? gid=1000' "$OUT"
expect_match docker-caps-bounding 'CapBnd:[[:space:]]+0000000000002000' "$OUT"
# stdout and stderr reach docker's log separately: their order is not fixed.
expect_match docker-tmpfs-writable 'tmpfs-ok' "$OUT"
expect_match docker-read-only 'Read-only file system' "$OUT"

# ---- an error from rt's json log reaches docker
run_rc rc dk_run --rm "$DOCKER_IMG" /nonexistent-binary
log "docker error: $OUT"
expect_match docker-error-from-rt 'nonexistent-binary.*no such file or directory' "$OUT"
