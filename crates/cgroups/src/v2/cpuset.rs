//! cpuset: cpus and mems (v2 has effective values, so no copy-down is needed).

use super::files::*;
use super::manager::Setting;
use crate::error::Result;
use crate::resources::Resources;

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
