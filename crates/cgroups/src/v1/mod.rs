//! cgroup v1: one hierarchy per controller (or comounted group). Resources become a plan of
//! (file, value) pairs, as on v2 ([`crate::plan`]), each written in its controller's
//! hierarchy; each controller file holds its part of the plan and its statistics.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
pub(crate) mod files;
pub(crate) mod freezer;
mod hugetlb;
mod memory;
mod net_cls;
mod net_prio;
mod pids;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::events::{MemoryEvent, Watcher};
use crate::hierarchy::Mount;
use crate::manager::Manager as _;
use crate::path::CgroupPath;
use crate::plan::{self, Facts, Setting};
use crate::resources::Resources;
use crate::stats::Stats;
use crate::{fs, FreezerState, Pid, Recursive, StatOptions};
use files::{
    BLKIO_BFQ_WEIGHT, BLKIO_WEIGHT, CGROUP_PROCS, MEMORY_LIMIT, MEMORY_MEMSW_LIMIT, TASKS,
};

/// The controllers a cgroup is made in, in the order their settings are planned (cpuset
/// first: its copy-down).
const CONTROLLERS: &[&str] = &[
    "cpuset", "devices", "memory", "cpu", "cpuacct", "pids", "blkio", "hugetlb", "net_cls",
    "net_prio", "freezer", "rdma",
];

/// Turn resources into the files to write, in order (file names start with their
/// controller). `facts`: what was read from the cgroup first.
pub(crate) fn settings(r: &Resources, facts: &Facts) -> Result<Vec<Setting>> {
    if !r.unified.is_empty() {
        return Err(Error::Unsupported {
            what: "unified (raw cgroup v2 files)",
            version: "v1",
        });
    }
    let mut out = Vec::new();
    cpuset::settings(r, &mut out)?;
    devices::settings(r, &mut out);
    memory::settings(r, facts, &mut out)?;
    cpu::settings(r, &mut out)?;
    pids::settings(r, &mut out);
    blkio::settings(r, facts, &mut out);
    hugetlb::settings(r, &mut out);
    net_cls::settings(r, &mut out);
    net_prio::settings(r, &mut out);
    plan::rdma(r, files::RDMA_MAX, &mut out);
    Ok(out)
}

/// Where one controller's directory is.
#[derive(Debug, Clone)]
struct Place {
    mount: PathBuf,
    dir: PathBuf,
}

/// A cgroup in the v1 hierarchies.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    places: BTreeMap<&'static str, Place>,
}

/// Hierarchy whose cgroup.procs answers "which processes": all hold the same processes when
/// the cgroup was made by this crate.
const PRIMARY: &[&str] = &["freezer", "pids", "memory", "cpu", "cpuacct", "devices"];

impl Manager {
    fn locate(mounts: &BTreeMap<String, Mount>, path: &CgroupPath) -> Manager {
        let places = CONTROLLERS
            .iter()
            .filter_map(|c| {
                let m = mounts.get(*c)?;
                let dir = m.dir_for(path.for_controller(c));
                Some((
                    *c,
                    Place {
                        mount: m.mountpoint.clone(),
                        dir,
                    },
                ))
            })
            .collect();
        Manager { places }
    }

