//! The v2 cgroup: one directory and a generic writer of (file, value) pairs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::files::*;
use super::{cpu, cpuset, freezer, hugetlb, io, memory, pids};
use crate::error::{Error, Result};
use crate::events::{MemoryEvent, Watcher};
use crate::hierarchy::Mount;
use crate::manager::Manager as _;
use crate::path::CgroupPath;
use crate::plan::{self, Facts, Setting};
use crate::resources::Resources;
use crate::stats::{read_psi, Stats};
use crate::{fs, FreezerState, Pid, Recursive, StatOptions};

/// Turn resources into the files to write, in order. `facts.bfq`: the cgroup has
/// io.bfq.weight. Device rules are not files: [`Manager::apply`] attaches an eBPF program
/// for them.
pub(crate) fn settings(r: &Resources, facts: &Facts) -> Result<Vec<Setting>> {
    let mut out = Vec::new();
    cpu::settings(r, &mut out)?;
    cpuset::settings(r, &mut out)?;
    memory::settings(r, &mut out)?;
    pids::settings(r, &mut out)?;
    io::settings(r, facts.bfq, &mut out)?;
    hugetlb::settings(r, &mut out)?;
    if let Some(n) = &r.network {
        if n.class_id.is_some() || !n.priorities.is_empty() {
            return Err(Error::Unsupported {
                what: "network classID/priorities (net_cls, net_prio)",
                version: "v2",
            });
        }
    }
    plan::rdma(r, RDMA_MAX, &mut out);
    for (k, v) in &r.unified {
        if k.is_empty() || k.contains('/') || k.starts_with('.') {
            return Err(Error::InvalidValue {
                field: "unified",
                value: k.clone(),
                reason: "not a cgroup file name",
            });
        }
        out.push(Setting::new(k, v.clone()));
    }
    Ok(out)
}

/// A cgroup v2 directory.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    mount: PathBuf,
    dir: PathBuf,
}

fn words(path: &Path) -> Result<BTreeSet<String>> {
    Ok(fs::read(path)?
        .split_whitespace()
        .map(|w| w.trim_start_matches(['+', '-']).to_string())
        .collect())
}

/// Enable in `parent`'s subtree_control every controller it has that is not yet enabled
/// (as runc does, so stats work); failures matter only for the controllers in `needed`.
fn enable_controllers(parent: &Path, needed: &BTreeSet<String>) -> Result<()> {
    let available = words(&parent.join(CGROUP_CONTROLLERS))?;
    if let Some(missing) = needed.iter().find(|c| !available.contains(*c)) {
        return Err(Error::ControllerMissing {
            controller: format!(
                "{missing} (not in {})",
                parent.join(CGROUP_CONTROLLERS).display()
            ),
            needed_by: "resources".to_string(),
        });
    }
    let enabled = words(&parent.join(CGROUP_SUBTREE_CONTROL))?;
    let missing: Vec<&String> = available.difference(&enabled).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let file = parent.join(CGROUP_SUBTREE_CONTROL);
    let all: Vec<String> = missing.iter().map(|c| format!("+{c}")).collect();
    // One write enables all (the kernel applies it all or nothing); if that fails, one by
    // one, and only the needed controllers must succeed.
    if fs::write(&file, &all.join(" ")).is_ok() {
        return Ok(());
    }
    for c in missing {
        if let Err(e) = fs::write(&file, &format!("+{c}")) {
            if needed.contains(c) {
                return Err(e);
            }
        }
    }
    Ok(())
}

