//! Resources as systemd unit properties, as runc's systemd drivers set them. What systemd
//! cannot express is written to the cgroup directly afterwards (see `Cgroup::new_systemd`).

use super::dbus::Value;
use crate::error::Result;
use crate::resources::{DeviceKind, Resources};
use crate::v2::{cpu, io, memory};

/// systemd's "infinity".
const INFINITY: u64 = u64::MAX;
/// The cpu quota period systemd assumes when none is given (µs).
const DEFAULT_PERIOD: u64 = 100_000;

/// (name, value) of one unit property.
pub(crate) type Property = (String, Value);

fn prop(name: &str, v: Value) -> Property {
    (name.to_string(), v)
}

/// The properties of `r`; `v2`: the unified hierarchy (MemoryMax, CPUWeight, IOWeight...)
/// rather than v1's (MemoryLimit, CPUShares, BlockIOWeight).
pub(crate) fn resources(r: &Resources, v2: bool) -> Result<Vec<Property>> {
    let mut out = Vec::new();
    if let Some(m) = &r.memory {
        let limit = m.limit.unwrap_or(0);
        let bytes = |v: i64| Value::U64(if v < 0 { INFINITY } else { v as u64 });
        if limit != 0 {
            out.push(prop(
                if v2 { "MemoryMax" } else { "MemoryLimit" },
                bytes(limit),
            ));
        }
        if v2 {
            if let Some(low) = m.reservation.filter(|v| *v != 0) {
                out.push(prop("MemoryLow", bytes(low)));
            }
            let swap = memory::swap_to_v2(m.swap.unwrap_or(0), limit)?;
            if swap != 0 {
                out.push(prop("MemorySwapMax", bytes(swap)));
            }
        }
    }
    if let Some(c) = &r.cpu {
        if let Some(shares) = c.shares.filter(|s| *s != 0) {
            if v2 {
                out.push(prop("CPUWeight", Value::U64(cpu::shares_to_weight(shares))));
            } else {
                out.push(prop("CPUShares", Value::U64(shares)));
            }
        }
        let quota = c.quota.unwrap_or(0);
        let period = c.period.unwrap_or(0);
        if quota != 0 || period != 0 {
            let period = if period == 0 { DEFAULT_PERIOD } else { period };
            out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
            out.push(prop(
                "CPUQuotaPerSecUSec",
                Value::U64(quota_per_sec(quota, period)),
            ));
        }
        if let Some(cpus) = c.cpus.as_deref().filter(|s| !s.is_empty()) {
            out.push(prop("AllowedCPUs", bitmask(cpus)?));
        }
        if let Some(mems) = c.mems.as_deref().filter(|s| !s.is_empty()) {
            out.push(prop("AllowedMemoryNodes", bitmask(mems)?));
        }
    }
    if let Some(p) = &r.pids {
        let max = if p.limit > 0 {
            p.limit as u64
        } else {
            INFINITY
        };
        out.push(prop("TasksMax", Value::U64(max)));
    }
    if let Some(w) = r
        .block_io
        .as_ref()
        .and_then(|b| b.weight)
        .filter(|w| *w != 0)
    {
        if v2 {
            out.push(prop("IOWeight", Value::U64(io::blkio_to_io_weight(w))));
        } else {
            out.push(prop("BlockIOWeight", Value::U64(u64::from(w))));
        }
    }
    out.extend(devices(r));
    Ok(out)
}

/// runc: quota per second in µs, rounded up to systemd's 10 ms granularity; none: infinity.
pub(crate) fn quota_per_sec(quota: i64, period: u64) -> u64 {
    if quota <= 0 {
        return INFINITY;
    }
    let per_sec = quota as u64 * 1_000_000 / period;
    per_sec.div_ceil(10_000) * 10_000
}

/// "0-2,7" as systemd's byte array: byte 0 holds cpus 0-7, bit 0 is cpu 0 (runc's
/// RangeToBits, little endian).
pub(crate) fn bitmask(list: &str) -> Result<Value> {
    let bad = || crate::Error::InvalidValue {
        field: "cpuset",
        value: list.to_string(),
        reason: "not a list of numbers and ranges like 0-2,7",
    };
    let mut bytes: Vec<u8> = Vec::new();
    for part in list.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: usize = a.trim().parse().map_err(|_| bad())?;
        let b: usize = b.trim().parse().map_err(|_| bad())?;
        if a > b || b >= 8192 {
            return Err(bad());
        }
        for i in a..=b {
            if bytes.len() <= i / 8 {
                bytes.resize(i / 8 + 1, 0);
            }
            bytes[i / 8] |= 1 << (i % 8);
        }
    }
    Ok(Value::Array(
        "y".into(),
        bytes.into_iter().map(Value::Byte).collect(),
    ))
}

