//! cgroup v1: one hierarchy per subsystem (or comounted group); each subsystem writes its own
//! files through the [`Subsystem`] trait.

mod blkio;
mod cpu;
mod cpuacct;
mod cpuset;
mod devices;
pub(crate) mod files;
mod freezer;
mod hugetlb;
mod memory;
mod net_cls;
mod net_prio;
pub(crate) mod pids;
pub(crate) mod rdma;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::hierarchy::Mount;
use crate::path::CgroupPath;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::{fs, FreezerState, Pid, Recursive, StatOptions};
use files::{CGROUP_PROCS, TASKS};

/// One v1 subsystem.
pub(crate) trait Subsystem: Sync {
    /// The controller name as mounted ("cpu", "memory", ...).
    fn name(&self) -> &'static str;
    /// Which resource field needs this subsystem, if `r` sets anything for it.
    fn wants(&self, r: &Resources) -> Option<&'static str>;
    /// Called after the cgroup's directories were created, before anything is applied.
    fn prepare(&self, _mount: &Path, _dir: &Path) -> Result<()> {
        Ok(())
    }
    /// Write the resources to the cgroup directory `dir`.
    fn apply(&self, dir: &Path, r: &Resources) -> Result<()>;
    /// Add this subsystem's statistics.
    fn stat(&self, _dir: &Path, _opts: StatOptions, _stats: &mut Stats) -> Result<()> {
        Ok(())
    }
}

/// All subsystems, in the order resources are applied (cpuset first: copy-down).
pub(crate) static SUBSYSTEMS: &[&dyn Subsystem] = &[
    &cpuset::Cpuset,
    &devices::Devices,
    &memory::Memory,
    &cpu::Cpu,
    &cpuacct::Cpuacct,
    &pids::Pids,
    &blkio::Blkio,
    &hugetlb::Hugetlb,
    &net_cls::NetCls,
    &net_prio::NetPrio,
    &freezer::Freezer,
    &rdma::Rdma,
];

/// Where one subsystem's directory is.
#[derive(Debug, Clone)]
struct Place {
    mount: PathBuf,
    dir: PathBuf,
}

/// A cgroup in the v1 hierarchies.
#[derive(Debug, Clone)]
pub(crate) struct Manager {
    places: BTreeMap<&'static str, Place>,
    fake: bool,
}

/// Hierarchy whose cgroup.procs answers "which processes": all hold the same processes when
/// the cgroup was made by this crate.
const PRIMARY: &[&str] = &["freezer", "pids", "memory", "cpu", "cpuacct", "devices"];

impl Manager {
    fn locate(mounts: &BTreeMap<String, Mount>, path: &CgroupPath, fake: bool) -> Manager {
        let places = SUBSYSTEMS
            .iter()
            .filter_map(|s| {
                let m = mounts.get(s.name())?;
                let dir = m.dir_for(path.for_controller(s.name()));
                Some((
                    s.name(),
                    Place {
                        mount: m.mountpoint.clone(),
                        dir,
                    },
                ))
            })
            .collect();
        Manager { places, fake }
    }

