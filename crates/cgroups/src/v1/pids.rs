//! pids: task limit and count.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

pub(crate) struct Pids;

/// pids.max value: "max" for -1 or 0 (OCI "no limit").
pub(crate) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

impl Subsystem for Pids {
    fn name(&self) -> &'static str {
        "pids"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        r.pids.as_ref().map(|_| "pids.limit")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        if let Some(p) = &r.pids {
            fs::write(&dir.join(PIDS_MAX), &pids_max(p.limit))?;
        }
        Ok(())
    }

    fn stat(&self, dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
        let ign = opts.ignore_not_exist;
        if let Some(c) = fs::read_u64_opt(&dir.join(PIDS_CURRENT), ign)? {
            stats.pids.current = c;
        }
        if let Some(m) = fs::read_u64_opt(&dir.join(PIDS_MAX), ign)? {
            stats.pids.limit = if m == u64::MAX { 0 } else { m };
        }
        Ok(())
    }
}
