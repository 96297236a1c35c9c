//! A directory tree treated as a root: every path is resolved inside it by the kernel
//! (`openat2` with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: `..` and absolute symlinks stop
//! at the root, /proc magic links are refused), to a file descriptor, and whatever is made
//! in it is made relative to descriptors.
//!
//! Why not the `pathrs` crate, made for this: rt used it first and measured it. On the
//! kernels rt requires (5.12+, which all have openat2), pathrs verifies every operation
//! again through procfs (fstatfs/statx/readlink of /proc/thread-self/fd/N...; ~20 system
//! calls per lookup; a container's set-up went from 677 to 1878 system calls and its CPU
//! time from 0.6x to 0.87x crun's). Those checks guard older kernels without openat2 and a
//! procfs that could be mounted over; rt requires openat2 and keeps its own procfs handle
//! detached (procfs.rs). The guarantee is the kernel's, in one system call per lookup.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

fn io(e: rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn cstr(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path holds a NUL byte"))
}

/// The resolution every lookup uses.
const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

pub struct RootDir {
    fd: OwnedFd,
}

impl AsFd for RootDir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl RootDir {
    /// Opens `path` (a trusted path: the rootfs, or `/` after pivot_root) as the root.
    pub fn open(path: &Path) -> io::Result<RootDir> {
        let fd = rustix::fs::open(
            path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        Ok(RootDir { fd })
    }

    fn openat2(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        let path = cstr(path)?;
        loop {
            match rustix::fs::openat2(
                &self.fd,
                &*path,
                flags | OFlags::CLOEXEC,
                Mode::empty(),
                IN_ROOT,
            ) {
                // A rename elsewhere in the tree during the lookup (the kernel's guard
                // against `..` races): try again.
                Err(rustix::io::Errno::AGAIN) => continue,
                other => return other.map_err(io),
            }
        }
    }

    /// `path` inside the root, as an O_PATH fd (a symlink at its end is followed, inside).
    pub fn resolve(&self, path: &Path) -> io::Result<OwnedFd> {
        self.openat2(path, OFlags::PATH)
    }

    /// Like [`RootDir::resolve`], but a symlink at its end is returned as itself.
    pub fn resolve_nofollow(&self, path: &Path) -> io::Result<OwnedFd> {
        self.openat2(path, OFlags::PATH | OFlags::NOFOLLOW)
    }

    /// Opens `path` inside the root with `flags` (a real open, not O_PATH).
    pub fn open_in(&self, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
        self.openat2(path, flags)
    }

    /// Makes the directory `path` and its missing parents (mode `mode`, less the umask);
    /// returns it. An entry on the way that exists but resolves to nothing (a dangling
    /// symlink) is an error (EEXIST): the caller decides where it should lead.
    pub fn mkdir_all(&self, path: &Path, mode: u32) -> io::Result<OwnedFd> {
        match self.openat2(path, OFlags::PATH | OFlags::DIRECTORY) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => return other,
        }
        // Most often only the last component is missing.
        if let (Some(parent), Some(name)) = (path.parent(), path.file_name()) {
            if let Ok(dir) = self.openat2(parent, OFlags::PATH | OFlags::DIRECTORY) {
                let name = cstr(Path::new(name))?;
                match rustix::fs::mkdirat(&dir, &*name, Mode::from_raw_mode(mode)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(io(e)),
                }
                return self.openat2(path, OFlags::PATH | OFlags::DIRECTORY);
            }
        }
        let mut prefix = PathBuf::from("/");
        let mut dir = self.openat2(&prefix, OFlags::PATH | OFlags::DIRECTORY)?;
        for part in path.components() {
            let Component::Normal(name) = part else {
                if part == Component::ParentDir {
                    prefix.pop();
                    dir = self.openat2(&prefix, OFlags::PATH | OFlags::DIRECTORY)?;
                }
                continue;
            };
            prefix.push(name);
            match self.openat2(&prefix, OFlags::PATH | OFlags::DIRECTORY) {
                Ok(fd) => dir = fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    let name = cstr(Path::new(name))?;
                    match rustix::fs::mkdirat(&dir, &*name, Mode::from_raw_mode(mode)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(io(e)),
                    }
                    // Looked up again from the root: whatever is there now (raced in or
                    // not) is resolved inside it.
                    dir = self.openat2(&prefix, OFlags::PATH | OFlags::DIRECTORY)?;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(dir)
    }

    /// Creates the empty file `path` (its directory must exist) exclusively, not following
    /// a symlink of that name; returns it (O_PATH).
    pub fn create_file(&self, path: &Path, mode: u32) -> io::Result<OwnedFd> {
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a file path",
            ));
        };
        let dir = self.openat2(parent, OFlags::PATH | OFlags::DIRECTORY)?;
        let name = cstr(Path::new(name))?;
        let file = rustix::fs::openat(
            &dir,
            &*name,
            OFlags::RDONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(mode),
        )
        .map_err(io)?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rt-rootdir-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn real_path(fd: &OwnedFd) -> PathBuf {
        fs::read_link(format!(
            "/proc/self/fd/{}",
            std::os::fd::AsRawFd::as_raw_fd(fd)
        ))
        .unwrap()
    }

    #[test]
    fn symlinks_and_dotdot_stay_inside() {
        let root = tmp("inside");
        let outside = tmp("outside");
        fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("up")).unwrap();
        symlink("../../../../..", root.join("etc/rel")).unwrap();
        symlink(&outside, root.join("abs")).unwrap();
        let r = RootDir::open(&root).unwrap();
        assert_eq!(real_path(&r.resolve(Path::new("/up")).unwrap()), root);
        assert_eq!(
            real_path(&r.resolve(Path::new("/etc/rel/etc")).unwrap()),
            root.join("etc")
        );
        // The absolute link leads to its twin inside the root, which does not exist.
        assert_eq!(
            r.resolve(Path::new("/abs")).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        // A magic link is refused.
        fs::create_dir_all(root.join("proc")).unwrap();
        symlink("/proc/self/root", root.join("magic")).unwrap();
        let d = r.mkdir_all(Path::new("/a/b/c"), 0o755).unwrap();
        assert_eq!(real_path(&d), root.join("a/b/c"));
        let f = r.create_file(Path::new("/a/b/file"), 0o644).unwrap();
        assert_eq!(real_path(&f), root.join("a/b/file"));
        assert!(r.create_file(Path::new("/a/b/file"), 0o644).is_err());
        // Through a dangling symlink: refused (EEXIST), nothing made outside.
        symlink(outside.join("new"), root.join("dangling")).unwrap();
        assert!(r.mkdir_all(Path::new("/dangling/x"), 0o755).is_err());
        assert!(!outside.join("new").exists());
        fs::remove_dir_all(&root).unwrap();
        fs::remove_dir_all(&outside).unwrap();
    }
}
