//! `rt update [--resources FILE|-] [flags] ID`: new limits for a running container, from
//! a JSON LinuxResources (runtime-spec; containerd sends `--resources -` on stdin, podman
//! `--resources=FILE`) with the flags applied on top. Input is parsed in full before
//! anything is written, so bad input changes nothing.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cgroups::{BlockIo, Cpu, Memory, Pids, Resources};
use oci_spec::runtime::LinuxResources;

use crate::container::{self, Container};
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// JSON LinuxResources from FILE, or from stdin with `-`.
    #[arg(short = 'r', long, value_name = "FILE|-")]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (suffixes k, m, g, t: 64m, 1g).
    #[arg(short = 'm', long, value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory: Option<i64>,
    /// Memory soft limit in bytes.
    #[arg(long = "memory-reservation", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_reservation: Option<i64>,
    /// Memory plus swap limit in bytes; -1 is unlimited.
    #[arg(long = "memory-swap", value_parser = parse_bytes, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Kernel memory limit (accepted for compatibility; ignored, as by runc).
    #[arg(long = "kernel-memory", value_parser = parse_bytes, hide = true)]
    pub kernel_memory: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds per period; -1 is unlimited.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs the container may use (0-3, 0,1).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of tasks; -1 (or 0) is unlimited.
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let resources = resources(args)?;
    let container = Container::load(&Store::new(root), &args.id)?;
    container::update(&container, &resources)
}

/// The resources to apply: the JSON (if any), then the flags.
fn resources(args: &Args) -> anyhow::Result<Resources> {
    let mut r = match &args.resources {
        Some(source) => Resources::from(&read_resources(source)?),
        None => Resources::default(),
    };
    let memory_flags = [
        args.memory,
        args.memory_reservation,
        args.memory_swap,
        args.kernel_memory,
    ];
    if memory_flags.iter().any(Option::is_some) {
        let m = r.memory.get_or_insert_with(Memory::default);
        m.limit = args.memory.or(m.limit);
        m.reservation = args.memory_reservation.or(m.reservation);
        m.swap = args.memory_swap.or(m.swap);
    }
    let cpu_set = args.cpu_shares.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_period.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some();
    if cpu_set {
        let c = r.cpu.get_or_insert_with(Cpu::default);
        c.shares = args.cpu_shares.or(c.shares);
        c.quota = args.cpu_quota.or(c.quota);
        c.period = args.cpu_period.or(c.period);
        c.realtime_period = args.cpu_rt_period.or(c.realtime_period);
        c.realtime_runtime = args.cpu_rt_runtime.or(c.realtime_runtime);
        c.cpus = args.cpuset_cpus.clone().or(c.cpus.take());
        c.mems = args.cpuset_mems.clone().or(c.mems.take());
    }
    if let Some(limit) = args.pids_limit {
        r.pids = Some(Pids { limit });
    }
    if let Some(weight) = args.blkio_weight {
        r.block_io.get_or_insert_with(BlockIo::default).weight = Some(weight);
    }
    Ok(r)
}

/// Reads and parses a LinuxResources document; errors name the source, line and column.
fn read_resources(source: &Path) -> anyhow::Result<LinuxResources> {
    let (name, text) = if source == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--resources -: read stdin")?;
        ("stdin".to_string(), text)
    } else {
        let text = std::fs::read_to_string(source)
            .with_context(|| format!("--resources {}", source.display()))?;
        (source.display().to_string(), text)
    };
    serde_json::from_str(&text)
        .with_context(|| format!("--resources {name}: not a valid LinuxResources JSON document"))
}

/// Parses a byte count as runc does (go-units RAMInBytes): `1024`, `64m`, `1.5g`, `512KiB`,
/// binary multipliers; `-1` means unlimited.
pub fn parse_bytes(text: &str) -> anyhow::Result<i64> {
    let t = text.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let lower = t.to_ascii_lowercase();
    let s = lower.strip_suffix('b').unwrap_or(&lower);
    let s = s.strip_suffix('i').unwrap_or(s);
    let (num, shift) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 10),
        Some('m') => (&s[..s.len() - 1], 20),
        Some('g') => (&s[..s.len() - 1], 30),
        Some('t') => (&s[..s.len() - 1], 40),
        Some('p') => (&s[..s.len() - 1], 50),
        _ => (s, 0),
    };
    let num = num.trim();
    let value: f64 = match num.parse() {
        Ok(v) if num.chars().all(|c| c.is_ascii_digit() || c == '.') => v,
        _ => bail!("invalid size {text:?}: expected bytes such as 1048576, 64m or 1g"),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        bail!("invalid size {text:?}: too large");
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_runc() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512kb").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        for bad in ["", "m", "x", "-2", "1q", "1 0"] {
            assert!(parse_bytes(bad).is_err(), "{bad} accepted");
        }
    }
}
