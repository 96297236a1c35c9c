//! Create, limit, freeze, measure and remove Linux control groups, on cgroup v1 (legacy and
//! hybrid hierarchies) and v2, through one [`Cgroup`] type. The Rust idiom of Go's
//! containerd/cgroups; knows nothing about containers.
//!
//! ```no_run
//! use cgroups::{Cgroup, CgroupPath, Resources, Pids, Pid};
//! let r = Resources { pids: Some(Pids { limit: 10 }), ..Default::default() };
//! let cg = Cgroup::new(CgroupPath::static_path("/rt/example"), &r)?;
//! cg.add(Pid(std::process::id() as i32))?;
//! # Ok::<(), cgroups::Error>(())
//! ```

mod error;
pub mod events;
mod fs;
mod held_files;
mod hierarchy;
mod manager;
pub mod mountinfo;
mod path;
mod placement;
mod plan;
mod resources;
mod sampler;
mod stats;
pub mod systemd;
mod v1;
mod v2;

#[cfg(test)]
pub(crate) mod testutil;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The cgroups examples of the repository's top-level README (its rust blocks; the others
/// are tagged sh, text, json...), compiled as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct TopReadmeDoctests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

pub use error::{Error, Result};
pub use events::{
    Event, EventMonitor, EventWatcher, MemoryEvent, OomWatcher, PressureLevel, PressureMode,
    PsiTrigger, Watcher,
};
pub use path::CgroupPath;
pub use placement::{Driver, Placement, Request};
pub use resources::{
    BlockIo, Cpu, DeviceKind, DeviceRule, HugepageLimit, InterfacePriority, Memory, Network, Pids,
    Rdma, Resources, ThrottleDevice, WeightDevice,
};
pub use sampler::StatsSampler;
pub use stats::{
    BlkioEntry, BlkioStats, CpuStats, CpuUsage, CpusetStats, HugetlbStats, MemoryEntry,
    MemoryEventCount, MemoryStats, PidsStats, PsiData, PsiStats, Stats, Throttling,
};

use hierarchy::Hierarchy;
use manager::{AnyManager, Manager as _};

/// How this machine's cgroups are mounted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// cgroup v1 only.
    Legacy,
    /// cgroup v1 controllers, plus a cgroup2 mount at /sys/fs/cgroup/unified (used by this
    /// crate like Legacy: resources go to the v1 controllers).
    Hybrid,
    /// cgroup v2 only.
    Unified,
}

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const CGROUP_UNIFIED: &str = "/sys/fs/cgroup/unified";

fn is_cgroup2(path: &str) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
}

/// The cgroup mode of this machine (detected once).
pub fn mode() -> Mode {
    static MODE: OnceLock<Mode> = OnceLock::new();
    *MODE.get_or_init(|| {
        if is_cgroup2(CGROUP_ROOT) {
            Mode::Unified
        } else if is_cgroup2(CGROUP_UNIFIED) {
            Mode::Hybrid
        } else {
            Mode::Legacy
        }
    })
}

/// A process (or thread) id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pid(pub i32);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether listings include child cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recursive {
    Yes,
    No,
}

/// Options for [`Cgroup::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatOptions {
    /// Skip statistics files that do not exist instead of failing.
    pub ignore_not_exist: bool,
    /// How much to read.
    pub detail: Detail,
}

/// How much of a cgroup's statistics [`Cgroup::stats`] reads: every open and read of a
/// cgroup file costs microseconds, which a monitor sampling hundreds of cgroups pays per
/// file per cgroup per scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Detail {
    /// Everything [`Stats`] holds (what `runc events --stats` reports).
    #[default]
    Full,
    /// The counters a metrics exporter samples: CPU usage (total, user, kernel) and
    /// throttling; memory usage, peak, limit, failcnt and `memory.stat`; swap and kernel
    /// memory usage (usage only); pids; block IO. Left at their defaults: per-CPU usage,
    /// cpuset, hugetlb, pressure (PSI), kmem.tcp, memory events and OOM counts (watch
    /// those with [`Cgroup::oom_events`]): on v1, 15 files instead of 40.
    Summary,
}

