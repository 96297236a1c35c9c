//! io: blkio weight -> io.weight (or io.bfq.weight), throttles -> io.max; io.stat.

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::plan::Setting;
use crate::resources::Resources;
use crate::stats::{BlkioEntry, Stats};
use crate::StatOptions;

/// runc's ConvertBlkIOToIOWeightValue: [10, 1000] -> [1, 10000].
pub(crate) fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// `bfq`: the directory has io.bfq.weight, which takes blkio's 1..1000 values unconverted.
pub(crate) fn settings(r: &Resources, bfq: bool, out: &mut Vec<Setting>) -> Result<()> {
    let Some(b) = &r.block_io else { return Ok(()) };
    let weight = |w: u16| {
        if bfq {
            w.to_string()
        } else {
            blkio_to_io_weight(w).to_string()
        }
    };
    let file = if bfq { IO_BFQ_WEIGHT } else { IO_WEIGHT };
    if let Some(w) = b.weight.filter(|w| *w != 0) {
        out.push(Setting::new(file, weight(w)));
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight.filter(|w| *w != 0) {
            let v = format!("{}:{} {}", d.major, d.minor, weight(w));
            out.push(Setting::new(file, v));
        }
    }
    if b.leaf_weight.is_some() || b.weight_device.iter().any(|d| d.leaf_weight.is_some()) {
        return Err(Error::Unsupported {
            what: "blockIO leafWeight",
            version: "v2",
        });
    }
    for (key, devs) in [
        ("rbps", &b.throttle_read_bps_device),
        ("wbps", &b.throttle_write_bps_device),
        ("riops", &b.throttle_read_iops_device),
        ("wiops", &b.throttle_write_iops_device),
    ] {
        for d in devs {
            let v = format!("{}:{} {}={}", d.major, d.minor, key, d.rate);
            out.push(Setting::new(IO_MAX, v));
        }
    }
    Ok(())
}

/// Parse io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0".
pub(crate) fn stat(dir: &Path, _opts: StatOptions, stats: &mut Stats) -> Result<()> {
    let path = dir.join(IO_STAT);
    let Some(text) = fs::read_if_exists(&path)? else {
        return Ok(());
    };
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some(dev) = f.next() else { continue };
        let bad = || Error::Parse {
            path: path.clone(),
            value: line.to_string(),
        };
        let (maj, min) = dev.split_once(':').ok_or_else(bad)?;
        let major: u64 = maj.parse().map_err(|_| bad())?;
        let minor: u64 = min.parse().map_err(|_| bad())?;
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut stats.blkio.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut stats.blkio.io_service_bytes_recursive, "Write"),
                "dbytes" => (&mut stats.blkio.io_service_bytes_recursive, "Discard"),
                "rios" => (&mut stats.blkio.io_serviced_recursive, "Read"),
                "wios" => (&mut stats.blkio.io_serviced_recursive, "Write"),
                "dios" => (&mut stats.blkio.io_serviced_recursive, "Discard"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: fs::parse_u64(&path, v)?,
            });
        }
    }
    Ok(())
}
