//! One watched event source (one fd) and the public watcher types around it.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::sys::{self, sys_err};
use super::{
    Event, MemoryEvent, PsiTrigger, V1_EVENT_CONTROL, V2_MEMORY_EVENTS, V2_MEMORY_PRESSURE,
};
use crate::error::{Error, Result};
use crate::fs;

#[derive(Debug)]
enum Source {
    /// v1: an eventfd registered through cgroup.event_control of `dir`.
    EventFd { fd: OwnedFd, dir: PathBuf },
    /// v2 OOM: inotify on memory.events (IN_MODIFY) and on the directory (IN_DELETE_SELF);
    /// `last` is the oom_kill count already reported.
    MemoryEvents {
        ino: OwnedFd,
        file: PathBuf,
        dir: PathBuf,
        last: u64,
    },
    /// v2 pressure: a PSI trigger fd, ready with POLLPRI.
    Psi { fd: OwnedFd },
}

/// One event source: its fd, what it reports, whether its cgroup is gone.
#[derive(Debug)]
pub(crate) struct Watch {
    src: Source,
    kind: MemoryEvent,
    removed: bool,
}

/// What one readiness of the fd meant.
pub(crate) enum Readout {
    Nothing,
    Count(u64),
    Removed,
}

impl Watch {
    /// v1: eventfd + `file` registered in `dir`'s cgroup.event_control with `arg`.
    pub fn eventfd(dir: &Path, file: &str, arg: &str, kind: MemoryEvent) -> Result<Watch> {
        let efd = sys::eventfd().map_err(sys_err("eventfd", dir))?;
        let target = dir.join(file);
        let tfd = sys::open(&target, libc::O_RDONLY).map_err(sys_err("open", &target))?;
        let line = format!("{} {}{arg}", efd.as_raw_fd(), tfd.as_raw_fd());
        // The kernel keeps the eventfd, not the target fd: tfd is closed on return, and
        // closing efd later unregisters the event.
        fs::write(&dir.join(V1_EVENT_CONTROL), &line)?;
        Ok(Watch {
            src: Source::EventFd {
                fd: efd,
                dir: dir.to_path_buf(),
            },
            kind,
            removed: false,
        })
    }

    /// v2: inotify on `dir`/memory.events, counting `oom_kill` increments from now on.
    pub fn memory_events(dir: &Path) -> Result<Watch> {
        let file = dir.join(V2_MEMORY_EVENTS);
        let ino = sys::inotify().map_err(sys_err("inotify_init1", dir))?;
        sys::add_watch(&ino, &file, libc::IN_MODIFY)
            .map_err(sys_err("inotify_add_watch", &file))?;
        // cgroupfs reports no IN_DELETE_SELF for a removed cgroup (its directories keep
        // their link count), but the parent sees IN_DELETE: watch that, then check.
        if let Some(parent) = dir.parent() {
            sys::add_watch(&ino, parent, libc::IN_DELETE | libc::IN_ONLYDIR)
                .map_err(sys_err("inotify_add_watch", parent))?;
        }
        let last = oom_kills(&file)?;
        Ok(Watch {
            src: Source::MemoryEvents {
                ino,
                file,
                dir: dir.to_path_buf(),
                last,
            },
            kind: MemoryEvent::Oom,
            removed: false,
        })
    }

