//! Where a container's cgroup goes, decided in one place: [`Placement::resolve`] turns
//! (cgroupsPath, container id, driver, rootless) into a cgroupfs path, a systemd slice and
//! unit, or no cgroup with the reason. It owns the default (`/rt/<id>`, or `:rt:<id>` with
//! systemd), the nesting of a relative path under the caller's own cgroup (per hierarchy:
//! on v1 the caller can sit at different paths in each), runc's `slice:prefix:name` form,
//! and whether an unprivileged caller may have a cgroup at all (a delegated v2 subtree).
//!
//! A placement is plain data (serde): a runtime records it when it creates the container
//! and every later command reads it back, to [`Placement::load`] the same cgroup with the
//! same driver, whatever flags that command got.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hierarchy::Hierarchy;
use crate::path::CgroupPath;
use crate::resources::Resources;
use crate::{systemd, Cgroup, Mode, Pid};

/// The parent of default cgroup paths (`/rt/<id>`) and the prefix of default systemd
/// units (`rt-<id>.scope`).
pub const DEFAULT_PREFIX: &str = "rt";

/// Which driver manages the cgroup (runc's `--systemd-cgroup`, crun's `--cgroup-manager`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Driver {
    #[default]
    Cgroupfs,
    Systemd,
}

/// What a placement is decided from.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `linux.cgroupsPath` as given; `None` or empty: the default.
    pub cgroups_path: Option<&'a str>,
    /// The container's id (the default's last component).
    pub id: &'a str,
    pub driver: Driver,
    /// The caller is unprivileged (euid != 0).
    pub rootless: bool,
}

/// Where a container's cgroup is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// A cgroupfs cgroup at this path (per hierarchy).
    Cgroupfs(CgroupPath),
    /// A transient systemd scope `unit` in `slice`.
    Systemd { slice: String, unit: String },
    /// No cgroup, and why (an unprivileged caller without a delegated cgroup).
    None(String),
}

impl Placement {
    /// Decide where the cgroup of `req` goes on this machine. Errors name what is wrong
    /// with the request; the caller adds which field it came from.
    pub fn resolve(req: &Request) -> Result<Placement> {
        if req.driver == Driver::Systemd {
            return Self::systemd(req, systemd::booted());
        }
        // Only a relative path needs the caller's cgroups.
        let relative = req
            .cgroups_path
            .is_some_and(|p| !p.is_empty() && !p.starts_with('/'));
        let own = if relative {
            CgroupPath::of_pid(Pid(std::process::id() as i32))?
        } else {
            CgroupPath::static_path("/")
        };
        let h = if req.rootless && crate::mode() == Mode::Unified {
            Some(Hierarchy::system()?)
        } else {
            None
        };
        Self::cgroupfs(req, &own, crate::mode(), h)
    }

    fn systemd(req: &Request, booted: bool) -> Result<Placement> {
        // The path is judged first: a malformed one is refused wherever rt runs.
        let (slice, unit) = systemd::parse_cgroups_path(req.cgroups_path.unwrap_or(""), req.id)?;
        let bad = |reason: String| Error::Placement(reason);
        if req.rootless {
            return Err(bad(
                "the systemd driver for rootless containers (a user's systemd) is not supported"
                    .into(),
            ));
        }
        if !booted {
            return Err(bad(
                "systemd is not running on this machine (no /run/systemd/system)".into(),
            ));
        }
        Ok(Placement::Systemd { slice, unit })
    }

    /// The cgroupfs placement of `req`, relative paths nested under `own`; `h` (rootless on
    /// v2 only) is where delegation is judged.
    pub(crate) fn cgroupfs(
        req: &Request,
        own: &CgroupPath,
        mode: Mode,
        h: Option<&Hierarchy>,
    ) -> Result<Placement> {
        let path = match req.cgroups_path.filter(|p| !p.is_empty()) {
            None => CgroupPath::static_path(Path::new("/").join(DEFAULT_PREFIX).join(req.id)),
            Some(p) if p.starts_with('/') => CgroupPath::static_path(p),
            Some(p) => own.join(p)?,
        };
        path.validate()?;
        if path.is_root() {
            return Err(Error::InvalidPath {
                path: path.shown().display().to_string(),
                reason: "the root of a cgroup hierarchy cannot be a container's cgroup",
            });
        }
        if !req.rootless {
            return Ok(Placement::Cgroupfs(path));
        }
        let Some(Hierarchy::V2 { mount }) = h.filter(|_| mode == Mode::Unified) else {
            return Ok(Placement::None(
                "no cgroup: rootless container on cgroup v1".into(),
            ));
        };
        match delegated(&mount.dir_for(path.unified())) {
            Ok(()) => Ok(Placement::Cgroupfs(path)),
            Err(why) => Ok(Placement::None(format!(
                "no cgroup: rootless container without a delegated cgroup: {why}"
            ))),
        }
    }