impl StatOptions {
    /// Whether everything is to be read ([`Detail::Full`]).
    pub(crate) fn full(&self) -> bool {
        self.detail == Detail::Full
    }
}

/// Options for [`Cgroup::delete_with`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeleteOptions {
    /// SIGKILL whatever is still running in the cgroup (and its children) first.
    pub kill: bool,
}

/// Freezer state of a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FreezerState {
    Thawed,
    Frozen,
    Freezing,
}

/// A cgroup, on v1 (a directory in each controller hierarchy) or v2 (one directory),
/// driven through cgroupfs or systemd (see [`Placement`] for where it goes).
#[derive(Debug, Clone)]
pub struct Cgroup {
    path: CgroupPath,
    hierarchy: Hierarchy,
    manager: AnyManager,
}

impl Cgroup {
    /// Create the cgroup (every v1 controller hierarchy except named ones like name=systemd,
    /// or the v2 directory) and apply `resources`. On any failure the directories created
    /// are removed again and the error returned.
    pub fn new(path: CgroupPath, resources: &Resources) -> Result<Cgroup> {
        Self::new_in(Hierarchy::system()?, path, resources)
    }

    /// An existing cgroup; [`Error::NotFound`] if it exists in no hierarchy.
    pub fn load(path: CgroupPath) -> Result<Cgroup> {
        Self::load_in(Hierarchy::system()?, path)
    }

    /// The cgroupfs driver of `h`'s version.
    pub(crate) fn new_in(h: &Hierarchy, path: CgroupPath, r: &Resources) -> Result<Cgroup> {
        path.validate()?;
        let manager = match h {
            Hierarchy::V1 { mounts } => AnyManager::V1(v1::Manager::create(mounts, &path, r)?),
            Hierarchy::V2 { mount } => AnyManager::V2(v2::Manager::create(mount, &path, r)?),
        };
        Ok(Cgroup {
            path,
            hierarchy: h.clone(),
            manager,
        })
    }

    pub(crate) fn load_in(h: &Hierarchy, path: CgroupPath) -> Result<Cgroup> {
        path.validate()?;
        let manager = match h {
            Hierarchy::V1 { mounts } => AnyManager::V1(v1::Manager::load(mounts, &path)?),
            Hierarchy::V2 { mount } => AnyManager::V2(v2::Manager::load(mount, &path)?),
        };
        Ok(Cgroup {
            path,
            hierarchy: h.clone(),
            manager,
        })
    }

    /// This cgroup driven by systemd as `unit` (its files stay the cgroupfs driver's).
    pub(crate) fn with_systemd(self, unit: systemd::Unit) -> Cgroup {
        let manager = AnyManager::Systemd(Box::new(systemd::Manager::new(unit, self.manager)));
        Cgroup {
            manager,
            path: self.path,
            hierarchy: self.hierarchy,
        }
    }

    /// The cgroup's path relative to the hierarchy roots, e.g. "/rt/abc" (where the path
    /// differs per v1 hierarchy, that of freezer, pids or memory).
    pub fn path(&self) -> &Path {
        self.path.shown()
    }

    /// Where the cgroup lives, per hierarchy.
    pub fn cgroup_path(&self) -> &CgroupPath {
        &self.path
    }

    /// The cgroup's directory in each hierarchy, with the hierarchy's name: `memory`,
    /// `cpu,cpuacct`, ... on v1; one entry with an empty name on v2. Useful to bind-mount a
    /// container's own cgroup into it.
    pub fn dirs(&self) -> Vec<(String, PathBuf)> {
        self.manager.dirs()
    }

