//! pids: task limit and count.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::{pids_max, Setting};
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    if let Some(p) = &r.pids {
        out.push(Setting::new(PIDS_MAX, pids_max(p.limit)));
    }
}

pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    if let Some(c) = fs::read_u64_opt(&dir.join(PIDS_CURRENT), ign)? {
        stats.pids.current = c;
    }
    if let Some(m) = fs::read_u64_opt(&dir.join(PIDS_MAX), ign)? {
        stats.pids.limit = if m == u64::MAX { 0 } else { m };
    }
    Ok(())
}