    /// Every distinct directory (comounted controllers share one).
    fn distinct_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.places.values().map(|p| p.dir.as_path()).collect();
        v.sort();
        v.dedup();
        v
    }

    fn primary(&self) -> Result<&Path> {
        PRIMARY
            .iter()
            .find_map(|n| self.places.get(n))
            .or_else(|| self.places.values().next())
            .map(|p| p.dir.as_path())
            .ok_or_else(|| Error::Mounts("no cgroup v1 controller is mounted".into()))
    }

    fn dir_of(&self, controller: &str, needed_by: &str) -> Result<&Path> {
        self.places
            .get(controller)
            .map(|p| p.dir.as_path())
            .ok_or_else(|| Error::ControllerMissing {
                controller: controller.to_string(),
                needed_by: needed_by.to_string(),
            })
    }

    /// What the plan depends on, read from the cgroup's files (only what `r` needs).
    fn facts(&self, r: &Resources) -> Result<Facts> {
        let mut facts = Facts::default();
        if let Some(p) = self.places.get("memory").filter(|_| r.memory.is_some()) {
            facts.memsw = p.dir.join(MEMORY_MEMSW_LIMIT).exists();
            if memory::needs_current_limit(r) {
                facts.memory_limit = Some(fs::read_u64(&p.dir.join(MEMORY_LIMIT))?);
            }
        }
        if let Some(p) = self.places.get("blkio").filter(|_| r.block_io.is_some()) {
            facts.bfq = !p.dir.join(BLKIO_WEIGHT).exists() && p.dir.join(BLKIO_BFQ_WEIGHT).exists();
        }
        Ok(facts)
    }

    /// Fail before anything is made when `plan` needs a controller that is not mounted.
    fn check(&self, plan: &[Setting]) -> Result<()> {
        for s in plan {
            if let Some(c) = s.controller() {
                self.dir_of(c, &s.file)?;
            }
        }
        Ok(())
    }

    /// Create the directories in every mounted hierarchy and apply `r`; on any error remove
    /// what was created.
    pub fn create(
        mounts: &BTreeMap<String, Mount>,
        path: &CgroupPath,
        r: &Resources,
    ) -> Result<Manager> {
        let m = Self::locate(mounts, path);
        // What can be told without the cgroup is told before it is made.
        m.check(&settings(r, &Facts::default())?)?;
        let mut created = Vec::new();
        let res = m.create_inner(r, &mut created);
        if let Err(e) = res {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir);
            }
            return Err(e);
        }
        Ok(m)
    }

    fn create_inner(&self, r: &Resources, created: &mut Vec<PathBuf>) -> Result<()> {
        let mut done: Vec<&Path> = Vec::new();
        for p in self.places.values() {
            if !done.contains(&p.dir.as_path()) {
                fs::create_levels(&p.mount, &p.dir, created)?;
                done.push(&p.dir);
            }
        }
        if let Some(p) = self.places.get("cpuset") {
            cpuset::prepare(&p.mount, &p.dir)?;
        }
        self.apply(r)
    }

    /// An existing cgroup: the hierarchies where its directory exists.
    pub fn load(mounts: &BTreeMap<String, Mount>, path: &CgroupPath) -> Result<Manager> {
        let mut m = Self::locate(mounts, path);
        m.places.retain(|_, p| p.dir.is_dir());
        if m.places.is_empty() {
            return Err(Error::NotFound {
                path: path.shown().to_path_buf(),
            });
        }
        Ok(m)
    }

    fn list(&self, file: &str, recursive: Recursive) -> Result<Vec<Pid>> {
        let dir = self.primary()?;
        let mut dirs = vec![dir.to_path_buf()];
        if recursive == Recursive::Yes {
            dirs.extend(fs::subdirs(dir)?);
        }
        let mut out = Vec::new();
        for d in dirs {
            match fs::read_pids(&d.join(file)) {
                Ok(p) => out.extend(p.into_iter().map(Pid)),
                // A child cgroup removed while we walk.
                Err(e) if e.is_not_found() && d != dir => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl crate::manager::Manager for Manager {
    /// (hierarchy name, directory) once per mounted hierarchy; the name is the mount
    /// point's last component, e.g. `memory` or `cpu,cpuacct`.
    fn dirs(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = self
            .places
            .values()
            .map(|p| {
                let name = p
                    .mount
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, p.dir.clone())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn unified_dir(&self) -> Option<&Path> {
        None
    }

    fn add(&self, pid: Pid) -> Result<()> {
        for d in self.distinct_dirs() {
            fs::write_pid(&d.join(CGROUP_PROCS), pid.0)?;
        }
        Ok(())
    }

    /// "0" to `tasks`: a thread moving itself skips the kernel's global threadgroup lock,
    /// whose RCU grace period otherwise costs milliseconds per attach.
    fn add_self(&self) -> Result<()> {
        self.add_task(Pid(0))
    }

    fn add_task(&self, tid: Pid) -> Result<()> {
        for d in self.distinct_dirs() {
            fs::write_pid(&d.join(TASKS), tid.0)?;
        }
        Ok(())
    }

    fn apply(&self, r: &Resources) -> Result<()> {
        let plan = settings(r, &self.facts(r)?)?;
        self.check(&plan)?;
        plan::write(&plan, |c| match c {
            Some(c) => self.dir_of(c, "resources"),
            None => self.primary(),
        })
    }

    fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(CGROUP_PROCS, recursive)
    }

    fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(TASKS, recursive)
    }

    fn freeze(&self) -> Result<()> {
        freezer::freeze(self.dir_of("freezer", "freeze/thaw")?)
    }

    fn thaw(&self) -> Result<()> {
        freezer::thaw(self.dir_of("freezer", "freeze/thaw")?)
    }

    fn state(&self) -> Result<FreezerState> {
        freezer::state(self.dir_of("freezer", "freeze/thaw")?)
    }

    fn kill(&self) -> Result<()> {
        crate::kill_rounds(
            self.primary()?,
            self.places.contains_key("freezer"),
            || self.processes(Recursive::Yes),
            || self.freeze(),
            || self.thaw(),
        )
    }

    /// Remove the cgroup and its children in every hierarchy; tries all, reports the first
    /// error.
    fn delete(&self) -> Result<()> {
        let mut first = None;
        for d in self.distinct_dirs() {
            if let Err(e) = fs::remove_tree(d) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn stats(&self, opts: StatOptions) -> Result<Stats> {
        let mut stats = Stats::default();
        let dir = |c: &str| self.places.get(c).map(|p| p.dir.as_path());
        if let Some(d) = dir("cpuset").filter(|_| opts.full()) {
            cpuset::stat(d, opts, &mut stats)?;
        }
        if let Some(d) = dir("memory") {
            memory::stat(d, opts, &mut stats)?;
        }
        if let Some(d) = dir("cpu") {
            cpu::stat(d, opts, &mut stats)?;
        }
        if let Some(d) = dir("cpuacct") {
            cpuacct::stat(d, opts, &mut stats)?;
        }
        if let Some(d) = dir("pids") {
            pids::stat(d, opts, &mut stats)?;
        }
        if let Some(d) = dir("blkio") {
            blkio::stat(d, &mut stats)?;
        }
        if let Some(d) = dir("hugetlb").filter(|_| opts.full()) {
            hugetlb::stat(d, &mut stats)?;
        }
        Ok(stats)
    }

    fn register(&self, event: MemoryEvent) -> Result<Watcher> {
        crate::events::register_v1(self.dir_of("memory", "memory events")?, event)
    }
}
