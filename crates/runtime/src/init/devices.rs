//! Device nodes in the container's /dev: the default set every container gets, the spec's
//! `linux.devices`, and the standard /dev symlinks. Every node is made relative to its
//! directory's file descriptor (resolved inside the rootfs), and the node's own name is
//! never followed: whatever is there (a symlink planted by the rootfs) is replaced.

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::rootdir::RootDir as Root;
use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use super::mount_api::Detached;

/// (path, major, minor): char devices every container gets, mode 0666, as runc.
const DEFAULT_DEVICES: &[(&str, u64, u64)] = &[
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

const SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

fn io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// The directories nodes and links are made in, resolved inside the root once each (nearly
/// all of them are /dev): the held fd is the directory whatever is renamed meanwhile.
struct Dirs<'a> {
    root: &'a Root,
    rootfs: &'a Path,
    last: Option<(PathBuf, OwnedFd)>,
}

impl<'a> Dirs<'a> {
    fn new(root: &'a Root, rootfs: &'a Path) -> Dirs<'a> {
        Dirs {
            root,
            rootfs,
            last: None,
        }
    }

    /// The directory of `path` inside the root (made when missing) and the entry's name.
    fn parent_and_name(&mut self, path: &Path) -> anyhow::Result<(BorrowedFd<'_>, CString)> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            bail!("{}: not a file path", path.display());
        };
        let name = CString::new(name.as_bytes()).context("file name")?;
        if self.last.as_ref().is_none_or(|(p, _)| p != parent) {
            let dir = super::mounts::mkdir_all(self.root, self.rootfs, parent)?;
            self.last = Some((parent.to_path_buf(), dir));
        }
        let (_, dir) = self.last.as_ref().context("directory")?;
        Ok((dir.as_fd(), name))
    }
}

/// Creates the default devices (unless the spec lists the same path) and the spec's devices.
pub fn create_devices(
    root: &Root,
    rootfs: &Path,
    devices: &[LinuxDevice],
    bind: bool,
) -> anyhow::Result<()> {
    let old_umask = rustix::process::umask(Mode::empty());
    let mut dirs = Dirs::new(root, rootfs);
    let result = (|| {
        for &(path, major, minor) in DEFAULT_DEVICES {
            if devices.iter().any(|d| d.path() == Path::new(path)) {
                continue;
            }
            let node = Node {
                kind: FileType::CharacterDevice,
                major,
                minor,
                mode: 0o666,
            };
            make_node(&mut dirs, Path::new(path), &node, bind)
                .with_context(|| format!("default device {path}"))?;
        }
        for (i, dev) in devices.iter().enumerate() {
            create_device(&mut dirs, dev, bind)
                .with_context(|| format!("linux.devices[{i}] {}", dev.path().display()))?;
        }
        Ok(())
    })();
    rustix::process::umask(old_umask);
    result
}

fn create_device(dirs: &mut Dirs<'_>, dev: &LinuxDevice, bind: bool) -> anyhow::Result<()> {
    let kind = match dev.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
        LinuxDeviceType::B => FileType::BlockDevice,
        LinuxDeviceType::P => FileType::Fifo,
        LinuxDeviceType::A => bail!("type \"a\" is not a device node type"),
    };
    if dev.major() < 0 || dev.minor() < 0 {
        bail!("major/minor must not be negative");
    }
    let node = Node {
        kind,
        major: dev.major() as u64,
        minor: dev.minor() as u64,
        mode: dev.file_mode().unwrap_or(0o666) & 0o7777,
    };
    let (dir, name) = make_node(dirs, dev.path(), &node, bind)?;
    // A bind-mounted host node is the host's: never chown it.
    if !bind && (dev.uid().is_some() || dev.gid().is_some()) {
        rustix::fs::chownat(
            dir,
            &*name,
            dev.uid().map(rustix::fs::Uid::from_raw),
            dev.gid().map(rustix::fs::Gid::from_raw),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io)
        .context("chown")?;
    }
    Ok(())
}

/// Whether `name` exists in `dir` (not following it).
fn exists(dir: BorrowedFd<'_>, name: &CString) -> bool {
    rustix::fs::statat(dir, &**name, AtFlags::SYMLINK_NOFOLLOW).is_ok()
}

/// Removes a non-directory entry (a symlink or file planted there); absent is fine.
fn remove_entry(dir: BorrowedFd<'_>, name: &CString) -> anyhow::Result<()> {
    match rustix::fs::unlinkat(dir, &**name, AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(e) => Err(io(e)).with_context(|| format!("remove {}", name.to_string_lossy())),
    }
}

struct Node {
    kind: FileType,
    major: u64,
    minor: u64,
    mode: u32,
}

/// Creates the node at `path`, or with `bind` bind-mounts the host's node of that path
/// (without the right to mknod, in a user namespace). Returns its directory and name.
fn make_node<'d>(
    dirs: &'d mut Dirs<'_>,
    path: &Path,
    node: &Node,
    bind: bool,
) -> anyhow::Result<(BorrowedFd<'d>, CString)> {
    let (dir, name) = dirs.parent_and_name(path)?;
    remove_entry(dir, &name)?;
    if bind {
        let file = rustix::fs::openat(
            dir,
            &*name,
            OFlags::RDONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o644),
        )
        .map_err(io)
        .with_context(|| format!("create {}", path.display()))?;
        let mnt = Detached::bind_path(path, false)
            .with_context(|| format!("bind the host's {}", path.display()))?;
        mnt.attach(file.as_fd())
            .with_context(|| format!("bind the host's {}", path.display()))?;
        return Ok((dir, name));
    }
    rustix::fs::mknodat(
        dir,
        &*name,
        node.kind,
        Mode::from_raw_mode(node.mode),
        rustix::fs::makedev(node.major as u32, node.minor as u32),
    )
    .map_err(io)
    .with_context(|| format!("mknod {}", path.display()))?;
    Ok((dir, name))
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx -> pts/ptmx and /dev/core when /proc/kcore is there.
pub fn create_symlinks(root: &Root, rootfs: &Path) -> anyhow::Result<()> {
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    let mut dirs = Dirs::new(root, rootfs);
    for (target, link) in links {
        let (dir, name) = dirs.parent_and_name(Path::new(link))?;
        if exists(dir, &name) {
            continue;
        }
        rustix::fs::symlinkat(target, dir, &*name)
            .map_err(io)
            .with_context(|| format!("symlink {link} -> {target}"))?;
    }
    let (dir, name) = dirs.parent_and_name(Path::new("/dev/ptmx"))?;
    remove_entry(dir, &name)?;
    rustix::fs::symlinkat("pts/ptmx", dir, &*name)
        .map_err(io)
        .context("symlink /dev/ptmx -> pts/ptmx")?;
    Ok(())
}
