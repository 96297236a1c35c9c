//! What every process rt forks into a container (the init, an `rt exec` process) shares:
//! the fork itself, its first steps, and how it reports a failure.
//!
//! First steps, before anything else: signals reset, non-dumpable (its /proc files and its
//! `exe` closed to other processes of the container's user), a parent-death signal, every
//! inherited fd closed but stdio, the preserved ones and the few it needs, a panic hook.
//!
//! Reporting: a child has one channel at a time to say why it failed — the sync socket
//! while its parent waits on it, then (the init, once `rt create` has returned) the exec
//! fifo that `rt start` reads. `E<message>` is written there, by an error and by a panic
//! alike (the panic hook writes it; with `panic = "abort"` nothing else would), and the
//! child exits. A successful execve closes the channel (close-on-exec): its reader sees
//! end-of-file. The child's name ([`MARKER_INIT`], [`MARKER_EXEC`]) tells a reader that
//! sees end-of-file whether the process died before its exec (see [`exec_outcome`]).

use std::convert::Infallible;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use nix::sched::CloneFlags;

use super::fds;
use super::sync::SyncSocket;

/// The comm of the container's init until it execs the container's process.
pub const MARKER_INIT: &str = "rt:init";
/// The comm of an `rt exec` process until it execs.
pub const MARKER_EXEC: &str = "rt:exec";

/// The fd a failure is written to (-1: none).
static SINK: AtomicI32 = AtomicI32::new(-1);

/// From now on failures (and panics) are reported on `fd`.
pub fn report_to(fd: RawFd) {
    SINK.store(fd, Ordering::SeqCst);
}

/// Writes `E<msg>` to the current channel; false when there is none or it is closed.
/// write(2), not send(2): a seccomp profile is likelier to allow it.
pub fn report(msg: &str) -> bool {
    let fd = SINK.load(Ordering::SeqCst);
    if fd < 0 {
        return false;
    }
    let mut buf = Vec::with_capacity(msg.len() + 1);
    buf.push(b'E');
    buf.extend_from_slice(&msg.as_bytes()[..msg.len().min(4000)]);
    // SAFETY: a write of a local buffer to an fd of ours.
    unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) > 0 }
}

/// A panic becomes a report (one line), in the release build too, where it then aborts.
fn install_panic_hook(what: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let msg = format!("{what} panicked: {info}").replace('\n', ": ");
        if !report(&msg) {
            crate::output::stderr_line(&format!("rt: {msg}"));
        }
    }));
}

/// A fork-like clone(2) with `flags` (new namespaces): 0 in the child, its pid in the parent.
pub fn clone_process(flags: CloneFlags) -> std::io::Result<i32> {
    // SAFETY: rt is single-threaded, so the child gets a consistent copy of the process;
    // a fork-like clone (no new stack) returns twice.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid as i32)
}

/// clone3(2)'s flag (it does not fit clone(2)'s int; libc's constant overflows).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2, Linux 5.7).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// [`clone_process`] with the child born in the cgroup v2 directory `cgroup` (an fd of it):
/// clone3(2) with CLONE_INTO_CGROUP (Linux 5.7), as crun does. The child never runs outside
/// its cgroup, and nobody writes its pid to cgroup.procs. An error (ENOSYS or E2BIG before
/// clone3 or its cgroup field, EINVAL before the flag, whatever a seccomp profile around rt
/// answers) leaves the caller to fork and place the child as before.
pub fn clone_into_cgroup(flags: CloneFlags, cgroup: RawFd) -> std::io::Result<i32> {
    let args = CloneArgs {
        flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup as u64,
        ..CloneArgs::default()
    };
    // SAFETY: rt is single-threaded, so the child gets a consistent copy of the process;
    // without a stack (0) clone3 is fork-like and returns twice. `args` outlives the call
    // and its size is passed with it.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid as i32)
}

/// PR_SET_PDEATHSIG (0 clears it).
pub fn set_parent_death_signal(sig: libc::c_int) {
    // SAFETY: prctl on our own process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
}

/// Sets the process's comm (what `ps` and /proc/PID/comm show).
pub fn set_name(name: &str) {
    if let Ok(name) = std::ffi::CString::new(name) {
        // SAFETY: PR_SET_NAME copies at most 16 bytes of a valid C string.
        unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
    }
}

/// Signal state a child starts from: nothing blocked, SIGPIPE at its default (Rust ignores it).
fn reset_signals() {
    // SAFETY: plain libc calls on our own process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// What a child keeps of its parent's fds.
pub struct Keep<'a> {
    /// fds 3..3+`preserved` go to the container's process.
    pub preserved: u32,
    /// Other fds the child needs (its sync socket, namespace fds, ...).
    pub fds: &'a [RawFd],
}

/// The first steps of a forked child, then `body` with what the parent's go carried; never
/// returns. `dumpable_until_go`: a
/// rootless parent must still write the child's /proc files (its maps) after the fork.
pub fn run(
    what: &'static str,
    marker: &str,
    sock: &SyncSocket,
    keep: &Keep,
    dumpable_until_go: bool,
    body: impl FnOnce(super::sync::Go) -> anyhow::Result<Infallible>,
) -> ! {
    reset_signals();
    if !dumpable_until_go {
        fds::set_dumpable(false);
    }
    // Until it reports ready, a half-made child dies with its rt (killed, crashed): its
    // set-up must not outlive the command that would report it.
    set_parent_death_signal(libc::SIGKILL);
    set_name(marker);
    let mut kept = keep.fds.to_vec();
    kept.push(sock.as_raw_fd());
    // Nothing of what rt's caller leaked reaches the container (CVE-2024-21626).
    let closed = fds::close_all_except(3 + keep.preserved as RawFd, &kept);
    report_to(sock.as_raw_fd());
    install_panic_hook(what);
    let Some(go) = sock.wait_go_with() else {
        // The parent is gone or gave up.
        // SAFETY: terminate without running the parent's destructors.
        unsafe { libc::_exit(1) };
    };
    fds::set_dumpable(false);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        closed.map_err(|e| anyhow::anyhow!("close inherited file descriptors: {e}"))?;
        body(go)
    }));
    if let Ok(Err(e)) = result {
        let msg = format!("{e:#}");
        if !report(&msg) {
            crate::output::stderr_line(&format!("rt: {what}: {msg}"));
        }
    }
    // A panic was reported by the hook. SAFETY: terminate without running the parent's
    // destructors.
    unsafe { libc::_exit(127) }
}

/// Whether a child whose channel reached end-of-file exec'd (true) or died before (false).
/// Its comm changes at the exec, after its close-on-exec fds close: a live child still
/// named `marker` is in the middle of its exec (or of dying), so look again shortly. A
/// child already reaped cannot be told: it counts as having exec'd.
pub fn exec_outcome(pid: i32, start_time: Option<u64>, marker: &str) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        let Some((state, start)) = crate::container::proc_stat(pid) else {
            return true;
        };
        if start_time.is_some_and(|t| t != start) {
            return true;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() != marker {
            return true;
        }
        if state == 'Z' || state == 'X' {
            return false;
        }
        if std::time::Instant::now() > deadline {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