    /// The placement's cgroup made with `resources`; `None` for [`Placement::None`]. A
    /// systemd scope gets its directory and limits now and its unit at
    /// [`Cgroup::started`].
    pub fn create(&self, resources: &Resources) -> Result<Option<Cgroup>> {
        match self {
            Placement::Cgroupfs(path) => Cgroup::new(path.clone(), resources).map(Some),
            Placement::Systemd { slice, unit } => {
                Cgroup::new_systemd(slice, unit, None, resources).map(Some)
            }
            Placement::None(_) => Ok(None),
        }
    }

    /// The placement's existing cgroup with its driver; `None` for [`Placement::None`],
    /// [`Error::NotFound`] when it is gone. No D-Bus call is made.
    pub fn load(&self) -> Result<Option<Cgroup>> {
        match self {
            Placement::Cgroupfs(path) => Cgroup::load(path.clone()).map(Some),
            Placement::Systemd { slice, unit } => Cgroup::load_systemd(slice, unit).map(Some),
            Placement::None(_) => Ok(None),
        }
    }

    /// The freezer state of the placement's cgroup, read from its one file (no directory is
    /// checked first, no D-Bus call made); `None` for [`Placement::None`], [`Error::NotFound`]
    /// when the cgroup is gone.
    pub fn freezer_state(&self) -> Result<Option<crate::FreezerState>> {
        let path = match self {
            Placement::Cgroupfs(path) => path.clone(),
            Placement::Systemd { slice, unit } => {
                CgroupPath::static_path(systemd::Unit::new(slice, unit)?.cgroup_path()?)
            }
            Placement::None(_) => return Ok(None),
        };
        path.validate()?;
        // Only the freezer's file: no other hierarchy is looked at.
        let state = match Hierarchy::system()? {
            Hierarchy::V1 { mounts } => {
                let m = mounts
                    .get("freezer")
                    .ok_or_else(|| Error::ControllerMissing {
                        controller: "freezer".into(),
                        needed_by: "freezer state".into(),
                    })?;
                crate::v1::freezer::state(&m.dir_for(path.for_controller("freezer")))
            }
            Hierarchy::V2 { mount } => crate::v2::freezer::state(&mount.dir_for(path.unified())),
        };
        state.map(Some)
    }

    /// The cgroup path (a systemd unit's as systemd lays it out); `None` without a cgroup.
    pub fn path(&self) -> Option<PathBuf> {
        match self {
            Placement::Cgroupfs(p) => Some(p.shown().to_path_buf()),
            Placement::Systemd { slice, unit } => systemd::Unit::new(slice, unit)
                .and_then(|u| u.cgroup_path())
                .ok(),
            Placement::None(_) => None,
        }
    }

    /// Why there is no cgroup ([`Placement::None`]).
    pub fn no_cgroup_reason(&self) -> Option<&str> {
        match self {
            Placement::None(why) => Some(why),
            _ => None,
        }
    }
}

