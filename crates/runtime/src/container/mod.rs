//! Container lifecycle: one file per operation. Status is derived from the kernel on every
//! call: no live init (or a recycled pid) -> stopped; exec fifo present -> created;
//! frozen cgroup -> paused; otherwise running.

mod checkpoint;
mod create;
mod criu_spec;
mod delete;
mod device_rules;
mod events;
mod exec;
mod kill;
mod pause;
mod proc;
mod restore;
mod rootless;
mod start;
mod update;
mod wait;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cgroups::{Cgroup, FreezerState, Placement};
use serde::Serialize;

use crate::logging;
use crate::state::{ContainerDir, State, Store};

pub use checkpoint::{checkpoint, CheckpointOptions};
pub use create::{create, socket_activation_fds, write_pid_file, CreateOptions, CRASH_AT_ENV};
pub use delete::delete;
#[cfg(feature = "monitor")]
pub use events::oom_kills;
pub use events::{oom_killed, processes, stats, watch, Event};
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use pause::{pause, resume};
pub use proc::stat as proc_stat;
pub use restore::{restore, RestoreOptions};
pub use start::start;
pub use update::update;
pub use wait::run_foreground;

pub use crate::bundle::OCI_VERSION;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Paused,
    Stopped,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The OCI state, as `rt state` prints it (runc's fields: the spec's plus rootfs, created, owner).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState<'a> {
    pub oci_version: &'static str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: &'a BTreeMap<String, String>,
    /// rt's addition (runc has no such field), present only when true: the container is
    /// stopped and the kernel OOM-killed a process in it (its cgroup counted an OOM kill).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub oom_killed: bool,
}

/// A container loaded from the store, with its directory locked.
pub struct Container {
    pub dir: ContainerDir,
    pub state: State,
}

impl Container {
    pub fn load(store: &Store, id: &str) -> anyhow::Result<Container> {
        let dir = store.open(id)?;
        let state = dir.load()?;
        Ok(Container { dir, state })
    }

    pub fn id(&self) -> &str {
        &self.state.id
    }

    /// Whether the init recorded in the state is still alive (and not a recycled pid).
    pub fn init_alive(&self) -> bool {
        proc::is_alive(self.state.pid, self.state.pid_start)
    }

    /// The container's cgroup, where `rt create` placed it and with the driver it chose;
    /// None when the container never had one (rootless without a delegated cgroup) or it is
    /// gone (a stopped container's systemd scope goes with its last process).
    pub fn cgroup(&self) -> anyhow::Result<Option<Cgroup>> {
        load_cgroup(&self.state.placement)
            .with_context(|| format!("container {}: its cgroup", self.id()))
    }

    /// The container's cgroup, for the commands that cannot do without one.
    pub fn require_cgroup(&self) -> anyhow::Result<Cgroup> {
        if let Some(why) = self.state.placement.no_cgroup_reason() {
            anyhow::bail!("container {}: {why}", self.id());
        }
        self.cgroup()?
            .ok_or_else(|| anyhow::anyhow!("container {}: its cgroup is gone", self.id()))
    }

    /// Whether the container was made without a cgroup (see [`Placement::None`]).
    pub fn has_no_cgroup(&self) -> bool {
        self.state.placement.no_cgroup_reason().is_some()
    }

    pub fn status(&self) -> Status {
        status_of(&self.state, &self.dir.fifo_path())
    }

    pub fn oci_state(&self, status: Status) -> OciState<'_> {
        OciState::of(&self.state, status)
    }
}

