//! Rootless containers: rt run by an unprivileged user (euid != 0).
//!
//! A user namespace is required (its maps are written in `init::write_id_maps`). Cgroups:
//! none on cgroup v1 (an unprivileged user cannot write the hierarchies); on v2 the
//! container gets its cgroup only where the user may create it (a delegated subtree, as
//! systemd's `Delegate=yes` makes), else none. Without a cgroup, limits are refused (as
//! runc: "cannot set limits: container could not join or create cgroup"), device rules are
//! dropped (device access is bounded by the user namespace: no mknod, only the host's nodes
//! the user may open), and the commands that need a cgroup (pause, resume, update, events)
//! say so; ps and kill --all use the container's pid namespace instead.

use std::path::PathBuf;

use anyhow::{bail, Context};
use cgroups::{Cgroup, CgroupPath, Pid, Placement, Resources};
use oci_spec::runtime::LinuxNamespaceType;

use super::rootless;
use crate::bundle::Bundle;
use crate::logging;

/// Refuses a spec an unprivileged user cannot run.
pub fn check(bundle: &Bundle) -> anyhow::Result<()> {
    if rootless() && !bundle.has_namespace(LinuxNamespaceType::User) {
        bail!(
            "linux.namespaces: rt runs as uid {} (rootless): a user namespace is required \
             (`rt spec --rootless` makes such a spec)",
            nix::unistd::geteuid()
        );
    }
    Ok(())
}

/// The container's cgroup where `placement` puts it, made with `resources`; None when the
/// placement has none (rootless: see the module's comment), whose limits are then refused.
pub fn new_cgroup(
    placement: &Placement,
    id: &str,
    resources: &mut Resources,
) -> anyhow::Result<Option<Cgroup>> {
    if rootless() {
        // As runc: device rules are not expected to work rootless (v2 needs CAP_BPF).
        resources.devices.clear();
    }
    if let Some(reason) = placement.no_cgroup_reason() {
        if *resources != Resources::default() {
            bail!("linux.resources: cannot set cgroup limits: {reason}");
        }
        logging::debug(&format!("container {id}: {reason}"));
        return Ok(None);
    }
    let what = match placement {
        Placement::Systemd { slice, unit } => format!("systemd unit {unit} in {slice}"),
        _ if rootless() => "linux.resources (rootless)".to_string(),
        _ => "linux.resources".to_string(),
    };
    placement.create(resources).context(what)
}

/// The cgroup directories shown in the container's cgroup mounts: its own cgroup's, or
/// without one the cgroups rt runs in (where the container's processes stay).
pub fn cgroup_dirs(cgroup: Option<&Cgroup>) -> Vec<(String, PathBuf)> {
    if let Some(cg) = cgroup {
        return cg.dirs();
    }
    CgroupPath::of_pid(Pid(std::process::id() as i32))
        .and_then(Cgroup::load)
        .map(|cg| cg.dirs())
        .unwrap_or_default()
}
