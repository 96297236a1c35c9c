//! Every write rt makes to procfs (sysctls, oom_score_adj, uid/gid maps, setgroups, LSM
//! attributes, time namespace offsets, the reopening of the exec fifo) goes through a handle
//! on a procfs instance of rt's own: a detached `fsopen("proc")` mount, attached nowhere, so
//! nothing a container mounts or links over `/proc/sys/...` or `/proc/self/attr/...` in any
//! mount namespace can redirect these writes (the CVE-2025-52881 class); lookups in it cross
//! no mount and follow no symlink. The path `/proc` is never walked (but as the last resort
//! of an unprivileged rt, which cannot make a procfs mount: then /proc of its own mount
//! namespace, checked to be a procfs root).
//!
//! One handle per process, made on first use and kept (a process about to drop its
//! privileges makes it first: `prepare`). It is close-on-exec.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::sync::OnceLock;

use anyhow::Context;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{fsconfig_create, fsmount, fsopen, FsMountFlags, FsOpenFlags, MountAttrFlags};

fn io_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A procfs root and the pid the calling process has in it.
struct Handle {
    /// The process that made it (a forked child makes its own: its pid namespace may
    /// differ, and it closes what it inherited).
    owner: u32,
    root: OwnedFd,
    /// The target of the instance's `self` link: the caller's pid in the pid namespace the
    /// instance shows, which need not be the caller's (a handle made before a setns, or the
    /// fallback /proc of an unprivileged rt).
    pid: String,
}

static HANDLE: OnceLock<Handle> = OnceLock::new();

fn open_root() -> io::Result<OwnedFd> {
    let detached = (|| {
        let fs = fsopen("proc", FsOpenFlags::FSOPEN_CLOEXEC)?;
        fsconfig_create(&fs)?;
        fsmount(
            &fs,
            FsMountFlags::FSMOUNT_CLOEXEC,
            MountAttrFlags::MOUNT_ATTR_NOSUID
                | MountAttrFlags::MOUNT_ATTR_NODEV
                | MountAttrFlags::MOUNT_ATTR_NOEXEC,
        )
    })();
    let fd = match detached {
        Ok(fd) => fd,
        // Without CAP_SYS_ADMIN (rootless): the /proc rt sees, checked below.
        Err(_) => rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io_err)?,
    };
    let st = rustix::fs::fstatfs(&fd).map_err(io_err)?;
    if st.f_type != libc::PROC_SUPER_MAGIC {
        return Err(io::Error::other("/proc is not a procfs"));
    }
    Ok(fd)
}

fn make_handle(owner: u32) -> anyhow::Result<Handle> {
    let root = open_root().context("open a procfs handle")?;
    let link = rustix::fs::readlinkat(&root, "self", Vec::new())
        .map_err(io_err)
        .context("read the procfs handle's self link (rt's pid is not in its pid namespace)")?;
    let pid = link.into_string().context("procfs self link")?;
    Ok(Handle { owner, root, pid })
}

fn handle() -> anyhow::Result<&'static Handle> {
    let me = std::process::id();
    if let Some(h) = HANDLE.get() {
        if h.owner == me {
            return Ok(h);
        }
    }
    let h = make_handle(me)?;
    // A child of the process that filled the cell: its copy is stale (closed by
    // child::run), and a OnceLock cannot be refilled; leak one handle for the child's life.
    match HANDLE.set(h) {
        Ok(()) => HANDLE.get().context("procfs handle"),
        Err(h) => Ok(Box::leak(Box::new(h))),
    }
}

/// Makes the handle now: a process about to drop its privileges keeps one it can no longer
/// make (a procfs mount needs CAP_SYS_ADMIN).
pub fn prepare() -> anyhow::Result<()> {
    handle().map(drop)
}

/// The pid of the calling process as its procfs handle's pid namespace sees it.
fn own_pid() -> anyhow::Result<&'static str> {
    Ok(handle()?.pid.as_str())
}

