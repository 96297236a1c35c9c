//! pids: task limit and count.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::plan::{pids_max, Setting};
use crate::resources::Resources;
use crate::stats::{PidsStats, Stats};
use crate::StatOptions;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    if let Some(p) = &r.pids {
        out.push(Setting::new(PIDS_MAX, pids_max(p.limit)));
    }
}

pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    stats.pids = PidsStats::read(dir, (PIDS_CURRENT, PIDS_MAX), opts.ignore_not_exist)?;
    Ok(())
}
