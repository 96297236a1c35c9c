//! blkio: weights and throttles; service bytes/operations stats.

use std::path::Path;

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::plan::{Facts, Setting};
use crate::resources::Resources;
use crate::stats::{BlkioEntry, Stats};

/// Parse "8:0 Read 123" lines; "Total N" lines are skipped.
pub(crate) fn parse_entries(path: &Path, text: &str) -> Result<Vec<BlkioEntry>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let bad = || Error::Parse {
            path: path.to_path_buf(),
            value: line.to_string(),
        };
        let (maj, min) = f[0].split_once(':').ok_or_else(bad)?;
        out.push(BlkioEntry {
            major: maj.parse().map_err(|_| bad())?,
            minor: min.parse().map_err(|_| bad())?,
            op: f[1].to_string(),
            value: fs::parse_u64(path, f[2])?,
        });
    }
    Ok(out)
}

/// `facts.bfq`: the cgroup has blkio.bfq.weight and no blkio.weight (CFQ's is gone from
/// current kernels).
pub(super) fn settings(r: &Resources, facts: &Facts, out: &mut Vec<Setting>) {
    let Some(b) = &r.block_io else { return };
    let (weight_file, weight_dev_file) = if facts.bfq {
        (BLKIO_BFQ_WEIGHT, BLKIO_BFQ_WEIGHT_DEVICE)
    } else {
        (BLKIO_WEIGHT, BLKIO_WEIGHT_DEVICE)
    };
    if let Some(w) = b.weight {
        out.push(Setting::new(weight_file, w.to_string()));
    }
    if let Some(w) = b.leaf_weight {
        out.push(Setting::new(BLKIO_LEAF_WEIGHT, w.to_string()));
    }
    for d in &b.weight_device {
        if let Some(w) = d.weight {
            let v = format!("{}:{} {}", d.major, d.minor, w);
            out.push(Setting::new(weight_dev_file, v));
        }
        if let Some(w) = d.leaf_weight {
            let v = format!("{}:{} {}", d.major, d.minor, w);
            out.push(Setting::new(BLKIO_LEAF_WEIGHT_DEVICE, v));
        }
    }
    for (file, devs) in [
        (BLKIO_THROTTLE_READ_BPS, &b.throttle_read_bps_device),
        (BLKIO_THROTTLE_WRITE_BPS, &b.throttle_write_bps_device),
        (BLKIO_THROTTLE_READ_IOPS, &b.throttle_read_iops_device),
        (BLKIO_THROTTLE_WRITE_IOPS, &b.throttle_write_iops_device),
    ] {
        for d in devs {
            out.push(Setting::new(
                file,
                format!("{}:{} {}", d.major, d.minor, d.rate),
            ));
        }
    }
}

pub(super) fn stat(dir: &Path, stats: &mut Stats) -> Result<()> {
    for (bytes, ios) in BLKIO_STAT_FILES {
        let bytes_path = dir.join(bytes);
        let Some(text) = fs::read_if_exists(&bytes_path)? else {
            continue;
        };
        stats.blkio.io_service_bytes_recursive = parse_entries(&bytes_path, &text)?;
        let ios_path = dir.join(ios);
        if let Some(text) = fs::read_if_exists(&ios_path)? {
            stats.blkio.io_serviced_recursive = parse_entries(&ios_path, &text)?;
        }
        break;
    }
    Ok(())
}
