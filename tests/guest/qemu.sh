# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # the variables are the sourcing runner's globals
# The qemu part both guest runners share (run.sh: the cgroup v2 guest; systemd/run.sh: the
# guest whose PID 1 is systemd). Sourced; uses the caller's globals: run (the run directory
# with the out/err fifos and console.log), accel, cpu, cpus, mem, console, timeout, the
# RT_GUEST_* settings from guest.env, and qpid/cpids (killed by the caller's EXIT trap).

# guest_boot INITRD APPEND: boots the guest, streams its stdout/stderr, waits for it.
# Sets qrc (qemu's exit status), elapsed (seconds) and boot (seconds to the command).
guest_boot() {
    local initrd=$1 append=$2
    # shellcheck disable=SC2054 # qemu option values contain commas
    local qemu_args=(
        -nodefaults -no-user-config -display none -no-reboot
        -machine pc,accel="$accel" -cpu "$cpu" -smp "$cpus" -m "$mem"
        -kernel "$RT_GUEST_KERNEL" -initrd "$initrd" -append "$append"
        -chardev file,id=con,path="$run/console.log" -serial chardev:con
        -chardev file,id=out,path="$run/out" -serial chardev:out
        -chardev file,id=err,path="$run/err" -serial chardev:err
        -fsdev local,id=rtio,path="$run",security_model=none
        -device virtio-9p-pci,fsdev=rtio,mount_tag=rtio
        -fsdev local,id=hostroot,path=/,security_model=none,multidevs=remap
        -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
    )
    [[ -n $RT_GUEST_BIOS ]] && qemu_args+=(-bios "$RT_GUEST_BIOS")
    if [[ -n $RT_GUEST_QEMU_DATADIRS ]]; then
        local dirs d
        IFS=: read -r -a dirs <<<"$RT_GUEST_QEMU_DATADIRS"
        for d in "${dirs[@]}"; do qemu_args+=(-L "$d"); done
    fi

    local start end
    start=$(date +%s.%N)
    cat "$run/out" &
    cpids+=($!)
    cat "$run/err" >&2 &
    cpids+=($!)
    if ((console)); then
        tail -n +1 -f "$run/console.log" >&2 &
        cpids+=($!)
    fi
    env LD_LIBRARY_PATH="$RT_GUEST_LD_LIBRARY_PATH" timeout -k 10 "$timeout" \
        "$RT_GUEST_QEMU" "${qemu_args[@]}" </dev/null >"$run/qemu.log" 2>&1 &
    qpid=$!
    qrc=0
    wait "$qpid" || qrc=$?
    qpid=
    end=$(date +%s.%N)
    # The output readers end at EOF once qemu has exited; do not wait forever if qemu never
    # opened the pipes (it failed to start).
    local _ alive p
    for _ in $(seq 50); do
        alive=0
        for p in "${cpids[@]:0:2}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    cpids=()
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}')
    boot=$(sed -n 's/^RT-GUEST-RUN: \([0-9.]*\).*/\1/p' "$run/console.log" | tail -1)
}

# guest_show_console LINES: the end of the guest's console and qemu's log, on stderr.
guest_show_console() {
    echo "---- guest console (last $1 lines of $run/console.log) ----" >&2
    tail -n "$1" "$run/console.log" | tr -d '\r' >&2
    if [[ -s $run/qemu.log ]]; then
        echo "---- qemu ----" >&2
        tail -n 20 "$run/qemu.log" >&2
    fi
    keep=1
}

# guest_exit NAME CONSOLE_LINES: exits with the command's status, or explains why there is
# none (setup error, timeout: 124, kernel panic, boot failure: via the caller's die).
guest_exit() {
    local name=$1 lines=$2 status
    if [[ -f $run/status ]]; then
        status=$(cat "$run/status")
        if [[ -f $run/error ]]; then
            guest_show_console "$lines"
            die "guest setup failed: $(cat "$run/error")"
        fi
        [[ $status =~ ^[0-9]+$ ]] || die "bad status '$status' from the guest"
        exit "$status"
    fi
    guest_show_console "$lines"
    if ((qrc == 124 || qrc == 137)); then
        echo "################################################################################" >&2
        echo "## rt $name TIMEOUT: no result after ${timeout} s; guest killed (--timeout)" >&2
        echo "################################################################################" >&2
        exit 124
    fi
    if grep -q 'Kernel panic' "$run/console.log"; then
        die "guest kernel panic (qemu exit $qrc, ${elapsed} s)"
    fi
    if grep -q 'RT-GUEST-ERROR' "$run/console.log"; then
        die "guest boot failed: $(grep -m1 'RT-GUEST-ERROR' "$run/console.log" | tr -d '\r')"
    fi
    die "guest ended without an exit status (qemu exit $qrc, ${elapsed} s)"
}
