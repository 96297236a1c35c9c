//! `exec`: run another process in a running container (its namespaces, cgroup, user,
//! capabilities and limits), in the foreground (its exit status is returned) or detached.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cgroups::Cgroup;
use oci_spec::runtime::{Process, Spec};

use super::wait::{block_signals, wait_for, wait_with_console};
use super::{write_pid_file, Container, Status};
use crate::init::exec_process::{spawn, ExecConfig};
use crate::state::Store;

pub struct ExecOptions<'a> {
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    /// A connected --console-socket; with a terminal and none, rt proxies its own stdio.
    pub console_socket: Option<std::os::fd::RawFd>,
    /// `--ignore-paused`: exec into a paused container (the process is frozen until resume).
    pub ignore_paused: bool,
    /// `--cgroup` arguments: sub-cgroups of the container's to run the process in.
    pub sub_cgroups: &'a [String],
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
    // runc's words (exec.go), which engines and scripts match.
    let status = container.status();
    match status {
        Status::Running | Status::Created => {}
        Status::Paused if opts.ignore_paused => {}
        Status::Paused => {
            bail!("cannot exec in a paused container (use --ignore-paused to override): {id}")
        }
        Status::Stopped => bail!("cannot exec in a stopped container {id}: container not running"),
    }
    let (config, spec) = created_spec(&container)?;
    let process = build(&spec)?;
    crate::init::lsm::check_process(&process)?;
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
    // A rootless container may have no cgroup: the process stays in rt's.
    let cgroup_files = if container.has_no_cgroup() {
        if !opts.sub_cgroups.is_empty() {
            bail!("--cgroup: container {id} has no cgroup");
        }
        Vec::new()
    } else {
        cgroup_files(&container.require_cgroup()?, opts.sub_cgroups)?
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
        cgroup_files: &cgroup_files,
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
    // In a paused container the process freezes as soon as it joins the cgroup, and waits
    // for `rt resume`, which needs the container's lock: let it go first.
    let container = if status == Status::Paused {
        drop(container);
        None
    } else {
        Some(container)
    };
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

/// The files the exec'd process writes "0" to, to move itself into the container's cgroup
/// (v1: each hierarchy's `tasks`; v2: `cgroup.procs`), or into the sub-cgroups `--cgroup`
/// names, as runc's exec.go `getSubCgroupPaths`: one PATH for every hierarchy, or
/// `CONTROLLER[,CONTROLLER]:PATH` per v1 controller. Each must exist and lie inside the
/// container's cgroup.
fn cgroup_files(cgroup: &Cgroup, args: &[String]) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = cgroup.dirs();
    let v2 = dirs.len() == 1 && dirs[0].0.is_empty();
    for arg in args {
        let (controllers, path) = match arg.split_once(':') {
            Some((c, p)) if !p.contains(':') => (Some(c), p),
            Some(_) => bail!("--cgroup {arg:?}: must be PATH or CONTROLLER[,CONTROLLER]:PATH"),
            None if args.len() == 1 => (None, arg.as_str()),
            None => bail!(
                "--cgroup {arg:?}: give CONTROLLER:PATH when --cgroup is given more than once"
            ),
        };
        let sub = sub_path(path)
            .with_context(|| format!("--cgroup {arg:?}: {path} is not a sub cgroup path"))?;
        match controllers {
            None => {
                for (_, dir) in &mut dirs {
                    *dir = dir.join(&sub);
                }
            }
            Some(_) if v2 => bail!(
                "--cgroup {arg:?}: cgroup v2 has one hierarchy: give --cgroup PATH, without a \
                 controller"
            ),
            Some(list) => {
                for controller in list.split(',') {
                    let (_, dir) = dirs
                        .iter_mut()
                        .find(|(name, _)| name.split(',').any(|n| n == controller))
                        .with_context(|| {
                            format!("--cgroup {arg:?}: unknown controller {controller:?}")
                        })?;
                    *dir = dir.join(&sub);
                }
            }
        }
    }
    let file = if v2 { "cgroup.procs" } else { "tasks" };
    let mut files = Vec::new();
    for (_, dir) in dirs {
        let f = dir.join(file);
        if !f.exists() && !args.is_empty() {
            bail!("--cgroup: no such cgroup {}", dir.display());
        }
        if !files.contains(&f) {
            files.push(f);
        }
    }
    Ok(files)
}

/// A `--cgroup` PATH made relative and normal ("/" is the container's cgroup itself);
/// None when `..` would leave the container's cgroup.
fn sub_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if !out.pop() {
                    return None;
                }
            }
            p => out.push(p),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::sub_path;
    use std::path::PathBuf;

    #[test]
    fn sub_cgroup_paths_stay_inside() {
        assert_eq!(sub_path("/"), Some(PathBuf::new()));
        assert_eq!(sub_path("a/b"), Some(PathBuf::from("a/b")));
        assert_eq!(sub_path("/a/./b/../c"), Some(PathBuf::from("a/c")));
        assert_eq!(sub_path(".."), None);
        assert_eq!(sub_path("a/../.."), None);
    }
}
