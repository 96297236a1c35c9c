//! hugetlb: per page size limits and usage.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;
use crate::stats::{hugepage_sizes, HugetlbStats, Stats};
use crate::StatOptions;

pub(crate) struct Hugetlb;

impl Subsystem for Hugetlb {
    fn name(&self) -> &'static str {
        "hugetlb"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        (!r.hugepage_limits.is_empty()).then_some("hugepageLimits")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        for l in &r.hugepage_limits {
            let file = hugetlb(&l.page_size, LIMIT_IN_BYTES);
            fs::write(&dir.join(file), &l.limit.to_string())?;
        }
        Ok(())
    }

    fn stat(&self, dir: &Path, _opts: StatOptions, stats: &mut Stats) -> Result<()> {
        for size in hugepage_sizes() {
            // Sizes the kernel lists but the cgroup lacks are skipped.
            let Some(usage) = fs::read_u64_opt(&dir.join(hugetlb(&size, USAGE_IN_BYTES)), true)?
            else {
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
}
