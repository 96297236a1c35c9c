//! memory: limit, memory+swap, soft limit, kernel TCP, swappiness, OOM killer; usage stats.

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::plan::{Facts, Setting};
use crate::resources::Resources;
use crate::stats::{MemoryEntry, Stats};
use crate::StatOptions;

fn nonzero(file: &str, v: i64, out: &mut Vec<Setting>) {
    if v != 0 {
        out.push(Setting::new(file, v.to_string()));
    }
}

/// Whether planning needs the current memory.limit_in_bytes ([`Facts::memory_limit`]).
pub(super) fn needs_current_limit(r: &Resources) -> bool {
    r.memory
        .as_ref()
        .is_some_and(|m| m.limit.unwrap_or(0) != 0 && m.swap.unwrap_or(0) != 0)
}

/// Limit and memory+swap in an order the kernel accepts: memsw must stay >= limit, so when
/// the new memsw is above the current limit (or unlimited) it goes first (runc's order).
fn memory_and_swap(limit: i64, swap: i64, facts: &Facts, out: &mut Vec<Setting>) {
    let mut swap = swap;
    // "Unlimited memory" with swap unset means unlimited swap too, where swap is accounted.
    if limit == -1 && swap == 0 && facts.memsw {
        swap = -1;
    }
    if limit != 0 && swap != 0 {
        let current = facts.memory_limit.unwrap_or(u64::MAX);
        if swap == -1 || current < swap as u64 {
            nonzero(MEMORY_MEMSW_LIMIT, swap, out);
            nonzero(MEMORY_LIMIT, limit, out);
            return;
        }
    }
    nonzero(MEMORY_LIMIT, limit, out);
    nonzero(MEMORY_MEMSW_LIMIT, swap, out);
}

pub(super) fn settings(r: &Resources, facts: &Facts, out: &mut Vec<Setting>) -> Result<()> {
    let Some(m) = &r.memory else { return Ok(()) };
    memory_and_swap(m.limit.unwrap_or(0), m.swap.unwrap_or(0), facts, out);
    nonzero(MEMORY_SOFT_LIMIT, m.reservation.unwrap_or(0), out);
    // Kernel memory limits (memory.kmem.limit_in_bytes) are ignored, as runc does: the
    // kernel has deprecated and then dropped them.
    nonzero(MEMORY_KMEM_TCP_LIMIT, m.kernel_tcp.unwrap_or(0), out);
    if let Some(s) = m.swappiness {
        if s > 100 {
            return Err(Error::InvalidValue {
                field: "memory.swappiness",
                value: s.to_string(),
                reason: "must be 0..=100",
            });
        }
        out.push(Setting::new(MEMORY_SWAPPINESS, s.to_string()));
    }
    if m.disable_oom_killer == Some(true) {
        out.push(Setting::new(MEMORY_OOM_CONTROL, "1"));
    }
    // Hierarchical accounting is always on in current kernels; writing 0 fails there.
    if m.use_hierarchy == Some(true) {
        out.push(Setting::new(MEMORY_USE_HIERARCHY, "1"));
    }
    Ok(())
}

/// Read one counter family (`<prefix>.usage_in_bytes` ...). `Ok(None)` if the family is
/// absent and `optional`.
fn read_entry(dir: &Path, prefix: &str, optional: bool) -> Result<Option<MemoryEntry>> {
    let file = |suffix: &str| dir.join(format!("{prefix}.{suffix}"));
    let Some(usage) = fs::read_u64_opt(&file(USAGE_IN_BYTES), optional)? else {
        return Ok(None);
    };
    Ok(Some(MemoryEntry {
        usage,
        max: fs::read_u64_opt(&file(MAX_USAGE_IN_BYTES), optional)?.unwrap_or(0),
        failcnt: fs::read_u64_opt(&file(FAILCNT), optional)?.unwrap_or(0),
        limit: fs::read_u64_opt(&file(LIMIT_IN_BYTES), optional)?.unwrap_or(0),
    }))
}

