//! The spec's `mounts`, made inside the rootfs before pivot_root.
//!
//! Each destination is resolved once, inside the rootfs (rootdir.rs: `openat2` with
//! RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), to a file descriptor; its mountpoint is made
//! relative to descriptors; the mount is made detached, given its attributes, and attached
//! onto that descriptor (init/mount_api.rs). A symlink is never followed out of the rootfs,
//! and a container racing rt (a shared volume flipped between a directory and a symlink)
//! can at worst make its own mount land elsewhere inside its own rootfs.
//!
//! Rules on top of the runtime spec, as runc's (CVE-2019-19921, CVE-2023-27561): `proc` and
//! `sysfs` mount only onto a real directory, not a symlink; nothing but a `proc` filesystem
//! goes on `/proc`; nothing is mounted inside /proc but lxcfs' usual files.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::Mount;
use rustix::fs::FileType;

use super::cgroupfs::CgroupSources;
use super::mount_api::{mount_setattr, Detached, FsOption, MountAttr};
use super::mount_options::MountOptions;
use super::rootdir::RootDir as Root;

/// Files inside /proc a mount may cover: what lxcfs provides (runc's list).
const PROC_FILES_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// What the spec mounts need beyond the mount itself.
pub struct MountContext<'a> {
    /// The rootfs's path (for names of paths that do not exist yet, see `inside`).
    pub rootfs: &'a Path,
    /// Idmapped bind mounts rt create made (see idmap.rs), by index in `mounts`.
    pub idmapped: std::cell::RefCell<std::collections::HashMap<usize, Detached>>,
    pub cgroups: &'a CgroupSources,
    /// Relative bind sources are relative to the bundle (runtime spec; runc).
    pub bundle: &'a Path,
}

/// Whether an io error is ENOENT.
pub fn is_enoent(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

fn fstat(fd: BorrowedFd<'_>) -> std::io::Result<rustix::fs::Stat> {
    rustix::fs::fstat(fd).map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))
}

fn is_procfs(fd: BorrowedFd<'_>) -> bool {
    rustix::fs::fstatfs(fd).is_ok_and(|s| s.f_type == libc::PROC_SUPER_MAGIC)
}

/// `path` as it lies inside the rootfs when it does not exist yet, or is reached through a
/// dangling symlink (`/etc/resolv.conf -> ../run/...` in many images): its symlinks
/// resolved as text within the rootfs, as runc does. Only a name: whatever is made there is
/// made by `Root` (fd-based, confined to the root), so a symlink swapped in meanwhile
/// still cannot lead outside.
fn inside(rootfs: &Path, path: &Path) -> anyhow::Result<PathBuf> {
    let full = super::path::secure_join(rootfs, path)?;
    let rel = full.strip_prefix(rootfs).unwrap_or(&full);
    Ok(Path::new("/").join(rel))
}

/// Makes the directory `dir` (and its parents) inside the root; returns its handle.
pub fn mkdir_all(root: &Root, rootfs: &Path, dir: &Path) -> anyhow::Result<OwnedFd> {
    match root.mkdir_all(dir, 0o755) {
        Ok(h) => Ok(h),
        Err(e) => {
            let target = inside(rootfs, dir)?;
            if target == dir {
                return Err(e).with_context(|| format!("make the directory {}", dir.display()));
            }
            root.mkdir_all(&target, 0o755)
                .with_context(|| format!("make the directory {}", target.display()))
        }
    }
}

/// The mountpoint `dest` inside the root: a directory (made with its parents when missing)
/// or, for a file, an existing entry or a new empty file. Returned as an O_PATH handle.
pub fn mountpoint(root: &Root, rootfs: &Path, dest: &Path, dir: bool) -> anyhow::Result<OwnedFd> {
    match root.resolve(dest) {
        Ok(h) => return Ok(h),
        Err(e) if is_enoent(&e) => {}
        Err(e) => return Err(e).with_context(|| format!("resolve {}", dest.display())),
    }
    // Made where it is named, through fds; a dangling symlink on the way (EEXIST, ENOENT)
    // takes the slower road below, which resolves it as text first.
    let made = if dir {
        root.mkdir_all(dest, 0o755)
    } else {
        match dest.parent().map(|p| root.mkdir_all(p, 0o755)) {
            Some(Err(e)) => Err(e),
            _ => root.create_file(dest, 0o644),
        }
    };
    if let Ok(h) = made {
        return Ok(h);
    }
    let target = inside(rootfs, dest)?;
    if dir {
        return mkdir_all(root, rootfs, &target);
    }
    if let Some(parent) = target.parent() {
        mkdir_all(root, rootfs, parent)?;
    }
    root.create_file(&target, 0o644)
        .with_context(|| format!("make the file {}", target.display()))
}

