//! hugetlb: hugetlb.<size>.max; usage from .current and failures from .events.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::{hugepage_sizes, HugetlbStats, Stats};

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    for l in &r.hugepage_limits {
        out.push(Setting::new(
            hugetlb(&l.page_size, HUGETLB_MAX),
            l.limit.to_string(),
        ));
    }
    Ok(())
}

pub(crate) fn stat(dir: &Path, stats: &mut Stats) -> Result<()> {
    for size in hugepage_sizes() {
        let Some(usage) = fs::read_u64_opt(&dir.join(hugetlb(&size, HUGETLB_CURRENT)), true)?
        else {
            continue;
        };
        let events = fs::read_flat_keyed_opt(&dir.join(hugetlb(&size, HUGETLB_EVENTS)), true)?;
        let failcnt = events.and_then(|e| e.get("max").copied()).unwrap_or(0);
        stats.hugetlb.insert(
            size,
            HugetlbStats {
                usage,
                max: 0,
                failcnt,
            },
        );
    }
    Ok(())
}
