//! Where a cgroup lives: a static path, the path of a pid, or a path nested below a pid's.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::Pid;

/// Where a cgroup lives, relative to the root of each hierarchy.
///
/// On cgroup v1 a process can sit at different paths in different hierarchies, so a path
/// taken from `/proc/PID/cgroup` keeps one path per controller. Serialized as the path
/// (`"/rt/abc"`), or per controller as `{"v1": {"memory": "/a/x", ...}, "v2": "/x"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Kind", into = "Kind")]
pub struct CgroupPath {
    kind: Kind,
    /// The path shown by [`crate::Cgroup::path`].
    shown: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum Kind {
    Static(PathBuf),
    PerController {
        v1: BTreeMap<String, PathBuf>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        v2: Option<PathBuf>,
    },
}

impl From<Kind> for CgroupPath {
    fn from(kind: Kind) -> CgroupPath {
        match kind {
            Kind::Static(p) => CgroupPath::static_path(p),
            Kind::PerController { v1, v2 } => CgroupPath::per_controller(v1, v2),
        }
    }
}

impl From<CgroupPath> for Kind {
    fn from(p: CgroupPath) -> Kind {
        p.kind
    }
}

/// Controllers whose path is shown first when a pid's paths differ per hierarchy.
const SHOWN_PREFERENCE: &[&str] = &["freezer", "pids", "memory", "cpu", "cpuset"];

/// Make `p` absolute ("/a/b"), keeping only normal components; `None` if it contains "..".
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

impl CgroupPath {
    /// The same path in every hierarchy, e.g. "/rt/abc" (a relative path is taken from the
    /// hierarchy roots too).
    pub fn static_path(p: impl AsRef<Path>) -> CgroupPath {
        let p = p.as_ref();
        // ".." is kept as given so that Cgroup::new/load can reject it with a clear error.
        let path = normalize(p).unwrap_or_else(|| p.to_path_buf());
        CgroupPath {
            shown: path.clone(),
            kind: Kind::Static(path),
        }
    }

    /// The cgroup(s) `pid` is in now, from /proc/PID/cgroup.
    pub fn of_pid(pid: Pid) -> Result<CgroupPath> {
        let file = format!("/proc/{}/cgroup", pid.0);
        let text = crate::fs::read_whole(Path::new(&file)).map_err(|e| Error::PidCgroup {
            pid: pid.0,
            reason: format!("read {file}: {e}"),
        })?;
        Self::parse_proc_cgroup(&text).map_err(|reason| Error::PidCgroup { pid: pid.0, reason })
    }

    /// `child` below the cgroup(s) of `pid`.
    pub fn nested(pid: Pid, child: &str) -> Result<CgroupPath> {
        Self::of_pid(pid)?.join(child)
    }

    /// Parse the content of /proc/PID/cgroup.
    pub(crate) fn parse_proc_cgroup(text: &str) -> std::result::Result<CgroupPath, String> {
        let mut v1 = BTreeMap::new();
        let mut v2 = None;
        for line in text.lines().filter(|l| !l.is_empty()) {
            let mut parts = line.splitn(3, ':');
            let (Some(_id), Some(ctrls), Some(path)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("malformed line {line:?}"));
            };
            let path = normalize(Path::new(path)).ok_or_else(|| format!("bad path in {line:?}"))?;
            if ctrls.is_empty() {
                v2 = Some(path);
                continue;
            }
            for c in ctrls.split(',') {
                if !c.starts_with("name=") {
                    v1.insert(c.to_string(), path.clone());
                }
            }
        }
        if v1.is_empty() && v2.is_none() {
            return Err("no cgroup entries".to_string());
        }
        Ok(Self::per_controller(v1, v2))
    }

    fn per_controller(v1: BTreeMap<String, PathBuf>, v2: Option<PathBuf>) -> CgroupPath {
        let shown = SHOWN_PREFERENCE
            .iter()
            .find_map(|c| v1.get(*c))
            .or_else(|| v1.values().next())
            .or(v2.as_ref())
            .cloned()
            .unwrap_or_else(|| PathBuf::from("/"));
        CgroupPath {
            kind: Kind::PerController { v1, v2 },
            shown,
        }
    }

    /// Whether the path differs between hierarchies (made from a pid's cgroups).
    pub fn is_per_controller(&self) -> bool {
        matches!(self.kind, Kind::PerController { .. })
    }

