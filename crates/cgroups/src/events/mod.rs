//! Memory events: OOM kills, usage thresholds and memory pressure, as fd-owning watchers that
//! can be waited on one by one or together in one [`EventMonitor`] (one epoll, no threads).
//!
//! | event | cgroup v1 | cgroup v2 |
//! | --- | --- | --- |
//! | OOM | eventfd on `memory.oom_control` via `cgroup.event_control` | inotify on `memory.events`, `oom_kill` increments |
//! | threshold | eventfd on `memory.usage_in_bytes` | unsupported |
//! | pressure | eventfd on `memory.pressure_level` | PSI trigger on `memory.pressure` (POLLPRI) |

mod monitor;
pub(crate) mod sys;
mod watch;

use std::path::Path;
use std::time::Duration;

pub use monitor::EventMonitor;
pub use watch::{EventWatcher, OomWatcher, Watcher};

use crate::error::{Error, Result};

/// Memory pressure levels of the v1 `memory.pressure_level` notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PressureLevel {
    /// Reclaiming memory for new allocations.
    Low,
    /// Swapping and evicting active caches.
    Medium,
    /// Thrashing; about to OOM.
    Critical,
}

impl PressureLevel {
    fn as_str(self) -> &'static str {
        match self {
            PressureLevel::Low => "low",
            PressureLevel::Medium => "medium",
            PressureLevel::Critical => "critical",
        }
    }

    /// The PSI trigger standing in for this level on cgroup v2: `some` stall of 50 ms
    /// (low) or 150 ms (medium), `full` stall of 300 ms (critical), each per 1 s window.
    pub fn psi_trigger(self) -> PsiTrigger {
        let (full, ms) = match self {
            PressureLevel::Low => (false, 50),
            PressureLevel::Medium => (false, 150),
            PressureLevel::Critical => (true, 300),
        };
        PsiTrigger {
            full,
            stall: Duration::from_millis(ms),
            window: Duration::from_secs(1),
        }
    }
}

/// Which cgroups' pressure a v1 pressure event reports (`memory.pressure_level` modes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum PressureMode {
    /// This cgroup's and, when no descendant handled it, its descendants' pressure.
    #[default]
    Default,
    /// Every event of this cgroup and its descendants.
    Hierarchy,
    /// Only this cgroup's own pressure.
    Local,
}

impl PressureMode {
    fn suffix(self) -> &'static str {
        match self {
            PressureMode::Default => "",
            PressureMode::Hierarchy => ",hierarchy",
            PressureMode::Local => ",local",
        }
    }
}

/// A cgroup v2 PSI trigger: fire when tasks stalled for `stall` within a `window`
/// (`some`: at least one task stalled; `full`: all non-idle tasks stalled at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PsiTrigger {
    pub full: bool,
    pub stall: Duration,
    pub window: Duration,
}

impl PsiTrigger {
    /// The line written to `memory.pressure`, e.g. "some 150000 1000000".
    pub fn line(&self) -> String {
        format!(
            "{} {} {}",
            if self.full { "full" } else { "some" },
            self.stall.as_micros(),
            self.window.as_micros()
        )
    }
}

/// A memory event to register with [`crate::Cgroup::register_memory_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryEvent {
    /// OOM kills (as [`crate::Cgroup::oom_events`]).
    Oom,
    /// Memory usage crossed `bytes`, in either direction (v1 only).
    Threshold { bytes: u64 },
    /// Memory pressure at `level` (v1 `memory.pressure_level`; on v2 the level's
    /// [`PressureLevel::psi_trigger`], `mode` ignored: PSI covers the whole subtree).
    Pressure {
        level: PressureLevel,
        mode: PressureMode,
    },
    /// A PSI trigger on `memory.pressure` (v2 only).
    Psi(PsiTrigger),
}

impl MemoryEvent {
    /// OOM kills.
    pub fn oom() -> MemoryEvent {
        MemoryEvent::Oom
    }

    /// Usage crossing `bytes` (v1).
    pub fn threshold(bytes: u64) -> MemoryEvent {
        MemoryEvent::Threshold { bytes }
    }

    /// Pressure at `level` in `mode`.
    pub fn pressure(level: PressureLevel, mode: PressureMode) -> MemoryEvent {
        MemoryEvent::Pressure { level, mode }
    }

    /// A v2 PSI trigger.
    pub fn psi(trigger: PsiTrigger) -> MemoryEvent {
        MemoryEvent::Psi(trigger)
    }
}

/// What a watcher reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// `count` OOM kills since the last report (v2: `oom_kill` increments; v1: OOM
    /// notifications, each followed by a kill unless the OOM killer is disabled).
    Oom { count: u64 },
    /// Usage crossed the threshold `count` times.
    Threshold { count: u64 },
    /// Pressure reached the level / the PSI trigger fired (`count` times).
    Pressure { count: u64 },
    /// The cgroup was removed: the watcher reports nothing more (a monitor drops it).
    Removed,
}

/// v1: register `efd` for `file` (+ `arg`) through `cgroup.event_control` in `dir`.
pub(crate) fn register_v1(dir: &Path, ev: MemoryEvent) -> Result<Watcher> {
    let (file, arg) = match ev {
        MemoryEvent::Oom => (V1_OOM_CONTROL, String::new()),
        MemoryEvent::Threshold { bytes } => (V1_USAGE, format!(" {bytes}")),
        MemoryEvent::Pressure { level, mode } => (
            V1_PRESSURE_LEVEL,
            format!(" {}{}", level.as_str(), mode.suffix()),
        ),
        MemoryEvent::Psi(_) => {
            return Err(Error::Unsupported {
                what: "PSI triggers",
                version: "v1",
            })
        }
    };
    watch::Watch::eventfd(dir, file, &arg, ev).map(Watcher)
}

/// v2: inotify on memory.events for OOM, a PSI trigger for pressure.
pub(crate) fn register_v2(dir: &Path, ev: MemoryEvent) -> Result<Watcher> {
    match ev {
        MemoryEvent::Oom => watch::Watch::memory_events(dir).map(Watcher),
        MemoryEvent::Threshold { .. } => Err(Error::Unsupported {
            what: "memory usage thresholds",
            version: "v2",
        }),
        MemoryEvent::Pressure { level, .. } => {
            watch::Watch::psi(dir, level.psi_trigger(), ev).map(Watcher)
        }
        MemoryEvent::Psi(t) => watch::Watch::psi(dir, t, ev).map(Watcher),
    }
}

pub(crate) use crate::v1::files::{
    CGROUP_EVENT_CONTROL as V1_EVENT_CONTROL, MEMORY_OOM_CONTROL as V1_OOM_CONTROL,
    MEMORY_PRESSURE_LEVEL as V1_PRESSURE_LEVEL, MEMORY_USAGE as V1_USAGE,
};
pub(crate) use crate::v2::files::{
    MEMORY_EVENTS as V2_MEMORY_EVENTS, MEMORY_PRESSURE as V2_MEMORY_PRESSURE,
};

#[cfg(test)]
mod tests;
