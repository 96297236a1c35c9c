//! hugetlb: per page size limits and usage.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::{hugepage_sizes, HugetlbStats, Stats};

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    for l in &r.hugepage_limits {
        out.push(Setting::new(
            hugetlb(&l.page_size, LIMIT_IN_BYTES),
            l.limit.to_string(),
        ));
    }
}

pub(super) fn stat(dir: &Path, stats: &mut Stats) -> Result<()> {
    for size in hugepage_sizes() {
        // Sizes the kernel lists but the cgroup lacks are skipped.
        let Some(usage) = fs::read_u64_opt(&dir.join(hugetlb(&size, USAGE_IN_BYTES)), true)? else {
            continue;
        };
        let max = fs::read_u64_opt(&dir.join(hugetlb(&size, MAX_USAGE_IN_BYTES)), true)?;
        let failcnt = fs::read_u64_opt(&dir.join(hugetlb(&size, FAILCNT)), true)?;
        stats.hugetlb.insert(
            size,
            HugetlbStats {
                usage,
                max: max.unwrap_or(0),
                failcnt: failcnt.unwrap_or(0),
            },
        );
    }
    Ok(())
}
