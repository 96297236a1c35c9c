//! Device nodes in the container's /dev: the default set every container gets, the spec's
//! `linux.devices`, and the standard /dev symlinks.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;

use anyhow::{bail, Context};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::{chown, Gid, Uid};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use super::mounts::create_mountpoint;
use super::path::secure_join;

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

/// Creates the default devices (unless the spec lists the same path) and the spec's devices.
pub fn create_devices(rootfs: &Path, devices: &[LinuxDevice], bind: bool) -> anyhow::Result<()> {
    let old_umask = nix::sys::stat::umask(Mode::empty());
    let result = (|| {
        for &(path, major, minor) in DEFAULT_DEVICES {
            if devices.iter().any(|d| d.path() == Path::new(path)) {
                continue;
            }
            let dest = node_path(rootfs, Path::new(path))?;
            let node = Node {
                kind: SFlag::S_IFCHR,
                major,
                minor,
                mode: 0o666,
            };
            make_node(&dest, Path::new(path), &node, bind)
                .with_context(|| format!("default device {path}"))?;
        }
        for (i, dev) in devices.iter().enumerate() {
            create_device(rootfs, dev, bind)
                .with_context(|| format!("linux.devices[{i}] {}", dev.path().display()))?;
        }
        Ok(())
    })();
    nix::sys::stat::umask(old_umask);
    result
}

fn create_device(rootfs: &Path, dev: &LinuxDevice, bind: bool) -> anyhow::Result<()> {
    let kind = match dev.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
        LinuxDeviceType::B => SFlag::S_IFBLK,
        LinuxDeviceType::P => SFlag::S_IFIFO,
        LinuxDeviceType::A => bail!("type \"a\" is not a device node type"),
    };
    if dev.major() < 0 || dev.minor() < 0 {
        bail!("major/minor must not be negative");
    }
    let dest = node_path(rootfs, dev.path())?;
    let node = Node {
        kind,
        major: dev.major() as u64,
        minor: dev.minor() as u64,
        mode: dev.file_mode().unwrap_or(0o666) & 0o7777,
    };
    make_node(&dest, dev.path(), &node, bind)?;
    // A bind-mounted host node is the host's: never chown it.
    if !bind && (dev.uid().is_some() || dev.gid().is_some()) {
        chown(
            &dest,
            dev.uid().map(Uid::from_raw),
            dev.gid().map(Gid::from_raw),
        )
        .context("chown")?;
    }
    Ok(())
}

/// Where a node (or /dev symlink) at `path` goes: its directory resolved inside the rootfs,
/// its own name never followed (a symlink there is replaced, not written through).
fn node_path(rootfs: &Path, path: &Path) -> anyhow::Result<std::path::PathBuf> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        bail!("{}: not a file path", path.display());
    };
    Ok(secure_join(rootfs, parent)?.join(name))
}

struct Node {
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
}

/// Creates the node at `dest`, or with `bind` bind-mounts the host's `host` there.
fn make_node(dest: &Path, host: &Path, node: &Node, bind: bool) -> anyhow::Result<()> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).with_context(|| format!("mkdir {}", parent.display()))?;
    }
    // A symlink where the node goes is replaced: a mount or mknod would follow it.
    if dest
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink())
    {
        fs::remove_file(dest).with_context(|| format!("remove symlink {}", dest.display()))?;
    }
    if bind {
        // Without the right to mknod (user namespaces), bind the host's node.
        create_mountpoint(dest, true)?;
        nix::mount::mount(
            Some(host),
            dest,
            None::<&str>,
            nix::mount::MsFlags::MS_BIND,
            None::<&str>,
        )
        .with_context(|| format!("bind {}", host.display()))?;
        return Ok(());
    }
    let _ = fs::remove_file(dest);
    mknod(
        dest,
        node.kind,
        Mode::from_bits_truncate(node.mode),
        makedev(node.major, node.minor),
    )
    .with_context(|| format!("mknod {}", dest.display()))?;
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx -> pts/ptmx and /dev/core when /proc/kcore is there.
pub fn create_symlinks(rootfs: &Path) -> anyhow::Result<()> {
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        let dest = node_path(rootfs, Path::new(link))?;
        if dest.symlink_metadata().is_ok() {
            continue;
        }
        symlink(target, &dest).with_context(|| format!("symlink {link} -> {target}"))?;
    }
    let ptmx = node_path(rootfs, Path::new("/dev/ptmx"))?;
    let _ = fs::remove_file(&ptmx);
    symlink("pts/ptmx", &ptmx).context("symlink /dev/ptmx -> pts/ptmx")?;
    Ok(())
}
