//! Resources as a plan, on both versions: the (file, value) pairs to write, in order,
//! computed from the [`Resources`] and a few [`Facts`] read beforehand without touching
//! anything, then written by [`write`], the one writer (as containerd/cgroups' cgroup2
//! `Resources.Values()`). The value formats both versions share live here too.
//!
//! A setting's file names its controller by its prefix (`memory.max` is memory's,
//! `cpu.cfs_quota_us` cpu's), on v1 as on v2: that is how the writer finds a v1 setting's
//! hierarchy and how a missing controller is told before anything is made.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fs;
use crate::resources::{Rdma, Resources};

/// What the kernel does with a write, where a plan must care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// A plain write; it must succeed.
    None,
    /// A missing file means "already so" (memory.swap.max "max" without swap accounting).
    SkipIfMissing,
    /// Read the file back: the kernel clamps some values silently (v1 cpu.shares), which is
    /// an error naming `field`, with `reason`.
    ReadBack {
        field: &'static str,
        reason: &'static str,
    },
    /// EINVAL is retried once the rest of the plan is written (v1: a shorter CFS period can
    /// be refused until the new quota is in; runc does the same).
    RetryLaterOnEinval,
}

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub file: String,
    pub value: String,
    pub check: Check,
}

impl Setting {
    pub fn new(file: impl Into<String>, value: impl Into<String>) -> Setting {
        Setting {
            file: file.into(),
            value: value.into(),
            check: Check::None,
        }
    }

    pub fn with(mut self, check: Check) -> Setting {
        self.check = check;
        self
    }

    /// The controller that owns the file ("memory" for memory.max); `None` for cgroup.*.
    pub fn controller(&self) -> Option<&str> {
        let c = self.file.split('.').next()?;
        (c != "cgroup").then_some(c)
    }
}

/// What a plan depends on besides the resources: read from the cgroup (or its parent) by
/// the manager before planning, given by hand in unit tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The block I/O weight files are BFQ's (v1 blkio.bfq.weight, v2 io.bfq.weight).
    pub bfq: bool,
    /// v1: swap is accounted (memory.memsw.* exist).
    pub memsw: bool,
    /// v1: the current memory.limit_in_bytes (read only when limit and swap both change).
    pub memory_limit: Option<u64>,
}

/// Write `plan` in order; `dir` gives the directory of a setting's controller.
pub(crate) fn write<'a>(
    plan: &[Setting],
    dir: impl Fn(Option<&str>) -> Result<&'a Path>,
) -> Result<()> {
    let mut later = Vec::new();
    for s in plan {
        let path = dir(s.controller())?.join(&s.file);
        match s.check {
            Check::None => fs::write(&path, &s.value)?,
            Check::SkipIfMissing => {
                fs::write_if_exists(&path, &s.value)?;
            }
            Check::ReadBack { field, reason } => {
                fs::write(&path, &s.value)?;
                let got = fs::read(&path)?;
                if got.trim() != s.value {
                    return Err(Error::InvalidValue {
                        field,
                        value: s.value.clone(),
                        reason,
                    });
                }
            }
            Check::RetryLaterOnEinval => match fs::write(&path, &s.value) {
                Err(Error::Write { source, .. }) if source.raw_os_error() == Some(libc::EINVAL) => {
                    later.push((path, s));
                }
                other => other?,
            },
        }
    }
    for (path, s) in later {
        fs::write(&path, &s.value)?;
    }
    Ok(())
}

/// The controllers a plan writes to (whose absence is an error before anything is made).
pub(crate) fn controllers(plan: &[Setting]) -> std::collections::BTreeSet<String> {
    plan.iter()
        .filter_map(|s| s.controller().map(str::to_string))
        .collect()
}

/// pids.max value (v1 and v2): "max" for -1 or 0 (OCI "no limit").
pub(crate) fn pids_max(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".to_string()
    }
}

/// rdma.max line (v1 and v2): "mlx4_0 hca_handle=2 hca_object=2000"; `None` when nothing
/// is limited.
pub(crate) fn rdma_line(l: &Rdma) -> Option<String> {
    let mut line = l.device.clone();
    if let Some(h) = l.hca_handles {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects {
        line.push_str(&format!(" hca_object={o}"));
    }
    (l.hca_handles.is_some() || l.hca_objects.is_some()).then_some(line)
}

/// The rdma settings (the same file and lines on both versions).
pub(crate) fn rdma(r: &Resources, file: &str, out: &mut Vec<Setting>) {
    for line in r.rdma.iter().filter_map(rdma_line) {
        out.push(Setting::new(file, line));
    }
}

/// `(file, value)` pairs of a plan, for unit tests' comparisons.
#[cfg(test)]
pub(crate) fn pairs(plan: &[Setting]) -> Vec<(&str, &str)> {
    plan.iter()
        .map(|s| (s.file.as_str(), s.value.as_str()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    #[test]
    fn the_writer_names_file_and_value_and_honours_checks() {
        let t = TempDir::new();
        std::fs::write(t.path().join("pids.max"), "max\n").unwrap();
        let dir = |_: Option<&str>| Ok(t.path());
        let plan = [
            Setting::new("pids.max", "5"),
            Setting::new("memory.swap.max", "max").with(Check::SkipIfMissing),
        ];
        write(&plan, dir).unwrap();
        assert_eq!(t.read("pids.max"), "5");
        assert!(!t.path().join("memory.swap.max").exists());
        let err = write(&[Setting::new("memory.nosuch", "7")], dir).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("memory.nosuch") && msg.contains("\"7\""),
            "{msg}"
        );
        assert!(err.is_not_found());
    }

    #[test]
    fn controllers_come_from_file_names() {
        let plan = [
            Setting::new("cpu.cfs_quota_us", "1"),
            Setting::new("memory.max", "1"),
            Setting::new("cgroup.freeze", "0"),
        ];
        assert_eq!(
            controllers(&plan).into_iter().collect::<Vec<_>>(),
            ["cpu", "memory"]
        );
    }

    #[test]
    fn shared_values() {
        assert_eq!(pids_max(-1), "max");
        assert_eq!(pids_max(0), "max");
        assert_eq!(pids_max(7), "7");
        let l = Rdma {
            device: "mlx4_0".into(),
            hca_handles: Some(2),
            hca_objects: None,
        };
        assert_eq!(rdma_line(&l).as_deref(), Some("mlx4_0 hca_handle=2"));
        let none = Rdma {
            device: "x".into(),
            hca_handles: None,
            hca_objects: None,
        };
        assert_eq!(rdma_line(&none), None);
    }
}