    /// Every distinct directory (comounted subsystems share one).
    fn dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.places.values().map(|p| p.dir.as_path()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// (hierarchy name, directory) once per mounted hierarchy; the name is the mount
    /// point's last component, e.g. `memory` or `cpu,cpuacct`.
    pub fn hierarchy_dirs(&self) -> Vec<(String, PathBuf)> {
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

    fn primary(&self) -> Result<&Path> {
        PRIMARY
            .iter()
            .find_map(|n| self.places.get(n))
            .or_else(|| self.places.values().next())
            .map(|p| p.dir.as_path())
            .ok_or_else(|| Error::Mounts("no cgroup v1 subsystem is mounted".into()))
    }

    /// Create the directories in every mounted subsystem and apply `r`; on any error remove
    /// what was created.
    pub fn create(
        mounts: &BTreeMap<String, Mount>,
        path: &CgroupPath,
        r: &Resources,
        fake: bool,
    ) -> Result<Manager> {
        let m = Self::locate(mounts, path, fake);
        m.check(r)?;
        let mut created = Vec::new();
        let res = m.create_inner(r, &mut created);
        if let Err(e) = res {
            for dir in created.iter().rev() {
                let _ = fs::remove_dir(dir, fake);
            }
            return Err(e);
        }
        Ok(m)
    }

    fn create_inner(&self, r: &Resources, created: &mut Vec<PathBuf>) -> Result<()> {
        let mut done: Vec<&Path> = Vec::new();
        for p in self.places.values() {
            if !done.contains(&p.dir.as_path()) {
                fs::create_levels(&p.mount, &p.dir, created, self.fake)?;
                done.push(&p.dir);
            }
        }
        for s in SUBSYSTEMS {
            if let Some(p) = self.places.get(s.name()) {
                s.prepare(&p.mount, &p.dir)?;
            }
        }
        self.apply(r)
    }

    /// An existing cgroup: the hierarchies where its directory exists.
    pub fn load(
        mounts: &BTreeMap<String, Mount>,
        path: &CgroupPath,
        fake: bool,
    ) -> Result<Manager> {
        let mut m = Self::locate(mounts, path, fake);
        m.places.retain(|_, p| p.dir.is_dir());
        if m.places.is_empty() {
            return Err(Error::NotFound {
                path: path.shown().to_path_buf(),
            });
        }
        Ok(m)
    }

    /// Fail early when `r` needs a subsystem that is not mounted, or v2-only settings.
    fn check(&self, r: &Resources) -> Result<()> {
        if !r.unified.is_empty() {
            return Err(Error::Unsupported {
                what: "unified (raw cgroup v2 files)",
                version: "v1",
            });
        }
        for s in SUBSYSTEMS {
            if let Some(field) = s.wants(r) {
                if !self.places.contains_key(s.name()) {
                    return Err(Error::ControllerMissing {
                        controller: s.name().to_string(),
                        needed_by: field,
                    });
                }
            }
        }
        Ok(())
    }

    pub fn apply(&self, r: &Resources) -> Result<()> {
        self.check(r)?;
        for s in SUBSYSTEMS {
            if let Some(p) = self.places.get(s.name()) {
                s.apply(&p.dir, r)?;
            }
        }
        Ok(())
    }

    pub fn add(&self, pid: Pid) -> Result<()> {
        for d in self.dirs() {
            fs::write_pid(&d.join(CGROUP_PROCS), pid.0)?;
        }
        Ok(())
    }

    pub fn add_task(&self, tid: Pid) -> Result<()> {
        for d in self.dirs() {
            fs::write_pid(&d.join(TASKS), tid.0)?;
        }
        Ok(())
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

    pub fn processes(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(CGROUP_PROCS, recursive)
    }

    pub fn tasks(&self, recursive: Recursive) -> Result<Vec<Pid>> {
        self.list(TASKS, recursive)
    }

    /// The memory controller's directory (for event registration).
    pub fn memory_dir(&self) -> Result<&Path> {
        self.places
            .get("memory")
            .map(|p| p.dir.as_path())
            .ok_or_else(|| Error::ControllerMissing {
                controller: "memory".into(),
                needed_by: "memory events",
            })
    }

    fn freezer_dir(&self) -> Result<&Path> {
        self.places
            .get("freezer")
            .map(|p| p.dir.as_path())
            .ok_or_else(|| Error::ControllerMissing {
                controller: "freezer".into(),
                needed_by: "freeze/thaw",
            })
    }

    pub fn freeze(&self) -> Result<()> {
        freezer::freeze(self.freezer_dir()?)
    }

    pub fn thaw(&self) -> Result<()> {
        freezer::thaw(self.freezer_dir()?)
    }

    pub fn state(&self) -> Result<FreezerState> {
        freezer::state(self.freezer_dir()?)
    }

    /// SIGKILL every process (recursively) until none is left.
    pub fn kill(&self) -> Result<()> {
        crate::kill_rounds(
            self.primary()?,
            self.places.contains_key("freezer"),
            || self.processes(Recursive::Yes),
            || self.freeze(),
            || self.thaw(),
        )
    }

    /// Remove the cgroup and its children in every hierarchy; tries all, reports the first error.
    pub fn delete(&self) -> Result<()> {
        let mut first = None;
        for d in self.dirs() {
            if let Err(e) = fs::remove_tree(d, self.fake) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }

    pub fn stats(&self, opts: StatOptions) -> Result<Stats> {
        let mut stats = Stats::default();
        for s in SUBSYSTEMS {
            if let Some(p) = self.places.get(s.name()) {
                s.stat(&p.dir, opts, &mut stats)?;
            }
        }
        Ok(stats)
    }
}
