//! `restore`: a new container made from a checkpoint's images and a bundle. rt makes what
//! `rt create` would (state directory, cgroup with the bundle's limits, mountpoints) and
//! CRIU rebuilds the processes, their namespaces and mounts into it; then, as `rt run`, rt
//! returns at once (`detach`) or waits for the restored init and deletes the container.
//! On any error everything made so far is undone: no state dir, cgroup, mount or process.

use std::fs::{self, File};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use cgroups::{Cgroup, Pid, Placement, Resources};
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;

use super::checkpoint::{config_file, open_dir};
use super::{criu_spec, placement_for, proc, wait};
use crate::bundle::Bundle;
use crate::criu::rpc::{CgMode, Opts, Req, ReqType};
use crate::criu::{self, Criu};
use crate::hooks;
use crate::logging;
use crate::state::{ContainerDir, State, Store};

/// CRIU's log, in the work directory (else the image directory).
pub const RESTORE_LOG: &str = "restore.log";

/// CRIU wants the root to be a mount point whose parent is not overmounted: the rootfs is
/// bound here, in the container's state directory, while CRIU works (as runc does, but in
/// CRIU's own mount namespace: see `PrivateMounts`).
const CRIU_ROOT: &str = "criu-root";

/// The options of `rt restore` (runc's names).
pub struct RestoreOptions<'a> {
    pub criu: &'a Criu,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub image_path: &'a Path,
    pub work_path: Option<&'a Path>,
    pub pid_file: Option<&'a Path>,
    /// A connected socket for the restored terminal's new pty master.
    pub console_socket: Option<RawFd>,
    pub detach: bool,
    pub no_subreaper: bool,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub manage_cgroups_mode: Option<CgMode>,
    /// The cgroup driver (`--systemd-cgroup`).
    pub cgroup_driver: cgroups::Driver,
}

/// What a failed restore must undo, in reverse order.
struct Undo {
    dir: Option<ContainerDir>,
    cgroup: Option<Cgroup>,
    /// The mount point made for CRIU (bound in its namespace only).
    root: Option<PathBuf>,
}

impl Undo {
    fn remove_root(&mut self) {
        if let Some(root) = self.root.take() {
            let _ = fs::remove_dir(&root);
        }
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(cg) = self.cgroup.take() {
            let _ = cg.kill();
            if let Err(e) = cg.delete() {
                logging::warn(&format!("clean up cgroup {}: {e}", cg.path().display()));
            }
        }
        self.remove_root();
        if let Some(dir) = self.dir.take() {
            let _ = dir.remove();
        }
    }
}

/// rt in a mount namespace of its own (a slave of the one it came from) while it sets CRIU
/// up: the rootfs bound where CRIU wants its root, and the image and work directories CRIU
/// opens through rt's fds (/proc/RT/fd/N), then belong to the namespace CRIU runs in. So
/// CRIU can mount in its work directory (its cgroup yard), nothing of it shows on the host,
/// and all of it goes with CRIU whatever becomes of rt. rt goes back as soon as CRIU runs,
/// before any hook: hooks run in the runtime's namespace.
struct PrivateMounts {
    host: Option<File>,
    cwd: File,
}

impl PrivateMounts {
    fn enter() -> anyhow::Result<PrivateMounts> {
        let host = File::open("/proc/self/ns/mnt").context("open /proc/self/ns/mnt")?;
        let cwd = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(".")
            .context("open the current directory")?;
        nix::sched::unshare(CloneFlags::CLONE_NEWNS).context("a mount namespace for criu")?;
        let mounts = PrivateMounts {
            host: Some(host),
            cwd,
        };
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .context("make criu's mount namespace a slave")?;
        Ok(mounts)
    }

    /// Back to the original mount namespace and working directory.
    fn leave(&mut self) -> anyhow::Result<()> {
        let Some(host) = self.host.take() else {
            return Ok(());
        };
        nix::sched::setns(&host, CloneFlags::CLONE_NEWNS)
            .context("return to rt's mount namespace")?;
        nix::unistd::fchdir(self.cwd.as_raw_fd()).context("return to the current directory")
    }
}

impl Drop for PrivateMounts {
    fn drop(&mut self) {
        if let Err(e) = self.leave() {
            logging::warn(&format!("{e:#}"));
        }
    }
}

