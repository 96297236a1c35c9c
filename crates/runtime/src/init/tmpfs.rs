//! tmpfs mounts as runc makes them: the new tmpfs root takes the mode of the directory it
//! covers when that directory was already in the rootfs (a `mode=` option still wins), and
//! with `tmpcopyup` (podman adds it to `--tmpfs`) it starts with a copy of what the
//! directory held.

use std::fs;
use std::os::unix::fs::{lchown, symlink, MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use nix::mount::{mount, MsFlags};

pub struct Tmpfs<'a> {
    pub source: &'a str,
    pub flags: MsFlags,
    pub data: Vec<String>,
    /// The directory was in the rootfs before: the tmpfs root takes its mode.
    pub inherit_mode: bool,
    pub copyup: bool,
}

impl Tmpfs<'_> {
    /// Mounts the tmpfs on `dest`, an existing directory.
    pub fn mount(&self, dest: &Path) -> anyhow::Result<()> {
        let mut data = Vec::with_capacity(self.data.len() + 1);
        if self.inherit_mode {
            let meta = fs::metadata(dest).with_context(|| format!("stat {}", dest.display()))?;
            // First, so that a `mode=` of the spec, later in the list, wins.
            data.push(format!("mode={:o}", meta.mode() & 0o7777));
        }
        data.extend(self.data.iter().cloned());
        mount_tmpfs(dest, self.source, self.flags, &data.join(","), self.copyup)
    }
}

fn mount_tmpfs(
    dest: &Path,
    source: &str,
    flags: MsFlags,
    data: &str,
    copyup: bool,
) -> anyhow::Result<()> {
    if !copyup {
        return mount(Some(source), dest, Some("tmpfs"), flags, Some(data))
            .with_context(|| format!("mount tmpfs options {data:?}"));
    }
    // Fill a tmpfs mounted aside, then move it over the directory.
    let staging = std::env::temp_dir().join(format!(".rt-copyup-{}", std::process::id()));
    fs::create_dir(&staging).with_context(|| format!("mkdir {}", staging.display()))?;
    let result = (|| {
        mount(Some(source), &staging, Some("tmpfs"), flags, Some(data))
            .with_context(|| format!("mount tmpfs options {data:?}"))?;
        copy_tree(dest, &staging).with_context(|| format!("tmpcopyup of {}", dest.display()))?;
        mount(
            Some(&staging),
            dest,
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .context("tmpcopyup: move the tmpfs in place")
    })();
    if result.is_err() {
        let _ = nix::mount::umount2(&staging, nix::mount::MntFlags::MNT_DETACH);
    }
    let _ = fs::remove_dir(&staging);
    result
}

/// Copies a directory tree (files, directories, symlinks; modes and owners).
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = fs::symlink_metadata(&src)?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            symlink(fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
            fs::set_permissions(&dst, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if kind.is_file() {
            fs::copy(&src, &dst)?;
        } else {
            // Device nodes, fifos and sockets are not copied.
            continue;
        }
        lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        copy_tree(&from, &to).unwrap();
        assert_eq!(fs::read_to_string(to.join("sub/file")).unwrap(), "data");
        assert_eq!(
            fs::read_link(to.join("link")).unwrap(),
            Path::new("sub/file")
        );
        let mode = fs::metadata(to.join("sub")).unwrap().mode() & 0o7777;
        assert_eq!(mode, 0o750);
        fs::remove_dir_all(&base).unwrap();
    }
}
