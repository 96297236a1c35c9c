//! What runs in the container's init process, from the fork to the exec.
//!
//! `spawn` clones the init with its new namespaces in one step (no threads; rt itself runs
//! from a sealed copy of its binary, see sealed.rs). The child closes what it inherited,
//! waits for the parent's go (it is then in its cgroup and its maps are written), joins
//! the namespaces given by path, sets up the rootfs, and takes every process attribute that
//! can fail — user and groups, capability sets, rlimits, LSM label, close-on-exec of every
//! fd — before it reports `ready`: a failure there fails `rt create` with its message.
//! Then it blocks opening the exec fifo for writing until `rt start` opens it for reading;
//! after that only what the runtime spec puts there remains (startContainer hooks, the
//! seccomp filter, the final capability drop, execve), and their failure is written to the
//! fifo, which `rt start` reads (end-of-file: the exec happened).

pub mod caps;
pub mod cgroupfs;
pub mod child;
mod devices;
pub mod exec;
pub mod fds;
pub mod lsm;
pub mod mount_api;
pub mod mount_options;
mod mounts;
pub mod path;
mod process;
pub mod procfs;
mod rootfs;
pub mod sync;
mod tmpfs;

use std::convert::Infallible;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use self::caps::CapSets;
pub use self::cgroupfs::CgroupSources;
use self::sync::{ChildReport, SyncSocket};
use crate::bundle::new_namespace;

/// What the child needs; it lives in the parent's memory, which the child gets a copy of.
pub struct InitConfig<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    /// An O_PATH fd of the exec fifo, reopened for writing once the init is ready.
    pub fifo: RawFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub cgroups: CgroupSources,
    /// A connected socket to send the pty master to, when `process.terminal` is set.
    pub console_socket: Option<RawFd>,
    /// The bundle directory (in the state hooks get; base of relative bind sources).
    pub bundle: &'a Path,
    /// The compiled `linux.seccomp`, loaded last before exec.
    pub seccomp: Option<&'a crate::seccomp::Program>,
    /// Whether the parent runs prestart/createRuntime hooks: the init then stops after its
    /// mounts and waits for them.
    pub runtime_hooks: bool,
    /// The init moves itself into this cgroup first thing (None: the parent placed it,
    /// as it must for a user namespace, whose root cannot write the host's cgroupfs).
    pub self_attach: Option<&'a cgroups::Cgroup>,
    /// Whether the host enforces AppArmor, judged by `rt create` from the host's /sys
    /// (the container's fresh /sys after pivot_root would not tell).
    pub apparmor: bool,
}

/// The parent's handle on a spawned init.
pub struct Init {
    pub pid: i32,
    sock: SyncSocket,
}

impl Init {
    /// Tells the child it is in its cgroup and may go on.
    pub fn go(&self) -> anyhow::Result<()> {
        self.sock.send_go().context("signal the container init")
    }

    /// Waits until the child is set up and blocked on the exec fifo, or failed; `hooks`
    /// runs when the child has its mounts and waits before pivot_root (only when
    /// `InitConfig::runtime_hooks`). A hook error is returned as is.
    pub fn wait_ready_with_hooks(
        &self,
        mut hooks: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        loop {
            let report = self
                .sock
                .wait_report_or_hooks()
                .context("wait for the container init")?;
            return match report {
                None => {
                    hooks()?;
                    self.go()?;
                    continue;
                }
                Some(ChildReport::Ready) => Ok(()),
                Some(ChildReport::Failed(msg)) => Err(anyhow!(msg)),
                Some(ChildReport::Gone) => bail!("container init exited during set-up"),
            };
        }
    }
}

fn ns_flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// Namespaces the init joins by path, opened in the parent so errors name the path.
struct JoinedNamespace {
    typ: LinuxNamespaceType,
    fd: OwnedFd,
}

