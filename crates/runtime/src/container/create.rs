//! `create`: state dir, bundle, cgroup with limits, the init forked and set up, state saved.
//! On any error everything made so far is undone: no state dir, cgroup or process is left.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use cgroups::{Cgroup, Pid, Resources};
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;

use super::{cgroup_path_for, proc, Container};
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
}

/// What a failed create must undo, in reverse order.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    pid: Option<i32>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
        }
        if let Some(cg) = self.cgroup.take() {
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
        // SAFETY: raise(3) on ourselves.
        unsafe { libc::raise(libc::SIGKILL) };
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
        pid: None,
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
        .map(crate::seccomp::compile)
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
    let cgroups_path = linux.and_then(|l| l.cgroups_path().as_deref());
    let cg_path = cgroup_path_for(cgroups_path, opts.id)?;
    // Recorded before the cgroup exists (when its path is known without making it), so a
    // create killed at any point leaves `rt delete --force` a way to it.
    let dir = undo.dir.as_ref().context("state directory")?;
    let marker = match cgroups_path {
        Some(p) if p.is_absolute() => Some(p.to_path_buf()),
        None => Some(Path::new("/rt").join(opts.id)),
        Some(p) if p.as_os_str().is_empty() => Some(Path::new("/rt").join(opts.id)),
        Some(_) => None,
    };
    if let Some(marker) = &marker {
        dir.save_cgroup_marker(marker)?;
    }
    // Rootless: None when the user cannot have a cgroup (see container/rootless.rs).
    let cgroup = if super::systemd_cgroup::enabled() {
        Some(super::systemd_cgroup::new_cgroup(
            cgroups_path,
            opts.id,
            &resources,
        )?)
    } else {
        super::rootless::new_cgroup(cg_path, cgroups_path, opts.id, &mut resources)?
    };
    if let Some(cgroup) = &cgroup {
        if marker.as_deref() != Some(cgroup.path()) {
            dir.save_cgroup_marker(cgroup.path())?;
        }
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
    let fifo = dir.fifo_path();
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o622))
        .with_context(|| format!("mkfifo {}", fifo.display()))?;
    // Not subject to the umask: a container init mapped to another uid must open it.
    fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622))
        .with_context(|| format!("chmod {}", fifo.display()))?;

    // A thread moving itself into a v1 cgroup is much faster than rt moving it (see
    // Cgroup::add_self); only in a user namespace must rt do it.
    let in_userns = crate::bundle::new_namespace(spec, LinuxNamespaceType::User);
    let cfg = InitConfig {
        id: opts.id,
        spec,
        rootfs: &bundle.rootfs,
        fifo: &fifo,
        lock_fd: dir.lock_fd(),
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        // Socket-activation fds first (3..), then the --preserve-fds ones, as runc.
        preserve_fds: listen_fds + opts.preserve_fds,
        cgroups: cgroups_sources,
        console_socket: opts.console_socket,
        bundle: &bundle.dir,
        seccomp: seccomp.as_ref(),
        self_attach: cgroup.filter(|_| !in_userns),
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
    let child = init::spawn(&cfg).with_context(config_path)?;
    undo.pid = Some(child.pid);
    if let Some(cgroup) = cgroup {
        // The systemd driver's scope unit starts with the init in it (no-op otherwise).
        cgroup
            .start_unit(Pid(child.pid))
            .context("start the container's systemd scope")?;
    }
    if let (true, Some(cgroup)) = (in_userns, cgroup) {
        cgroup
            .add(Pid(child.pid))
            .with_context(|| format!("place the init (pid {}) in its cgroup", child.pid))?;
    }
    child.go()?;
    crash_point(&crash_at, "child");
    // The init's errors are about the spec: name its file, as the load errors do.
    child
        .wait_ready_with_hooks(|| {
            // Runtime namespace, after the init's mounts, before its pivot_root (as runc).
            let state = hooks::HookState {
                oci_version: super::OCI_VERSION,
                id: opts.id,
                status: "creating",
                pid: child.pid,
                bundle: &bundle.dir,
                annotations: spec
                    .annotations()
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect(),
            };
            let h = spec.hooks().as_ref();
            hooks::run(h, hooks::Kind::Prestart, &state, Some(&bundle.dir))?;
            hooks::run(h, hooks::Kind::CreateRuntime, &state, Some(&bundle.dir))
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
        cgroup_path: cgroup.map(|c| c.path().to_path_buf()).unwrap_or_default(),
        shared_pid_ns: !bundle
            .namespaces()
            .iter()
            .any(|ns| ns.typ() == LinuxNamespaceType::Pid && ns.path().is_none()),
        hooks: hooks::later(spec.hooks().as_ref()),
    };
    if let Some(pid_file) = opts.pid_file {
        write_pid_file(pid_file, child.pid)?;
    }
    dir.save(&state)?;

    // Success: keep everything.
    undo.pid = None;
    undo.cgroup = None;
    let dir = undo.dir.take().context("state directory")?;
    Ok(Container { dir, state })
}

/// Writes the pid atomically (temp file + rename), as runc: engines poll this file.
pub fn write_pid_file(path: &Path, pid: i32) -> anyhow::Result<()> {
    let what = || format!("--pid-file {}", path.display());
    let name = path.file_name().with_context(what)?;
    let tmp = path.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
    let mut f = fs::File::create(&tmp).with_context(what)?;
    f.write_all(pid.to_string().as_bytes()).with_context(what)?;
    fs::rename(&tmp, path).with_context(what)
}

/// How many fds systemd socket activation handed to rt: `LISTEN_FDS` when `LISTEN_PID` is
/// rt's pid (sd_listen_fds' rule), else 0.
fn socket_activation_fds() -> u32 {
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