impl<'a> OciState<'a> {
    /// The OCI state of the container `state` describes, in `status`.
    pub fn of(state: &'a State, status: Status) -> OciState<'a> {
        OciState {
            oom_killed: events::oom_killed_of(state, status),
            ..Self::spec_fields(state, status)
        }
    }

    /// The fields the runtime spec defines only, without rt's `oomKilled` (no cgroup is
    /// read): the state hooks get.
    pub fn spec_fields(state: &'a State, status: Status) -> OciState<'a> {
        OciState {
            oci_version: OCI_VERSION,
            id: &state.id,
            pid: if status == Status::Stopped {
                0
            } else {
                state.pid
            },
            status,
            bundle: &state.bundle,
            rootfs: &state.rootfs,
            created: &state.created,
            owner: &state.owner,
            annotations: &state.annotations,
            oom_killed: false,
        }
    }
}

/// The status of the container `state` describes, its exec fifo at `fifo` (see the module
/// doc): a /proc read, a stat and, for a running one, its freezer state file.
pub fn status_of(state: &State, fifo: &Path) -> Status {
    if !proc::is_alive(state.pid, state.pid_start) {
        return Status::Stopped;
    }
    if fifo.exists() {
        return Status::Created;
    }
    // A cgroup that cannot be read shows no freezer state: running.
    match state.placement.freezer_state() {
        Ok(Some(FreezerState::Frozen | FreezerState::Freezing)) => Status::Paused,
        _ => Status::Running,
    }
}

/// The ids of the mounts at or under `dir` in rt's mount namespace.
pub fn mounts_under(dir: &Path) -> Vec<u64> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    cgroups::mountinfo::parse(&info)
        .filter(|e| e.mount_point.starts_with(dir))
        .map(|e| e.id)
        .collect()
}

/// Unmounts (lazily, deepest first) the mounts at or under `dir` that are not in `before`:
/// those a container without a mount namespace of its own made in rt's.
pub fn unmount_new_mounts(dir: &Path, before: &[u64]) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut made: Vec<PathBuf> = cgroups::mountinfo::parse(&info)
        .filter(|e| e.mount_point.starts_with(dir) && !before.contains(&e.id))
        .map(|e| e.mount_point)
        .collect();
    // Deepest first, and the latest of stacked mounts first.
    made.reverse();
    made.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for mp in made {
        if let Err(e) = nix::mount::umount2(&mp, nix::mount::MntFlags::MNT_DETACH) {
            logging::warn(&format!("unmount {}: {e}", mp.display()));
        }
    }
}

/// SIGKILL our own child and reap it (a child that is already gone is fine).
pub fn kill_and_reap(pid: i32) {
    let pid = nix::unistd::Pid::from_raw(pid);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
}

/// The host uid and gid the container's process runs as: `process.user`, mapped through
/// the user namespace of the init `pid` when it is in one (the maps are written by then).
pub fn host_ids_of_process_user(
    spec: &oci_spec::runtime::Spec,
    pid: i32,
) -> anyhow::Result<(u32, u32)> {
    let user = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.user().gid()))
        .unwrap_or((0, 0));
    let in_userns = crate::bundle::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User);
    if !in_userns {
        return Ok(user);
    }
    let map = |file: &str, id: u32, field: &str| -> anyhow::Result<u32> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/{file}"))
            .with_context(|| format!("read /proc/{pid}/{file}"))?;
        map_id(&text, id).with_context(|| {
            format!("linux.{field}Mappings: container {field} {id} must be mapped (process.user.{field})")
        })
    };
    Ok((
        map("uid_map", user.0, "uid")?,
        map("gid_map", user.1, "gid")?,
    ))
}

/// The host id of `id` in a uid_map/gid_map text ("inside outside count" lines).
fn map_id(text: &str, id: u32) -> Option<u32> {
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace().map(|n| n.parse::<u32>().ok());
        let (inside, outside, count) = (f.next()??, f.next()??, f.next()??);
        let off = id.checked_sub(inside)?;
        (off < count).then(|| outside + off)
    })
}

/// Whether rt runs unprivileged (euid != 0): rootless containers.
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// The cgroup of a recorded placement; None without one or when it is gone.
pub fn load_cgroup(placement: &Placement) -> cgroups::Result<Option<Cgroup>> {
    match placement.load() {
        Err(e) if e.is_not_found() => Ok(None),
        other => other,
    }
}

/// Where a new container's cgroup goes (`linux.cgroupsPath` of `spec`, the driver the
/// command line chose, whether rt runs unprivileged): [`Placement::resolve`], its errors
/// naming the field.
pub fn placement_for(
    spec: &oci_spec::runtime::Spec,
    id: &str,
    driver: cgroups::Driver,
) -> anyhow::Result<Placement> {
    let given = spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_deref());
    let text = given
        .map(|p| {
            p.to_str()
                .ok_or_else(|| anyhow::anyhow!("linux.cgroupsPath {p:?}: not valid UTF-8"))
        })
        .transpose()?;
    Placement::resolve(&cgroups::Request {
        cgroups_path: text,
        id,
        driver,
        rootless: rootless(),
    })
    .with_context(|| match text {
        Some(t) if !t.is_empty() => format!("linux.cgroupsPath {t:?}"),
        _ => "linux.cgroupsPath (default)".to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::map_id;

    #[test]
    fn maps_ids_through_a_uid_map() {
        let text = "         0     100000      65536\n     65536       1000          1\n";
        assert_eq!(map_id(text, 0), Some(100000));
        assert_eq!(map_id(text, 1000), Some(101000));
        assert_eq!(map_id(text, 65536), Some(1000));
        assert_eq!(map_id(text, 65537), None);
        assert_eq!(map_id("0 0 4294967295\n", 7), Some(7));
    }
}