    /// The v2 directory (None on v1): a process can be created in it directly, with
    /// clone3(2)'s `CLONE_INTO_CGROUP` and an fd of this directory, then
    /// [`Cgroup::started`] is called.
    pub fn unified_dir(&self) -> Option<&Path> {
        self.manager.unified_dir()
    }

    /// Move a process (all its threads) into the cgroup, in every hierarchy.
    pub fn add(&self, pid: Pid) -> Result<()> {
        self.manager.add(pid)
    }

    /// Move the calling process, which must be single-threaded (e.g. a freshly forked
    /// child), into the cgroup. On v1 it writes "0" to `tasks`: a thread moving itself
    /// skips the kernel's global threadgroup lock, whose RCU grace period otherwise costs
    /// milliseconds per attach. On v2 it writes "0" to `cgroup.procs`.
    pub fn add_self(&self) -> Result<()> {
        self.manager.add_self()
    }

    /// Move one thread: v1 `tasks`, v2 `cgroup.threads` (threaded cgroups only).
    pub fn add_task(&self, tid: Pid) -> Result<()> {
        self.manager.add_task(tid)
    }

    /// Tell the driver the cgroup's first process, `pid`, is in it (born there, moved by
    /// itself or by [`Cgroup::add`]). The systemd driver starts a scope made without a
    /// process now ([`Cgroup::new_systemd`]); cgroupfs has nothing to do. Call it once.
    pub fn started(&self, pid: Pid) -> Result<()> {
        self.manager.started(pid)
    }

    /// Apply new resource limits (for a systemd unit: its properties too).
    pub fn update(&self, resources: &Resources) -> Result<()> {
        self.manager.apply(resources)
    }

