//! cpuset: cpus and mems; new cgroups get them copied down from the nearest ancestor.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::{parse_list, Stats};
use crate::StatOptions;

/// A new cpuset cgroup starts with empty cpus and mems, and no task can join it until they
/// are set: fill every empty level below the mount from its parent, top-down.
pub(super) fn prepare(mount: &Path, dir: &Path) -> Result<()> {
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

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    let Some(c) = &r.cpu else { return Ok(()) };
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(CPUSET_CPUS, cpus));
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(CPUSET_MEMS, mems));
    }
    Ok(())
}

pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    let c = &mut stats.cpuset;
    for (file, list) in [(CPUSET_CPUS, &mut c.cpus), (CPUSET_MEMS, &mut c.mems)] {
        let path = dir.join(file);
        if let Some(text) = read_opt(&path, ign)? {
            *list = parse_list(&path, &text)?;
        }
    }
    // Flags are optional: absent in cgroup_v2-mode cpusets and older kernels.
    let flag = |name: &str| fs::read_u64_opt(&dir.join(format!("cpuset.{name}")), true);
    c.cpu_exclusive = flag("cpu_exclusive")?.unwrap_or(0);
    c.mem_hardwall = flag("mem_hardwall")?.unwrap_or(0);
    c.mem_exclusive = flag("mem_exclusive")?.unwrap_or(0);
    c.memory_migrate = flag("memory_migrate")?.unwrap_or(0);
    c.memory_spread_page = flag("memory_spread_page")?.unwrap_or(0);
    c.memory_spread_slab = flag("memory_spread_slab")?.unwrap_or(0);
    c.memory_pressure = flag("memory_pressure")?.unwrap_or(0);
    c.sched_load_balance = flag("sched_load_balance")?.unwrap_or(0);
    if let Some(t) = fs::read_if_exists(&dir.join("cpuset.sched_relax_domain_level"))? {
        c.sched_relax_domain_level = t.trim().parse().unwrap_or(-1);
    }
    Ok(())
}

fn read_opt(path: &Path, ignore_missing: bool) -> Result<Option<String>> {
    match fs::read(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if ignore_missing && e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}
