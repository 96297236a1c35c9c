//! `run`: create + start, then (unless detached) wait for the init as a child subreaper,
//! forwarding signals to it, and delete the container when it exits.

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
pub fn run_foreground(store: &Store, opts: &CreateOptions, detach: bool) -> anyhow::Result<i32> {
    if detach {
        let container = create(store, opts)?;
        if let Err(e) = start(&container) {
            drop(container);
            let _ = delete(store, opts.id, true);
            return Err(e);
        }
        return Ok(0);
    }
    // SAFETY: prctl on our own process.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let set = block_signals();
    let container = create(store, opts)?;
    let pid = container.state.pid;
    if let Err(e) = start(&container) {
        drop(container);
        let _ = delete(store, opts.id, true);
        return Err(e);
    }
    // Release the lock so `rt state/kill/...` work while we wait.
    drop(container);
    let code = wait_for(pid, &set);
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
