//! pids: pids.max ("max" for -1/0) and pids.current.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::{pids_max, Setting};
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    if let Some(p) = &r.pids {
        out.push(Setting::new(PIDS_MAX, pids_max(p.limit)));
    }
    Ok(())
}

pub(crate) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    if let Some(c) = fs::read_u64_opt(&dir.join(PIDS_CURRENT), ign)? {
        stats.pids.current = c;
    }
    if let Some(m) = fs::read_u64_opt(&dir.join(PIDS_MAX), ign)? {
        stats.pids.limit = if m == u64::MAX { 0 } else { m };
    }
    Ok(())
}
