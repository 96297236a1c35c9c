//! A `cgroup` mount inside the container: the container's own cgroup, nothing above it.
//!
//! v1: a tmpfs with one bind mount per hierarchy (`/sys/fs/cgroup/memory` shows the
//! container's memory cgroup), plus symlinks for comounted controllers (`cpu` ->
//! `cpu,cpuacct`). v2: a fresh cgroup2 mount (its root is the cgroup namespace's root)
//! or, without a cgroup namespace, a bind mount of the container's directory.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::Context;
use nix::mount::{mount, MsFlags};

use super::mounts::{create_mountpoint, remount, MountOptions};

/// Where the container's cgroup lives on the host, for `cgroup` mounts.
#[derive(Debug, Default, Clone)]
pub struct CgroupSources {
    /// The container has its own cgroup namespace.
    pub private_ns: bool,
    /// (hierarchy name, the container's cgroup directory in it). A single entry with an
    /// empty name is the unified (v2) hierarchy.
    pub dirs: Vec<(String, PathBuf)>,
}

pub fn mount_cgroup(
    dest: &Path,
    opts: &MountOptions,
    sources: &CgroupSources,
) -> anyhow::Result<()> {
    create_mountpoint(dest, false)?;
    let flags = opts.flags
        & (MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    let ro = opts.flags.contains(MsFlags::MS_RDONLY);
    if let [(name, dir)] = sources.dirs.as_slice() {
        if name.is_empty() {
            return mount_unified(dest, dir, flags, ro, sources.private_ns);
        }
    }
    mount(Some("tmpfs"), dest, Some("tmpfs"), flags, Some("mode=755"))
        .context("mount tmpfs for cgroup hierarchies")?;
    for (name, dir) in &sources.dirs {
        if name.is_empty() {
            continue;
        }
        let target = dest.join(name);
        fs::create_dir_all(&target).with_context(|| format!("mkdir {}", target.display()))?;
        mount(
            Some(dir),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind {} on {}", dir.display(), target.display()))?;
        let mut bind_flags = MsFlags::MS_BIND | flags;
        if ro {
            bind_flags |= MsFlags::MS_RDONLY;
        }
        remount(&target, bind_flags)?;
        if name.contains(',') {
            for part in name.split(',') {
                let link = dest.join(part);
                if !link.exists() {
                    symlink(name, &link).with_context(|| format!("symlink {}", link.display()))?;
                }
            }
        }
    }
    if ro {
        remount(dest, flags | MsFlags::MS_RDONLY)?;
    }
    Ok(())
}

fn mount_unified(
    dest: &Path,
    dir: &Path,
    flags: MsFlags,
    ro: bool,
    private_ns: bool,
) -> anyhow::Result<()> {
    let ro_flag = if ro {
        MsFlags::MS_RDONLY
    } else {
        MsFlags::empty()
    };
    // In a private cgroup namespace a fresh mount shows the namespace root; otherwise
    // (or when the kernel refuses), bind the container's own directory.
    if private_ns
        && mount(
            Some("cgroup2"),
            dest,
            Some("cgroup2"),
            flags | ro_flag,
            None::<&str>,
        )
        .is_ok()
    {
        return Ok(());
    }
    mount(
        Some(dir),
        dest,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .with_context(|| format!("bind {} on {}", dir.display(), dest.display()))?;
    remount(dest, MsFlags::MS_BIND | flags | ro_flag)
}