/// Forks the container's init. The returned init waits for `go`.
pub fn spawn(cfg: &InitConfig) -> anyhow::Result<Init> {
    let namespaces = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[]);
    let mut clone_flags = CloneFlags::empty();
    let mut joined = Vec::new();
    for (i, ns) in namespaces.iter().enumerate() {
        match ns.path() {
            None => clone_flags |= ns_flag(ns.typ()),
            Some(path) => {
                let file = File::options()
                    .read(true)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(path)
                    .with_context(|| format!("linux.namespaces[{i}].path {}", path.display()))?;
                joined.push(JoinedNamespace {
                    typ: ns.typ(),
                    fd: file.into(),
                });
            }
        }
    }
    // The init joins its cgroup namespace only once it is in its cgroup (after `go`).
    let new_cgroup_ns = clone_flags.contains(CloneFlags::CLONE_NEWCGROUP);
    clone_flags.remove(CloneFlags::CLONE_NEWCGROUP);
    // A pid namespace joined by path applies to our children: join it here, before the fork.
    for ns in joined.iter().filter(|ns| ns.typ == LinuxNamespaceType::Pid) {
        nix::sched::setns(&ns.fd, CloneFlags::CLONE_NEWPID)
            .context("linux.namespaces: join the pid namespace")?;
    }
    // The time namespace too applies to children only, and clone(2) cannot take its flag
    // (it collides with the exit-signal bits): unshare or join it here, before the fork.
    let new_time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    if clone_flags.contains(new_time) {
        clone_flags.remove(new_time);
        enter_new_time_namespace(cfg.spec)?;
    }
    for ns in joined
        .iter()
        .filter(|ns| ns.typ == LinuxNamespaceType::Time)
    {
        nix::sched::setns(&ns.fd, new_time).context("linux.namespaces: join the time namespace")?;
    }
    let (parent_sock, child_sock) = SyncSocket::pair().context("socketpair")?;
    let mut keep: Vec<RawFd> = joined.iter().map(|ns| ns.fd.as_raw_fd()).collect();
    keep.push(cfg.fifo);
    keep.extend(cfg.console_socket);
    let rootless = crate::container::rootless();

    let pid = child::clone_process(clone_flags)
        .with_context(|| format!("clone the container init ({clone_flags:?})"))?;
    if pid == 0 {
        drop(parent_sock);
        let keep = child::Keep {
            preserved: cfg.preserve_fds,
            fds: &keep,
        };
        child::run(
            "container init",
            child::MARKER_INIT,
            &child_sock,
            &keep,
            rootless,
            || setup_and_exec(cfg, &child_sock, &joined, new_cgroup_ns),
        );
    }
    drop(child_sock);
    let init = Init {
        pid,
        sock: parent_sock,
    };
    // The parent writes the child's /proc files: the child is not dumpable, and they
    // belong to root.
    let written = (|| {
        if clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
            write_id_maps(pid, cfg.spec)?;
        }
        write_oom_score_adj(pid, cfg.spec)
    })();
    if let Err(e) = written {
        crate::container::kill_and_reap(pid);
        return Err(e);
    }
    Ok(init)
}

/// `process.oomScoreAdj`, written for the child before it goes on.
fn write_oom_score_adj(pid: i32, spec: &Spec) -> anyhow::Result<()> {
    if let Some(adj) = spec.process().as_ref().and_then(|p| p.oom_score_adj()) {
        procfs::write_pid(pid, "oom_score_adj", &adj.to_string())
            .with_context(|| format!("process.oomScoreAdj {adj}"))?;
    }
    Ok(())
}

