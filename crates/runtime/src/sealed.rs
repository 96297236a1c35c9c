//! rt runs container set-up only from a copy of itself that cannot be written (CVE-2019-5736).
//!
//! The container's init and `rt exec`'s process are forks of rt, so until they exec the
//! container's program their `/proc/PID/exe` is rt's own binary, and so is that of an
//! entrypoint written `#!/proc/self/exe`. A process in the container that opens it (the
//! link is followed whatever the mount namespace) and writes it once rt has exited would
//! replace rt on the host. So `create`, `run` and `exec` first re-execute rt from an
//! executable nobody can write:
//!
//! - as root: a read-only clone of the mount holding the binary, made with
//!   `open_tree(OPEN_TREE_CLONE)` + `mount_setattr(MOUNT_ATTR_RDONLY)` and never attached
//!   anywhere (only the process's `exe` link reaches it; writing through it fails with
//!   EROFS, and only the host's root could make it writable). No copy: the kernel maps the
//!   same page cache.
//! - otherwise (rootless, or a kernel without the new mount API): a memfd copy sealed
//!   against writes, shrinking, growing and further seals (what runc 1.1 and crun do).
//!
//! A binary that already runs from a read-only mount (rt installed on a read-only /usr,
//! or the clone above) or from a write-sealed memfd is not re-executed. The forked
//! children additionally turn themselves non-dumpable until they exec (init/fds.rs).

use std::ffi::{CString, OsString};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;

use anyhow::{bail, Context};
use nix::fcntl::{fcntl, AtFlags, FcntlArg, SealFlag};
use rustix::mount::{open_tree, OpenTreeFlags};

use crate::init::mount_api::{mount_setattr, MountAttr};

/// Set in the environment of the re-executed rt, so a copy that still is not sealed (which
/// would loop) is an error instead. Removed from the environment at once.
const REEXEC_ENV: &str = "_RT_SEALED_EXE";

/// Re-executes rt from a sealed copy unless it already runs from one. Returns only when
/// rt runs sealed (the environment marker removed).
pub fn ensure() -> anyhow::Result<()> {
    let reexecuted = std::env::var_os(REEXEC_ENV).is_some();
    if reexecuted {
        // SAFETY: rt is single-threaded at this point (nothing has started a thread).
        unsafe { std::env::remove_var(REEXEC_ENV) };
    }
    if is_sealed().context("inspect /proc/self/exe")? {
        return Ok(());
    }
    if reexecuted {
        bail!("rt re-executed itself from a sealed copy, but /proc/self/exe is still writable");
    }
    let exe = read_only_clone().or_else(|clone_err| {
        memfd_copy().with_context(|| format!("no read-only clone ({clone_err:#})"))
    });
    let exe = exe.context("make a sealed copy of the rt binary (CVE-2019-5736 protection)")?;
    reexec(&exe)
}

/// The same, first thing in `main`, before the command line is parsed (rt starts twice per
/// create: the first start need not build a parser), when the command line may be one of
/// the commands that fork into a container (a word `create`, `run` or `exec`: a container
/// of that name costs an exec too many, nothing else). Any failure is left to [`ensure`],
/// which the command calls again once its log is open, to report it there.
pub fn ensure_early() {
    // Re-executed already: `ensure` checks that it worked (and removes the marker).
    if std::env::var_os(REEXEC_ENV).is_some() {
        return;
    }
    let forks = std::env::args_os()
        .skip(1)
        .any(|a| a == "create" || a == "run" || a == "exec");
    if forks {
        let _ = ensure();
    }
}

/// Whether `/proc/self/exe` cannot be written: on a read-only mount, or a memfd sealed
/// against writes.
fn is_sealed() -> std::io::Result<bool> {
    let vfs = nix::sys::statvfs::statvfs("/proc/self/exe")?;
    if vfs.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY) {
        return Ok(true);
    }
    let exe = File::open("/proc/self/exe")?;
    Ok(match fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS) {
        Ok(seals) => SealFlag::from_bits_truncate(seals).contains(SealFlag::F_SEAL_WRITE),
        // Not a memfd (EINVAL): an ordinary, writable file.
        Err(_) => false,
    })
}

/// A read-only bind mount of the binary, detached from every mount namespace.
fn read_only_clone() -> anyhow::Result<OwnedFd> {
    let fd = open_tree(
        rustix::fs::CWD,
        "/proc/self/exe",
        OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC,
    )
    .context("open_tree(/proc/self/exe, OPEN_TREE_CLONE)")?;
    let attr = MountAttr {
        set: rustix::mount::MountAttrFlags::MOUNT_ATTR_RDONLY
            | rustix::mount::MountAttrFlags::MOUNT_ATTR_NOSUID
            | rustix::mount::MountAttrFlags::MOUNT_ATTR_NODEV,
        ..Default::default()
    };
    mount_setattr(fd.as_fd(), false, &attr).context("mount_setattr(MOUNT_ATTR_RDONLY)")?;
    Ok(fd)
}

/// A memfd holding a copy of the binary, sealed.
fn memfd_copy() -> anyhow::Result<OwnedFd> {
    use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
    let fd = memfd_create(
        c"rt-sealed",
        MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING,
    )
    .context("memfd_create")?;
    let mut copy = File::from(fd);
    let mut exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    std::io::copy(&mut exe, &mut copy).context("copy /proc/self/exe")?;
    let seals = SealFlag::F_SEAL_SEAL
        | SealFlag::F_SEAL_SHRINK
        | SealFlag::F_SEAL_GROW
        | SealFlag::F_SEAL_WRITE;
    fcntl(copy.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).context("seal the copy")?;
    Ok(copy.into())
}

fn cstring(s: OsString) -> anyhow::Result<CString> {
    CString::new(s.into_vec()).context("an argument or environment entry holds a NUL byte")
}

/// execveat(exe, "", AT_EMPTY_PATH) with rt's own argv and environment (plus the marker).
fn reexec(exe: &OwnedFd) -> anyhow::Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(cstring)
        .collect::<anyhow::Result<_>>()?;
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            cstring(kv)
        })
        .collect::<anyhow::Result<_>>()?;
    env.push(cstring(format!("{REEXEC_ENV}=1").into())?);
    match nix::unistd::execveat(
        Some(exe.as_raw_fd()),
        c"",
        &args,
        &env,
        AtFlags::AT_EMPTY_PATH,
    ) {
        Err(err) => bail!("re-execute rt from its sealed copy: {err}"),
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_memfd_copy_cannot_be_written() {
        let fd = memfd_copy().unwrap();
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        // Reopening it for writing works, but no write does: the seals hold.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        use std::io::Write;
        let err = f.write_all(b"payload").unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, std::fs::metadata("/proc/self/exe").unwrap().len());
    }
}

#[cfg(test)]
mod marker_tests {
    #[test]
    fn hooks_never_inherit_the_reexec_marker() {
        assert!(crate::hooks::RT_INTERNAL_ENV.contains(&super::REEXEC_ENV));
    }
}