    /// Processes in the cgroup (and its children with [`Recursive::Yes`]).
    pub fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.manager.processes(recursive)
    }

    /// Threads in the cgroup (and its children with [`Recursive::Yes`]).
    pub fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.manager.tasks(recursive)
    }

    /// Freeze every process; returns once the kernel reports the cgroup frozen (or an error
    /// after ~2 s, leaving it thawed).
    pub fn freeze(&self) -> Result<()> {
        self.manager.freeze()
    }

    /// Thaw the cgroup.
    pub fn thaw(&self) -> Result<()> {
        self.manager.thaw()
    }

    /// Current freezer state.
    pub fn state(&self) -> Result<FreezerState> {
        self.manager.state()
    }

    /// SIGKILL every process in the cgroup and its children and wait until none is left.
    /// A cgroup that is gone has nothing left to kill: that is success (a systemd scope, for
    /// one, disappears as soon as its last process exits, possibly while this runs).
    pub fn kill(&self) -> Result<()> {
        match self.manager.kill() {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }

    /// Remove the cgroup and its children (deepest first) in every hierarchy. Directories
    /// already gone are fine; EBUSY (processes still leaving) is retried for about half a
    /// second. Processes still running make it fail: see [`Cgroup::delete_with`].
    pub fn delete(&self) -> Result<()> {
        self.delete_with(DeleteOptions::default())
    }

    /// [`Cgroup::delete`], first killing what is left when `opts.kill` is set (and once more
    /// if a removal still finds the cgroup busy). A systemd unit is stopped.
    pub fn delete_with(&self, opts: DeleteOptions) -> Result<()> {
        if !opts.kill {
            return self.manager.delete();
        }
        self.kill()?;
        match self.manager.delete() {
            Err(Error::RemoveDir { source, .. }) if source.raw_os_error() == Some(libc::EBUSY) => {
                // Something was added while we killed: once more.
                self.kill()?;
                self.manager.delete()
            }
            other => other,
        }
    }

    /// Watch the cgroup's OOM kills (v1: eventfd on memory.oom_control; v2: inotify on
    /// memory.events, counting `oom_kill`).
    pub fn oom_events(&self) -> Result<OomWatcher> {
        self.manager
            .register(MemoryEvent::Oom)
            .map(|w| OomWatcher(w.0))
    }

    /// Register a memory event: [`MemoryEvent::threshold`] (v1), [`MemoryEvent::pressure`]
    /// (v1 pressure level; v2 PSI trigger), [`MemoryEvent::psi`] (v2), [`MemoryEvent::oom`].
    pub fn register_memory_event(&self, event: MemoryEvent) -> Result<EventWatcher> {
        self.manager.register(event).map(|w| EventWatcher(w.0))
    }

    /// Create the child cgroup `name` (one or more path components) with `resources`,
    /// through cgroupfs (below a systemd scope too: what is below it is delegated).
    pub fn child(&self, name: &str, resources: &Resources) -> Result<Cgroup> {
        let path = self.path.join(name)?;
        Self::new_in(&self.hierarchy, path, resources)
    }

    /// Move every process of this cgroup (not of its children) to `destination`.
    pub fn move_to(&self, destination: &Cgroup) -> Result<()> {
        // Processes can fork while being moved: repeat a few times.
        for _ in 0..5 {
            let pids = self.processes(Recursive::No)?;
            if pids.is_empty() {
                return Ok(());
            }
            for pid in pids {
                match destination.add(pid) {
                    Ok(()) => {}
                    // Exited meanwhile.
                    Err(Error::Write { source, .. })
                        if source.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Usage statistics.
    pub fn stats(&self, opts: StatOptions) -> Result<Stats> {
        self.manager.stats(opts)
    }

    /// A sampler of this cgroup's statistics for a caller that reads them again and again
    /// (a metrics exporter): it keeps the files open between samples. See
    /// [`StatsSampler`].
    pub fn sampler(&self, opts: StatOptions) -> StatsSampler {
        StatsSampler::new(self.clone(), opts)
    }

    /// The systemd unit of a cgroup made or loaded by the systemd driver.
    pub fn systemd_unit(&self) -> Option<&str> {
        match &self.manager {
            AnyManager::Systemd(m) => Some(m.unit_name()),
            _ => None,
        }
    }

    /// systemd's ControlGroup property of this cgroup's unit (None: not loaded, or not a
    /// systemd cgroup).
    pub fn systemd_control_group(&self) -> Result<Option<String>> {
        match &self.manager {
            AnyManager::Systemd(m) => m.control_group(),
            _ => Ok(None),
        }
    }
}

/// SIGKILL one process; one that is already gone is fine.
pub(crate) fn sigkill(pid: Pid) -> Result<()> {
    use nix::sys::signal::{kill, Signal};
    match kill(nix::unistd::Pid::from_raw(pid.0), Signal::SIGKILL) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
        Err(e) => Err(Error::Kill {
            pid: pid.0,
            source: e.into(),
        }),
    }
}

/// Rounds of freeze/kill/thaw before kill() gives up.
const KILL_ROUNDS: u32 = 10;

/// Kill by signals: freeze so nothing forks away between listing and killing, SIGKILL all,
/// thaw so the signals are delivered, wait a moment for them to leave; repeat until empty.
pub(crate) fn kill_rounds(
    dir: &Path,
    can_freeze: bool,
    list: impl Fn() -> Result<Vec<Pid>>,
    freeze: impl Fn() -> Result<()>,
    thaw: impl Fn() -> Result<()>,
) -> Result<()> {
    for _ in 0..KILL_ROUNDS {
        if list()?.is_empty() {
            return Ok(());
        }
        // A failed freeze (timeout) still lets us try to kill.
        let frozen = can_freeze && freeze().is_ok();
        let killed = list().and_then(|pids| pids.into_iter().try_for_each(sigkill));
        if frozen {
            thaw()?;
        }
        killed?;
        fs::poll(Duration::from_millis(200), || Ok(list()?.is_empty()))?;
    }
    let left = list()?;
    if left.is_empty() {
        return Ok(());
    }
    Err(Error::KillIncomplete {
        path: dir.to_path_buf(),
        rounds: KILL_ROUNDS,
        pids: left.into_iter().map(|p| p.0).collect(),
    })
}
