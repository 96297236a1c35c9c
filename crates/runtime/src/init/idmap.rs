//! Idmapped bind mounts (runtime-spec 1.1 `mounts[].uidMappings`/`gidMappings` with the
//! `idmap` or `ridmap` option; runc 1.2, crun): the files of the source appear with their
//! owners shifted through a user namespace's mapping, without a chown.
//!
//! Setting MOUNT_ATTR_IDMAP takes CAP_SYS_ADMIN over the source's filesystem, which the
//! init, born in the container's user namespace, does not have: `rt create` makes these
//! mounts itself, detached, once the init's maps are written, and hands them to the init
//! with its go (SCM_RIGHTS); the init attaches them where the spec says. The mapping is the
//! mount's own (a user namespace made for it by a short-lived child of rt, as runc does),
//! or without one the container's user namespace.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, Spec};
use rustix::mount::MountAttrFlags;

use super::mount_api::{Detached, MountAttr};
use super::mount_options::MountOptions;

/// Whether spec mount `m` is idmapped.
pub fn is_idmapped(m: &oci_spec::runtime::Mount) -> bool {
    m.uid_mappings().is_some() || MountOptions::parse(m.options().as_deref().unwrap_or(&[])).idmap
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with these mappings, held by an fd (its short-lived owner is gone).
fn user_namespace(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> anyhow::Result<OwnedFd> {
    let pid = super::child::clone_process(CloneFlags::CLONE_NEWUSER)
        .context("clone a process for the mount's user namespace")?;
    if pid == 0 {
        // SAFETY: the child only waits to be killed.
        unsafe {
            loop {
                libc::pause();
            }
        }
    }
    let result = (|| {
        super::procfs::write_pid(pid, "uid_map", &map_text(uid)).context("uidMappings")?;
        super::procfs::write_pid(pid, "gid_map", &map_text(gid)).context("gidMappings")?;
        let ns = File::open(format!("/proc/{pid}/ns/user")).context("open its user namespace")?;
        Ok(OwnedFd::from(ns))
    })();
    crate::container::kill_and_reap(pid);
    result
}

/// The idmapped mounts of `spec`, made detached: (index in `mounts`, the mount). `init` is
/// the container's init, whose user namespace serves mounts without mappings of their own.
pub fn prepare(spec: &Spec, bundle: &Path, init: i32) -> anyhow::Result<Vec<(usize, Detached)>> {
    let mut out = Vec::new();
    for (i, m) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !is_idmapped(m) {
            continue;
        }
        let what = || format!("mounts[{i}] {} (idmap)", m.destination().display());
        let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
        if !(opts.bind || m.typ().as_deref() == Some("bind")) {
            bail!("{}: idmapped mounts are bind mounts", what());
        }
        let userns = match (m.uid_mappings(), m.gid_mappings()) {
            (Some(uid), Some(gid)) => user_namespace(uid, gid).with_context(what)?,
            (None, None)
                if crate::bundle::new_namespace(
                    spec,
                    oci_spec::runtime::LinuxNamespaceType::User,
                ) =>
            {
                OwnedFd::from(File::open(format!("/proc/{init}/ns/user")).with_context(what)?)
            }
            (None, None) => bail!(
                "{}: the idmap option needs uidMappings and gidMappings, or a user namespace",
                what()
            ),
            _ => bail!("{}: uidMappings and gidMappings go together", what()),
        };
        let src = m
            .source()
            .as_deref()
            .with_context(|| format!("{}: no source", what()))?;
        let src: PathBuf = if src.is_absolute() {
            src.to_path_buf()
        } else {
            bundle.join(src)
        };
        let mnt = Detached::bind_path(&src, opts.recursive_bind)
            .with_context(|| format!("{}: bind {}", what(), src.display()))?;
        super::mounts::set_attrs(&mnt, &opts).with_context(what)?;
        let idmap = MountAttr {
            set: MountAttrFlags::MOUNT_ATTR_IDMAP,
            userns_fd: Some(std::os::fd::AsRawFd::as_raw_fd(&userns.as_fd())),
            ..Default::default()
        };
        mnt.set_attr(opts.recursive_idmap, &idmap)
            .with_context(|| {
                format!(
                    "{}: MOUNT_ATTR_IDMAP (does {} support idmapped mounts?)",
                    what(),
                    src.display()
                )
            })?;
        out.push((i, mnt));
    }
    Ok(out)
}
