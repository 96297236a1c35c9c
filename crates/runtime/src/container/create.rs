//! `create`: state dir, bundle, cgroup with limits, the init forked and set up, state saved.
//! On any error everything made so far is undone: no state dir, cgroup or process is left.

use std::fs;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{bail, Context};
use cgroups::{Cgroup, Pid, Placement, Recursive, Resources};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;

use super::{placement_for, proc, Container};
use crate::bundle::Bundle;
use crate::hooks;
use crate::init::{self, CgroupSources, InitConfig};
use crate::logging;
use crate::state::{ContainerDir, State, Store};

pub struct CreateOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// A connected socket for the pty master (process.terminal); rt keeps no copy.
    pub console_socket: Option<std::os::fd::RawFd>,
    /// The cgroup driver (`--systemd-cgroup`).
    pub cgroup_driver: cgroups::Driver,
}

/// What a failed create must undo, in reverse order.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    /// The cgroup existed before this create (an empty one an engine made): it is left as
    /// it was, only our init is killed.
    cgroup_existed: bool,
    init: Option<crate::init::Init>,
    /// Without a mount namespace of its own: (rootfs, the mounts there before).
    mounts_before: Option<(std::path::PathBuf, Vec<u64>)>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(init) = self.init.take() {
            init.kill();
        }
        if let Some((rootfs, before)) = self.mounts_before.take() {
            super::unmount_new_mounts(&rootfs, &before);
        }
        if let Some(cg) = self.cgroup.take().filter(|_| !self.cgroup_existed) {
            let _ = cg.kill();
            if let Err(e) = cg.delete() {
                logging::warn(&format!("clean up cgroup {}: {e}", cg.path().display()));
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// A test hook, not an interface: `_RT_CRASH_AT=STAGE` makes `rt create` SIGKILL itself at
/// STAGE, so tests can prove that `rt delete --force` cleans up after a create killed at any
/// point. Stages, in order: `dir` (state directory made), `cgroup` (cgroup made, nothing
/// forked), `child` (the init is setting itself up), `state` (the init is ready, state.json
/// not written yet). Read once per create; unset costs nothing more.
pub const CRASH_AT_ENV: &str = "_RT_CRASH_AT";

fn crash_point(crash_at: &Option<std::ffi::OsString>, stage: &str) {
    if crash_at.as_deref().is_some_and(|s| s == stage) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Creates the container; returns it with its directory still locked and its init
/// blocked on the exec fifo.
pub fn create(store: &Store, opts: &CreateOptions) -> anyhow::Result<Container> {
    let crash_at = std::env::var_os(CRASH_AT_ENV);
    let dir = store.create(opts.id)?;
    crash_point(&crash_at, "dir");
    let mut undo = Undo {
        dir: Some(dir),
        cgroup: None,
        cgroup_existed: false,
        init: None,
        mounts_before: None,
    };
    let mut bundle = Bundle::load(opts.bundle)?;
    let listen_fds = socket_activation_fds();
    if listen_fds > 0 {
        pass_listen_fds(&mut bundle.spec, listen_fds);
    }
    let bundle = bundle;
    let spec = &bundle.spec;
    let linux = spec.linux().as_ref();
    super::rootless::check(&bundle)?;
    // Compiled here (only when set) so `rt create` reports profile errors itself.
    let seccomp = linux
        .and_then(|l| l.seccomp().as_ref())
        .map(|s| crate::seccomp::compile_for(s, spec.process().as_ref()))
        .transpose()
        .with_context(|| {
            let config = bundle.dir.join(crate::bundle::CONFIG_FILE);
            config.display().to_string()
        })?;
    if let Some(p) = &seccomp {
        logging::debug(&format!(
            "seccomp: BPF filters of {:?} instructions",
            p.sizes()
        ));
    }

    let mut resources = linux
        .and_then(|l| l.resources().as_ref())
        .map(Resources::from)
        .unwrap_or_default();
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    super::device_rules::add_default_rules(&mut resources.devices, devices);
    let placement = placement_for(spec, opts.id, opts.cgroup_driver)?;
    undo.cgroup_existed = check_cgroup_free(&placement)?;
    // Recorded before the cgroup exists, so a create killed at any point leaves
    // `rt delete --force` a way to it.
    let dir = undo.dir.as_ref().context("state directory")?;
    dir.save_cgroup_marker(&placement)?;
    // Rootless: None when the user cannot have a cgroup (see container/rootless.rs).
    let cgroup = super::rootless::new_cgroup(&placement, opts.id, &mut resources)?;
    if let Some(cgroup) = &cgroup {
        logging::debug(&format!("cgroup {} created", cgroup.path().display()));
    }
    let cgroups_sources = CgroupSources {
        private_ns: bundle.has_namespace(LinuxNamespaceType::Cgroup),
        dirs: super::rootless::cgroup_dirs(cgroup.as_ref()),
    };
    undo.cgroup = cgroup;
    let cgroup = undo.cgroup.as_ref();
    crash_point(&crash_at, "cgroup");

    let dir = undo.dir.as_ref().context("state directory")?;
    // The container's config as created: `rt exec` takes its process, seccomp profile and
    // labels from this copy, never from a config.json edited since.
    dir.save_config(&bundle.raw)?;
    let fifo = make_exec_fifo(dir)?;

    // A thread moving itself into a v1 cgroup is much faster than rt moving it (see
    // Cgroup::add_self); only in a user namespace must rt do it.
    let in_userns = bundle.has_namespace(LinuxNamespaceType::User);
    let agent = match (&seccomp, linux.and_then(|l| l.seccomp().as_ref())) {
        (Some(p), Some(s)) if p.notifies() => s
            .listener_path()
            .as_deref()
            .map(crate::init::seccomp_agent::connect)
            .transpose()?,
        _ => None,
    };
    let cfg = InitConfig {
        id: opts.id,
        spec,
        rootfs: &bundle.rootfs,
        fifo: fifo.as_raw_fd(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        // Socket-activation fds first (3..), then the --preserve-fds ones, as runc.
        preserve_fds: listen_fds + opts.preserve_fds,
        cgroups: cgroups_sources,
        console_socket: opts.console_socket,
        bundle: &bundle.dir,
        seccomp: seccomp.as_ref(),
        cgroup,
        self_attach: !in_userns,
        apparmor: crate::init::lsm::apparmor_enabled(),
        seccomp_agent: agent.as_ref().map(|a| a.as_raw_fd()),
        runtime_hooks: [hooks::Kind::Prestart, hooks::Kind::CreateRuntime]
            .iter()
            .any(|k| !hooks::of_kind(spec.hooks().as_ref(), *k).is_empty()),
    };
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && opts.console_socket.is_none() {
        anyhow::bail!("process.terminal is set: --console-socket is needed to receive the pty");
    }
    if !terminal && opts.console_socket.is_some() {
        anyhow::bail!("--console-socket given but process.terminal is not set");
    }
    let config_path = || {
        bundle
            .dir
            .join(crate::bundle::CONFIG_FILE)
            .display()
            .to_string()
    };
    if !bundle.has_namespace(LinuxNamespaceType::Mount) {
        undo.mounts_before = Some((bundle.rootfs.clone(), super::mounts_under(&bundle.rootfs)));
    }
    let child = undo
        .init
        .insert(init::spawn(&cfg).with_context(config_path)?);
    give_exec_fifo(dir, spec, child.pid).with_context(config_path)?;
    if let Some(cgroup) = cgroup {
        if !child.placed {
            cgroup
                .add(Pid(child.pid))
                .with_context(|| format!("place the init (pid {}) in its cgroup", child.pid))?;
        }
        // The init is in: a driver that needs a process (systemd's scope) starts now.
        cgroup
            .started(Pid(child.pid))
            .with_context(|| format!("cgroup {}", cgroup.path().display()))?;
    }
    // The state hooks get, as the seccomp agent does.
    let creating = hooks::HookState::of(spec, opts.id, "creating", child.pid, &bundle.dir);
    let agent_state = match &agent {
        Some(_) => {
            let metadata = linux
                .and_then(|l| l.seccomp().as_ref())
                .and_then(|s| s.listener_metadata().as_deref());
            Some(crate::init::seccomp_agent::process_state(
                child.pid, metadata, &creating,
            )?)
        }
        None => None,
    };
    let idmapped = spec
        .mounts()
        .iter()
        .flatten()
        .any(crate::init::idmap::is_idmapped);
    if agent_state.is_some() || idmapped {
        child.go_with(spec, &bundle.dir, agent_state)?;
    } else {
        child.go()?;
    }
    drop(agent);
    crash_point(&crash_at, "child");
    // The init's errors are about the spec: name its file, as the load errors do.
    child
        .wait_ready_with_hooks(|| {
            // Runtime namespace, after the init's mounts, before its pivot_root (as runc).
            let state = &creating;
            let h = spec.hooks().as_ref();
            hooks::run(h, hooks::Kind::Prestart, state, Some(&bundle.dir))?;
            hooks::run(h, hooks::Kind::CreateRuntime, state, Some(&bundle.dir))
        })
        .with_context(config_path)?;
    logging::debug(&format!("init {} ready", child.pid));
    crash_point(&crash_at, "state");

    let pid_start = proc::start_time(child.pid)
        .with_context(|| format!("container init {} vanished", child.pid))?;
    let state = State {
        id: opts.id.to_string(),
        pid: child.pid,
        pid_start,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::time::now_rfc3339(),
        annotations: spec
            .annotations()
            .as_ref()
            .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        owner: String::new(),
        placement,
        shared_pid_ns: !crate::bundle::new_namespace(&bundle.spec, LinuxNamespaceType::Pid),
        mounts_before: undo
            .mounts_before
            .as_ref()
            .map(|(_, before)| before.clone()),
        hooks: hooks::later(spec.hooks().as_ref()),
    };
    if let Some(pid_file) = opts.pid_file {
        write_pid_file(pid_file, child.pid)?;
    }
    dir.save(&state)?;

    // Success: keep everything.
    if let Some(mut init) = undo.init.take() {
        init.release();
    }
    undo.mounts_before = None;
    undo.cgroup = None;
    let dir = undo.dir.take().context("state directory")?;
    Ok(Container { dir, state })
}

/// Writes the pid atomically, as runc (engines poll this file): a new temp file with a
/// random name in the same directory, created exclusively and without following a symlink
/// (a name planted there is never written through), then renamed over the target.
pub fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let what = || format!("--pid-file {}", path.display());
    let name = path.file_name().with_context(what)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{:016x}.tmp",
        name.to_string_lossy(),
        crate::state::random_u64()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o644)
        .open(&tmp)
        .with_context(what)?;
    let written = f
        .write_all(pid.to_string().as_bytes())
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written.with_context(what)
}

/// A cgroupfs cgroup that already holds processes (another container's) is refused: a
/// failed create would kill them, and a container would share them (a hierarchy's root
/// is refused by [`Placement::resolve`]). Returns whether the cgroup exists already (an
/// empty one an engine made is used, and left as it was on failure). A systemd scope is
/// new by construction.
fn check_cgroup_free(placement: &Placement) -> anyhow::Result<bool> {
    let Placement::Cgroupfs(path) = placement else {
        return Ok(false);
    };
    let existing = match Cgroup::load(path.clone()) {
        Ok(cg) => cg,
        Err(e) if e.is_not_found() => return Ok(false),
        Err(e) => return Err(e).context("linux.cgroupsPath"),
    };
    let procs = existing
        .processes(Recursive::Yes)
        .with_context(|| format!("list the processes of cgroup {}", existing.path().display()))?;
    if !procs.is_empty() {
        let pids: Vec<String> = procs.iter().take(5).map(|p| p.to_string()).collect();
        bail!(
            "linux.cgroupsPath: cgroup {} already holds processes ({}): another \
             container's cgroup cannot be reused",
            existing.path().display(),
            pids.join(" ")
        );
    }
    Ok(true)
}

/// The exec fifo, mode 0600 (owned by the container process's user once the init exists:
/// see [`give_exec_fifo`]), as an O_PATH fd the init reopens.
fn make_exec_fifo(dir: &ContainerDir) -> anyhow::Result<OwnedFd> {
    let fifo = dir.fifo_path();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600))
        .with_context(|| format!("mkfifo {}", fifo.display()))?;
    let fd = fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(&fifo)
        .with_context(|| format!("open {}", fifo.display()))?;
    Ok(fd.into())
}

