//! freezer: freeze/thaw through freezer.state (nothing to apply from Resources).

use std::path::Path;
use std::time::{Duration, Instant};

use super::files::*;
use crate::error::{Error, Result};
use crate::fs;
use crate::FreezerState;

/// How long freeze/thaw wait for the kernel.
const TIMEOUT: Duration = Duration::from_secs(2);

/// Read freezer.state.
pub(crate) fn state(dir: &Path) -> Result<FreezerState> {
    let path = dir.join(FREEZER_STATE);
    let s = fs::read(&path)?;
    match s.trim() {
        FROZEN => Ok(FreezerState::Frozen),
        THAWED => Ok(FreezerState::Thawed),
        FREEZING => Ok(FreezerState::Freezing),
        _ => Err(Error::Parse { path, value: s }),
    }
}

/// Freeze: write FROZEN and re-write it while the kernel reports FREEZING (a task that was
/// forking or in an uninterruptible sleep can make one attempt fail). Thaws again on timeout.
pub(crate) fn freeze(dir: &Path) -> Result<()> {
    let path = dir.join(FREEZER_STATE);
    let start = Instant::now();
    let mut sleep = Duration::from_millis(1);
    loop {
        fs::write(&path, FROZEN)?;
        let st = state(dir)?;
        if st == FreezerState::Frozen {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            // Do not leave it half frozen.
            let _ = fs::write(&path, THAWED);
            return Err(Error::Timeout {
                path,
                want: FROZEN,
                last: format!("{st:?}"),
                waited_ms: start.elapsed().as_millis(),
            });
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(20));
    }
}

/// Thaw: write THAWED and wait until the kernel reports it.
pub(crate) fn thaw(dir: &Path) -> Result<()> {
    let path = dir.join(FREEZER_STATE);
    let start = Instant::now();
    loop {
        fs::write(&path, THAWED)?;
        let st = state(dir)?;
        if st == FreezerState::Thawed {
            return Ok(());
        }
        if start.elapsed() >= TIMEOUT {
            return Err(Error::Timeout {
                path,
                want: THAWED,
                last: format!("{st:?}"),
                waited_ms: start.elapsed().as_millis(),
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
