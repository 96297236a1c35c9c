//! `kill`: a signal to the init, or with `all` to every process in the container's cgroup.

use anyhow::{bail, Context};
use cgroups::Recursive;

use super::{Container, Status};

/// kill(2). Raw, not nix's: nix's `Signal` has no realtime signals (`RTMIN+3`), which
/// `rt kill` sends too.
fn send(pid: i32, signal: i32) -> std::io::Result<()> {
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Sends `signal` to each of `pids`; one that exited meanwhile is not an error.
fn signal_all(pids: impl IntoIterator<Item = i32>, signal: i32) {
    for pid in pids {
        let _ = send(pid, signal);
    }
}

pub fn kill(container: &Container, signal: i32, all: bool) -> anyhow::Result<()> {
    let status = container.status();
    // As runc: `kill --all` of a stopped container signals what is left in its cgroup (often
    // nothing) and succeeds; containerd's shim sends it after every exit and treats a
    // failure as fatal. A single signal to a stopped init is an error.
    if status == Status::Stopped && !all {
        bail!(
            "cannot kill container {}: container not running",
            container.id()
        );
    }
    if status == Status::Stopped {
        // What is left in its cgroup (often nothing: a cgroup gone or unreadable is).
        if let Ok(Some(cg)) = container.cgroup() {
            let left = cg.processes(Recursive::Yes).unwrap_or_default();
            signal_all(left.into_iter().map(|p| p.0), signal);
        }
        return Ok(());
    }
    if all {
        if let Some(pids) = super::events::pid_ns_processes(container)? {
            signal_all(pids, signal);
            return Ok(());
        }
        let cg = container.require_cgroup()?;
        let pids = cg
            .processes(Recursive::Yes)
            .context("list the container's processes")?;
        signal_all(pids.into_iter().map(|p| p.0), signal);
        // A frozen process only dies once thawed, as runc does for paused containers.
        if status == Status::Paused && signal == libc::SIGKILL {
            cg.thaw().context("thaw the killed container")?;
        }
        return Ok(());
    }
    match send(container.state.pid, signal) {
        Ok(()) => {}
        // The init died since the status was read.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => bail!(
            "cannot kill container {}: container not running (no such process)",
            container.id()
        ),
        Err(e) => return Err(e).with_context(|| format!("kill pid {}", container.state.pid)),
    }
    if status == Status::Paused && signal == libc::SIGKILL {
        if let Some(cg) = container.cgroup()? {
            cg.thaw().context("thaw the killed container")?;
        }
    }
    Ok(())
}
