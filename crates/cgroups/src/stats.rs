//! Statistics, serialized with the field names of runc's events JSON
//! (libcontainer/types/events.go), so `rt events` output parses in go-runc.

use std::collections::BTreeMap;

use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// All statistics of one cgroup.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub cpu: CpuStats,
    pub cpuset: CpusetStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    pub blkio: BlkioStats,
    /// Keyed by page size, e.g. "2MB".
    pub hugetlb: BTreeMap<String, HugetlbStats>,
}

/// CPU usage and throttling.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuStats {
    pub usage: CpuUsage,
    pub throttling: Throttling,
    /// v2 cpu.pressure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// CPU time, in nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

/// CFS bandwidth throttling.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

/// Memory usage in bytes. Limits of "unlimited" are `u64::MAX`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MemoryStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat as is.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    /// v2 memory.pressure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
    /// v2 memory.events (v1: `oom_kill` from memory.oom_control).
    pub event_count: MemoryEventCount,
}

/// One memory counter set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Number of tasks and their limit (0 when unlimited).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub limit: u64,
}

impl PidsStats {
    /// The count and limit files (`pids.current`, `pids.max` on both versions) of `dir`;
    /// a limit of "max" is 0.
    pub(crate) fn read(
        dir: &Path,
        (current, max): (&str, &str),
        ignore_not_exist: bool,
    ) -> Result<PidsStats> {
        let read = |name: &str| crate::fs::read_u64_opt(&dir.join(name), ignore_not_exist);
        Ok(PidsStats {
            current: read(current)?.unwrap_or(0),
            limit: read(max)?.filter(|m| *m != u64::MAX).unwrap_or(0),
        })
    }
}

/// Block IO counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BlkioStats {
    #[serde(
        rename = "ioServiceBytesRecursive",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(rename = "ioServicedRecursive", skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    /// v2 io.pressure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psi: Option<PsiStats>,
}

/// One block IO counter of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub value: u64,
}

/// Hugepage usage of one page size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HugetlbStats {
    #[serde(skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub failcnt: u64,
}

/// Pressure stall information of one resource (`<resource>.pressure`, v2).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PsiStats {
    /// Some tasks stalled.
    pub some: PsiData,
    /// All non-idle tasks stalled at once (absent for cpu on old kernels: zeros).
    pub full: PsiData,
}

/// Stall percentages over 10 s, 60 s and 300 s, and the total stall time in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PsiData {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total: u64,
}

/// Counters of v2 memory.events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEventCount {
    pub low: u64,
    pub high: u64,
    pub max: u64,
    pub oom: u64,
    pub oom_kill: u64,
}

/// The CPUs and memory nodes a cgroup may use, and v1's cpuset flags.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CpusetStats {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

/// Parse a PSI file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line.
pub(crate) fn parse_psi(path: &Path, text: &str) -> Result<PsiStats> {
    let mut out = PsiStats::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bad = || Error::Parse {
            path: path.to_path_buf(),
            value: line.to_string(),
        };
        let mut f = line.split_whitespace();
        let data = match f.next() {
            Some("some") => &mut out.some,
            Some("full") => &mut out.full,
            _ => return Err(bad()),
        };
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let float = || v.parse::<f64>().map_err(|_| bad());
            match k {
                "avg10" => data.avg10 = float()?,
                "avg60" => data.avg60 = float()?,
                "avg300" => data.avg300 = float()?,
                "total" => data.total = v.parse().map_err(|_| bad())?,
                _ => {}
            }
        }
    }
    Ok(out)
}

/// Read a PSI file; `None` when absent or when PSI is disabled (EOPNOTSUPP).
pub(crate) fn read_psi(path: &Path) -> Result<Option<PsiStats>> {
    match crate::fs::read(path) {
        Ok(text) => parse_psi(path, &text).map(Some),
        Err(Error::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
                || source.raw_os_error() == Some(libc::EOPNOTSUPP) =>
        {
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Parse a CPU/node list such as "0-3,8,10-11".
pub(crate) fn parse_list(path: &Path, text: &str) -> Result<Vec<u16>> {
    let mut out = Vec::new();
    let t = text.trim();
    if t.is_empty() {
        return Ok(out);
    }
    let bad = || Error::Parse {
        path: path.to_path_buf(),
        value: text.to_string(),
    };
    for part in t.split(',') {
        let num = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(bad());
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// Hugepage sizes the kernel supports, as cgroup file names spell them ("2MB", "1GB"),
/// from /sys/kernel/mm/hugepages/hugepages-2048kB etc.
pub(crate) fn hugepage_sizes() -> Vec<String> {
    let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut sizes: Vec<(u64, String)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb: u64 = name
                .strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()?;
            Some((kb, page_size_name(kb)))
        })
        .collect();
    sizes.sort();
    sizes.into_iter().map(|(_, n)| n).collect()
}

/// 2048 -> "2MB", 1048576 -> "1GB", 64 -> "64KB" (the kernel's hugetlb cgroup names).
pub(crate) fn page_size_name(kb: u64) -> String {
    if kb >= 1 << 20 && kb.is_multiple_of(1 << 20) {
        format!("{}GB", kb >> 20)
    } else if kb >= 1 << 10 && kb.is_multiple_of(1 << 10) {
        format!("{}MB", kb >> 10)
    } else {
        format!("{kb}KB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_psi_and_lists() {
        let p = Path::new("memory.pressure");
        let text = "some avg10=1.50 avg60=0.25 avg300=0.00 total=1234\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=99\n";
        let psi = parse_psi(p, text).unwrap();
        assert_eq!(psi.some.avg10, 1.5);
        assert_eq!(psi.some.total, 1234);
        assert_eq!(psi.full.total, 99);
        assert!(parse_psi(p, "weird 1").is_err());
        let v = serde_json::to_value(&psi).unwrap();
        assert_eq!(v["some"]["avg60"], 0.25);
        assert_eq!(v["full"]["total"], 99);
        assert_eq!(parse_list(p, "0-2,5\n").unwrap(), [0, 1, 2, 5]);
        assert!(parse_list(p, "").unwrap().is_empty());
        assert!(parse_list(p, "3-1").is_err());
    }

    #[test]
    fn page_size_names() {
        assert_eq!(page_size_name(2048), "2MB");
        assert_eq!(page_size_name(1048576), "1GB");
        assert_eq!(page_size_name(64), "64KB");
    }

    #[test]
    fn serializes_with_runc_names() {
        let mut s = Stats::default();
        s.cpu.usage.total = 5;
        s.cpu.usage.percpu = vec![2, 3];
        s.cpu.throttling.throttled_periods = 1;
        s.memory.usage.limit = 10;
        s.memory.kernel_tcp.failcnt = 0;
        s.pids.current = 2;
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu"]["usage"]["total"], 5);
        assert_eq!(v["cpu"]["usage"]["percpu"][1], 3);
        assert_eq!(v["cpu"]["usage"]["kernel"], 0);
        assert_eq!(v["cpu"]["throttling"]["throttledPeriods"], 1);
        assert_eq!(v["memory"]["usage"]["limit"], 10);
        assert!(v["memory"]["kernelTCP"].is_object());
        assert!(v["memory"].get("raw").is_none());
        assert_eq!(v["pids"]["current"], 2);
        assert!(v["blkio"].is_object());
        assert!(v["hugetlb"].is_object());
        assert!(v["cpu"].get("psi").is_none());
        assert_eq!(v["memory"]["event_count"]["oom_kill"], 0);
        assert!(v["cpuset"]["cpu_exclusive"].is_u64());
    }
}