/// Gives the exec fifo to the container process's user as the host sees it (its ids
/// mapped through the init's user namespace, new or joined), so that the init can open it
/// once it runs as that user, and nobody else can.
fn give_exec_fifo(
    dir: &ContainerDir,
    spec: &oci_spec::runtime::Spec,
    init: i32,
) -> anyhow::Result<()> {
    let fifo = dir.fifo_path();
    let (uid, gid) = super::host_ids_of_process_user(spec, init)?;
    if (uid, gid)
        == (
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
        )
    {
        return Ok(());
    }
    if let Err(e) = nix::unistd::chown(
        &fifo,
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    ) {
        if !super::rootless() {
            return Err(e).with_context(|| format!("chown {}", fifo.display()));
        }
        // Rootless, mapped to a subordinate id: the state root is private to the user
        // (0700), so others still cannot reach the fifo.
        fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
            .with_context(|| format!("chmod {}", fifo.display()))?;
    }
    Ok(())
}

/// How many fds systemd socket activation handed to rt: `LISTEN_FDS` when `LISTEN_PID` is
/// rt's pid (sd_listen_fds' rule), else 0.
pub fn socket_activation_fds() -> u32 {
    let pid_matches = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        .is_some_and(|p| p == std::process::id());
    if !pid_matches {
        return 0;
    }
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// As runc: the container's process gets the activation fds (3..3+n) with LISTEN_FDS=n and
/// LISTEN_PID=1 (it is pid 1 of its pid namespace, or at least the one meant).
fn pass_listen_fds(spec: &mut oci_spec::runtime::Spec, n: u32) {
    if let Some(process) = spec.process_mut() {
        let mut env = process.env().clone().unwrap_or_default();
        env.retain(|kv| !kv.starts_with("LISTEN_FDS=") && !kv.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={n}"));
        env.push("LISTEN_PID=1".to_string());
        process.set_env(Some(env));
    }
}
