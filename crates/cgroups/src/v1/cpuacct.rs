//! cpuacct: CPU usage statistics (nothing to apply).

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::stats::Stats;
use crate::StatOptions;

const NANOS_PER_SEC: u64 = 1_000_000_000;

fn read_list(path: &Path, ignore_missing: bool) -> Result<Vec<u64>> {
    let text = match fs::read(path) {
        Ok(t) => t,
        Err(e) if ignore_missing && e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    text.split_whitespace()
        .map(|v| fs::parse_u64(path, v))
        .collect()
}

fn clock_ticks() -> u64 {
    match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as u64,
        _ => 100,
    }
}

/// The usage counters (cpuacct has nothing to apply).
pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    let u = &mut stats.cpu.usage;
    if let Some(total) = fs::read_u64_opt(&dir.join(CPUACCT_USAGE), ign)? {
        u.total = total;
    }
    if opts.full() {
        u.percpu = read_list(&dir.join(CPUACCT_USAGE_PERCPU), ign)?;
        // Newer kernels only: always optional.
        u.percpu_user = read_list(&dir.join(CPUACCT_USAGE_PERCPU_USER), true)?;
        u.percpu_kernel = read_list(&dir.join(CPUACCT_USAGE_PERCPU_SYS), true)?;
    }
    let path = dir.join(CPUACCT_STAT);
    if let Some(m) = fs::read_flat_keyed_opt(&path, ign)? {
        let ticks = clock_ticks();
        let (Some(user), Some(system)) = (m.get("user"), m.get("system")) else {
            return Err(Error::Parse {
                path,
                value: format!("{m:?}"),
            });
        };
        u.user = user.saturating_mul(NANOS_PER_SEC) / ticks;
        u.kernel = system.saturating_mul(NANOS_PER_SEC) / ticks;
    }
    Ok(())
}