impl Manager {
    /// Create the directory (and missing parents), enabling controllers on the way down,
    /// then apply `r`; on any error remove what was created.
    pub fn create(mount: &Mount, path: &CgroupPath, r: &Resources) -> Result<Manager> {
        // Conversion errors come before anything is created.
        let pre = settings(r, &Facts::default())?;
        if !r.devices.is_empty() {
            super::devices::program(&r.devices)?;
        }
        let needed = plan::controllers(&pre);
        let m = Manager {
            mount: mount.mountpoint.clone(),
            dir: mount.dir_for(path.unified()),
        };
        let mut created = Vec::new();
        let res = m.create_inner(r, &needed, &mut created);
        if let Err(e) = res {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
        Ok(m)
    }

    fn create_inner(
        &self,
        r: &Resources,
        needed: &BTreeSet<String>,
        created: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let rel = self
            .dir
            .strip_prefix(&self.mount)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut cur = self.mount.clone();
        for comp in rel.components() {
            enable_controllers(&cur, needed)?;
            let next = cur.join(comp);
            fs::create_levels(&cur, &next, created)?;
            cur = next;
        }
        self.apply(r)
    }

    pub fn load(mount: &Mount, path: &CgroupPath) -> Result<Manager> {
        let m = Self::locate(mount, path);
        if !m.dir.is_dir() {
            return Err(Error::NotFound {
                path: path.shown().to_path_buf(),
            });
        }
        Ok(m)
    }

    /// The manager of `path`'s directory, which may not exist.
    fn locate(mount: &Mount, path: &CgroupPath) -> Manager {
        Manager {
            mount: mount.mountpoint.clone(),
            dir: mount.dir_for(path.unified()),
        }
    }

    fn list(&self, file: &str, recursive: Recursive) -> Result<Vec<Pid>> {
        let mut dirs = vec![self.dir.clone()];
        if recursive == Recursive::Yes {
            dirs.extend(fs::subdirs(&self.dir)?);
        }
        let mut out = Vec::new();
        for d in dirs {
            match fs::read_pids(&d.join(file)) {
                Ok(p) => out.extend(p.into_iter().map(Pid)),
                Err(e) if e.is_not_found() && d != self.dir => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl crate::manager::Manager for Manager {
    /// The one directory, under an empty hierarchy name.
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        vec![(String::new(), self.dir.clone())]
    }

    fn unified_dir(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn add(&self, pid: Pid) -> Result<()> {
        fs::write_pid(&self.dir.join(CGROUP_PROCS), pid.0)
    }

    fn add_self(&self) -> Result<()> {
        self.add(Pid(0))
    }

    fn add_task(&self, tid: Pid) -> Result<()> {
        fs::write_pid(&self.dir.join(CGROUP_THREADS), tid.0)
    }

    fn apply(&self, r: &Resources) -> Result<()> {
        let facts = Facts {
            bfq: self.dir.join(IO_BFQ_WEIGHT).exists(),
            ..Facts::default()
        };
        plan::write(&settings(r, &facts)?, |_| Ok(self.dir.as_path()))?;
        if !r.devices.is_empty() {
            super::devices::apply(&self.dir, &r.devices)?;
        }
        Ok(())
    }

    fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(CGROUP_PROCS, recursive)
    }

    fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(CGROUP_THREADS, recursive)
    }

    fn freeze(&self) -> Result<()> {
        freezer::set(&self.dir, true)
    }

    fn thaw(&self) -> Result<()> {
        freezer::set(&self.dir, false)
    }

    fn state(&self) -> Result<FreezerState> {
        freezer::state(&self.dir)
    }

    /// cgroup.kill (Linux >= 5.14), else freeze/SIGKILL/thaw rounds; then wait until empty.
    fn kill(&self) -> Result<()> {
        if fs::write_if_exists(&self.dir.join(CGROUP_KILL), "1")? {
            let empty = fs::poll(Duration::from_secs(2), || {
                Ok(self.processes(Recursive::Yes)?.is_empty())
            })?;
            if empty {
                return Ok(());
            }
        }
        crate::kill_rounds(
            &self.dir,
            true,
            || self.processes(Recursive::Yes),
            || self.freeze(),
            || self.thaw(),
        )
    }

    fn delete(&self) -> Result<()> {
        fs::remove_tree(&self.dir)
    }

    fn stats(&self, opts: StatOptions) -> Result<Stats> {
        let mut stats = Stats::default();
        cpu::stat(&self.dir, opts, &mut stats)?;
        memory::stat(&self.dir, opts, &mut stats)?;
        pids::stat(&self.dir, opts, &mut stats)?;
        io::stat(&self.dir, opts, &mut stats)?;
        if !opts.full() {
            return Ok(stats);
        }
        hugetlb::stat(&self.dir, &mut stats)?;
        cpuset::stat(&self.dir, &mut stats)?;
        stats.cpu.psi = read_psi(&self.dir.join(CPU_PRESSURE))?;
        stats.blkio.psi = read_psi(&self.dir.join(IO_PRESSURE))?;
        Ok(stats)
    }

    fn register(&self, event: MemoryEvent) -> Result<Watcher> {
        crate::events::register_v2(&self.dir, event)
    }
}
