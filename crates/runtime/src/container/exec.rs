//! `exec`: run another process in a running container (its namespaces, cgroup, user,
//! capabilities and limits), in the foreground (its exit status is returned) or detached.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{bail, Context};
use oci_spec::runtime::{Process, Spec};

use super::wait::{block_signals, wait_for, wait_with_console};
use super::{write_pid_file, Container, Status};
use crate::init::exec::{spawn, ExecConfig};
use crate::state::Store;

pub struct ExecOptions<'a> {
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    /// A connected --console-socket; with a terminal and none, rt proxies its own stdio.
    pub console_socket: Option<std::os::fd::RawFd>,
}

/// The container's config as `rt create` saved it in the state directory (never the
/// bundle's config.json, which may have been edited since).
fn created_spec(container: &Container) -> anyhow::Result<(std::path::PathBuf, Spec)> {
    let (config, data) = container.dir.load_config()?;
    let spec: Spec = serde_json::from_slice(&data)
        .with_context(|| format!("{}: invalid config", config.display()))?;
    Ok((config, spec))
}

/// Runs the process `build` makes from the container's spec as created (the base for env,
/// cwd, user, capabilities..., and its seccomp profile, always applied). Returns the exit
/// status of a foreground process, 0 once a detached one has started.
pub fn exec(
    store: &Store,
    id: &str,
    opts: &ExecOptions,
    build: impl FnOnce(&Spec) -> anyhow::Result<Process>,
) -> anyhow::Result<i32> {
    let container = Container::load(store, id)?;
    let (config, spec) = created_spec(&container)?;
    let process = build(&spec)?;
    match container.status() {
        Status::Running | Status::Created => {}
        status => bail!("cannot exec in container {id}: it is {status}"),
    }
    let terminal = process.terminal() == Some(true);
    if terminal && opts.detach && opts.console_socket.is_none() {
        bail!("exec: a terminal with --detach needs --console-socket");
    }
    // A foreground terminal without a socket: the pty master comes to us.
    let proxy = if terminal && opts.console_socket.is_none() {
        Some(UnixStream::pair().context("socketpair for the terminal")?)
    } else {
        None
    };
    let console_socket = opts
        .console_socket
        .or(proxy.as_ref().map(|(_, theirs)| theirs.as_raw_fd()));
    let signals = if opts.detach {
        None
    } else {
        Some(block_signals())
    };
    // A rootless container may have no cgroup (cgroup_path empty): the process stays in rt's.
    let cgroup = if container.state.cgroup_path.as_os_str().is_empty() {
        None
    } else {
        Some(container.require_cgroup()?)
    };
    // The container's seccomp profile applies to every process in it.
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::seccomp::compile_for(s, Some(&process)))
        .transpose()
        .with_context(|| config.display().to_string())?;
    let agent = match (
        &seccomp,
        spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
    ) {
        (Some(p), Some(s)) if p.notifies() => s
            .listener_path()
            .as_deref()
            .map(crate::init::seccomp_agent::connect)
            .transpose()?
            .map(|fd| (fd, s.listener_metadata().clone())),
        _ => None,
    };
    let child = spawn(&ExecConfig {
        init_pid: container.state.pid,
        process: &process,
        preserve_fds: opts.preserve_fds,
        console_socket,
        cgroup: cgroup.as_ref(),
        seccomp: seccomp.as_ref(),
        spec: &spec,
        apparmor: crate::init::lsm::apparmor_enabled(),
        seccomp_agent: agent.as_ref().map(|(fd, _)| fd.as_raw_fd()),
    })?;
    let agent_state = match &agent {
        Some((_, metadata)) => {
            let state = container.oci_state(Status::Running);
            crate::init::seccomp_agent::process_state(child.pid, metadata.as_deref(), &state)?
        }
        None => Vec::new(),
    };
    drop(agent);
    let started = child.go_and_wait_exec(&agent_state);
    if let Err(e) = started {
        super::kill_and_reap(child.pid);
        return Err(e);
    }
    if let Some(pid_file) = opts.pid_file {
        write_pid_file(pid_file, child.pid)?;
    }
    // Release the container's lock while the process runs.
    drop(container);
    let master = proxy
        .map(|(ours, _)| crate::console::recv_fd(ours.as_raw_fd()))
        .transpose()?;
    match (signals, master) {
        (None, _) => Ok(0),
        (Some(set), Some(master)) => Ok(wait_with_console(child.pid, &set, &master)),
        (Some(set), None) => Ok(wait_for(child.pid, &set)),
    }
}