/// A new time namespace for rt's children, with the spec's clock offsets (they can only be
/// written before a process enters it).
fn enter_new_time_namespace(spec: &Spec) -> anyhow::Result<()> {
    nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
        .context("linux.namespaces: unshare the time namespace")?;
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut text = String::new();
    for (clock, offset) in offsets.into_iter().flatten() {
        let (secs, nanos) = (offset.secs().unwrap_or(0), offset.nanosecs().unwrap_or(0));
        text.push_str(&format!("{clock} {secs} {nanos}\n"));
    }
    if !text.is_empty() {
        procfs::write_self_uncached("timens_offsets", &text)
            .with_context(|| format!("linux.timeOffsets: write {text:?}"))?;
    }
    Ok(())
}

/// Writes the spec's uid and gid mappings for the init's new user namespace.
///
/// Root writes any mapping. An unprivileged user (rootless) may write only a mapping of its
/// own id (one line, size 1; for gid_map after denying setgroups, as the kernel requires);
/// anything more goes through the setuid helpers newuidmap/newgidmap (package uidmap),
/// which allow the ranges /etc/subuid and /etc/subgid give the user.
fn write_id_maps(pid: i32, spec: &Spec) -> anyhow::Result<()> {
    let linux = spec.linux().as_ref().context("linux: missing")?;
    let rootless = crate::container::rootless();
    for (file, field, maps, own_id, helper) in [
        (
            "uid_map",
            "linux.uidMappings",
            linux.uid_mappings(),
            nix::unistd::geteuid().as_raw(),
            "newuidmap",
        ),
        (
            "gid_map",
            "linux.gidMappings",
            linux.gid_mappings(),
            nix::unistd::getegid().as_raw(),
            "newgidmap",
        ),
    ] {
        let maps = maps.as_deref().unwrap_or(&[]);
        let text: String = maps
            .iter()
            .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
            .collect();
        let only_own_id = matches!(maps, [m] if m.host_id() == own_id && m.size() == 1);
        if rootless && !only_own_id {
            let args: Vec<String> = maps
                .iter()
                .flat_map(|m| [m.container_id(), m.host_id(), m.size()])
                .map(|n| n.to_string())
                .collect();
            run_id_map_helper(helper, pid, &args).with_context(|| {
                format!("{field}: {text:?} is more than the caller's own id {own_id}")
            })?;
            continue;
        }
        if rootless && file == "gid_map" {
            procfs::write_pid(pid, "setgroups", "deny")
                .with_context(|| format!("{field}: write \"deny\" to /proc/{pid}/setgroups"))?;
        }
        procfs::write_pid(pid, file, &text)
            .with_context(|| format!("{field}: write /proc/{pid}/{file} {text:?}"))?;
    }
    Ok(())
}

/// Runs newuidmap/newgidmap PID ID HOSTID SIZE...; its own message says what was refused.
fn run_id_map_helper(helper: &str, pid: i32, args: &[String]) -> anyhow::Result<()> {
    let out = std::process::Command::new(helper)
        .arg(pid.to_string())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            anyhow!(
                "run {helper}: {e} (install the uidmap package and give the user ranges \
                 in /etc/subuid and /etc/subgid)"
            )
        })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr);
        let msg = msg.trim().lines().collect::<Vec<_>>().join("; ");
        bail!(
            "{helper} {pid} {} failed ({}): {msg} (is the range in /etc/sub{}id for this user?)",
            args.join(" "),
            out.status,
            if helper == "newuidmap" { "u" } else { "g" }
        );
    }
    Ok(())
}

/// A test hook, not an interface (see container::create::CRASH_AT_ENV): the stage
/// `init-panic` makes the init panic during its set-up, to prove a panic reaches
/// `rt create` as a message in every build.
fn crash_test_hook() {
    if std::env::var_os(crate::container::CRASH_AT_ENV).is_some_and(|s| s == "init-panic") {
        panic!(
            "crash test hook {}=init-panic",
            crate::container::CRASH_AT_ENV
        );
    }
}

