//! The container's root filesystem: propagation, the rootfs bind, spec mounts, /dev,
//! pivot_root (or move + chroot), then sysctls, masked and read-only paths and a read-only
//! root. Paths inside the rootfs are resolved to file descriptors inside it (rootdir.rs), and
//! mounts are attached through those descriptors (see mounts.rs), before and after
//! pivot_root alike.

use std::fs;
use std::os::fd::AsFd;
use std::path::Path;

use super::rootdir::RootDir as Root;
use anyhow::{bail, Context};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::Spec;
use rustix::fs::FileType;
use rustix::mount::MountAttrFlags as A;

use super::mount_api::{mount_setattr, Detached, FsOption, MountAttr};
use super::mounts::{self, is_enoent, MountContext};

/// Propagation flags of a mode name (`rslave`, `private`, ...).
pub fn propagation_flags(mode: &str) -> Option<MsFlags> {
    let (flag, rec) = super::mount_options::propagation(mode)?;
    let mut flags = MsFlags::from_bits_truncate(flag);
    if rec {
        flags |= MsFlags::MS_REC;
    }
    Some(flags)
}

/// Everything up to (not including) pivot_root. Returns the rootfs as a handle. Without a
/// mount namespace of the container's own (`own_mount_ns` false) the mounts go into rt's
/// namespace, whose propagation is left alone, and no bind of the rootfs is made.
pub fn prepare(
    spec: &Spec,
    rootfs: &Path,
    ctx: &MountContext,
    own_mount_ns: bool,
) -> anyhow::Result<Root> {
    let linux = spec.linux().as_ref();
    if !own_mount_ns {
        let root =
            Root::open(rootfs).with_context(|| format!("root.path: open {}", rootfs.display()))?;
        mount_all(spec, rootfs, &root, ctx)?;
        return Ok(root);
    }
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
    // pivot_root refuses a shared parent mount: only a shared propagation leaves one.
    if flags.contains(MsFlags::MS_SHARED) {
        make_parent_private(rootfs)?;
    }
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {} on itself", rootfs.display()))?;
    let root =
        Root::open(rootfs).with_context(|| format!("root.path: open {}", rootfs.display()))?;
    mount_all(spec, rootfs, &root, ctx)?;
    Ok(root)
}

/// The spec's mounts, then /dev's nodes and links unless /dev is a bind mount.
fn mount_all(spec: &Spec, rootfs: &Path, root: &Root, ctx: &MountContext) -> anyhow::Result<()> {
    let linux = spec.linux().as_ref();
    let spec_mounts = spec.mounts().as_deref().unwrap_or(&[]);
    for (i, m) in spec_mounts.iter().enumerate() {
        mounts::mount_entry(root, i, m, ctx)?;
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
        let bind = crate::bundle::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User);
        super::devices::create_devices(root, rootfs, devs, bind)?;
        super::devices::create_symlinks(root, rootfs)?;
    }
    Ok(())
}

/// Without a mount namespace of its own: chroot into the rootfs.
pub fn chroot_into(root: &Root, rootfs: &Path) -> anyhow::Result<()> {
    fchdir(std::os::fd::AsRawFd::as_raw_fd(&root.as_fd()))
        .with_context(|| format!("chdir {}", rootfs.display()))?;
    chroot(".").with_context(|| format!("chroot {}", rootfs.display()))?;
    chdir("/").context("chdir /")?;
    Ok(())
}

