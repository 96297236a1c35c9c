//! `delete`: remove a stopped or created container's cgroup and state (a created one's init
//! is killed first, as runc); `force` kills a running or paused one first.

use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cgroups::Recursive;

use super::{Container, Status};
use crate::logging;
use crate::state::{Store, StoreError};

/// How long delete waits for killed processes to be gone.
const KILL_WAIT: Duration = Duration::from_secs(10);

pub fn delete(store: &Store, id: &str, force: bool) -> anyhow::Result<()> {
    let dir = match store.open(id) {
        Ok(dir) => dir,
        // As runc: `delete --force` of an unknown container succeeds.
        Err(StoreError::NotFound(_)) if force => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let state = match dir.load() {
        Ok(state) => state,
        Err(e) if force => {
            // No usable state (rt create was killed before writing it, or it is corrupt):
            // the placement rt create recorded before making the cgroup leads to every
            // process of the container; kill them and remove the cgroup. No placement: it
            // was killed before it made one.
            if !matches!(e, StoreError::Incomplete(_)) {
                logging::warn(&format!("{e}; removing what can be found"));
            }
            let cgroup = match dir.cgroup_marker()? {
                Some(placement) => super::load_cgroup(&placement)
                    .with_context(|| format!("container {id}: its cgroup"))?,
                None => None,
            };
            if let Some(cg) = cgroup {
                let path = cg.path().display().to_string();
                cg.kill()
                    .with_context(|| format!("kill the processes of cgroup {path}"))?;
                cg.delete()
                    .with_context(|| format!("remove cgroup {path}"))?;
            }
            dir.remove()?;
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let container = Container { dir, state };
    let status = container.status();
    if status != Status::Stopped {
        // As runc: a created container's init (waiting for `start`, or dying of a signal
        // just sent and not yet a zombie) is killed without --force; a running or paused
        // container needs --force.
        if !force && status != Status::Created {
            bail!("cannot delete container {id} that is not stopped: it is {status}");
        }
        kill_everything(&container)?;
    } else if container.state.shared_pid_ns {
        // Without a private pid namespace the init's death does not end its children.
        if let Some(cg) = container.cgroup()? {
            let left = cg
                .processes(Recursive::Yes)
                .context("list the container's remaining processes")?;
            if !left.is_empty() {
                cg.kill()
                    .context("kill the container's remaining processes")?;
            }
        }
    }
    if let Some(cg) = container.cgroup()? {
        cg.delete()
            .with_context(|| format!("remove cgroup {}", cg.path().display()))?;
    }
    // A container without a mount namespace of its own made its mounts in rt's.
    if let Some(before) = &container.state.mounts_before {
        super::unmount_new_mounts(&container.state.rootfs, before);
    }
    // After the container is gone, before delete returns; failures are warnings.
    crate::hooks::run_warn(
        container.state.hooks.as_ref(),
        crate::hooks::Kind::Poststop,
        &super::OciState::spec_fields(&container.state, Status::Stopped),
        Some(&container.state.bundle),
    );
    container.dir.remove()?;
    Ok(())
}

/// SIGKILL to every process of the container (thawing it if paused), then wait for the init.
fn kill_everything(container: &Container) -> anyhow::Result<()> {
    if let Some(cg) = container.cgroup()? {
        cg.kill().context("kill the container's processes")?;
    }
    // The init may not be in the cgroup any more (moved out by hand): signal it directly
    // (gone meanwhile is fine).
    if container.init_alive() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(container.state.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + KILL_WAIT;
    while container.init_alive() {
        if Instant::now() > deadline {
            bail!(
                "container {}: init {} did not die after SIGKILL",
                container.id(),
                container.state.pid
            );
        }
        sleep(Duration::from_millis(2));
    }
    Ok(())
}
