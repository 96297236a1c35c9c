//! `run`: create + start, then (unless detached) wait for the init as a child subreaper,
//! forwarding signals to it, and delete the container when it exits.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use anyhow::Context;

use super::{create, delete, start, CreateOptions};
use crate::logging;
use crate::state::Store;

/// Signals rt forwards to the container's init while it waits.
const FORWARDED: &[i32] = &[
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGWINCH,
];

fn signal_set(signals: &[i32]) -> libc::sigset_t {
    // SAFETY: sigset manipulation on a local.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &s in signals {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

/// Blocks the forwarded signals and SIGCHLD (children unblock them after the fork) and
/// returns the set for `wait_for`.
pub fn block_signals() -> libc::sigset_t {
    let mut watched = FORWARDED.to_vec();
    watched.push(libc::SIGCHLD);
    let set = signal_set(&watched);
    // SAFETY: sigprocmask on our own process.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    set
}

/// Runs a container; returns its exit status (128+N when killed by signal N).
/// `console`: rt's end of the channel the init sends its pty master over, when rt proxies
/// a terminal to its own stdio.
pub fn run_foreground(
    store: &Store,
    opts: &CreateOptions,
    detach: bool,
    console: Option<UnixStream>,
) -> anyhow::Result<i32> {
    if detach {
        let container = create(store, opts)?;
        if let Err(e) = start(&container) {
            drop(container);
            let _ = delete(store, opts.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
    let set = block_signals();
    let container = create(store, opts)?;
    let pid = container.state.pid;
    let master = match console
        .map(|c| crate::console::recv_fd(c.as_raw_fd()))
        .transpose()
    {
        Ok(master) => master,
        Err(e) => {
            drop(container);
            let _ = delete(store, opts.id, true);
            return Err(e);
        }
    };
    if let Err(e) = start(&container) {
        drop(container);
        let _ = delete(store, opts.id, true);
        return Err(e);
    }
    // Release the lock so `rt state/kill/...` work while we wait.
    drop(container);
    let code = match master {
        Some(master) => wait_with_console(pid, &set, &master),
        None => wait_for(pid, &set),
    };
    if code == 128 + libc::SIGKILL {
        report_oom(store, opts.id);
    }
    delete(store, opts.id, true).context("delete the container after it exited")?;
    Ok(code)
}

/// Waits for `pid` with sigwaitinfo, forwarding signals and reaping reparented orphans.
pub fn wait_for(pid: i32, set: &libc::sigset_t) -> i32 {
    loop {
        if let Some(code) = reap(pid) {
            return code;
        }
        // SAFETY: sigwaitinfo on a set of blocked signals.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let sig = unsafe { libc::sigwaitinfo(set, &mut info) };
        if sig < 0 || sig == libc::SIGCHLD {
            continue;
        }
        logging::debug(&format!("forwarding signal {sig} to {pid}"));
        // SAFETY: kill(2) of our own child.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Like `wait_for`, while proxying stdin -> pty master -> stdout (stdin in raw mode when it
/// is a terminal; SIGWINCH resizes the pty).
pub fn wait_with_console(pid: i32, set: &libc::sigset_t, master: &OwnedFd) -> i32 {
    use crate::console::{copy_size, pump, RawMode};
    let m = master.as_raw_fd();
    // SAFETY: signalfd over signals that are blocked.
    let sfd = unsafe { libc::signalfd(-1, set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    let _raw = RawMode::enable(0);
    copy_size(m);
    let (mut stdin_open, mut master_open) = (true, true);
    loop {
        if let Some(code) = reap(pid) {
            // Output the process wrote just before it exited.
            while master_open && poll_in(m, 0) && pump(m, 1) {}
            return code;
        }
        let ready =
            match poll_in_each([Some(sfd), master_open.then_some(m), stdin_open.then_some(0)]) {
                Some(ready) => ready,
                None => continue,
            };
        if ready[0] {
            // SAFETY: reading whole signalfd_siginfo records.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            while unsafe {
                libc::read(sfd, (&mut info as *mut libc::signalfd_siginfo).cast(), size)
            } == size as isize
            {
                let sig = info.ssi_signo as i32;
                if sig == libc::SIGWINCH {
                    copy_size(m);
                } else if sig != libc::SIGCHLD {
                    // SAFETY: kill(2) of our own child.
                    unsafe { libc::kill(pid, sig) };
                }
            }
        }
        if ready[1] && !pump(m, 1) {
            master_open = false;
        }
        if ready[2] && !pump(0, m) {
            stdin_open = false;
        }
    }
}

/// Whether `fd` is readable within `timeout_ms`.
fn poll_in(fd: RawFd, timeout_ms: u16) -> bool {
    use nix::poll::{poll, PollFd, PollFlags};
    // SAFETY: `fd` stays open for the call (the pty master rt holds).
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    poll(&mut [PollFd::new(fd, PollFlags::POLLIN)], timeout_ms).is_ok_and(|n| n > 0)
}

/// Which of `fds` (None: not polled) are readable, waiting for one; None when interrupted.
fn poll_in_each(fds: [Option<RawFd>; 3]) -> Option<[bool; 3]> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    // SAFETY: the fds stay open for the call (rt's signalfd, pty master and stdin).
    let given: Vec<(usize, BorrowedFd)> = fds
        .iter()
        .enumerate()
        .filter_map(|(i, fd)| fd.map(|fd| (i, unsafe { BorrowedFd::borrow_raw(fd) })))
        .collect();
    let mut pfds: Vec<PollFd> = given
        .iter()
        .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    poll(&mut pfds, PollTimeout::NONE).ok()?;
    let mut ready = [false; 3];
    for ((i, _), p) in given.iter().zip(&pfds) {
        ready[*i] = p.revents().is_some_and(|r| !r.is_empty());
    }
    Some(ready)
}

/// Reaps every exited child; returns the init's exit status once it has exited.
fn reap(pid: i32) -> Option<i32> {
    let mut result = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid with WNOHANG on any child.
        let got = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if got <= 0 {
            return result;
        }
        if got == pid {
            result = Some(if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else if libc::WIFSIGNALED(status) {
                128 + libc::WTERMSIG(status)
            } else {
                255
            });
        }
    }
}

/// After the init died of SIGKILL: one line on stderr when the kernel's OOM killer did it
/// (the container's cgroup, still there until delete, counted an OOM kill).
pub(super) fn report_oom(store: &Store, id: &str) {
    let Ok(container) = super::Container::load(store, id) else {
        return;
    };
    if super::oom_killed(&container, super::Status::Stopped) {
        logging::warn(&format!("container {id} was OOM-killed"));
    }
}
