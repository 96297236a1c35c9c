//! The drivers behind [`crate::Cgroup`], peers behind one interface (as youki's
//! `CgroupManager` and `AnyCgroupManager`): cgroupfs v1, cgroupfs v2, and systemd, which
//! keeps a unit and writes its files through the cgroupfs driver of the machine's version.
//! *Where* a cgroup is stays with [`crate::Placement`]; a driver writes resources and moves
//! processes there.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::events::{MemoryEvent, Watcher};
use crate::resources::Resources;
use crate::stats::Stats;
use crate::{systemd, v1, v2, FreezerState, Pid, Recursive, StatOptions};

/// What every driver does.
pub(crate) trait Manager {
    /// The cgroup's directory in each hierarchy, with the hierarchy's name (empty on v2).
    fn dirs(&self) -> Vec<(String, PathBuf)>;
    /// The v2 directory, which a process can be born in (clone3's CLONE_INTO_CGROUP).
    fn unified_dir(&self) -> Option<&Path>;
    fn add(&self, pid: Pid) -> Result<()>;
    /// The calling single-threaded process moves itself in.
    fn add_self(&self) -> Result<()>;
    fn add_task(&self, tid: Pid) -> Result<()>;
    /// The cgroup's first process is in it (born there, moved by itself or by
    /// [`Manager::add`]): a driver that needs one to exist (a systemd scope) starts now.
    fn started(&self, _pid: Pid) -> Result<()> {
        Ok(())
    }
    fn apply(&self, r: &Resources) -> Result<()>;
    fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>>;
    fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>>;
    fn freeze(&self) -> Result<()>;
    fn thaw(&self) -> Result<()>;
    fn state(&self) -> Result<FreezerState>;
    /// SIGKILL everything (recursively) until nothing is left.
    fn kill(&self) -> Result<()>;
    /// Remove the cgroup and its children (a systemd unit is stopped first).
    fn delete(&self) -> Result<()>;
    fn stats(&self, opts: StatOptions) -> Result<Stats>;
    fn register(&self, event: MemoryEvent) -> Result<Watcher>;
}

/// One of the drivers.
#[derive(Debug, Clone)]
pub(crate) enum AnyManager {
    V1(v1::Manager),
    V2(v2::Manager),
    Systemd(Box<systemd::Manager>),
}

macro_rules! each {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            AnyManager::V1($m) => $e,
            AnyManager::V2($m) => $e,
            AnyManager::Systemd($m) => $e,
        }
    };
}

impl Manager for AnyManager {
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        each!(self, m => m.dirs())
    }
    fn unified_dir(&self) -> Option<&Path> {
        each!(self, m => m.unified_dir())
    }
    fn add(&self, pid: Pid) -> Result<()> {
        each!(self, m => m.add(pid))
    }
    fn add_self(&self) -> Result<()> {
        each!(self, m => m.add_self())
    }
    fn add_task(&self, tid: Pid) -> Result<()> {
        each!(self, m => m.add_task(tid))
    }
    fn started(&self, pid: Pid) -> Result<()> {
        each!(self, m => m.started(pid))
    }
    fn apply(&self, r: &Resources) -> Result<()> {
        each!(self, m => m.apply(r))
    }
    fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        each!(self, m => m.processes(recursive))
    }
    fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        each!(self, m => m.tasks(recursive))
    }
    fn freeze(&self) -> Result<()> {
        each!(self, m => m.freeze())
    }
    fn thaw(&self) -> Result<()> {
        each!(self, m => m.thaw())
    }
    fn state(&self) -> Result<FreezerState> {
        each!(self, m => m.state())
    }
    fn kill(&self) -> Result<()> {
        each!(self, m => m.kill())
    }
    fn delete(&self) -> Result<()> {
        each!(self, m => m.delete())
    }
    fn stats(&self, opts: StatOptions) -> Result<Stats> {
        each!(self, m => m.stats(opts))
    }
    fn register(&self, event: MemoryEvent) -> Result<Watcher> {
        each!(self, m => m.register(event))
    }
}