/// DevicePolicy and DeviceAllow. With a leading "deny everything" (what runtimes send),
/// policy strict and one DeviceAllow per allowed device ("/dev/char/1:3", or "char-*" for a
/// whole type); otherwise (everything allowed) policy auto. Deny rules punching holes in an
/// allow are not expressible here: the cgroup's own device program (v2) or devices.deny (v1)
/// written after the unit enforces the exact rules.
pub(crate) fn devices(r: &Resources) -> Vec<Property> {
    let rules = &r.devices;
    if rules.is_empty() {
        return Vec::new();
    }
    let wildcard =
        |d: &crate::DeviceRule| d.kind == DeviceKind::All && d.major.is_none() && d.minor.is_none();
    // The last wildcard rule decides the default.
    let start = rules.iter().rposition(wildcard);
    let default_allow = start.is_some_and(|i| rules[i].allow);
    if default_allow || start.is_none() {
        return vec![prop("DevicePolicy", Value::Str("auto".into()))];
    }
    let mut allow = Vec::new();
    for d in &rules[start.map_or(0, |i| i + 1)..] {
        if !d.allow {
            continue;
        }
        let kind = match d.kind {
            DeviceKind::Char => "char",
            DeviceKind::Block => "block",
            DeviceKind::All => continue,
        };
        let path = match (d.major, d.minor) {
            (Some(maj), Some(min)) => format!("/dev/{kind}/{maj}:{min}"),
            (None, _) => format!("{kind}-*"),
            // A whole major: systemd wants its name from /proc/devices.
            (Some(maj), None) => match major_name(kind, maj) {
                Some(name) => format!("{kind}-{name}"),
                None => continue,
            },
        };
        let access = if d.access.is_empty() {
            "rwm"
        } else {
            &d.access
        };
        allow.push(Value::Struct(vec![
            Value::Str(path),
            Value::Str(access.to_string()),
        ]));
    }
    vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop("DeviceAllow", Value::Array("(ss)".into(), allow)),
    ]
}

/// The driver name of a device major in /proc/devices ("Character devices:" or "Block
/// devices:" section).
fn major_name(kind: &str, major: i64) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    let header = if kind == "char" { "Character" } else { "Block" };
    let mut in_section = false;
    for line in text.lines() {
        if line.ends_with("devices:") {
            in_section = line.starts_with(header);
            continue;
        }
        let mut w = line.split_whitespace();
        if let (true, Some(n), Some(name)) = (in_section, w.next(), w.next()) {
            if n.parse() == Ok(major) {
                return Some(name.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BlockIo, Cpu, DeviceRule, Memory, Pids};

    fn get<'a>(p: &'a [Property], name: &str) -> Option<&'a Value> {
        p.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    #[test]
    fn v2_properties() {
        let r = Resources {
            memory: Some(Memory {
                limit: Some(64 << 20),
                reservation: Some(32 << 20),
                swap: Some(96 << 20),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                shares: Some(1024),
                quota: Some(50_000),
                period: Some(100_000),
                cpus: Some("0-2,9".into()),
                mems: Some("0".into()),
                ..Default::default()
            }),
            pids: Some(Pids { limit: 100 }),
            block_io: Some(BlockIo {
                weight: Some(500),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = resources(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(32 << 20)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(32 << 20)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(100)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(100)));
        assert_eq!(
            get(&p, "IOWeight"),
            Some(&Value::U64(io::blkio_to_io_weight(500)))
        );
        let bytes =
            |b: &[u8]| Value::Array("y".into(), b.iter().map(|x| Value::Byte(*x)).collect());
        assert_eq!(get(&p, "AllowedCPUs"), Some(&bytes(&[0b111, 0b10])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&bytes(&[1])));
        assert!(get(&p, "MemoryLimit").is_none());

        let v1 = resources(&r, false).unwrap();
        assert_eq!(get(&v1, "MemoryLimit"), Some(&Value::U64(64 << 20)));
        assert_eq!(get(&v1, "CPUShares"), Some(&Value::U64(1024)));
        assert_eq!(get(&v1, "BlockIOWeight"), Some(&Value::U64(500)));
    }

    #[test]
    fn unlimited_and_rounding() {
        let r = Resources {
            memory: Some(Memory {
                limit: Some(-1),
                ..Default::default()
            }),
            cpu: Some(Cpu {
                quota: Some(-1),
                ..Default::default()
            }),
            pids: Some(Pids { limit: -1 }),
            ..Default::default()
        };
        let p = resources(&r, true).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(20_000, 50_000), 400_000);
        assert!(resources(&Resources::default(), true).unwrap().is_empty());
        assert!(bitmask("3-1").is_err());
        assert!(bitmask("x").is_err());
    }

    #[test]
    fn device_policy() {
        let rule = |allow, kind, major, minor, access: &str| DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        };
        let r = Resources {
            devices: vec![
                rule(false, DeviceKind::All, None, None, "rwm"),
                rule(true, DeviceKind::Char, Some(1), Some(3), "rwm"),
                rule(true, DeviceKind::Char, None, None, "m"),
                rule(false, DeviceKind::Char, Some(1), Some(5), "rwm"),
            ],
            ..Default::default()
        };
        let p = devices(&r);
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("strict".into())));
        let pair =
            |a: &str, b: &str| Value::Struct(vec![Value::Str(a.into()), Value::Str(b.into())]);
        assert_eq!(
            get(&p, "DeviceAllow"),
            Some(&Value::Array(
                "(ss)".into(),
                vec![pair("/dev/char/1:3", "rwm"), pair("char-*", "m")]
            ))
        );
        let all = Resources {
            devices: vec![rule(true, DeviceKind::All, None, None, "")],
            ..Default::default()
        };
        assert_eq!(
            devices(&all),
            vec![prop("DevicePolicy", Value::Str("auto".into()))]
        );
    }
}
