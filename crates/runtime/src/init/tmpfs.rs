//! tmpfs mounts as runc makes them: the new tmpfs root takes the mode of the directory it
//! covers when that directory was already in the rootfs (a `mode=` option still wins), and
//! with `tmpcopyup` (podman adds it to `--tmpfs`) it starts with a copy of what the
//! directory held. The copy is made into the new tmpfs while it is still detached (no
//! staging directory anywhere), relative to file descriptors, following no symlink.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use anyhow::Context;
use rustix::fs::{FileType, Mode, OFlags};
use rustix::mount::MountAttrFlags;

use super::mount_api::{Detached, FsOption, MountAttr};
use super::mount_options::MountOptions;

pub struct Tmpfs<'a> {
    pub source: &'a str,
    pub opts: &'a MountOptions,
    /// The mode of the directory the tmpfs covers, when it was in the rootfs before.
    pub inherit_mode: Option<u32>,
}

impl Tmpfs<'_> {
    /// Mounts the tmpfs on `target` (a directory); returns the attached mount.
    pub fn mount(&self, target: BorrowedFd<'_>) -> anyhow::Result<OwnedFd> {
        let mut data: Vec<FsOption> = self
            .opts
            .sb_flags
            .iter()
            .map(|f| FsOption::Flag(f.to_string()))
            .collect();
        if let Some(mode) = self.inherit_mode {
            // First, so that a `mode=` of the spec, later in the list, wins.
            data.push(FsOption::Value("mode".into(), format!("{mode:o}")));
        }
        data.extend(self.opts.data.iter().cloned());
        let mut attrs = self.opts.fsmount_attrs();
        let copyup = self.opts.copyup;
        if copyup {
            // Filled first, made read-only after.
            attrs.remove(MountAttrFlags::MOUNT_ATTR_RDONLY);
        }
        let mnt =
            Detached::new_fs("tmpfs", Some(self.source), &data, attrs).context("mount tmpfs")?;
        if copyup {
            let from = reopen_dir(target).context("tmpcopyup: open the covered directory")?;
            let to = reopen_dir(mnt.as_fd()).context("tmpcopyup: open the new tmpfs")?;
            copy_dir(from.as_fd(), to.as_fd()).context("tmpcopyup")?;
            if self.opts.read_only() {
                let ro = MountAttr {
                    set: MountAttrFlags::MOUNT_ATTR_RDONLY,
                    ..Default::default()
                };
                mnt.set_attr(false, &ro)
                    .context("tmpcopyup: make the tmpfs read-only")?;
            }
        }
        mnt.set_attr(true, &self.opts.recursive_attr)?;
        mnt.attach(target).context("attach the tmpfs")
    }
}

fn io(e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e.raw_os_error())
}

/// A readable directory fd for an O_PATH one.
fn reopen_dir(fd: BorrowedFd<'_>) -> std::io::Result<OwnedFd> {
    rustix::fs::openat(
        fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)
}

fn open_at(dir: BorrowedFd<'_>, name: &CStr, flags: OFlags, mode: u32) -> std::io::Result<OwnedFd> {
    rustix::fs::openat(
        dir,
        name,
        flags | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )
    .map_err(io)
}

/// Copies the directory `from` into `to`: files, directories and symlinks with their
/// modes and owners (device nodes, fifos and sockets are skipped, as runc's copy).
fn copy_dir(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> std::io::Result<()> {
    let dup = rustix::io::fcntl_dupfd_cloexec(from, 0).map_err(io)?;
    let mut dir = rustix::fs::Dir::new(dup).map_err(io)?;
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(io)?;
        let name: CString = entry.file_name().to_owned();
        if matches!(name.as_bytes(), b"." | b"..") {
            continue;
        }
        let st =
            rustix::fs::statat(from, &*name, rustix::fs::AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        let mode = st.st_mode & 0o7777;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Symlink => {
                let target = rustix::fs::readlinkat(from, &*name, Vec::new()).map_err(io)?;
                rustix::fs::symlinkat(&*target, to, &*name).map_err(io)?;
            }
            FileType::Directory => {
                rustix::fs::mkdirat(to, &*name, Mode::from_raw_mode(0o700)).map_err(io)?;
                let src = open_at(from, &name, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
                let dst = open_at(to, &name, OFlags::RDONLY | OFlags::DIRECTORY, 0)?;
                copy_dir(src.as_fd(), dst.as_fd())?;
                rustix::fs::fchmod(&dst, Mode::from_raw_mode(mode)).map_err(io)?;
            }
            FileType::RegularFile => {
                let src = open_at(from, &name, OFlags::RDONLY, 0)?;
                let dst = open_at(
                    to,
                    &name,
                    OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
                    0o600,
                )?;
                let (mut src, mut dst) = (File::from(src), File::from(dst));
                std::io::copy(&mut src, &mut dst)?;
                rustix::fs::fchmod(&dst, Mode::from_raw_mode(mode)).map_err(io)?;
            }
            _ => continue,
        }
        rustix::fs::chownat(
            to,
            &*name,
            Some(rustix::fs::Uid::from_raw(st.st_uid)),
            Some(rustix::fs::Gid::from_raw(st.st_gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, MetadataExt};
    use std::path::Path;

    #[test]
    fn copies_files_dirs_and_symlinks() {
        let base = std::env::temp_dir().join(format!("rt-copytree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let (from, to) = (base.join("from"), base.join("to"));
        fs::create_dir_all(from.join("sub")).unwrap();
        fs::write(from.join("sub/file"), "data").unwrap();
        fs::set_permissions(from.join("sub"), fs::Permissions::from_mode(0o750)).unwrap();
        symlink("sub/file", from.join("link")).unwrap();
        fs::create_dir_all(&to).unwrap();
        let (f, t) = (File::open(&from).unwrap(), File::open(&to).unwrap());
        copy_dir(f.as_fd(), t.as_fd()).unwrap();
        assert_eq!(fs::read_to_string(to.join("sub/file")).unwrap(), "data");
        assert_eq!(
            fs::read_link(to.join("link")).unwrap(),
            Path::new("sub/file")
        );
        let mode = fs::metadata(to.join("sub")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        fs::remove_dir_all(&base).unwrap();
    }

    use std::os::unix::fs::PermissionsExt;
}