/// Makes the mount that contains `path` private (pivot_root refuses shared parents).
fn make_parent_private(path: &Path) -> anyhow::Result<()> {
    let info = fs::read_to_string("/proc/self/mountinfo").context("read /proc/self/mountinfo")?;
    let mount_point = cgroups::mountinfo::mount_points(&info)
        .filter(|mp| path.starts_with(mp))
        .max_by_key(|mp| mp.as_os_str().len());
    if let Some(mp) = mount_point {
        mount(
            None::<&str>,
            &mp,
            None::<&str>,
            MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .with_context(|| format!("make {} private", mp.display()))?;
    }
    Ok(())
}

/// Makes the rootfs the root: pivot_root, or with `no_pivot` a move mount and chroot.
pub fn enter(root: &Root, rootfs: &Path, no_pivot: bool) -> anyhow::Result<()> {
    fchdir(std::os::fd::AsRawFd::as_raw_fd(&root.as_fd()))
        .with_context(|| format!("chdir {}", rootfs.display()))?;
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
            super::procfs::write_sysctl(key, &sysctl[key])
                .with_context(|| format!("linux.sysctl {key:?}={:?}", sysctl[key]))?;
        }
    }
    let readonly = linux
        .and_then(|l| l.readonly_paths().as_deref())
        .unwrap_or(&[]);
    let masked = linux
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[]);
    let read_only_root = spec.root().as_ref().and_then(|r| r.readonly()) == Some(true);
    if readonly.is_empty() && masked.is_empty() && !read_only_root {
        return Ok(());
    }
    // `/` is the rootfs now; symlinks are still resolved inside it, and /proc's magic links
    // (which would lead back to the host) are never followed.
    let root = Root::open(Path::new("/")).context("open the new root")?;
    for p in readonly {
        readonly_path(&root, Path::new(p)).with_context(|| format!("linux.readonlyPaths {p:?}"))?;
    }
    let mut null = None;
    for p in masked {
        mask_path(&root, Path::new(p), &mut null)
            .with_context(|| format!("linux.maskedPaths {p:?}"))?;
    }
    if read_only_root {
        let attr = MountAttr {
            set: A::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        mount_setattr(root.as_fd(), false, &attr).context("root.readonly")?;
    }
    Ok(())
}

/// The path inside the root as a handle; None when it does not exist.
fn resolve(root: &Root, path: &Path) -> anyhow::Result<Option<std::os::fd::OwnedFd>> {
    match root.resolve(path) {
        Ok(h) => Ok(Some(h)),
        Err(e) if is_enoent(&e) => Ok(None),
        Err(e) => Err(e).context("resolve"),
    }
}

/// Binds the path on itself, read-only with everything below it.
fn readonly_path(root: &Root, path: &Path) -> anyhow::Result<()> {
    let Some(target) = resolve(root, path)? else {
        return Ok(());
    };
    let mnt = Detached::bind_fd(target.as_fd(), true).context("bind")?;
    let ro = MountAttr {
        set: A::MOUNT_ATTR_RDONLY,
        ..Default::default()
    };
    mnt.set_attr(true, &ro).context("make read-only")?;
    mnt.attach(target.as_fd()).context("attach")?;
    Ok(())
}

/// The container's /dev/null, verified to be the null device (char 1:3) and not a symlink
/// or anything else a rootfs or a bound /dev could put there (CVE-2025-31133).
fn null_device(root: &Root) -> anyhow::Result<std::os::fd::OwnedFd> {
    let null = root
        .resolve_nofollow(Path::new("/dev/null"))
        .context("resolve /dev/null to mask with it")?;
    let st = rustix::fs::fstat(&null)
        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))?;
    let (major, minor) = (rustix::fs::major(st.st_rdev), rustix::fs::minor(st.st_rdev));
    if FileType::from_raw_mode(st.st_mode) != FileType::CharacterDevice || (major, minor) != (1, 3)
    {
        bail!(
            "/dev/null in the container is not the null device (char 1:3): it cannot mask a path"
        );
    }
    Ok(null)
}

/// A directory gets an empty read-only tmpfs, anything else the null device.
fn mask_path(
    root: &Root,
    path: &Path,
    null: &mut Option<std::os::fd::OwnedFd>,
) -> anyhow::Result<()> {
    let Some(target) = resolve(root, path)? else {
        return Ok(());
    };
    let st = rustix::fs::fstat(&target)
        .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))?;
    let mnt = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        Detached::new_fs(
            "tmpfs",
            Some("tmpfs"),
            &[FsOption::Value("size".into(), "0k".into())],
            A::MOUNT_ATTR_RDONLY,
        )
        .context("mount tmpfs")?
    } else {
        let null = match null {
            Some(n) => n,
            None => null.insert(null_device(root)?),
        };
        Detached::bind_fd(null.as_fd(), false).context("bind /dev/null")?
    };
    mnt.attach(target.as_fd()).context("attach")?;
    Ok(())
}
