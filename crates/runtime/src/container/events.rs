//! What a container uses and what happens to it: processes, statistics, OOM kills, and the
//! `events` loop (stats every interval, OOM kills the moment the kernel reports them, until
//! the container stops). One poll(2) over the OOM watcher and a pidfd of the init: no threads.

use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cgroups::{Cgroup, Recursive, StatOptions, Stats};

use super::{proc, Container, Status};
use crate::logging;
use crate::state::Store;

/// Host pids of every process in the container's cgroup, sorted.
pub fn processes(container: &Container) -> anyhow::Result<Vec<i32>> {
    if let Some(pids) = pid_ns_processes(container)? {
        return Ok(pids);
    }
    let cg = container.require_cgroup()?;
    let mut pids: Vec<i32> = cg
        .processes(Recursive::Yes)
        .with_context(|| format!("list the processes of cgroup {}", cg.path().display()))?
        .into_iter()
        .map(|p| p.0)
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// A container without a cgroup (rootless) that has its own pid namespace: the processes
/// of that namespace. None when the container has a cgroup.
pub(super) fn pid_ns_processes(container: &Container) -> anyhow::Result<Option<Vec<i32>>> {
    let Some(why) = container.state.placement.no_cgroup_reason() else {
        return Ok(None);
    };
    if container.state.shared_pid_ns {
        bail!(
            "container {}: {why}, and no pid namespace of its own to list its processes",
            container.id(),
        );
    }
    if !container.init_alive() {
        return Ok(Some(Vec::new()));
    }
    proc::in_pid_ns_of(container.state.pid)
        .map(Some)
        .with_context(|| format!("list the processes of container {}", container.id()))
}

/// Statistics of a cgroup; files the kernel lacks are skipped.
fn cgroup_stats(cg: &Cgroup) -> anyhow::Result<Stats> {
    cg.stats(StatOptions {
        ignore_not_exist: true,
        ..Default::default()
    })
    .with_context(|| format!("read the statistics of cgroup {}", cg.path().display()))
}

/// How many processes the kernel OOM-killed in the cgroup (v1 `memory.oom_control`
/// `oom_kill`, v2 `memory.events` `oom_kill`); `None` when the cgroup or the counter is gone.
pub fn oom_kills(cg: &Cgroup) -> Option<u64> {
    cg.stats(StatOptions {
        ignore_not_exist: true,
        ..Default::default()
    })
    .ok()
    .map(|s| s.memory.event_count.oom_kill)
}

/// Whether a stopped container was OOM-killed: its cgroup (kept until `delete`) recorded at
/// least one OOM kill. Running containers report `false`.
pub fn oom_killed(container: &Container, status: Status) -> bool {
    oom_killed_of(&container.state, status)
}

/// [`oom_killed`] of the container `state` describes.
pub fn oom_killed_of(state: &crate::state::State, status: Status) -> bool {
    // A cgroup that cannot be read tells of no OOM kill (`rt state` still answers).
    status == Status::Stopped
        && super::load_cgroup(&state.placement)
            .ok()
            .flatten()
            .and_then(|cg| oom_kills(&cg))
            .is_some_and(|n| n > 0)
}

/// What the events loop reports.
#[derive(Debug)]
pub enum Event {
    Stats(Box<Stats>),
    /// The kernel OOM-killed one or more processes since the last report.
    Oom,
}

/// Refuses a stopped container, as runc does, and returns the container's cgroup.
fn running_cgroup(container: &Container) -> anyhow::Result<Cgroup> {
    if container.status() == Status::Stopped {
        bail!("container {}: container not running", container.id());
    }
    container.require_cgroup()
}

/// Statistics of one container that is not stopped.
pub fn stats(container: &Container) -> anyhow::Result<Stats> {
    cgroup_stats(&running_cgroup(container)?)
}

/// A pidfd of `pid`, checked to be the container's init (not a recycled pid).
fn pidfd(pid: i32, start: u64) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: fd is a new, owned file descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
    proc::is_alive(pid, start).then_some(fd)
}

/// Without a pidfd (kernels before 5.3) the init is checked this often.
const ALIVE_CHECK: Duration = Duration::from_millis(200);

/// Streams events of container `id` to `emit` until the container stops (or `emit`
/// returns false): stats now and every `interval`, OOM kills as they happen. The
/// container's lock is held only while loading it, so other commands work meanwhile.
pub fn watch(
    store: &Store,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(Event) -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let (cg, pid, start) = {
        let container = Container::load(store, id)?;
        let cg = running_cgroup(&container)?;
        (cg, container.state.pid, container.state.pid_start)
    };
    let mut oom = match cg.oom_events() {
        Ok(w) => Some(w),
        Err(e) => {
            logging::warn(&format!("container {id}: no OOM events: {e}"));
            None
        }
    };
    let pidfd = pidfd(pid, start);
    if pidfd.is_none() && !proc::is_alive(pid, start) {
        return Ok(());
    }
    let mut next = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next {
            match cg.stats(StatOptions {
                ignore_not_exist: true,
                ..Default::default()
            }) {
                Ok(stats) => {
                    if !emit(Event::Stats(Box::new(stats)))? {
                        return Ok(());
                    }
                }
                // The cgroup was removed (container deleted): nothing more to report.
                Err(e) if !cg_exists(&cg) => {
                    logging::debug(&format!("container {id}: stats: {e}"));
                    return Ok(());
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("read the statistics of cgroup {}", cg.path().display())
                    })
                }
            }
            next = now + interval;
            continue;
        }
        let mut timeout = next - now;
        if pidfd.is_none() {
            timeout = timeout.min(ALIVE_CHECK);
        }
        let (oom_ready, exited) = poll2(
            oom.as_ref().map(|w| w.as_fd()),
            pidfd.as_ref().map(|f| f.as_fd()),
            timeout,
        )?;
        let exited = exited || (pidfd.is_none() && !proc::is_alive(pid, start));
        if oom_ready || exited {
            if let Some(w) = oom.as_mut() {
                let count = w.try_read().with_context(|| {
                    format!("read OOM events of cgroup {}", cg.path().display())
                })?;
                if count > 0 && !emit(Event::Oom)? {
                    return Ok(());
                }
                if w.is_removed() {
                    return Ok(());
                }
            }
        }
        if exited {
            return Ok(());
        }
    }
}

fn cg_exists(cg: &Cgroup) -> bool {
    cg.dirs().iter().any(|(_, dir)| dir.exists())
}

/// poll(2) on up to two fds for POLLIN; returns which were ready.
fn poll2(
    a: Option<BorrowedFd>,
    b: Option<BorrowedFd>,
    timeout: Duration,
) -> anyhow::Result<(bool, bool)> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let given: Vec<(usize, BorrowedFd)> = [a, b]
        .into_iter()
        .enumerate()
        .filter_map(|(i, fd)| fd.map(|fd| (i, fd)))
        .collect();
    let mut fds: Vec<PollFd> = given
        .iter()
        .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
    match poll(
        &mut fds,
        PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
    ) {
        Ok(_) => {}
        Err(nix::errno::Errno::EINTR) => return Ok((false, false)),
        Err(e) => return Err(e).context("poll the container's events"),
    }
    let mut ready = [false, false];
    for ((i, _), fd) in given.iter().zip(&fds) {
        ready[*i] = fd.revents().is_some_and(|r| !r.is_empty());
    }
    Ok((ready[0], ready[1]))
}