/// Ok when an unprivileged caller may make (or join) the cgroup `dir`: the deepest existing
/// directory on its way is writable (and, when it is `dir` itself, its cgroup.procs).
fn delegated(dir: &Path) -> std::result::Result<(), String> {
    let mut cur = dir;
    while !cur.exists() {
        cur = cur.parent().ok_or("no cgroup directory")?;
    }
    let target = if cur == dir {
        dir.join("cgroup.procs")
    } else {
        cur.to_path_buf()
    };
    nix::unistd::access(&target, nix::unistd::AccessFlags::W_OK)
        .map_err(|e| format!("{} is not writable ({e})", target.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{fake_v2, TempDir};

    fn req<'a>(p: Option<&'a str>, driver: Driver, rootless: bool) -> Request<'a> {
        Request {
            cgroups_path: p,
            id: "c1",
            driver,
            rootless,
        }
    }

    fn own() -> CgroupPath {
        let text = "4:memory:/process_api/1\n1:cpu,cpuacct:/\n3:pids:/\n0::/\n";
        CgroupPath::parse_proc_cgroup(text).unwrap()
    }

    fn fs(p: Option<&str>) -> Result<Placement> {
        Placement::cgroupfs(&req(p, Driver::Cgroupfs, false), &own(), Mode::Hybrid, None)
    }

    #[test]
    fn defaults_absolute_and_relative_paths() {
        let path = |p: Placement| match p {
            Placement::Cgroupfs(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(path(fs(None).unwrap()), CgroupPath::static_path("/rt/c1"));
        assert_eq!(
            path(fs(Some("")).unwrap()),
            CgroupPath::static_path("/rt/c1")
        );
        assert_eq!(
            path(fs(Some("/a/b")).unwrap()),
            CgroupPath::static_path("/a/b")
        );
        // Relative: below the caller's cgroup in each hierarchy (memory differs here).
        let rel = path(fs(Some("x/y")).unwrap());
        assert_eq!(
            rel.for_controller("memory"),
            Path::new("/process_api/1/x/y")
        );
        assert_eq!(rel.for_controller("cpu"), Path::new("/x/y"));
        assert_eq!(rel.unified(), Path::new("/x/y"));
    }

    #[test]
    fn bad_paths_are_refused() {
        for bad in ["/", "/a/../../b", "../x", "."] {
            assert!(fs(Some(bad)).is_err(), "{bad}");
        }
        let err = fs(Some("/")).unwrap_err().to_string();
        assert!(err.contains("the root of a cgroup hierarchy"), "{err}");
    }

    #[test]
    fn rootless_needs_a_delegated_v2_cgroup() {
        let r = req(None, Driver::Cgroupfs, true);
        let p = Placement::cgroupfs(&r, &own(), Mode::Hybrid, None).unwrap();
        assert_eq!(
            p.no_cgroup_reason(),
            Some("no cgroup: rootless container on cgroup v1")
        );
        // On v2, judged by the deepest existing directory (writable here: tests run as
        // root, and a temp dir is ours).
        let t = TempDir::new();
        let h = fake_v2(&t);
        let p = Placement::cgroupfs(&r, &own(), Mode::Unified, Some(&h)).unwrap();
        assert_eq!(p, Placement::Cgroupfs(CgroupPath::static_path("/rt/c1")));
    }

    #[test]
    fn systemd_forms_and_refusals() {
        let sd = |p: Option<&str>| Placement::systemd(&req(p, Driver::Systemd, false), true);
        assert_eq!(
            sd(None).unwrap(),
            Placement::Systemd {
                slice: "system.slice".into(),
                unit: "rt-c1.scope".into()
            }
        );
        assert_eq!(
            sd(Some("machine.slice:libpod:x")).unwrap(),
            Placement::Systemd {
                slice: "machine.slice".into(),
                unit: "libpod-x.scope".into()
            }
        );
        assert!(sd(Some("/rt/plain")).is_err());
        // A malformed path is told before whether systemd runs here.
        let bad = Placement::systemd(&req(Some("/rt/plain"), Driver::Systemd, false), false);
        assert!(bad.unwrap_err().to_string().contains("slice:prefix:name"));
        let not_booted = Placement::systemd(&req(None, Driver::Systemd, false), false);
        assert!(not_booted
            .unwrap_err()
            .to_string()
            .contains("systemd is not running"));
        let rootless = Placement::systemd(&req(None, Driver::Systemd, true), true);
        assert!(rootless.is_err());
    }

    #[test]
    fn round_trips_as_json() {
        for p in [
            fs(None).unwrap(),
            fs(Some("x")).unwrap(),
            Placement::Systemd {
                slice: "system.slice".into(),
                unit: "rt-c1.scope".into(),
            },
            Placement::None("no cgroup: why".into()),
        ] {
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(
                serde_json::from_str::<Placement>(&json).unwrap(),
                p,
                "{json}"
            );
        }
        assert_eq!(
            serde_json::to_string(&fs(None).unwrap()).unwrap(),
            r#"{"cgroupfs":"/rt/c1"}"#
        );
    }
}
