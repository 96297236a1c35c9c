//! cpuset: cpus and mems (v2 has effective values, so no copy-down is needed).

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::{parse_list, Stats};
use std::path::Path;

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    let Some(c) = &r.cpu else { return Ok(()) };
    if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(CPUSET_CPUS, cpus.to_string()));
    }
    if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
        out.push(Setting::new(CPUSET_MEMS, mems.to_string()));
    }
    Ok(())
}

/// The effective cpus and mems (what the cgroup may really use).
pub(crate) fn stat(dir: &Path, stats: &mut Stats) -> Result<()> {
    let c = &mut stats.cpuset;
    for (file, list) in [
        (CPUSET_CPUS_EFFECTIVE, &mut c.cpus),
        (CPUSET_MEMS_EFFECTIVE, &mut c.mems),
    ] {
        let path = dir.join(file);
        // Absent without the cpuset controller.
        if let Some(text) = fs::read_if_exists(&path)? {
            *list = parse_list(&path, &text)?;
        }
    }
    Ok(())
}
