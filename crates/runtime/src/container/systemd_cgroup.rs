//! The systemd cgroup driver (`--systemd-cgroup`, `--cgroup-manager systemd`): runc's
//! `slice:prefix:name` form of linux.cgroupsPath, and telling a systemd container's cgroup
//! from a cgroupfs one afterwards.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{bail, Context};
use cgroups::{Cgroup, Resources};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Use systemd for the cgroups of containers created by this process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Make the container's cgroup as a systemd scope: directory and limits now, the unit when
/// the init exists (`Cgroup::start_unit`).
pub fn new_cgroup(cgroups_path: Option<&Path>, id: &str, r: &Resources) -> anyhow::Result<Cgroup> {
    let s = parse(cgroups_path, id)?;
    if super::rootless() {
        bail!("--systemd-cgroup: rootless containers (a user's systemd) are not supported");
    }
    if !cgroups::systemd::booted() {
        bail!("--systemd-cgroup: systemd is not running on this machine (no /run/systemd/system)");
    }
    Cgroup::new_systemd(&s.slice, &s.unit, None, r)
        .with_context(|| format!("systemd unit {} in {}", s.unit, s.slice))
}

/// Where a container's cgroup goes with the systemd driver: (slice, unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCgroup {
    pub slice: String,
    pub unit: String,
}

/// Parse linux.cgroupsPath as runc does for systemd: "slice:prefix:name" gives the unit
/// "prefix-name.scope" (or "name.scope" without a prefix) in "slice" (empty: system.slice).
/// No cgroupsPath means ":rt:ID". A name ending in ".slice" (runc puts the container in that
/// slice itself) is refused: systemd accepts no processes in a slice it starts.
pub fn parse(cgroups_path: Option<&Path>, id: &str) -> anyhow::Result<SystemdCgroup> {
    let text = match cgroups_path {
        None => String::new(),
        Some(p) => p
            .to_str()
            .ok_or_else(|| anyhow::anyhow!("linux.cgroupsPath {p:?}: not valid UTF-8"))?
            .to_string(),
    };
    let (slice, prefix, name) = if text.is_empty() {
        ("", "rt", id)
    } else {
        let parts: Vec<&str> = text.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            bail!(
                "linux.cgroupsPath {text:?}: expected \"slice:prefix:name\" with the systemd cgroup driver"
            );
        };
        (slice, prefix, name)
    };
    if name.is_empty() {
        bail!("linux.cgroupsPath {text:?}: the name part is empty");
    }
    if name.ends_with(".slice") {
        bail!("linux.cgroupsPath {text:?}: a slice as the container's unit is not supported; name a scope");
    }
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    cgroups::systemd::expand_slice(slice)
        .map_err(|e| anyhow::anyhow!("linux.cgroupsPath {text:?}: {e}"))?;
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    cgroups::systemd::validate_unit_name(&unit)
        .map_err(|e| anyhow::anyhow!("linux.cgroupsPath {text:?}: {e}"))?;
    Ok(SystemdCgroup {
        slice: slice.to_string(),
        unit,
    })
}

/// The (slice, unit) of a cgroup path that a systemd container has: ".../X.slice/U.scope"
/// on a machine run by systemd. The path alone tells (rt keeps no flag in its state), as the
/// engines pass --systemd-cgroup to create but not always to delete.
pub fn of_path(path: &Path) -> Option<SystemdCgroup> {
    let unit = path.file_name()?.to_str()?;
    if !unit.ends_with(".scope") || !cgroups::systemd::booted() {
        return None;
    }
    let parent = path.parent()?;
    let slice = match parent.file_name() {
        None => "-.slice".to_string(),
        Some(s) => s.to_str()?.to_string(),
    };
    let expanded = cgroups::systemd::expand_slice(&slice).ok()?;
    (Path::new(&expanded) == parent).then(|| SystemdCgroup {
        slice,
        unit: unit.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: Option<&str>) -> (String, String) {
        let c = parse(p.map(Path::new), "abc").unwrap();
        (c.slice, c.unit)
    }

    fn s(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    #[test]
    fn runc_forms() {
        assert_eq!(
            ok(Some("system.slice:rt:abc")),
            s("system.slice", "rt-abc.scope")
        );
        assert_eq!(ok(None), s("system.slice", "rt-abc.scope"));
        assert_eq!(ok(Some("")), s("system.slice", "rt-abc.scope"));
        assert_eq!(
            ok(Some(":libpod:xyz")),
            s("system.slice", "libpod-xyz.scope")
        );
        assert_eq!(
            ok(Some("machine.slice::xyz")),
            s("machine.slice", "xyz.scope")
        );
        assert_eq!(ok(Some("a-b.slice:p:n")), s("a-b.slice", "p-n.scope"));
        for bad in [
            "/rt/abc",
            "system.slice:rt",
            "a:b:c:d",
            "system:rt:abc",
            "a--b.slice:rt:abc",
            "system.slice:rt:",
            "system.slice:rt:x.slice",
            "system.slice:r/t:abc",
        ] {
            assert!(parse(Some(Path::new(bad)), "abc").is_err(), "{bad}");
        }
    }
}
