//! pids: pids.max ("max" for -1/0) and pids.current.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::plan::{pids_max, Setting};
use crate::resources::Resources;
use crate::stats::{PidsStats, Stats};
use crate::StatOptions;

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    if let Some(p) = &r.pids {
        out.push(Setting::new(PIDS_MAX, pids_max(p.limit)));
    }
    Ok(())
}

pub(crate) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    stats.pids = PidsStats::read(dir, (PIDS_CURRENT, PIDS_MAX), opts.ignore_not_exist)?;
    Ok(())
}
