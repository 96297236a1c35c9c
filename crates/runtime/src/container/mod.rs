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
pub mod systemd_cgroup;
mod update;
mod wait;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use cgroups::{Cgroup, CgroupPath, FreezerState};
use serde::Serialize;

use crate::state::{ContainerDir, State, Store};

pub use checkpoint::{checkpoint, CheckpointOptions};
pub use create::{create, socket_activation_fds, write_pid_file, CreateOptions, CRASH_AT_ENV};
pub use delete::delete;
pub use events::{cgroup_stats, oom_killed, oom_kills, processes, stats, watch, Event};
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use pause::{pause, resume};
pub use proc::stat as proc_stat;
pub use restore::{restore, RestoreOptions};
pub use start::start;
pub use update::update;
pub use wait::run_foreground;

/// The OCI runtime-spec version rt implements.
pub const OCI_VERSION: &str = "1.2.0";

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
        f.write_str(match self {
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

    /// The container's cgroup; None when it is gone or the container never had one
    /// (rootless without a delegated cgroup: an empty `cgroup_path`).
    pub fn cgroup(&self) -> Option<Cgroup> {
        if self.state.cgroup_path.as_os_str().is_empty() {
            return None;
        }
        if let Some(s) = systemd_cgroup::of_path(&self.state.cgroup_path) {
            return Cgroup::load_systemd(&s.slice, &s.unit).ok();
        }
        Cgroup::load(CgroupPath::static_path(&self.state.cgroup_path)).ok()
    }

    /// The container's cgroup, for the commands that cannot do without one.
    pub fn require_cgroup(&self) -> anyhow::Result<Cgroup> {
        if self.state.cgroup_path.as_os_str().is_empty() {
            anyhow::bail!("container {}: {}", self.id(), no_cgroup_reason());
        }
        self.cgroup()
            .ok_or_else(|| anyhow::anyhow!("container {}: its cgroup is gone", self.id()))
    }

    pub fn status(&self) -> Status {
        if !self.init_alive() {
            return Status::Stopped;
        }
        if self.dir.fifo_path().exists() {
            return Status::Created;
        }
        if let Some(cg) = self.cgroup() {
            if matches!(
                cg.state(),
                Ok(FreezerState::Frozen) | Ok(FreezerState::Freezing)
            ) {
                return Status::Paused;
            }
        }
        Status::Running
    }

    pub fn oci_state(&self, status: Status) -> OciState<'_> {
        OciState {
            oci_version: OCI_VERSION,
            id: &self.state.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.state.pid
            },
            status,
            bundle: &self.state.bundle,
            rootfs: &self.state.rootfs,
            created: &self.state.created,
            owner: &self.state.owner,
            annotations: &self.state.annotations,
            oom_killed: events::oom_killed(self, status),
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
/// the spec's uid/gid mappings when the container has a user namespace of its own.
pub fn host_ids_of_process_user(spec: &oci_spec::runtime::Spec) -> anyhow::Result<(u32, u32)> {
    let user = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.user().gid()))
        .unwrap_or((0, 0));
    if !crate::bundle::new_namespace(spec, oci_spec::runtime::LinuxNamespaceType::User) {
        return Ok(user);
    }
    let linux = spec.linux().as_ref();
    let map = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>, id: u32, field: &str| {
        maps.into_iter()
            .flatten()
            .find_map(|m| {
                let off = id.checked_sub(m.container_id())?;
                (off < m.size()).then(|| m.host_id() + off)
            })
            .with_context(|| {
                format!("linux.{field}Mappings: container {field} {id} must be mapped (process.user.{field})")
            })
    };
    Ok((
        map(linux.and_then(|l| l.uid_mappings().as_ref()), user.0, "uid")?,
        map(linux.and_then(|l| l.gid_mappings().as_ref()), user.1, "gid")?,
    ))
}

/// Whether rt runs unprivileged (euid != 0): rootless containers.
pub fn rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Why a container has no cgroup (it was created rootless without a writable cgroup).
pub fn no_cgroup_reason() -> &'static str {
    if cgroups::mode() == cgroups::Mode::Unified {
        "no cgroup: rootless container without a delegated cgroup"
    } else {
        "no cgroup: rootless container on cgroup v1"
    }
}

/// Where a container's cgroup goes: `linux.cgroupsPath` when absolute; relative paths land
/// under rt's own cgroup (as runc); none means `/rt/<id>`.
pub fn cgroup_path_for(cgroups_path: Option<&Path>, id: &str) -> anyhow::Result<CgroupPath> {
    Ok(match cgroups_path {
        None => CgroupPath::static_path(PathBuf::from("/rt").join(id)),
        Some(p) if p.as_os_str().is_empty() => {
            CgroupPath::static_path(PathBuf::from("/rt").join(id))
        }
        Some(p) if p.is_absolute() => CgroupPath::static_path(p),
        Some(p) => {
            let rel = p
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("linux.cgroupsPath {p:?}: not valid UTF-8"))?;
            CgroupPath::nested(cgroups::Pid(std::process::id() as i32), rel)?
        }
    })
}
