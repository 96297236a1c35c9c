//! `pause` / `resume`: freeze and thaw the container's cgroup (the freezer decides the
//! status: a frozen cgroup is `paused`).

use anyhow::{bail, Context};
use cgroups::Cgroup;

use super::{Container, Status};

fn cgroup_of(container: &Container) -> anyhow::Result<Cgroup> {
    container.require_cgroup()
}

/// Freezes every process of a running container.
pub fn pause(container: &Container) -> anyhow::Result<()> {
    let status = container.status();
    match status {
        Status::Running => {}
        Status::Paused => bail!("container {} is already paused", container.id()),
        // "container not running": runc's text, which CRI-O matches for every command.
        _ => bail!(
            "cannot pause container {}: container not running (it is {status})",
            container.id()
        ),
    }
    let cg = cgroup_of(container)?;
    cg.freeze()
        .with_context(|| format!("freeze cgroup {}", cg.path().display()))
}

/// Thaws a paused container.
pub fn resume(container: &Container) -> anyhow::Result<()> {
    let status = container.status();
    match status {
        Status::Paused => {}
        Status::Running => bail!(
            "cannot resume container {}: container not paused (it is running)",
            container.id()
        ),
        _ => bail!(
            "cannot resume container {}: container not running (it is {status})",
            container.id()
        ),
    }
    let cg = cgroup_of(container)?;
    cg.thaw()
        .with_context(|| format!("thaw cgroup {}", cg.path().display()))
}
