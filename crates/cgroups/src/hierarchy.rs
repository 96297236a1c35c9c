//! Where the cgroup hierarchies are mounted: parsed once from /proc/self/mountinfo, or
//! rooted at a given directory (unit tests' fake trees, as youki's
//! `create_cgroup_manager_with_root` and containerd/cgroups' mock hierarchies).

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::Mode;

/// One mounted hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mount {
    /// Where it is mounted, e.g. /sys/fs/cgroup/memory.
    pub mountpoint: PathBuf,
    /// The cgroup the mount shows as its root (mountinfo field 4), usually "/".
    pub root: PathBuf,
}

impl Mount {
    /// The directory of the cgroup `path` (relative to the hierarchy root) in this mount.
    pub fn dir_for(&self, path: &Path) -> PathBuf {
        let rel = path.strip_prefix(&self.root).unwrap_or(path);
        let mut dir = self.mountpoint.clone();
        for c in rel.components() {
            if let Component::Normal(n) = c {
                dir.push(n);
            }
        }
        dir
    }
}

/// The hierarchies a cgroup lives in.
#[derive(Debug, Clone)]
pub(crate) enum Hierarchy {
    /// cgroup v1 (legacy and hybrid): one mount per subsystem (comounted ones share a mount).
    V1 { mounts: BTreeMap<String, Mount> },
    /// cgroup v2: one mount.
    V2 { mount: Mount },
}

impl Hierarchy {
    /// The hierarchies of this machine (cached).
    pub fn system() -> Result<&'static Hierarchy> {
        static SYSTEM: OnceLock<std::result::Result<Hierarchy, String>> = OnceLock::new();
        SYSTEM
            .get_or_init(|| {
                let text = crate::fs::read_whole(std::path::Path::new("/proc/self/mountinfo"))
                    .map_err(|e| format!("read /proc/self/mountinfo: {e}"))?;
                from_mountinfo(&text, crate::mode())
            })
            .as_ref()
            .map_err(|e| Error::Mounts(e.clone()))
    }

    /// cgroup v1 hierarchies rooted at `root`: each directory in it is one, named by its
    /// controllers ("memory", "cpu,cpuacct").
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn v1_at(root: &Path) -> Result<Hierarchy> {
        let err = |e: std::io::Error| Error::Mounts(format!("{}: {e}", root.display()));
        let mut mounts = BTreeMap::new();
        for ent in std::fs::read_dir(root).map_err(err)? {
            let ent = ent.map_err(err)?;
            if !ent.file_type().map_err(err)?.is_dir() {
                continue;
            }
            let name = ent.file_name().to_string_lossy().into_owned();
            for c in name.split(',') {
                mounts.insert(
                    c.to_string(),
                    Mount {
                        mountpoint: ent.path(),
                        root: PathBuf::from("/"),
                    },
                );
            }
        }
        Ok(Hierarchy::V1 { mounts })
    }

    /// The cgroup v2 hierarchy rooted at `root`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn v2_at(root: &Path) -> Hierarchy {
        Hierarchy::V2 {
            mount: Mount {
                mountpoint: root.to_path_buf(),
                root: PathBuf::from("/"),
            },
        }
    }
}

/// cgroup v1 super options that are not controller names.
const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "xattr",
    "noprefix",
    "clone_children",
    "cpuset_v2_mode",
    "favordynmods",
    "none",
];

/// Build the hierarchy for `mode` from the text of /proc/self/mountinfo.
pub(crate) fn from_mountinfo(text: &str, mode: Mode) -> std::result::Result<Hierarchy, String> {
    let mut v1: BTreeMap<String, Mount> = BTreeMap::new();
    let mut v2: Option<Mount> = None;
    for entry in crate::mountinfo::parse(text) {
        let mount = Mount {
            root: entry.root,
            mountpoint: entry.mount_point,
        };
        match entry.fs_type.as_str() {
            "cgroup2" if v2.is_none() => v2 = Some(mount),
            "cgroup" => {
                for opt in entry.super_options.split(',') {
                    if NOT_CONTROLLERS.contains(&opt) || opt.contains('=') {
                        continue; // name=systemd, release_agent=... are not subsystems
                    }
                    v1.entry(opt.to_string()).or_insert_with(|| mount.clone());
                }
            }
            _ => {}
        }
    }
    match mode {
        Mode::Unified => v2
            .map(|mount| Hierarchy::V2 { mount })
            .ok_or_else(|| "no cgroup2 mount in /proc/self/mountinfo".to_string()),
        Mode::Legacy | Mode::Hybrid => {
            if v1.is_empty() {
                Err("no cgroup v1 controller mounts in /proc/self/mountinfo".to_string())
            } else {
                Ok(Hierarchy::V1 { mounts: v1 })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
42 31 0:39 / /mnt/with\\040space rw,relatime - cgroup cgroup rw,pids
";

    #[test]
    fn parses_v1_mounts() {
        let Ok(Hierarchy::V1 { mounts, .. }) = from_mountinfo(HYBRID, Mode::Hybrid) else {
            panic!("expected v1");
        };
        assert_eq!(
            mounts.keys().collect::<Vec<_>>(),
            ["cpu", "cpuacct", "cpuset", "memory", "pids"]
        );
        assert_eq!(mounts["cpu"], mounts["cpuacct"]);
        assert_eq!(mounts["pids"].mountpoint, PathBuf::from("/mnt/with space"));
        // A mount whose root is not "/" strips the root from cgroup paths.
        assert_eq!(
            mounts["memory"].dir_for(Path::new("/docker/abc/x")),
            PathBuf::from("/sys/fs/cgroup/memory/x")
        );
        assert_eq!(
            mounts["cpu"].dir_for(Path::new("/rt/a")),
            PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/rt/a")
        );
    }

    #[test]
    fn parses_v2_mount() {
        let Ok(Hierarchy::V2 { mount, .. }) = from_mountinfo(HYBRID, Mode::Unified) else {
            panic!("expected v2");
        };
        assert_eq!(mount.mountpoint, PathBuf::from("/sys/fs/cgroup/unified"));
    }
}
