//! memory: limit -> memory.max, reservation -> memory.low, OCI memory+swap -> memory.swap.max.

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::plan::{Check, Setting};
use crate::resources::Resources;
use crate::stats::{read_psi, MemoryEntry, MemoryEventCount, Stats};
use crate::StatOptions;

/// OCI value -> v2 file value: 0 is unset (None), -1 (or below) is "max".
fn num(v: i64) -> Option<String> {
    match v {
        0 => None,
        v if v < 0 => Some("max".to_string()),
        v => Some(v.to_string()),
    }
}

/// runc's ConvertMemorySwapToCgroupV2Value: OCI swap is memory+swap, v2 swap is swap alone.
pub(crate) fn swap_to_v2(swap: i64, limit: i64) -> Result<i64> {
    if limit == -1 && swap == 0 {
        // Unlimited memory with swap unset: unlimited swap too (as on v1).
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    let bad = |reason| Error::InvalidValue {
        field: "memory.swap",
        value: swap.to_string(),
        reason,
    };
    if limit == 0 || limit == -1 {
        return Err(bad("a swap limit needs a memory limit"));
    }
    if limit < 0 {
        return Err(bad("the memory limit is negative"));
    }
    if swap < limit {
        return Err(bad("memory+swap must be >= the memory limit"));
    }
    Ok(swap - limit)
}

pub(crate) fn settings(r: &Resources, out: &mut Vec<Setting>) -> Result<()> {
    let Some(m) = &r.memory else { return Ok(()) };
    let limit = m.limit.unwrap_or(0);
    let swap_oci = m.swap.unwrap_or(0);
    let swap = swap_to_v2(swap_oci, limit)?;
    let mut swap_value = num(swap);
    if swap_value.is_none() && swap == 0 && swap_oci > 0 {
        // memory == memory+swap: no swap at all.
        swap_value = Some("0".to_string());
    }
    // Swap first: memory.max and memory.swap.max are independent, runc writes in this order.
    if let Some(v) = swap_value {
        // Without swap accounting the file is absent: "max" and "0" are then already true.
        let optional = v == "max" || v == "0";
        let check = if optional {
            Check::SkipIfMissing
        } else {
            Check::None
        };
        out.push(Setting::new(MEMORY_SWAP_MAX, v).with(check));
    }
    if let Some(v) = num(limit) {
        out.push(Setting::new(MEMORY_MAX, v));
    }
    if let Some(v) = num(m.reservation.unwrap_or(0)) {
        out.push(Setting::new(MEMORY_LOW, v));
    }
    if m.swappiness.is_some() {
        return Err(Error::Unsupported {
            what: "memory.swappiness",
            version: "v2",
        });
    }
    if m.disable_oom_killer == Some(true) {
        return Err(Error::Unsupported {
            what: "memory.disableOOMKiller",
            version: "v2",
        });
    }
    // kernel and kernelTCP limits do not exist on v2 and are ignored, as runc does.
    Ok(())
}

fn entry(dir: &Path, current: &str, max: &str, peak: &str, ign: bool) -> Result<MemoryEntry> {
    Ok(MemoryEntry {
        usage: fs::read_u64_opt(&dir.join(current), ign)?.unwrap_or(0),
        // The root cgroup has no limit files.
        limit: fs::read_u64_opt(&dir.join(max), true)?.unwrap_or(u64::MAX),
        max: fs::read_u64_opt(&dir.join(peak), true)?.unwrap_or(0),
        failcnt: 0,
    })
}

pub(crate) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    let s = &mut stats.memory;
    s.usage = entry(dir, MEMORY_CURRENT, MEMORY_MAX, MEMORY_PEAK, ign)?;
    // Swap files are absent without swap accounting.
    if !opts.full() {
        if let Some(swap) = fs::read_u64_opt(&dir.join(MEMORY_SWAP_CURRENT), true)? {
            s.swap.usage = swap.saturating_add(s.usage.usage);
        }
    } else if dir.join(MEMORY_SWAP_CURRENT).exists() {
        let sw = entry(
            dir,
            MEMORY_SWAP_CURRENT,
            MEMORY_SWAP_MAX,
            MEMORY_SWAP_PEAK,
            true,
        )?;
        // v1 compatibility (runc): report memory+swap.
        s.swap = MemoryEntry {
            usage: sw.usage.saturating_add(s.usage.usage),
            limit: if sw.limit == u64::MAX {
                u64::MAX
            } else {
                sw.limit.saturating_add(s.usage.limit)
            },
            max: 0,
            failcnt: 0,
        };
    }
    if let Some(raw) = fs::read_flat_keyed_opt(&dir.join(MEMORY_STAT), ign)? {
        s.cache = raw.get("file").copied().unwrap_or(0);
        s.raw = raw;
    }
    if !opts.full() {
        return Ok(());
    }
    // The root cgroup has no memory.events.
    if let Some(ev) = fs::read_flat_keyed_opt(&dir.join(MEMORY_EVENTS), true)? {
        let get = |k: &str| ev.get(k).copied().unwrap_or(0);
        s.event_count = MemoryEventCount {
            low: get("low"),
            high: get("high"),
            max: get("max"),
            oom: get("oom"),
            oom_kill: get("oom_kill"),
        };
    }
    s.psi = read_psi(&dir.join(MEMORY_PRESSURE))?;
    Ok(())
}
