//! Rootless containers: rt run by an unprivileged user (euid != 0).
//!
//! A user namespace is required (its maps are written in `init::write_id_maps`). Cgroups:
//! none on cgroup v1 (an unprivileged user cannot write the hierarchies); on v2 the
//! container gets its cgroup only where the user may create it (a delegated subtree, as
//! systemd's `Delegate=yes` makes), else none. Without a cgroup, limits are refused (as
//! runc: "cannot set limits: container could not join or create cgroup"), device rules are
//! dropped (device access is bounded by the user namespace: no mknod, only the host's nodes
//! the user may open), and the commands that need a cgroup (pause, resume, update, events)
//! say so; ps and kill --all use the container's pid namespace instead.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cgroups::{Cgroup, CgroupPath, Mode, Pid, Resources};
use nix::unistd::{access, AccessFlags};
use oci_spec::runtime::LinuxNamespaceType;

use super::{no_cgroup_reason, rootless};
use crate::bundle::Bundle;
use crate::logging;

/// Refuses a spec an unprivileged user cannot run.
pub fn check(bundle: &Bundle) -> anyhow::Result<()> {
    if rootless() && !bundle.has_namespace(LinuxNamespaceType::User) {
        bail!(
            "linux.namespaces: rt runs as uid {} (rootless): a user namespace is required \
             (`rt spec --rootless` makes such a spec)",
            nix::unistd::geteuid()
        );
    }
    Ok(())
}

/// The container's cgroup, made with `resources`; rootless, None when the user cannot have
/// one (see the module's comment).
pub fn new_cgroup(
    path: CgroupPath,
    cgroups_path: Option<&Path>,
    id: &str,
    resources: &mut Resources,
) -> anyhow::Result<Option<Cgroup>> {
    if !rootless() {
        return Cgroup::new(path, resources)
            .context("linux.resources")
            .map(Some);
    }
    // As runc: device rules are not expected to work rootless (v2 needs CAP_BPF for them).
    resources.devices.clear();
    let reason = if cgroups::mode() != Mode::Unified {
        no_cgroup_reason().to_string()
    } else {
        let dir = unified_dir(cgroups_path, id);
        match delegated(&dir) {
            Ok(()) => {
                let cg = Cgroup::new(path, resources)
                    .with_context(|| format!("linux.resources (rootless, in {})", dir.display()))?;
                return Ok(Some(cg));
            }
            Err(why) => format!("{}: {why}", no_cgroup_reason()),
        }
    };
    if *resources != Resources::default() {
        bail!("linux.resources: cannot set cgroup limits: {reason}");
    }
    logging::debug(&format!("container {id}: {reason}"));
    Ok(None)
}

/// The container's directory on a cgroup v2 host, as `cgroup_path_for` places it.
fn unified_dir(cgroups_path: Option<&Path>, id: &str) -> PathBuf {
    let root = Path::new("/sys/fs/cgroup");
    match cgroups_path.filter(|p| !p.as_os_str().is_empty()) {
        None => root.join("rt").join(id),
        Some(p) if p.is_absolute() => root.join(p.strip_prefix("/").unwrap_or(p)),
        Some(p) => {
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let own = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/");
            root.join(own.trim_start_matches('/')).join(p)
        }
    }
}

/// Ok when the user may make (or join) the cgroup `dir`: the deepest existing directory on
/// its way is writable (and, when it is `dir` itself, its cgroup.procs).
fn delegated(dir: &Path) -> Result<(), String> {
    let mut cur = dir;
    while !cur.exists() {
        cur = cur.parent().ok_or("no cgroup directory")?;
    }
    let target = if cur == dir {
        dir.join("cgroup.procs")
    } else {
        cur.to_path_buf()
    };
    access(&target, AccessFlags::W_OK)
        .map_err(|e| format!("{} is not writable ({e})", target.display()))
}

/// The cgroup directories shown in the container's cgroup mounts: its own cgroup's, or
/// without one the cgroups rt runs in (where the container's processes stay).
pub fn cgroup_dirs(cgroup: Option<&Cgroup>) -> Vec<(String, PathBuf)> {
    if let Some(cg) = cgroup {
        return cg.dirs();
    }
    CgroupPath::of_pid(Pid(std::process::id() as i32))
        .and_then(Cgroup::load)
        .map(|cg| cg.dirs())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_dirs_follow_cgroup_path_for() {
        assert_eq!(unified_dir(None, "c1"), Path::new("/sys/fs/cgroup/rt/c1"));
        assert_eq!(
            unified_dir(Some(Path::new("/user.slice/x")), "c1"),
            Path::new("/sys/fs/cgroup/user.slice/x")
        );
    }

    #[test]
    fn a_missing_cgroup_is_judged_by_its_deepest_existing_parent() {
        let tmp = std::env::temp_dir().join(format!("rt-rootless-unit-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        assert!(delegated(&tmp.join("a/b")).is_ok());
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