pub(super) fn stat(dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let ign = opts.ignore_not_exist;
    let s = &mut stats.memory;
    if let Some(e) = read_entry(dir, MEMORY, ign)? {
        s.usage = e;
    }
    // Swap accounting and kmem files are optional kernel features: skip when absent.
    if !opts.full() {
        let usage =
            |prefix: &str| fs::read_u64_opt(&dir.join(format!("{prefix}.{USAGE_IN_BYTES}")), true);
        s.swap.usage = usage(MEMORY_MEMSW)?.unwrap_or(0);
        s.kernel.usage = usage(MEMORY_KMEM)?.unwrap_or(0);
    } else {
        if let Some(e) = read_entry(dir, MEMORY_MEMSW, true)? {
            s.swap = e;
        }
        if let Some(e) = read_entry(dir, MEMORY_KMEM, true)? {
            s.kernel = e;
        }
        if let Some(e) = read_entry(dir, MEMORY_KMEM_TCP, true)? {
            s.kernel_tcp = e;
        }
    }
    if let Some(raw) = fs::read_flat_keyed_opt(&dir.join(MEMORY_STAT), ign)? {
        s.cache = raw.get("cache").copied().unwrap_or(0);
        s.raw = raw;
    }
    // "oom_kill_disable 0\nunder_oom 0\noom_kill 3" (oom_kill since Linux 4.13).
    if !opts.full() {
        return Ok(());
    }
    if let Some(oc) = fs::read_flat_keyed_opt(&dir.join(MEMORY_OOM_CONTROL), true)? {
        s.event_count.oom_kill = oc.get("oom_kill").copied().unwrap_or(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::pairs;

    fn plan(limit: i64, swap: i64, facts: Facts) -> Vec<Setting> {
        let mut out = Vec::new();
        memory_and_swap(limit, swap, &facts, &mut out);
        out
    }

    const MEMSW: Facts = Facts {
        bfq: false,
        memsw: true,
        memory_limit: Some(100),
    };

    #[test]
    fn raising_writes_memsw_first() {
        // memsw must stay >= limit after each write: limit 100 -> 300 with memsw -> 400.
        assert_eq!(
            pairs(&plan(300, 400, MEMSW)),
            [(MEMORY_MEMSW_LIMIT, "400"), (MEMORY_LIMIT, "300")]
        );
    }

    #[test]
    fn lowering_writes_the_limit_first() {
        // memsw 50 below the current limit 100: the limit goes down first.
        assert_eq!(
            pairs(&plan(40, 50, MEMSW)),
            [(MEMORY_LIMIT, "40"), (MEMORY_MEMSW_LIMIT, "50")]
        );
        // Unlimited swap goes first whatever the current limit.
        assert_eq!(
            pairs(&plan(40, -1, MEMSW)),
            [(MEMORY_MEMSW_LIMIT, "-1"), (MEMORY_LIMIT, "40")]
        );
    }

    #[test]
    fn unlimited_memory_means_unlimited_swap() {
        assert_eq!(
            pairs(&plan(-1, 0, MEMSW)),
            [(MEMORY_MEMSW_LIMIT, "-1"), (MEMORY_LIMIT, "-1")]
        );
        // Without swap accounting, memsw is not touched.
        let no_memsw = Facts::default();
        assert_eq!(pairs(&plan(-1, 0, no_memsw)), [(MEMORY_LIMIT, "-1")]);
    }

    #[test]
    fn swap_without_accounting_is_still_planned() {
        // The write then fails naming memory.memsw.limit_in_bytes and "50" (the writer's
        // error), rather than the swap limit being dropped.
        let p = plan(10, 50, Facts::default());
        assert!(pairs(&p).contains(&(MEMORY_MEMSW_LIMIT, "50")), "{p:?}");
    }

    #[test]
    fn swappiness_is_checked_while_planning() {
        let r = Resources {
            memory: Some(crate::resources::Memory {
                swappiness: Some(101),
                ..Default::default()
            }),
            ..Default::default()
        };
        let err = settings(&r, &Facts::default(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("swappiness"), "{err}");
    }
}
