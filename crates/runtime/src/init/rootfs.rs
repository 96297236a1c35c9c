//! The container's root filesystem: propagation, the rootfs bind, spec mounts, /dev,
//! pivot_root (or move + chroot), then masked and read-only paths and a read-only root.

use std::fs;
use std::io;
use std::path::Path;

use anyhow::Context;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, pivot_root};
use oci_spec::runtime::Spec;

use super::cgroupfs::CgroupSources;
use super::devices;
use super::mounts::{self, propagation_flags, remount};

/// Everything up to (not including) pivot_root.
pub fn prepare(spec: &Spec, rootfs: &Path, cgroups: &CgroupSources) -> anyhow::Result<()> {
    let linux = spec.linux().as_ref();
    let propagation = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty());
    let flags = match propagation {
        Some(mode) => {
            propagation_flags(mode).with_context(|| format!("linux.rootfsPropagation {mode:?}"))?
                | MsFlags::MS_REC
        }
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
        .context("linux.rootfsPropagation: make / a slave/private mount")?;
    // pivot_root needs the rootfs' parent mount to be private.
    make_parent_private(rootfs)?;
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {} on itself", rootfs.display()))?;

    let spec_mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in spec_mounts.iter().enumerate() {
        mounts::mount_entry(rootfs, i, m, cgroups)?;
    }
    let dev_is_bind = spec_mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .as_deref()
                    .unwrap_or(&[])
                    .iter()
                    .any(|o| o == "bind" || o == "rbind"))
    });
    if !dev_is_bind {
        let devs = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
        // In a user namespace mknod is not allowed: bind the host's nodes instead.
        let bind = crate::bundle::new_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User);
        devices::create_devices(rootfs, devs, bind)?;
        devices::create_symlinks(rootfs)?;
    }
    Ok(())
}

/// Makes the mount that contains `path` private (pivot_root refuses shared parents).
fn make_parent_private(path: &Path) -> anyhow::Result<()> {
    let mut mount_point = None;
    let mut best = 0;
    let info = fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = unescape(mp);
        if path.starts_with(&mp) && mp.len() >= best {
            best = mp.len();
            mount_point = Some(mp);
        }
    }
    if let Some(mp) = mount_point {
        mount(
            None::<&str>,
            mp.as_str(),
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .with_context(|| format!("make {mp} private"))?;
    }
    Ok(())
}

/// mountinfo escapes space, tab, newline and backslash as octal (`\040`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let digits = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("");
            if let Ok(n) = u8::from_str_radix(digits, 8) {
                out.push(n);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Makes `rootfs` the root: pivot_root, or with `no_pivot` a move mount and chroot.
pub fn enter(rootfs: &Path, no_pivot: bool) -> anyhow::Result<()> {
    chdir(rootfs).with_context(|| format!("chdir {}", rootfs.display()))?;
    if no_pivot {
        mount(
            Some(rootfs),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .context("--no-pivot: move the rootfs to /")?;
        chroot(".").context("--no-pivot: chroot")?;
    } else {
        // pivot_root(".", ".") stacks the old root under the new one; unmount it lazily.
        pivot_root(".", ".").context("pivot_root")?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .context("make the old root a slave")?;
        umount2(".", MntFlags::MNT_DETACH).context("unmount the old root")?;
    }
    chdir("/").context("chdir /")?;
    Ok(())
}

/// After pivot: propagation of the new root, sysctl, read-only and masked paths, read-only root.
pub fn finish(spec: &Spec) -> anyhow::Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(mode) = linux
        .and_then(|l| l.rootfs_propagation().as_deref())
        .filter(|p| !p.is_empty())
    {
        if let Some(flags) = propagation_flags(mode) {
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                flags | MsFlags::MS_REC,
                None::<&str>,
            )
            .with_context(|| format!("linux.rootfsPropagation {mode:?}"))?;
        }
    }
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            let file = Path::new("/proc/sys").join(key.replace('.', "/"));
            fs::write(&file, &sysctl[key])
                .with_context(|| format!("linux.sysctl {key:?}={:?}", sysctl[key]))?;
        }
    }
    // `/` is the rootfs now, but the kernel would still follow a symlink through /proc's
    // magic links (a rootfs symlink to /proc/1/root/etc reaches the host's /etc when there
    // is no pid namespace): resolve every symlink here, as text, inside the new root.
    let inside = |p: &str| super::path::secure_join(Path::new("/"), Path::new(p));
    for p in linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or(&[])
    {
        inside(p)
            .map_err(anyhow::Error::from)
            .and_then(|p| readonly_path(&p))
            .with_context(|| format!("linux.readonlyPaths {p:?}"))?;
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[])
    {
        inside(p)
            .map_err(anyhow::Error::from)
            .and_then(|p| mask_path(&p))
            .with_context(|| format!("linux.maskedPaths {p:?}"))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount(Path::new("/"), MsFlags::MS_BIND | MsFlags::MS_RDONLY).context("root.readonly")?;
    }
    Ok(())
}

/// `path` is inside the new root with its symlinks resolved.
fn readonly_path(path: &Path) -> anyhow::Result<()> {
    match mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).context("bind"),
    }
    remount(
        path,
        MsFlags::MS_BIND | MsFlags::MS_RDONLY | MsFlags::MS_REC,
    )
}

fn mask_path(path: &Path) -> anyhow::Result<()> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).context("stat"),
    };
    let result = if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            Some("size=0k"),
        )
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
    };
    match result {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(e) if meta.is_dir() => Err(e).context("mount tmpfs"),
        Err(e) => Err(e).context("bind /dev/null"),
    }
}

#[cfg(test)]
mod tests {
    use super::unescape;

    #[test]
    fn unescapes_mountinfo_octal() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/x\\"), "/x\\");
    }
}