    /// This path with `child` (one or more normal components) appended.
    pub fn join(&self, child: &str) -> Result<CgroupPath> {
        let rel = Path::new(child);
        let ok = !child.is_empty() && rel.components().all(|c| matches!(c, Component::Normal(_)));
        if !ok {
            return Err(Error::InvalidPath {
                path: child.to_string(),
                reason: "a child must be a relative path without '.' or '..'",
            });
        }
        let kind = match &self.kind {
            Kind::Static(p) => Kind::Static(p.join(rel)),
            Kind::PerController { v1, v2 } => Kind::PerController {
                v1: v1.iter().map(|(k, p)| (k.clone(), p.join(rel))).collect(),
                v2: v2.as_ref().map(|p| p.join(rel)),
            },
        };
        Ok(CgroupPath {
            kind,
            shown: self.shown.join(rel),
        })
    }

    /// Whether this is the root of a hierarchy (in every hierarchy it names).
    pub fn is_root(&self) -> bool {
        let root = |p: &Path| p == Path::new("/") || p.as_os_str().is_empty();
        match &self.kind {
            Kind::Static(p) => root(p),
            Kind::PerController { v1, v2 } => {
                v1.values().all(|p| root(p)) && v2.iter().all(|p| root(p))
            }
        }
    }

    /// The path shown to users (where it differs per v1 hierarchy, that of freezer, pids
    /// or memory).
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// Reject paths with "..".
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |p: &Path| p.components().any(|c| matches!(c, Component::ParentDir));
        let any_bad = match &self.kind {
            Kind::Static(p) => bad(p),
            Kind::PerController { v1, v2 } => {
                v1.values().any(|p| bad(p)) || v2.iter().any(|p| bad(p))
            }
        };
        if any_bad {
            return Err(Error::InvalidPath {
                path: self.shown.display().to_string(),
                reason: "'..' is not allowed",
            });
        }
        Ok(())
    }

    /// The path in the v1 hierarchy of `controller`.
    pub(crate) fn for_controller(&self, controller: &str) -> &Path {
        match &self.kind {
            Kind::Static(p) => p,
            Kind::PerController { v1, v2 } => v1
                .get(controller)
                .or(v2.as_ref())
                .map(PathBuf::as_path)
                .unwrap_or(&self.shown),
        }
    }

    /// The path in the v2 hierarchy.
    pub(crate) fn unified(&self) -> &Path {
        match &self.kind {
            Kind::Static(p) => p,
            Kind::PerController { v2, .. } => v2.as_deref().unwrap_or(&self.shown),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_path_is_absolute() {
        let p = CgroupPath::static_path("rt/abc");
        assert_eq!(p.shown(), Path::new("/rt/abc"));
        assert_eq!(p.for_controller("memory"), Path::new("/rt/abc"));
        assert!(CgroupPath::static_path("/a/../b").validate().is_err());
        assert!(CgroupPath::static_path("/").is_root());
        assert!(CgroupPath::static_path("").is_root());
        assert!(!p.is_root());
    }

    #[test]
    fn parses_proc_cgroup_v1_and_v2() {
        let text = "9:name=systemd:/x\n4:memory:/process_api/1\n1:cpu,cpuacct:/c\n0::/u\n";
        let p = CgroupPath::parse_proc_cgroup(text).unwrap();
        assert_eq!(p.for_controller("memory"), Path::new("/process_api/1"));
        assert_eq!(p.for_controller("cpuacct"), Path::new("/c"));
        assert_eq!(p.for_controller("pids"), Path::new("/u"));
        assert_eq!(p.unified(), Path::new("/u"));
        assert_eq!(p.shown(), Path::new("/process_api/1"));
        let n = p.join("kid").unwrap();
        assert_eq!(n.for_controller("cpu"), Path::new("/c/kid"));
        assert_eq!(n.unified(), Path::new("/u/kid"));
        assert!(p.join("../x").is_err());
        assert!(p.join("").is_err());
    }

    #[test]
    fn serializes_as_a_path_or_per_controller() {
        let p = CgroupPath::static_path("/rt/a");
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#""/rt/a""#);
        assert_eq!(serde_json::from_str::<CgroupPath>(&json).unwrap(), p);
        let text = "4:memory:/process_api/1\n1:cpu,cpuacct:/\n0::/\n";
        let p = CgroupPath::parse_proc_cgroup(text)
            .unwrap()
            .join("c")
            .unwrap();
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(
            json,
            r#"{"v1":{"cpu":"/c","cpuacct":"/c","memory":"/process_api/1/c"},"v2":"/c"}"#
        );
        let back: CgroupPath = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(back.shown(), Path::new("/process_api/1/c"));
    }

    #[test]
    fn parses_proc_cgroup_v2_only() {
        let p = CgroupPath::parse_proc_cgroup("0::/user.slice/a\n").unwrap();
        assert_eq!(p.shown(), Path::new("/user.slice/a"));
        assert_eq!(p.unified(), Path::new("/user.slice/a"));
    }
}