fn setup_and_exec(
    cfg: &InitConfig,
    sock: &SyncSocket,
    joined: &[JoinedNamespace],
    new_cgroup_ns: bool,
) -> anyhow::Result<Infallible> {
    let spec = cfg.spec;
    // Made now, while the init may still make mounts: reused after it drops its privileges.
    procfs::prepare()?;
    if let Some(cgroup) = cfg.self_attach {
        cgroup
            .add_self()
            .with_context(|| format!("place the init in its cgroup {}", cgroup.path().display()))?;
    }
    let process = spec.process().as_ref().context("process: missing")?;
    if new_namespace(spec, LinuxNamespaceType::User) {
        // The maps are written: become the namespace's root (uid/gid 0 must be mapped).
        let root_gid = nix::unistd::Gid::from_raw(0);
        let root_uid = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .context("linux.gidMappings: container gid 0 must be mapped")?;
        nix::unistd::setresuid(root_uid, root_uid, root_uid)
            .context("linux.uidMappings: container uid 0 must be mapped")?;
        // A change of credentials clears the parent death signal and may reset dumpable.
        child::set_parent_death_signal(libc::SIGKILL);
        fds::set_dumpable(false);
    }
    // Join namespaces given by path; the mount namespace last.
    let mut order: Vec<&JoinedNamespace> = joined
        .iter()
        .filter(|ns| ns.typ != LinuxNamespaceType::Pid)
        .collect();
    order.sort_by_key(|ns| ns.typ == LinuxNamespaceType::Mount);
    for ns in order {
        nix::sched::setns(&ns.fd, ns_flag(ns.typ))
            .with_context(|| format!("linux.namespaces: join the {} namespace", ns.typ))?;
    }
    if new_cgroup_ns {
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP).context("unshare the cgroup namespace")?;
    }
    nix::unistd::setsid().context("setsid")?;

    let new_ns = |t: LinuxNamespaceType| new_namespace(spec, t);
    if new_ns(LinuxNamespaceType::Uts) {
        if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(hostname).with_context(|| format!("hostname {hostname:?}"))?;
        }
        if let Some(domain) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
            // SAFETY: the buffer is valid for its length.
            if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } != 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("domainname {domain:?}"));
            }
        }
    }

    let caps = CapSets::from_spec(process.capabilities().as_ref())?;
    crash_test_hook();
    if new_ns(LinuxNamespaceType::Mount) {
        let ctx = mounts::MountContext {
            rootfs: cfg.rootfs,
            cgroups: &cfg.cgroups,
            bundle: cfg.bundle,
        };
        let root = rootfs::prepare(spec, cfg.rootfs, &ctx)?;
        // process.cwd is made when missing (as runc), inside the rootfs.
        mounts::mkdir_all(&root, cfg.rootfs, process.cwd())
            .with_context(|| format!("process.cwd {}", process.cwd().display()))?;
        if cfg.runtime_hooks && !sock.request_hooks().context("wait for the runtime hooks")? {
            // rt create failed (a hook did) and is killing us.
            // SAFETY: terminate without running the parent's destructors.
            unsafe { libc::_exit(1) };
        }
        crate::hooks::run(
            spec.hooks().as_ref(),
            crate::hooks::Kind::CreateContainer,
            &hook_state(cfg, "creating"),
            None,
        )?;
        rootfs::enter(&root, cfg.rootfs, cfg.no_pivot)?;
        drop(root);
        rootfs::finish(spec)?;
    }
    if process.terminal() == Some(true) {
        let socket = cfg
            .console_socket
            .context("process.terminal: a terminal needs a console socket")?;
        setup_terminal(process, socket)?;
    }
    process::set_rlimits(process)?;
    if !cfg.no_new_keyring {
        process::join_session_keyring()?;
    }
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    let program = args.first().context("process.args: empty")?;
    let exe = process::find_executable(program, env)?;
    process::enter_cwd(process.cwd())?;
    let no_new_privs = process.no_new_privileges() == Some(true);
    let staged = finish_process(
        spec,
        process,
        &caps,
        cfg.apparmor,
        no_new_privs,
        cfg.seccomp.is_some(),
    )?;
    fds::set_cloexec_range(cfg.preserve_fds)?;

    // From here the init outlives `rt create`.
    child::set_parent_death_signal(0);
    sock.send_ready().context("report ready")?;
    let fifo = wait_for_start(cfg.fifo, cfg.id)?;
    // `rt start` reads the fifo to its end: an `E` message if something below fails, else
    // end-of-file when execve closes it (close-on-exec). Kept open until then, errors too.
    child::report_to(std::os::fd::IntoRawFd::into_raw_fd(fifo));
    // Without an env of its own, a startContainer hook gets the process's (as runc).
    crate::hooks::run_with_default_env(
        spec.hooks().as_ref(),
        crate::hooks::Kind::StartContainer,
        &hook_state(cfg, "created"),
        None,
        Some(env),
    )?;
    if let Some(filter) = cfg.seccomp {
        filter.install()?;
    }
    staged.finish()?;
    Err(process::exec(&exe, args, env))
}

