//! Paths inside the rootfs: symlinks are resolved as if the rootfs were `/`, so a mount
//! destination, masked path or device node can never reach outside it (a rootfs with
//! `/proc -> /` or `/dev/x -> /etc` stays inside the rootfs).

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

const MAX_SYMLINKS: usize = 255;

/// Joins `unsafe_path` to `root`, resolving every symlink within `root`.
/// Components that do not exist are appended as they are.
pub fn secure_join(root: &Path, unsafe_path: &Path) -> io::Result<PathBuf> {
    let mut resolved = PathBuf::new();
    let mut pending: Vec<OsString> = components(unsafe_path);
    pending.reverse();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = resolved.join(&part);
        let full = root.join(&candidate);
        match fs::symlink_metadata(&full) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{}: too many levels of symbolic links",
                            unsafe_path.display()
                        ),
                    ));
                }
                let target = fs::read_link(&full)?;
                if target.is_absolute() {
                    resolved = PathBuf::new();
                }
                let mut parts = components(&target);
                parts.reverse();
                pending.extend(parts);
            }
            _ => resolved = candidate,
        }
    }
    Ok(root.join(resolved))
}

/// The normal and `..` components of a path, as strings.
fn components(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some(OsString::from("..")),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rt-path-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn absolute_symlinks_stay_inside_root() {
        let root = tmp("abs");
        symlink("/", root.join("proc")).unwrap();
        fs::create_dir_all(root.join("dev")).unwrap();
        symlink("/etc", root.join("dev/x")).unwrap();
        assert_eq!(secure_join(&root, Path::new("/proc")).unwrap(), root);
        assert_eq!(
            secure_join(&root, Path::new("/dev/x/passwd")).unwrap(),
            root.join("etc/passwd")
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn dotdot_cannot_escape() {
        let root = tmp("dotdot");
        fs::create_dir_all(root.join("a")).unwrap();
        symlink("../../../../etc", root.join("a/up")).unwrap();
        assert_eq!(
            secure_join(&root, Path::new("/a/up/shadow")).unwrap(),
            root.join("etc/shadow")
        );
        assert_eq!(
            secure_join(&root, Path::new("/../../x")).unwrap(),
            root.join("x")
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn symlink_loops_are_an_error() {
        let root = tmp("loop");
        symlink("/b", root.join("a")).unwrap();
        symlink("/a", root.join("b")).unwrap();
        assert!(secure_join(&root, Path::new("/a/x")).is_err());
        fs::remove_dir_all(&root).unwrap();
    }
}
