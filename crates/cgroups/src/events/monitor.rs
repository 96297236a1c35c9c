//! One epoll over many watchers, keyed by the caller (e.g. a container id). No threads.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use super::sys::{self, sys_err};
use super::watch::{Watch, Watcher};
use super::Event;
use crate::error::Result;

const EPOLL: &str = "[epoll]";

/// Many cgroups' watchers behind one epoll fd. Dropping the monitor closes every fd.
///
/// The monitor's own fd ([`AsFd`]) becomes readable when any watcher is ready, so it can
/// sit inside a bigger event loop.
#[derive(Debug)]
pub struct EventMonitor<K> {
    epoll: Epoll,
    /// token -> (key, watcher)
    entries: BTreeMap<u64, (K, Watch)>,
    next: u64,
}

impl<K: Clone + PartialEq> EventMonitor<K> {
    /// An empty monitor.
    pub fn new() -> Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
            .map_err(|e| sys_err("epoll_create1", Path::new(EPOLL))(e.into()))?;
        Ok(EventMonitor {
            epoll,
            entries: BTreeMap::new(),
            next: 0,
        })
    }

    /// Watch `watcher` under `key` (one key may have several watchers).
    pub fn add(&mut self, key: K, watcher: impl Into<Watcher>) -> Result<()> {
        let w = watcher.into().0;
        let token = self.next;
        let ev = EpollEvent::new(EpollFlags::from_bits_retain(w.interest() as i32), token);
        self.epoll
            .add(w.fd(), ev)
            .map_err(|e| sys_err("epoll_ctl(ADD)", Path::new(EPOLL))(e.into()))?;
        self.next += 1;
        self.entries.insert(token, (key, w));
        Ok(())
    }

    /// Stop watching everything under `key`; the watchers are handed back (drop them to
    /// close their fds).
    pub fn remove(&mut self, key: &K) -> Vec<Watcher> {
        let tokens: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, (k, _))| k == key)
            .map(|(t, _)| *t)
            .collect();
        tokens
            .into_iter()
            .filter_map(|t| self.take(t))
            .map(Watcher)
            .collect()
    }

    fn take(&mut self, token: u64) -> Option<Watch> {
        let (_, w) = self.entries.remove(&token)?;
        // Failure (already gone) changes nothing for us.
        let _ = self.epoll.delete(w.fd());
        Some(w)
    }

    /// Number of watchers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Wait up to `timeout` (None: forever) for events; empty on timeout. Watchers whose
    /// cgroup was removed report [`Event::Removed`] once and are dropped.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<Vec<(K, Event)>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut buf = [EpollEvent::empty(); 64];
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ms = EpollTimeout::try_from(sys::timeout_ms(left)).unwrap_or(EpollTimeout::NONE);
            let n = match self.epoll.wait(&mut buf, ms) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(sys_err("epoll_wait", Path::new(EPOLL))(e.into())),
            };
            let mut out = Vec::new();
            for ev in &buf[..n] {
                let (token, revents) = (ev.data(), ev.events().bits() as u32);
                let Some((key, w)) = self.entries.get_mut(&token) else {
                    continue;
                };
                let r = w.on_ready(revents)?;
                let Some(event) = w.event(r) else { continue };
                let key = key.clone();
                if event == Event::Removed {
                    self.take(token);
                }
                out.push((key, event));
            }
            if !out.is_empty() || left.is_some_and(|l| l.is_zero()) {
                return Ok(out);
            }
        }
    }
}

impl<K> AsFd for EventMonitor<K> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}