    /// v2: a PSI trigger on `dir`/memory.pressure.
    pub fn psi(dir: &Path, t: PsiTrigger, kind: MemoryEvent) -> Result<Watch> {
        let file = dir.join(V2_MEMORY_PRESSURE);
        let fd =
            sys::open(&file, libc::O_RDWR | libc::O_NONBLOCK).map_err(|source| Error::Write {
                path: file.clone(),
                value: t.line(),
                source,
            })?;
        // The kernel replaces the last byte written with NUL: write one.
        let mut line = t.line().into_bytes();
        line.push(0);
        sys::write_fd(&fd, &line).map_err(|source| Error::Write {
            path: file.clone(),
            value: t.line(),
            source,
        })?;
        Ok(Watch {
            src: Source::Psi { fd },
            kind,
            removed: false,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.src {
            Source::EventFd { fd, .. } | Source::Psi { fd } => fd.as_fd(),
            Source::MemoryEvents { ino, .. } => ino.as_fd(),
        }
    }

    /// The poll/epoll events to wait for (POLLIN and EPOLLIN etc. share their values).
    pub fn interest(&self) -> u32 {
        match self.src {
            Source::Psi { .. } => libc::EPOLLPRI as u32,
            _ => libc::EPOLLIN as u32,
        }
    }

    pub fn is_removed(&self) -> bool {
        self.removed
    }

    pub fn kind(&self) -> MemoryEvent {
        self.kind
    }

    /// Consume one readiness (`revents` from poll/epoll; for eventfd and inotify sources a
    /// plain non-blocking read, so any value works).
    pub fn on_ready(&mut self, revents: u32) -> Result<Readout> {
        if self.removed {
            return Ok(Readout::Nothing);
        }
        let out = match &mut self.src {
            Source::EventFd { fd, dir } => {
                let n = sys::read_eventfd(fd).map_err(sys_err("read eventfd", dir))?;
                if n == 0 {
                    Readout::Nothing
                } else if !dir.join(V1_EVENT_CONTROL).exists() {
                    // The kernel signals the eventfd once more when the cgroup is removed.
                    Readout::Removed
                } else {
                    Readout::Count(n)
                }
            }
            Source::MemoryEvents {
                ino,
                file,
                dir,
                last,
            } => {
                let evs = sys::drain_inotify(ino).map_err(sys_err("read inotify", file))?;
                let gone = evs.iter().any(|(_, m)| {
                    m & (libc::IN_DELETE_SELF | libc::IN_IGNORED) != 0
                        || (m & libc::IN_DELETE != 0 && !dir.exists())
                });
                match (gone, oom_kills(file)) {
                    (true, _) => Readout::Removed,
                    (false, Err(e)) if gone_error(&e) => Readout::Removed,
                    (false, Err(e)) => return Err(e),
                    (false, Ok(now)) => {
                        let n = now.saturating_sub(*last);
                        *last = now.max(*last);
                        if n == 0 {
                            Readout::Nothing
                        } else {
                            Readout::Count(n)
                        }
                    }
                }
            }
            Source::Psi { .. } => {
                if revents & ((libc::EPOLLERR | libc::EPOLLHUP) as u32) != 0 {
                    Readout::Removed
                } else if revents & (libc::EPOLLPRI as u32) != 0 {
                    Readout::Count(1)
                } else {
                    Readout::Nothing
                }
            }
        };
        if matches!(out, Readout::Removed) {
            self.removed = true;
        }
        Ok(out)
    }

    /// The public event for a readout.
    pub fn event(&self, r: Readout) -> Option<Event> {
        match r {
            Readout::Nothing => None,
            Readout::Removed => Some(Event::Removed),
            Readout::Count(count) => Some(match self.kind {
                MemoryEvent::Oom => Event::Oom { count },
                MemoryEvent::Threshold { .. } => Event::Threshold { count },
                MemoryEvent::Pressure { .. } | MemoryEvent::Psi(_) => Event::Pressure { count },
            }),
        }
    }

    /// Non-blocking: what happened since the last read.
    pub fn try_read(&mut self) -> Result<Option<Event>> {
        self.wait(Some(Duration::ZERO))
    }

    /// Block until an event (or removal), at most `timeout` (None: forever).
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if self.removed {
                return Ok(None);
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let fd = match &self.src {
                Source::EventFd { fd, .. } | Source::Psi { fd } => fd,
                Source::MemoryEvents { ino, .. } => ino,
            };
            let revents = sys::poll_one(fd, self.interest() as libc::c_short, left)
                .map_err(|e| sys_err("poll", Path::new("memory event fd"))(e))?;
            // eventfd/inotify sources are read even without readiness: a non-blocking
            // read is cheap and catches counts that changed before the watch existed.
            let ready = revents as u32;
            if ready != 0 || !matches!(self.src, Source::Psi { .. }) {
                let r = self.on_ready(ready)?;
                if let Some(ev) = self.event(r) {
                    return Ok(Some(ev));
                }
            }
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
        }
    }
}

/// A read error meaning "the cgroup is gone" (ENOENT, ENODEV).
fn gone_error(e: &Error) -> bool {
    match e {
        Error::Read { source, .. } => {
            matches!(
                source.raw_os_error(),
                Some(libc::ENOENT) | Some(libc::ENODEV)
            )
        }
        _ => false,
    }
}

/// The `oom_kill` field of a v2 memory.events file (0 when absent).
fn oom_kills(file: &Path) -> Result<u64> {
    Ok(fs::read_flat_keyed(file)?
        .get("oom_kill")
        .copied()
        .unwrap_or(0))
}

/// OOM kills of one cgroup, from [`crate::Cgroup::oom_events`]. Owns its fd (closed on
/// drop); poll it for readability (POLLIN), or [`wait`](Self::wait).
#[derive(Debug)]
pub struct OomWatcher(pub(crate) Watch);

impl OomWatcher {
    /// OOM kills since the last read; 0 when none (never blocks).
    pub fn try_read(&mut self) -> Result<u64> {
        Ok(count(self.0.try_read()?))
    }

    /// Block until at least one OOM kill and return how many; 0 when the cgroup was removed.
    pub fn wait(&mut self) -> Result<u64> {
        Ok(count(self.0.wait(None)?))
    }

    /// Like [`wait`](Self::wait), giving up with 0 after `timeout`.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<u64> {
        Ok(count(self.0.wait(Some(timeout))?))
    }

    /// True once the watched cgroup was seen removed.
    pub fn is_removed(&self) -> bool {
        self.0.is_removed()
    }
}

fn count(ev: Option<Event>) -> u64 {
    match ev {
        Some(Event::Oom { count }) => count,
        _ => 0,
    }
}

/// A registered memory event, from [`crate::Cgroup::register_memory_event`]. Owns its fd
/// (closed on drop, which also unregisters the event in the kernel).
#[derive(Debug)]
pub struct EventWatcher(pub(crate) Watch);

impl EventWatcher {
    /// The event this watcher was registered for.
    pub fn event(&self) -> MemoryEvent {
        self.0.kind()
    }

    /// What happened since the last read, without blocking.
    pub fn try_read(&mut self) -> Result<Option<Event>> {
        self.0.try_read()
    }

    /// Block until the event fires (or the cgroup is removed), at most `timeout`
    /// (None: forever); `None` on timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        self.0.wait(timeout)
    }

    /// The poll events the fd becomes ready with: POLLIN, or POLLPRI for v2 PSI triggers.
    pub fn poll_events(&self) -> libc::c_short {
        self.0.interest() as libc::c_short
    }
}

/// Either watcher, as [`super::EventMonitor::add`] takes it.
#[derive(Debug)]
pub struct Watcher(pub(crate) Watch);

impl From<OomWatcher> for Watcher {
    fn from(w: OomWatcher) -> Watcher {
        Watcher(w.0)
    }
}

impl From<EventWatcher> for Watcher {
    fn from(w: EventWatcher) -> Watcher {
        Watcher(w.0)
    }
}

macro_rules! fd_impls {
    ($($t:ty),*) => {$(
        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.0.fd()
            }
        }
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.0.fd().as_raw_fd()
            }
        }
    )*};
}
fd_impls!(OomWatcher, EventWatcher, Watcher);
