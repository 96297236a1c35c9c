//! `kill`: a signal to the init, or with `all` to every process in the container's cgroup.

use anyhow::{bail, Context};
use cgroups::Recursive;

use super::{Container, Status};

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
        if let Some(cg) = container.cgroup() {
            for pid in cg.processes(Recursive::Yes).unwrap_or_default() {
                // SAFETY: kill(2); a process that already exited is not an error.
                unsafe { libc::kill(pid.0, signal) };
            }
        }
        return Ok(());
    }
    if all {
        if let Some(pids) = super::events::pid_ns_processes(container)? {
            for pid in pids {
                // SAFETY: kill(2); a process that already exited is not an error.
                unsafe { libc::kill(pid, signal) };
            }
            return Ok(());
        }
        let cg = container
            .cgroup()
            .with_context(|| format!("container {}: its cgroup is gone", container.id()))?;
        let pids = cg
            .processes(Recursive::Yes)
            .context("list the container's processes")?;
        for pid in pids {
            // SAFETY: kill(2); a process that already exited is not an error.
            unsafe { libc::kill(pid.0, signal) };
        }
        // A frozen process only dies once thawed, as runc does for paused containers.
        if status == Status::Paused && signal == libc::SIGKILL {
            cg.thaw().context("thaw the killed container")?;
        }
        return Ok(());
    }
    // SAFETY: kill(2) of the verified init pid.
    if unsafe { libc::kill(container.state.pid, signal) } != 0 {
        let err = std::io::Error::last_os_error();
        // The init died since the status was read.
        if err.raw_os_error() == Some(libc::ESRCH) {
            bail!(
                "cannot kill container {}: container not running (no such process)",
                container.id()
            );
        }
        return Err(err).with_context(|| format!("kill pid {}", container.state.pid));
    }
    if status == Status::Paused && signal == libc::SIGKILL {
        if let Some(cg) = container.cgroup() {
            cg.thaw().context("thaw the killed container")?;
        }
    }
    Ok(())
}
