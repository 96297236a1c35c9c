//! cpu: shares -> cpu.weight, quota/period -> cpu.max, idle; usage and throttling stats.

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

/// runc's ConvertCPUSharesToCgroupV2Value (runc >= 1.2.7 / opencontainers/cgroups 0.0.2):
/// a quadratic in log2(shares) through (2 -> 1), (1024 -> 100) and (262144 -> 10000),
/// replacing the old linear `1 + (shares - 2) * 9999 / 262142` that mapped the default
/// 1024 shares to weight 39 instead of the v2 default 100.
pub(crate) fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= 2 {
        return 1;
    }
    if shares >= 262_144 {
        return 10_000;
    }
    // The pure-Rust libm keeps the system's libm.so out of the programs that use this crate.
    let l = libm::log2(shares as f64);
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    libm::ceil(libm::pow(10.0, exponent)) as u64
}

/// cpu.max: "<quota|max> [period]" as runc writes it.
pub(crate) fn cpu_max(quota: i64, period: u64) -> String {
    let mut s = if quota > 0 {
        quota.to_string()
    } else {
        "max".to_string()
    };
    if period != 0 {
        s.push_str(&format!(" {period}"));
    }
    s
}

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    let Some(c) = &r.cpu else { return Ok(()) };
    if c.realtime_runtime.is_some_and(|v| v != 0) || c.realtime_period.is_some_and(|v| v != 0) {
        return Err(Error::Unsupported {
            what: "cpu realtime runtime/period",
            version: "v2",
        });
    }
    if let Some(idle) = c.idle {
        out.push(Setting::new(CPU_IDLE, idle.to_string()));
        if idle == 1 {
            // An idle cgroup has no weight (the kernel rejects it): runc stops here too.
            return Ok(());
        }
    }
    if let Some(shares) = c.shares.filter(|v| *v != 0) {
        out.push(Setting::new(
            CPU_WEIGHT,
            shares_to_weight(shares).to_string(),
        ));
    }
    let quota = c.quota.unwrap_or(0);
    let period = c.period.unwrap_or(0);
    if quota != 0 || period != 0 {
        out.push(Setting::new(CPU_MAX, cpu_max(quota, period)));
    }
    Ok(())
}

pub(crate) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let Some(m) = fs::read_flat_keyed_opt(&dir.join(CPU_STAT), opts.ignore_not_exist)? else {
        return Ok(());
    };
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let u = &mut stats.cpu.usage;
    u.total = get("usage_usec").saturating_mul(1000);
    u.user = get("user_usec").saturating_mul(1000);
    u.kernel = get("system_usec").saturating_mul(1000);
    let t = &mut stats.cpu.throttling;
    t.periods = get("nr_periods");
    t.throttled_periods = get("nr_throttled");
    t.throttled_time = get("throttled_usec").saturating_mul(1000);
    Ok(())
}