/// The process attributes that come last before the exec and can fail: bounding set,
/// personality, LSM label, no_new_privs, user and groups, capability sets. Returns what
/// must still be dropped after the seccomp filter is in (see caps::Staged).
pub(crate) fn finish_process(
    spec: &Spec,
    process: &oci_spec::runtime::Process,
    caps: &CapSets,
    apparmor: bool,
    no_new_privs: bool,
    seccomp: bool,
) -> anyhow::Result<caps::Staged> {
    caps.apply_bounding()?;
    if let Some(personality) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::set_personality(personality)?;
    }
    lsm::apply_on_exec(process, apparmor)?;
    if no_new_privs {
        process::set_no_new_privs()?;
    }
    process::switch_user(process)?;
    fds::set_dumpable(false);
    // Without no_new_privs, loading the seccomp filter needs CAP_SYS_ADMIN: keep it until
    // the filter is in (as runc, which loads it before dropping capabilities).
    caps.apply_staged(seccomp && !no_new_privs)
}

/// The state createContainer/startContainer hooks get (pid as seen in the container).
fn hook_state<'a>(cfg: &'a InitConfig, status: &'a str) -> crate::hooks::HookState<'a> {
    crate::hooks::HookState {
        oci_version: crate::container::OCI_VERSION,
        id: cfg.id,
        status,
        pid: std::process::id() as i32,
        bundle: cfg.bundle,
        annotations: cfg
            .spec
            .annotations()
            .iter()
            .flatten()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    }
}

/// Opens a pty in the container, sends its master over `socket` and makes the slave the
/// process's controlling terminal and stdio.
pub(crate) fn setup_terminal(
    process: &oci_spec::runtime::Process,
    socket: RawFd,
) -> anyhow::Result<()> {
    let (master, name) = crate::console::open_pty()?;
    if let Some(size) = process.console_size() {
        crate::console::set_size(
            master.as_raw_fd(),
            size.height() as u16,
            size.width() as u16,
        )?;
    }
    let slave = crate::console::open_peer(master.as_fd())?;
    crate::console::send_fd(socket, &name, master.as_raw_fd())?;
    drop(master);
    // SAFETY: our copy of the console socket is not needed any more.
    unsafe { libc::close(socket) };
    let user = process.user();
    crate::console::attach_slave(slave, &name, user.uid(), user.gid())
}

/// Blocks until `rt start` opens the fifo for reading; returns its write end (reopened
/// from the O_PATH fd through the procfs handle, whatever the container's /proc is).
fn wait_for_start(fifo: RawFd, id: &str) -> anyhow::Result<File> {
    let file = procfs::reopen_fd(fifo, pathrs::flags::OpenFlags::O_WRONLY)
        .with_context(|| format!("container {id}: open the exec fifo"))?;
    // SAFETY: the O_PATH fd is not needed any more.
    unsafe { libc::close(fifo) };
    Ok(file)
}
