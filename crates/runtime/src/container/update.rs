//! `update`: new resource limits for a container that is not stopped.

use anyhow::{bail, Context};
use cgroups::Resources;

use super::{Container, Status};

/// Applies `resources` to the container's cgroup. Device rules are not updated (as runc:
/// they are fixed at create), so an update never opens or closes devices.
pub fn update(container: &Container, resources: &Resources) -> anyhow::Result<()> {
    let status = container.status();
    if status == Status::Stopped {
        bail!(
            "cannot update container {}: container not running (it is {status})",
            container.id()
        );
    }
    let cg = container.require_cgroup()?;
    let mut resources = resources.clone();
    resources.devices.clear();
    cg.update(&resources)
        .with_context(|| format!("update cgroup {}", cg.path().display()))
}