/// Mounts spec mount number `index` under `root`.
pub fn mount_entry(root: &Root, index: usize, m: &Mount, ctx: &MountContext) -> anyhow::Result<()> {
    let what = format!(
        "mounts[{index}] {} ({})",
        m.destination().display(),
        m.typ().as_deref().unwrap_or("bind")
    );
    mount_one(root, index, m, ctx).with_context(|| what)
}

fn mount_one(root: &Root, index: usize, m: &Mount, ctx: &MountContext) -> anyhow::Result<()> {
    let options = m.options().as_deref().unwrap_or(&[]);
    let opts = MountOptions::parse(options);
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    let bind = opts.bind || typ == "bind";
    check_destination(dest, typ, bind)?;
    if bind {
        if let Some(&j) = opts.unknown.first() {
            bail!(
                "mounts[{index}].options[{j}] {:?}: not a mount option rt knows (a bind mount \
                 takes no filesystem options)",
                options[j]
            );
        }
    }
    // proc and sysfs only onto a real directory: never through a symlink the rootfs put
    // there. The directory found is the mountpoint.
    let mut found = None;
    if matches!(typ, "proc" | "sysfs") {
        match root.resolve_nofollow(dest) {
            Ok(h) => {
                let st = fstat(h.as_fd())?;
                if FileType::from_raw_mode(st.st_mode) != FileType::Directory {
                    bail!("{typ} must be mounted on an ordinary directory");
                }
                found = Some(h);
            }
            Err(e) if is_enoent(&e) => {}
            Err(e) => return Err(e).context("resolve the destination"),
        }
    }
    if typ == "cgroup" || typ == "cgroup2" {
        let target = mountpoint(root, ctx.rootfs, dest, true)?;
        check_target(root, &target, dest)?;
        return super::cgroupfs::mount_cgroup(target.as_fd(), &opts, ctx.cgroups);
    }
    let attached = if bind {
        let Some(src) = m.source().as_deref() else {
            bail!("source: a bind mount needs a source");
        };
        let src: PathBuf = if src.is_absolute() {
            src.to_path_buf()
        } else {
            ctx.bundle.join(src)
        };
        let meta = std::fs::metadata(&src).with_context(|| format!("source {}", src.display()))?;
        let target = mountpoint(root, ctx.rootfs, dest, meta.is_dir())?;
        check_target(root, &target, dest)?;
        let prepared = ctx.idmapped.borrow_mut().remove(&index);
        let mnt = match prepared {
            Some(mnt) => mnt,
            None => {
                let mnt = Detached::bind_path(&src, opts.recursive_bind)
                    .with_context(|| format!("bind {}", src.display()))?;
                set_attrs(&mnt, &opts)?;
                mnt
            }
        };
        mnt.attach(target.as_fd())
            .context("attach the bind mount")?
    } else if typ == "tmpfs" {
        // As runc: only a directory that was already there lends its mode to the tmpfs.
        let (target, existed) = match root.resolve(dest) {
            Ok(h) => {
                let st = fstat(h.as_fd())
                    .ok()
                    .filter(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
                (h, st)
            }
            Err(_) => (mountpoint(root, ctx.rootfs, dest, true)?, None),
        };
        check_target(root, &target, dest)?;
        let source = m
            .source()
            .as_deref()
            .and_then(|s| s.to_str())
            .unwrap_or("tmpfs");
        let tmpfs = super::tmpfs::Tmpfs {
            source,
            opts: &opts,
            inherit_mode: existed.map(|st| st.st_mode & 0o7777),
        };
        tmpfs.mount(target.as_fd())?
    } else {
        let target = match found {
            Some(h) => h,
            None => mountpoint(root, ctx.rootfs, dest, true)?,
        };
        check_target(root, &target, dest)?;
        let source = m
            .source()
            .as_deref()
            .and_then(|s| s.to_str())
            .unwrap_or(typ);
        let mut data: Vec<FsOption> = opts
            .sb_flags
            .iter()
            .map(|f| FsOption::Flag(f.to_string()))
            .collect();
        data.extend(opts.data.iter().cloned());
        match Detached::new_fs(typ, Some(source), &data, opts.fsmount_attrs()) {
            Ok(mnt) => {
                mnt.set_attr(true, &opts.recursive_attr)?;
                mnt.attach(target.as_fd()).context("attach the mount")?
            }
            // sysfs cannot be mounted without a network namespace of one's own: bind the
            // host's, as runc does.
            Err(e) if typ == "sysfs" && e.errno() == Some(libc::EPERM) => {
                let mnt = Detached::bind_path(Path::new("/sys"), true).context("bind /sys")?;
                set_attrs(&mnt, &opts)?;
                mnt.attach(target.as_fd()).context("attach /sys")?
            }
            Err(e) => return Err(e).with_context(|| format!("mount {typ}")),
        }
    };
    if opts.propagation != 0 {
        let attr = MountAttr {
            propagation: opts.propagation,
            ..Default::default()
        };
        mount_setattr(attached.as_fd(), opts.recursive_propagation, &attr)
            .context("set propagation")?;
    }
    Ok(())
}

/// The attributes of a bind: its own, then the recursive ones.
pub fn set_attrs(mnt: &Detached, opts: &MountOptions) -> anyhow::Result<()> {
    mnt.set_attr(false, &opts.attr)
        .with_context(|| format!("set mount attributes {:?}", opts.attr))?;
    mnt.set_attr(true, &opts.recursive_attr)
        .with_context(|| format!("set recursive mount attributes {:?}", opts.recursive_attr))
}

/// Destination rules that hold whatever the rootfs holds.
fn check_destination(dest: &Path, typ: &str, bind: bool) -> anyhow::Result<()> {
    if dest == Path::new("/proc") {
        if typ != "proc" || bind {
            bail!("only a proc filesystem may be mounted on /proc");
        }
        return Ok(());
    }
    if dest.starts_with("/proc") && !PROC_FILES_ALLOWED.iter().any(|p| dest == Path::new(p)) {
        bail!("mounts inside /proc are not allowed (only lxcfs' files: {PROC_FILES_ALLOWED:?})");
    }
    Ok(())
}

/// Rules on where the destination really is: not the rootfs itself (a symlink such as
/// `/x -> /`), and not inside procfs unless the spec named an allowed file there.
fn check_target(root: &Root, target: &OwnedFd, dest: &Path) -> anyhow::Result<()> {
    let (t, r) = (fstat(target.as_fd())?, fstat(root.as_fd())?);
    if (t.st_dev, t.st_ino) == (r.st_dev, r.st_ino) {
        bail!("destination resolves to the rootfs itself (through a symlink in the rootfs)");
    }
    if is_procfs(target.as_fd()) && !PROC_FILES_ALLOWED.iter().any(|p| dest == Path::new(p)) {
        bail!("destination resolves into /proc (through a symlink in the rootfs)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_destinations() {
        assert!(check_destination(Path::new("/proc"), "proc", false).is_ok());
        assert!(check_destination(Path::new("/proc"), "bind", true).is_err());
        assert!(check_destination(Path::new("/proc"), "tmpfs", false).is_err());
        assert!(check_destination(Path::new("/proc/sys"), "tmpfs", false).is_err());
        assert!(check_destination(Path::new("/proc/cpuinfo"), "bind", true).is_ok());
        assert!(check_destination(Path::new("/procx"), "tmpfs", false).is_ok());
        assert!(check_destination(Path::new("/sys"), "sysfs", false).is_ok());
    }
}
