//! A `cgroup` mount inside the container: the container's own cgroup, nothing above it.
//!
//! v1: a tmpfs with one bind mount per hierarchy (`/sys/fs/cgroup/memory` shows the
//! container's memory cgroup), plus symlinks for comounted controllers (`cpu` ->
//! `cpu,cpuacct`). v2: a fresh cgroup2 mount (its root is the cgroup namespace's root)
//! or, without a cgroup namespace, a bind mount of the container's directory. Every
//! mountpoint is made and reached through file descriptors.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use anyhow::Context;
use rustix::fs::{Mode, OFlags};
use rustix::mount::MountAttrFlags as A;

use super::mount_api::{mount_setattr, Detached, FsOption, MountAttr};
use super::mount_options::MountOptions;

/// Where the container's cgroup lives on the host, for `cgroup` mounts.
#[derive(Debug, Default, Clone)]
pub struct CgroupSources {
    /// The container has its own cgroup namespace.
    pub private_ns: bool,
    /// (hierarchy name, the container's cgroup directory in it). A single entry with an
    /// empty name is the unified (v2) hierarchy.
    pub dirs: Vec<(String, PathBuf)>,
}

fn io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// Mounts the container's cgroup(s) on `target`, a directory.
pub fn mount_cgroup(
    target: BorrowedFd<'_>,
    opts: &MountOptions,
    sources: &CgroupSources,
) -> anyhow::Result<()> {
    let flags = opts.attr.set
        & (A::MOUNT_ATTR_NOSUID
            | A::MOUNT_ATTR_NODEV
            | A::MOUNT_ATTR_NOEXEC
            | A::MOUNT_ATTR__ATIME);
    let ro = opts.read_only();
    let with_ro = if ro {
        flags | A::MOUNT_ATTR_RDONLY
    } else {
        flags
    };
    if let [(name, dir)] = sources.dirs.as_slice() {
        if name.is_empty() {
            // In a private cgroup namespace a fresh mount shows the namespace root; otherwise
            // (or when the kernel refuses), bind the container's own directory.
            if sources.private_ns {
                if let Ok(mnt) = Detached::new_fs("cgroup2", Some("cgroup2"), &[], with_ro) {
                    mnt.attach(target).context("attach cgroup2")?;
                    return Ok(());
                }
            }
            let mnt = bind_with(dir, with_ro)?;
            mnt.attach(target).context("attach the cgroup bind")?;
            return Ok(());
        }
    }
    let tmpfs = Detached::new_fs(
        "tmpfs",
        Some("tmpfs"),
        &[FsOption::Value("mode".into(), "755".into())],
        flags,
    )
    .context("mount tmpfs for cgroup hierarchies")?;
    let top = tmpfs.attach(target).context("attach the cgroup tmpfs")?;
    for (name, dir) in &sources.dirs {
        if name.is_empty() {
            continue;
        }
        let cname = CString::new(name.as_str()).context("hierarchy name")?;
        rustix::fs::mkdirat(&top, &*cname, Mode::from_raw_mode(0o755))
            .map_err(io)
            .with_context(|| format!("mkdir {name}"))?;
        let sub = rustix::fs::openat(
            &top,
            &*cname,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let mnt = bind_with(dir, with_ro)?;
        mnt.attach(sub.as_fd())
            .with_context(|| format!("attach {} on {name}", dir.display()))?;
        if name.contains(',') {
            for part in name.split(',') {
                let link = CString::new(part).context("controller name")?;
                match rustix::fs::symlinkat(&*cname, &top, &*link) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io(e)).with_context(|| format!("symlink {part}")),
                }
            }
        }
    }
    if ro {
        let attr = MountAttr {
            set: A::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mount_setattr(top.as_fd(), false, &attr).context("make the cgroup tmpfs read-only")?;
    }
    Ok(())
}

/// A detached bind of the cgroup directory `dir` with the attributes `set` (read-only or
/// none).
fn bind_with(dir: &Path, set: A) -> anyhow::Result<Detached> {
    let mnt = Detached::bind_path(dir, false).with_context(|| format!("bind {}", dir.display()))?;
    mnt.set_attr(
        false,
        &MountAttr {
            set,
            ..Default::default()
        },
    )?;
    Ok(mnt)
}
