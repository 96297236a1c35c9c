//! cpu: shares, CFS quota/period, realtime runtime/period, idle; throttling stats.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::{Error, Result};
use crate::fs;
use crate::resources::Resources;
use crate::stats::Stats;
use crate::StatOptions;

pub(crate) struct Cpu;

impl Subsystem for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        let c = r.cpu.as_ref()?;
        if c.shares.is_some_and(|v| v != 0) {
            Some("cpu.shares")
        } else if c.quota.is_some_and(|v| v != 0) || c.period.is_some_and(|v| v != 0) {
            Some("cpu.quota/period")
        } else if c.realtime_runtime.is_some_and(|v| v != 0)
            || c.realtime_period.is_some_and(|v| v != 0)
        {
            Some("cpu.realtime")
        } else if c.idle.is_some() {
            Some("cpu.idle")
        } else {
            None
        }
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        let Some(c) = &r.cpu else { return Ok(()) };
        // Realtime first: the period bounds the runtime.
        if let Some(p) = c.realtime_period.filter(|v| *v != 0) {
            fs::write(&dir.join(CPU_RT_PERIOD), &p.to_string())?;
        }
        if let Some(rt) = c.realtime_runtime.filter(|v| *v != 0) {
            fs::write(&dir.join(CPU_RT_RUNTIME), &rt.to_string())?;
        }
        if let Some(shares) = c.shares.filter(|v| *v != 0) {
            let file = dir.join(CPU_SHARES);
            fs::write(&file, &shares.to_string())?;
            // The kernel clamps silently: report it instead of running with another value.
            let got = fs::read_u64(&file)?;
            if got != shares {
                return Err(Error::InvalidValue {
                    field: "cpu.shares",
                    value: shares.to_string(),
                    reason: "the kernel clamped it (allowed 2..=262144)",
                });
            }
        }
        let quota = c.quota.unwrap_or(0);
        let mut pending_period = None;
        if let Some(period) = c.period.filter(|v| *v != 0) {
            let value = period.to_string();
            if let Err(e) = fs::write(&dir.join(CPU_CFS_PERIOD), &value) {
                // A shorter period can be rejected (EINVAL) while old quota/new period exceeds
                // the parent's limit; retry after the quota is written (runc does the same).
                let einval = matches!(&e, Error::Write { source, .. }
                    if source.raw_os_error() == Some(libc::EINVAL));
                if !einval || quota == 0 {
                    return Err(e);
                }
                pending_period = Some(value);
            }
        }
        if quota != 0 {
            fs::write(&dir.join(CPU_CFS_QUOTA), &quota.to_string())?;
            if let Some(value) = pending_period {
                fs::write(&dir.join(CPU_CFS_PERIOD), &value)?;
            }
        }
        if let Some(idle) = c.idle {
            fs::write(&dir.join(CPU_IDLE), &idle.to_string())?;
        }
        Ok(())
    }

    fn stat(&self, dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
        let Some(m) = fs::read_flat_keyed_opt(&dir.join(CPU_STAT), opts.ignore_not_exist)? else {
            return Ok(());
        };
        let t = &mut stats.cpu.throttling;
        t.periods = m.get("nr_periods").copied().unwrap_or(0);
        t.throttled_periods = m.get("nr_throttled").copied().unwrap_or(0);
        t.throttled_time = m.get("throttled_time").copied().unwrap_or(0);
        Ok(())
    }
}
