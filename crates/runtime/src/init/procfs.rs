//! Every write rt makes to procfs (sysctls, oom_score_adj, uid/gid maps, setgroups, LSM
//! attributes, time namespace offsets) goes through a handle on a procfs instance verified
//! to be one (pathrs: a private, detached `fsopen("proc")` mount where the kernel allows
//! it), with lookups that cross no mount and follow no symlink. A container that mounts or
//! links something over `/proc/sys/...` or `/proc/self/attr/...` in a mount namespace rt
//! works in cannot redirect these writes (the CVE-2025-52881 class): the path `/proc` is
//! never walked.

use std::fs::File;
use std::io::{Read, Write};

use anyhow::Context;
use pathrs::flags::OpenFlags;
use pathrs::procfs::{ProcfsBase, ProcfsHandle, ProcfsHandleBuilder};

fn handle() -> anyhow::Result<ProcfsHandle> {
    ProcfsHandle::new().context("open a safe procfs handle")
}

fn open(base: ProcfsBase, file: &str, flags: OpenFlags) -> anyhow::Result<File> {
    Ok(handle()?.open(base, file, flags | OpenFlags::O_CLOEXEC)?)
}

/// Makes the (cached) handle now: a process about to drop its privileges keeps one it can
/// no longer make (a detached procfs mount needs CAP_SYS_ADMIN).
pub fn prepare() -> anyhow::Result<()> {
    handle().map(drop)
}

/// Reopens our fd `fd` (an O_PATH one, say) with `flags`, through /proc/self/fd/`fd`.
pub fn reopen_fd(fd: std::os::fd::RawFd, flags: OpenFlags) -> anyhow::Result<File> {
    let link = format!("fd/{fd}");
    Ok(handle()?.open_follow(ProcfsBase::ProcSelf, link, flags | OpenFlags::O_CLOEXEC)?)
}

fn write(mut f: File, value: &str) -> std::io::Result<()> {
    f.write_all(value.as_bytes())
}

/// Writes `value` to /proc/self/`file`, leaving no cached handle behind: for rt itself before it forks (a
/// child closes every fd it inherits, the cached handle's too).
pub fn write_self_uncached(file: &str, value: &str) -> anyhow::Result<()> {
    let proc = ProcfsHandleBuilder::new()
        .unmasked()
        .build()
        .context("open a safe procfs handle")?;
    let f = proc.open(
        ProcfsBase::ProcSelf,
        file,
        OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC,
    )?;
    Ok(write(f, value)?)
}

/// Writes `value` to /proc/thread-self/`file` (per-thread files: attr/*).
pub fn write_thread_self(file: &str, value: &str) -> anyhow::Result<()> {
    let f = open(ProcfsBase::ProcThreadSelf, file, OpenFlags::O_WRONLY)?;
    Ok(write(f, value)?)
}

/// Reads /proc/self/`file`.
pub fn read_self(file: &str) -> anyhow::Result<String> {
    let mut f = open(ProcfsBase::ProcSelf, file, OpenFlags::O_RDONLY)?;
    let mut s = String::new();
    f.read_to_string(&mut s)?;
    Ok(s)
}

/// Writes `value` to /proc/`pid`/`file` (a child of ours, not yet reaped).
pub fn write_pid(pid: i32, file: &str, value: &str) -> anyhow::Result<()> {
    let pid = u32::try_from(pid).context("pid")?;
    let f = open(ProcfsBase::ProcPid(pid), file, OpenFlags::O_WRONLY)?;
    Ok(write(f, value)?)
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
    // /proc/sys is not under any pid directory: a full procfs, used only for this.
    let proc = ProcfsHandleBuilder::new()
        .unmasked()
        .build()
        .context("open a safe procfs handle")?;
    let f = proc.open(
        ProcfsBase::ProcRoot,
        sysctl_file(key),
        OpenFlags::O_WRONLY | OpenFlags::O_CLOEXEC,
    )?;
    Ok(write(f, value)?)
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
    fn reads_through_the_handle() {
        let status = read_self("status").unwrap();
        assert!(
            status.contains(&format!("Pid:\t{}", std::process::id())),
            "{status}"
        );
    }
}
