//! memory: limit, memory+swap, soft limit, kernel TCP, swappiness, OOM killer; usage stats.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::{Error, Result};
use crate::fs;
use crate::resources::Resources;
use crate::stats::{MemoryEntry, Stats};
use crate::StatOptions;

pub(crate) struct Memory;

fn write_nonzero(dir: &Path, file: &str, v: i64) -> Result<()> {
    if v == 0 {
        return Ok(());
    }
    fs::write(&dir.join(file), &v.to_string())
}

/// Write limit and memory+swap in an order the kernel accepts: memsw must stay >= limit,
/// so when the new memsw is above the current limit (or unlimited) it goes first (runc's order).
fn set_memory_and_swap(dir: &Path, limit: i64, swap: i64) -> Result<()> {
    let mut swap = swap;
    // "Unlimited memory" with swap unset means unlimited swap too, where swap is accounted.
    if limit == -1 && swap == 0 && dir.join(MEMORY_MEMSW_LIMIT).exists() {
        swap = -1;
    }
    if limit != 0 && swap != 0 {
        let current = fs::read_u64(&dir.join(MEMORY_LIMIT))?;
        if swap == -1 || current < swap as u64 {
            write_nonzero(dir, MEMORY_MEMSW_LIMIT, swap)?;
            return write_nonzero(dir, MEMORY_LIMIT, limit);
        }
    }
    write_nonzero(dir, MEMORY_LIMIT, limit)?;
    write_nonzero(dir, MEMORY_MEMSW_LIMIT, swap)
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

impl Subsystem for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        let m = r.memory.as_ref()?;
        let set = |v: Option<i64>| v.is_some_and(|v| v != 0);
        if set(m.limit) || set(m.swap) || set(m.reservation) || set(m.kernel_tcp) {
            Some("memory limits")
        } else if m.swappiness.is_some() || m.disable_oom_killer == Some(true) {
            Some("memory.swappiness/disableOOMKiller")
        } else {
            None
        }
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        let Some(m) = &r.memory else { return Ok(()) };
        set_memory_and_swap(dir, m.limit.unwrap_or(0), m.swap.unwrap_or(0))?;
        write_nonzero(dir, MEMORY_SOFT_LIMIT, m.reservation.unwrap_or(0))?;
        // Kernel memory limits (memory.kmem.limit_in_bytes) are ignored, as runc does: the
        // kernel has deprecated and then dropped them.
        write_nonzero(dir, MEMORY_KMEM_TCP_LIMIT, m.kernel_tcp.unwrap_or(0))?;
        if let Some(s) = m.swappiness {
            if s > 100 {
                return Err(Error::InvalidValue {
                    field: "memory.swappiness",
                    value: s.to_string(),
                    reason: "must be 0..=100",
                });
            }
            fs::write(&dir.join(MEMORY_SWAPPINESS), &s.to_string())?;
        }
        if m.disable_oom_killer == Some(true) {
            fs::write(&dir.join(MEMORY_OOM_CONTROL), "1")?;
        }
        // Hierarchical accounting is always on in current kernels; writing 0 fails there.
        if m.use_hierarchy == Some(true) {
            fs::write(&dir.join(MEMORY_USE_HIERARCHY), "1")?;
        }
        Ok(())
    }

    fn stat(&self, dir: &Path, opts: StatOptions, stats: &mut Stats) -> Result<()> {
        let ign = opts.ignore_not_exist;
        let s = &mut stats.memory;
        if let Some(e) = read_entry(dir, MEMORY, ign)? {
            s.usage = e;
        }
        // Swap accounting and kmem files are optional kernel features: skip when absent.
        if let Some(e) = read_entry(dir, MEMORY_MEMSW, true)? {
            s.swap = e;
        }
        if let Some(e) = read_entry(dir, MEMORY_KMEM, true)? {
            s.kernel = e;
        }
        if let Some(e) = read_entry(dir, MEMORY_KMEM_TCP, true)? {
            s.kernel_tcp = e;
        }
        if let Some(raw) = fs::read_flat_keyed_opt(&dir.join(MEMORY_STAT), ign)? {
            s.cache = raw.get("cache").copied().unwrap_or(0);
            s.raw = raw;
        }
        // "oom_kill_disable 0\nunder_oom 0\noom_kill 3" (oom_kill since Linux 4.13).
        if let Some(oc) = fs::read_flat_keyed_opt(&dir.join(MEMORY_OOM_CONTROL), true)? {
            s.event_count.oom_kill = oc.get("oom_kill").copied().unwrap_or(0);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn fake(limit: &str, memsw: Option<&str>) -> TempDir {
        let t = TempDir::new();
        std::fs::write(t.path().join(MEMORY_LIMIT), limit).unwrap();
        if let Some(m) = memsw {
            std::fs::write(t.path().join(MEMORY_MEMSW_LIMIT), m).unwrap();
        }
        t
    }

    #[test]
    fn raising_writes_memsw_first() {
        // Emulate the kernel's check: memsw >= limit, else EINVAL. The fake fs cannot,
        // so check the order through the intermediate state: after the first write the
        // pair must still be valid. Here: limit 100 -> 300 with memsw 200 -> 400.
        let t = fake("100", Some("200"));
        set_memory_and_swap(t.path(), 300, 400).unwrap();
        assert_eq!(t.read(MEMORY_LIMIT), "300");
        assert_eq!(t.read(MEMORY_MEMSW_LIMIT), "400");
    }

    #[test]
    fn order_follows_current_limit() {
        use std::os::unix::fs::PermissionsExt;
        // Make memsw unwritable: if the code writes memsw first, the limit stays unchanged.
        let t = fake("100", Some("200"));
        let memsw = t.path().join(MEMORY_MEMSW_LIMIT);
        std::fs::set_permissions(&memsw, std::fs::Permissions::from_mode(0o444)).unwrap();
        let writable = std::fs::OpenOptions::new().write(true).open(&memsw).is_ok();
        if writable {
            // root ignores permissions: fall back to a directory in place of the file.
            std::fs::remove_file(&memsw).unwrap();
            std::fs::create_dir(&memsw).unwrap();
        }
        // Raising (memsw 400 > current limit 100): memsw first -> limit untouched.
        assert!(set_memory_and_swap(t.path(), 300, 400).is_err());
        assert_eq!(t.read(MEMORY_LIMIT), "100");
        // Lowering (memsw 50 < current limit 100): limit first -> limit written.
        let err = set_memory_and_swap(t.path(), 40, 50).unwrap_err();
        assert_eq!(t.read(MEMORY_LIMIT), "40");
        assert!(err.to_string().contains(MEMORY_MEMSW_LIMIT), "{err}");
    }

    #[test]
    fn unlimited_memory_means_unlimited_swap() {
        let t = fake("100", Some("200"));
        set_memory_and_swap(t.path(), -1, 0).unwrap();
        assert_eq!(t.read(MEMORY_LIMIT), "-1");
        assert_eq!(t.read(MEMORY_MEMSW_LIMIT), "-1");
        // Without swap accounting, memsw is not touched.
        let t = fake("100", None);
        set_memory_and_swap(t.path(), -1, 0).unwrap();
        assert!(!t.path().join(MEMORY_MEMSW_LIMIT).exists());
    }

    #[test]
    fn swap_without_accounting_names_the_file() {
        let t = fake("100", None);
        let err = set_memory_and_swap(t.path(), 10, 50).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains(MEMORY_MEMSW_LIMIT) && msg.contains("\"50\""),
            "{msg}"
        );
    }
}
