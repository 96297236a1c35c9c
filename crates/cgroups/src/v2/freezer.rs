//! freezer: cgroup.freeze, waiting for "frozen 1" in cgroup.events.

use std::path::Path;
use std::time::{Duration, Instant};

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::FreezerState;

const TIMEOUT: Duration = Duration::from_secs(2);

fn frozen_event(dir: &Path) -> Result<Option<u64>> {
    Ok(fs::read_flat_keyed(&dir.join(CGROUP_EVENTS))?
        .get("frozen")
        .copied())
}

/// Write cgroup.freeze and wait until cgroup.events agrees.
pub(crate) fn set(dir: &Path, frozen: bool) -> Result<()> {
    let path = dir.join(CGROUP_FREEZE);
    let want = u64::from(frozen);
    fs::write(&path, &want.to_string())?;
    let start = Instant::now();
    let mut last = None;
    let ok = fs::poll(TIMEOUT, || {
        last = frozen_event(dir)?;
        Ok(last == Some(want))
    })?;
    if ok {
        return Ok(());
    }
    if frozen {
        // Do not leave it half frozen.
        let _ = fs::write(&path, "0");
    }
    Err(Error::Timeout {
        path: dir.join(CGROUP_EVENTS),
        want: if frozen { "frozen 1" } else { "frozen 0" },
        last: format!("frozen {last:?}"),
        waited_ms: start.elapsed().as_millis(),
    })
}

pub(crate) fn state(dir: &Path) -> Result<FreezerState> {
    let path = dir.join(CGROUP_FREEZE);
    let s = fs::read(&path)?;
    match s.trim() {
        "0" => Ok(FreezerState::Thawed),
        "1" => Ok(if frozen_event(dir)? == Some(1) {
            FreezerState::Frozen
        } else {
            FreezerState::Freezing
        }),
        _ => Err(Error::Parse { path, value: s }),
    }
}