/// Restores the container; returns 0 (`detach`) or the restored container's exit status.
pub fn restore(store: &Store, opts: &RestoreOptions) -> anyhow::Result<i32> {
    let inventory = opts.image_path.join("inventory.img");
    if !inventory.is_file() {
        bail!(
            "--image-path {}: no checkpoint there ({} is missing)",
            opts.image_path.display(),
            inventory.display()
        );
    }
    if let Some(w) = opts.work_path {
        drop(open_dir(w, "--work-path")?);
    }
    let log = opts.work_path.unwrap_or(opts.image_path).join(RESTORE_LOG);

    let signals = if opts.detach {
        None
    } else {
        if !opts.no_subreaper {
            nix::sys::prctl::set_child_subreaper(true).context("become a child subreaper")?;
        }
        Some(wait::block_signals())
    };

    let mut undo = Undo {
        dir: Some(store.create(opts.id)?),
        cgroup: None,
        root: None,
    };
    let bundle = Bundle::load(opts.bundle)?;
    let spec = &bundle.spec;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal && opts.console_socket.is_none() {
        bail!("process.terminal is set: --console-socket is needed to receive the pty");
    }
    if !terminal && opts.console_socket.is_some() {
        bail!("--console-socket given but process.terminal is not set");
    }
    let dir = undo.dir.as_ref().context("state directory")?;
    let placement = placement_for(spec, opts.id, opts.cgroup_driver)?;
    let cgroup = new_cgroup(&bundle, &placement, opts.id, dir)?;
    let cgroup = &*undo.cgroup.insert(cgroup);
    criu_spec::make_mountpoints(&bundle)?;

    // Opened here, in rt's mount namespace: CRIU hands them to the restored process.
    let namespaces = criu_spec::restore_namespaces(&bundle)?;
    let stdio = criu_spec::inherited_stdio(opts.image_path)?;
    let mut mounts = PrivateMounts::enter()?;
    let images = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(opts.image_path)
        .with_context(|| format!("--image-path {}", opts.image_path.display()))?;
    let work = opts
        .work_path
        .map(|w| open_dir(w, "--work-path"))
        .transpose()?;
    let root = dir.path().join(CRIU_ROOT);
    fs::create_dir(&root).with_context(|| format!("mkdir {}", root.display()))?;
    undo.root = Some(root.clone());
    mount(
        Some(&bundle.rootfs),
        &root,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .with_context(|| format!("root.path: bind {} for criu", bundle.rootfs.display()))?;

    let annotations = spec.annotations().clone().unwrap_or_default();
    let mut o = Opts {
        images_dir_fd: images.as_raw_fd(),
        work_dir_fd: work.as_ref().map(|w| w.as_raw_fd()),
        log_level: Some(4),
        log_file: Some(RESTORE_LOG.into()),
        root: Some(root.to_string_lossy().into_owned()),
        // The restored init is rt's child (not CRIU's), so rt can wait for it.
        rst_sibling: true,
        evasive_devices: true,
        manage_cgroups: true,
        manage_cgroups_mode: opts.manage_cgroups_mode,
        notify_scripts: true,
        shell_job: opts.shell_job,
        ext_unix_sk: opts.ext_unix_sk,
        tcp_established: opts.tcp_established,
        file_locks: opts.file_locks,
        orphan_pts_master: true,
        join_ns: namespaces.join.clone(),
        config_file: config_file(|k| annotations.get(k).cloned()),
        ..Opts::default()
    };
    for m in criu_spec::external_mounts(&bundle, &cgroup.dirs()) {
        o.ext_mnt
            .push((m.dest, m.source.to_string_lossy().into_owned()));
    }
    if criu_spec::masks_paths(spec) {
        o.ext_mnt.push(("/dev/null".into(), "/dev/null".into()));
    }
    o.inherit_fd = stdio.inherit.clone();
    o.inherit_fd.extend(namespaces.inherit.iter().cloned());

    let mut session = opts.criu.start_with_stdio()?;
    mounts.leave()?;
    // CRIU works in the container's cgroup (with its limits, as runc has it), and puts the
    // restored tasks there: the images' cgroup root becomes this one.
    let criu_pid = Pid(session.pid());
    cgroup
        .add(criu_pid)
        .with_context(|| format!("place criu in cgroup {}", cgroup.path().display()))?;
    // A driver that needs a process (systemd's scope) starts now.
    cgroup
        .started(criu_pid)
        .with_context(|| format!("cgroup {}", cgroup.path().display()))?;
    o.cg_root = vec![(None, cgroup.path().to_string_lossy().into_owned())];

    let mut notified_pid = None;
    let result = session.call(&Req::new(ReqType::Restore, Some(o)), |n, fd| {
        match n.script.as_str() {
            // The namespaces exist, nothing runs yet: the runtime-namespace hooks (as runc).
            "setup-namespaces" => {
                let pid = n.pid.unwrap_or(0);
                let state = hooks::HookState::of(spec, opts.id, "creating", pid, &bundle.dir);
                let h = spec.hooks().as_ref();
                hooks::run(h, hooks::Kind::Prestart, &state, Some(&bundle.dir))?;
                hooks::run(h, hooks::Kind::CreateRuntime, &state, Some(&bundle.dir))
            }
            "post-restore" => {
                notified_pid = n.pid;
                Ok(())
            }
            "orphan-pts-master" => {
                let master = fd.context("criu sent no pty master")?;
                let socket = opts
                    .console_socket
                    .context("a restored terminal needs --console-socket")?;
                crate::console::send_fd(socket, "orphan-pts-master", master.as_raw_fd())
            }
            _ => Ok(()),
        }
    });
    let status = session.finish();
    let resp = match result {
        Ok(resp) => resp,
        Err(e) => {
            let why = criu::log_error(&log).unwrap_or_else(|| format!("{e:#}"));
            bail!(
                "container {}: criu restore failed: {why} (log: {})",
                opts.id,
                log.display()
            );
        }
    };
    match status {
        Ok(s) if !s.success() => bail!(
            "container {}: criu restore exited with {s} (log: {})",
            opts.id,
            log.display()
        ),
        Err(e) => return Err(e).context("wait for criu"),
        _ => {}
    }
    drop(namespaces);
    drop(stdio);
    let pid = resp
        .restored_pid
        .or(notified_pid)
        .context("criu did not say which pid the restored init has")?;
    let pid_start =
        proc::start_time(pid).with_context(|| format!("restored container init {pid} vanished"))?;
    logging::debug(&format!("container {}: restored, init {pid}", opts.id));
    let state = State {
        id: opts.id.to_string(),
        pid,
        pid_start,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::time::now_rfc3339(),
        annotations: annotations.into_iter().collect(),
        owner: String::new(),
        placement,
        shared_pid_ns: !crate::bundle::new_namespace(&bundle.spec, LinuxNamespaceType::Pid),
        mounts_before: None,
        hooks: hooks::later(spec.hooks().as_ref()),
    };
    if let Some(pid_file) = opts.pid_file {
        super::write_pid_file(pid_file, pid)?;
    }
    dir.save(&state)?;
    // Only CRIU's mount namespace (gone with it) had the rootfs bound there.
    undo.remove_root();

    // Success: keep everything.
    undo.cgroup = None;
    let dir = undo.dir.take().context("state directory")?;
    let Some(signals) = signals else {
        return Ok(0);
    };
    // Release the lock so `rt state/kill/...` work while we wait.
    drop(dir);
    let code = wait::wait_for(pid, &signals);
    if code == 128 + libc::SIGKILL {
        wait::report_oom(store, opts.id);
    }
    super::delete(store, opts.id, true).context("delete the container after it exited")?;
    Ok(code)
}

/// The container's cgroup with the bundle's limits, as `rt create` makes it.
fn new_cgroup(
    bundle: &Bundle,
    placement: &Placement,
    id: &str,
    dir: &ContainerDir,
) -> anyhow::Result<Cgroup> {
    let linux = bundle.spec.linux().as_ref();
    let mut resources = linux
        .and_then(|l| l.resources().as_ref())
        .map(Resources::from)
        .unwrap_or_default();
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    super::device_rules::add_default_rules(&mut resources.devices, devices);
    dir.save_cgroup_marker(placement)?;
    let cgroup = super::rootless::new_cgroup(placement, id, &mut resources)?
        .context("a restored container needs a cgroup")?;
    logging::debug(&format!("cgroup {} created", cgroup.path().display()));
    Ok(cgroup)
}
