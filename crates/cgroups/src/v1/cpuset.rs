//! cpuset: cpus and mems; new cgroups get them copied down from the nearest ancestor.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;

pub(crate) struct Cpuset;

impl Subsystem for Cpuset {
    fn name(&self) -> &'static str {
        "cpuset"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        let c = r.cpu.as_ref()?;
        if c.cpus.as_deref().is_some_and(|s| !s.is_empty()) {
            Some("cpu.cpus")
        } else if c.mems.as_deref().is_some_and(|s| !s.is_empty()) {
            Some("cpu.mems")
        } else {
            None
        }
    }

    /// A new cpuset cgroup starts with empty cpus and mems, and no task can join it until
    /// they are set: fill every empty level below the mount from its parent, top-down.
    fn prepare(&self, mount: &Path, dir: &Path) -> Result<()> {
        let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
        let mut parent = mount.to_path_buf();
        for comp in rel.components() {
            let cur = parent.join(comp);
            for file in [CPUSET_CPUS, CPUSET_MEMS] {
                let own = fs::read(&cur.join(file))?;
                if own.trim().is_empty() {
                    let inherited = fs::read(&parent.join(file))?;
                    let inherited = inherited.trim();
                    if !inherited.is_empty() {
                        fs::write(&cur.join(file), inherited)?;
                    }
                }
            }
            parent = cur;
        }
        Ok(())
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        let Some(c) = &r.cpu else { return Ok(()) };
        if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
            fs::write(&dir.join(CPUSET_CPUS), cpus)?;
        }
        if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
            fs::write(&dir.join(CPUSET_MEMS), mems)?;
        }
        Ok(())
    }
}