/// Opens `path` below the procfs root: no mount crossed, no symlink followed.
fn open(path: &str, flags: OFlags) -> anyhow::Result<File> {
    let root = &handle()?.root;
    let fd = rustix::fs::openat2(
        root.as_fd(),
        path,
        flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        Mode::empty(),
        ResolveFlags::BENEATH
            | ResolveFlags::NO_XDEV
            | ResolveFlags::NO_MAGICLINKS
            | ResolveFlags::NO_SYMLINKS,
    )
    .map_err(io_err)
    .with_context(|| format!("open /proc/{path}"))?;
    Ok(File::from(fd))
}

fn write(path: &str, value: &str) -> anyhow::Result<()> {
    open(path, OFlags::WRONLY)?
        .write_all(value.as_bytes())
        .with_context(|| format!("write /proc/{path}"))
}

/// Writes `value` to /proc/self/`file`.
pub fn write_self(file: &str, value: &str) -> anyhow::Result<()> {
    write(&format!("{}/{file}", own_pid()?), value)
}

/// Writes `value` to /proc/thread-self/`file` (per-thread files: attr/*; rt's processes
/// that write them are single-threaded).
pub fn write_thread_self(file: &str, value: &str) -> anyhow::Result<()> {
    let pid = own_pid()?;
    write(&format!("{pid}/task/{pid}/{file}"), value)
}

/// Reads /proc/self/`file`.
pub fn read_self(file: &str) -> anyhow::Result<String> {
    let path = format!("{}/{file}", own_pid()?);
    let mut s = String::new();
    open(&path, OFlags::RDONLY)?
        .read_to_string(&mut s)
        .with_context(|| format!("read /proc/{path}"))?;
    Ok(s)
}

/// Writes `value` to /proc/`pid`/`file` (a child of ours, not yet reaped; rt's handle shows
/// rt's pid namespace, where its children are).
pub fn write_pid(pid: i32, file: &str, value: &str) -> anyhow::Result<()> {
    write(&format!("{pid}/{file}"), value)
}

/// Reopens our fd `fd` (an O_PATH one, say) with `flags`, through its /proc/self/fd link
/// (the one magic link followed: in rt's own procfs, to rt's own fd).
pub fn reopen_fd(fd: RawFd, flags: OFlags) -> anyhow::Result<File> {
    let h = handle()?;
    let path = format!("{}/fd/{fd}", h.pid);
    let fd = rustix::fs::openat(
        h.root.as_fd(),
        path.as_str(),
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io_err)
    .with_context(|| format!("reopen /proc/{path}"))?;
    Ok(File::from(fd))
}

/// The file of a sysctl key under /proc/sys: dots or slashes separate its parts.
pub fn sysctl_file(key: &str) -> String {
    let path = if key.contains('/') {
        key.to_string()
    } else {
        key.replace('.', "/")
    };
    format!("sys/{}", path.trim_start_matches('/'))
}

/// Writes a sysctl of the caller's namespaces (net.* of its network namespace...).
pub fn write_sysctl(key: &str, value: &str) -> anyhow::Result<()> {
    write(&sysctl_file(key), value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysctl_keys_map_to_files() {
        assert_eq!(
            sysctl_file("net.ipv4.ip_forward"),
            "sys/net/ipv4/ip_forward"
        );
        assert_eq!(
            sysctl_file("net/ipv4/conf/eth0.100/forwarding"),
            "sys/net/ipv4/conf/eth0.100/forwarding"
        );
    }

    #[test]
    fn reads_through_the_handle_and_follows_no_symlink() {
        let status = read_self("status").unwrap();
        assert!(
            status.contains(&format!("Pid:\t{}", std::process::id())),
            "{status}"
        );
        // "self" is a symlink: lookups follow none.
        assert!(open("self/status", OFlags::RDONLY).is_err());
        let f = std::fs::File::open("/dev/null").unwrap();
        let again = reopen_fd(std::os::fd::AsRawFd::as_raw_fd(&f), OFlags::RDONLY).unwrap();
        drop(again);
    }
}
