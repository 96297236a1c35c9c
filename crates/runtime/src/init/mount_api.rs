//! Mounts made with the new mount API (Linux 5.2; `mount_setattr` 5.12): a mount is made
//! detached (`fsopen`+`fsmount` for a new filesystem, `open_tree(OPEN_TREE_CLONE)` for a
//! bind), gets its attributes while nobody can see it, and is attached with `move_mount`
//! onto a destination given as a file descriptor. No path is walked twice, so a container
//! that swaps a directory for a symlink between rt's check and rt's mount cannot redirect
//! the mount (CVE-2021-30465 and its kin), and a read-only bind is read-only from the
//! moment it appears.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::mount::{
    fsconfig_create, fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount,
    open_tree, FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags,
};

/// `struct mount_attr` of mount_setattr(2): attributes to set and clear, a propagation
/// type (MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE; 0: unchanged) and, with
/// MOUNT_ATTR_IDMAP, the user namespace whose mapping the mount takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountAttr {
    pub set: MountAttrFlags,
    pub clear: MountAttrFlags,
    pub propagation: u64,
    pub userns_fd: Option<i32>,
}

impl Default for MountAttr {
    fn default() -> Self {
        MountAttr {
            set: MountAttrFlags::empty(),
            clear: MountAttrFlags::empty(),
            propagation: 0,
            userns_fd: None,
        }
    }
}

impl MountAttr {
    pub fn is_empty(&self) -> bool {
        self.set.is_empty() && self.clear.is_empty() && self.propagation == 0
    }
}

#[repr(C)]
struct RawMountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(fd, "", AT_EMPTY_PATH [| AT_RECURSIVE], attr) on the mount `fd` is the
/// root of. rustix has no wrapper for it (0.38..1.1), hence this one raw call.
pub fn mount_setattr(fd: BorrowedFd<'_>, recursive: bool, attr: &MountAttr) -> io::Result<()> {
    if attr.is_empty() && attr.userns_fd.is_none() {
        return Ok(());
    }
    let raw = RawMountAttr {
        attr_set: u64::from(attr.set.bits()),
        attr_clr: u64::from(attr.clear.bits()),
        propagation: attr.propagation,
        userns_fd: attr.userns_fd.map_or(0, |fd| fd as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: the path is a valid empty C string, `raw` a properly laid out mount_attr
    // that outlives the call, and its size is passed with it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &raw as *const RawMountAttr,
            std::mem::size_of::<RawMountAttr>(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// One `key` or `key=value` of a filesystem's options (mount(2)'s data string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FsOption {
    Flag(String),
    Value(String, String),
}

impl FsOption {
    pub fn parse(text: &str) -> FsOption {
        match text.split_once('=') {
            Some((k, v)) => FsOption::Value(k.to_string(), v.to_string()),
            None => FsOption::Flag(text.to_string()),
        }
    }
}

/// A failed step of making a new filesystem, with what the kernel logged about it.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}{}", .log.as_deref().map(|l| format!(" ({l})")).unwrap_or_default())]
pub struct FsError {
    pub step: String,
    pub source: io::Error,
    /// The filesystem context's own message ("tmpfs: Bad value for 'mode'").
    pub log: Option<String>,
}

impl FsError {
    pub fn errno(&self) -> Option<i32> {
        self.source.raw_os_error()
    }
}

/// The messages the kernel queued on a filesystem context (lines "e ...", "w ...").
fn context_log(fs: &OwnedFd) -> Option<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        // SAFETY: read into a local buffer of its length from an fd we own.
        let n = unsafe { libc::read(fs.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        let line = String::from_utf8_lossy(&buf[..n as usize]);
        let line = line.trim();
        out.push(line.strip_prefix("e ").unwrap_or(line).to_string());
    }
    (!out.is_empty()).then(|| out.join("; "))
}

fn rustix_err(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

/// A mount attached nowhere (yet): freed when dropped.
pub struct Detached {
    fd: OwnedFd,
}

impl Detached {
    /// A new `fstype` filesystem with `source` and `options`, mounted with `attrs`.
    pub fn new_fs(
        fstype: &str,
        source: Option<&str>,
        options: &[FsOption],
        attrs: MountAttrFlags,
    ) -> Result<Detached, FsError> {
        let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(|e| FsError {
            step: format!("fsopen {fstype}"),
            source: rustix_err(e),
            log: None,
        })?;
        let fail = |step: String, e: rustix::io::Errno| FsError {
            step,
            source: rustix_err(e),
            log: context_log(&fs),
        };
        if let Some(source) = source {
            fsconfig_set_string(&fs, "source", source)
                .map_err(|e| fail(format!("source {source:?}"), e))?;
        }
        for opt in options {
            match opt {
                FsOption::Flag(k) => fsconfig_set_flag(&fs, k.as_str())
                    .map_err(|e| fail(format!("option {k:?}"), e))?,
                FsOption::Value(k, v) => fsconfig_set_string(&fs, k.as_str(), v.as_str())
                    .map_err(|e| fail(format!("option {k}={v:?}"), e))?,
            }
        }
        fsconfig_create(&fs).map_err(|e| fail(format!("create the {fstype} filesystem"), e))?;
        let fd = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs)
            .map_err(|e| fail(format!("fsmount {fstype}"), e))?;
        Ok(Detached { fd })
    }

    /// A bind mount of the host path `src` (with its submounts when `recursive`).
    pub fn bind_path(src: &Path, recursive: bool) -> io::Result<Detached> {
        let mut flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC;
        if recursive {
            flags |= OpenTreeFlags::AT_RECURSIVE;
        }
        let fd = open_tree(rustix::fs::CWD, src, flags).map_err(rustix_err)?;
        Ok(Detached { fd })
    }

    /// A bind mount of what `src` refers to (a file or directory opened earlier).
    pub fn bind_fd(src: BorrowedFd<'_>, recursive: bool) -> io::Result<Detached> {
        let mut flags = OpenTreeFlags::OPEN_TREE_CLONE
            | OpenTreeFlags::OPEN_TREE_CLOEXEC
            | OpenTreeFlags::AT_EMPTY_PATH;
        if recursive {
            flags |= OpenTreeFlags::AT_RECURSIVE;
        }
        let fd = open_tree(src, "", flags).map_err(rustix_err)?;
        Ok(Detached { fd })
    }

    /// The fd of the detached mount (to hand it to another process).
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    /// A detached mount received from another process.
    pub fn from_fd(fd: OwnedFd) -> Detached {
        Detached { fd }
    }

    /// Changes attributes of the mount (and its submounts when `recursive`).
    pub fn set_attr(&self, recursive: bool, attr: &MountAttr) -> io::Result<()> {
        mount_setattr(self.fd.as_fd(), recursive, attr)
    }

    /// Attaches the mount onto `target` (an O_PATH fd of the mountpoint). The returned fd
    /// is the root of the now attached mount.
    pub fn attach(self, target: BorrowedFd<'_>) -> io::Result<OwnedFd> {
        move_mount(
            &self.fd,
            "",
            target,
            "",
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH,
        )
        .map_err(rustix_err)?;
        Ok(self.fd)
    }
}

impl AsFd for Detached {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fs_options() {
        assert_eq!(
            FsOption::parse("mode=755"),
            FsOption::Value("mode".into(), "755".into())
        );
        assert_eq!(
            FsOption::parse("newinstance"),
            FsOption::Flag("newinstance".into())
        );
        assert_eq!(
            FsOption::parse("a=b=c"),
            FsOption::Value("a".into(), "b=c".into())
        );
    }
}
