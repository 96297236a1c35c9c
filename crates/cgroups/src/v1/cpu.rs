//! cpu: shares, CFS quota/period, realtime runtime/period, idle; throttling stats.

use std::path::Path;

use super::files::*;
use crate::error::Result;
use crate::fs;
use crate::plan::{Check, Setting};
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    let Some(c) = &r.cpu else { return Ok(()) };
    // Realtime first: the period bounds the runtime.
    if let Some(p) = c.realtime_period.filter(|v| *v != 0) {
        out.push(Setting::new(CPU_RT_PERIOD, p.to_string()));
    }
    if let Some(rt) = c.realtime_runtime.filter(|v| *v != 0) {
        out.push(Setting::new(CPU_RT_RUNTIME, rt.to_string()));
    }
    if let Some(shares) = c.shares.filter(|v| *v != 0) {
        // The kernel clamps silently: report it instead of running with another value.
        out.push(
            Setting::new(CPU_SHARES, shares.to_string()).with(Check::ReadBack {
                field: "cpu.shares",
                reason: "the kernel clamped it (allowed 2..=262144)",
            }),
        );
    }
    let quota = c.quota.unwrap_or(0);
    if let Some(period) = c.period.filter(|v| *v != 0) {
        // A shorter period can be refused while old quota/new period exceeds the parent's
        // limit: with a new quota coming, it is retried after it.
        let check = if quota != 0 {
            Check::RetryLaterOnEinval
        } else {
            Check::None
        };
        out.push(Setting::new(CPU_CFS_PERIOD, period.to_string()).with(check));
    }
    if quota != 0 {
        out.push(Setting::new(CPU_CFS_QUOTA, quota.to_string()));
    }
    if let Some(idle) = c.idle {
        out.push(Setting::new(CPU_IDLE, idle.to_string()));
    }
    Ok(())
}

pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let Some(m) = fs::read_flat_keyed_opt(&dir.join(CPU_STAT), opts.ignore_not_exist)? else {
        return Ok(());
    };
    let t = &mut stats.cpu.throttling;
    t.periods = m.get("nr_periods").copied().unwrap_or(0);
    t.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
    t.throttled_time = m.get("throttled_time").copied().unwrap_or(0);
    Ok(())
}
