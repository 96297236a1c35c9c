//! What runs in the container's init process, from the fork to the exec.
//!
//! `spawn` clones the init with its new namespaces in one step (no re-exec of rt, no
//! threads). The child waits for the parent's go (it is then in its cgroup), joins the
//! namespaces given by path, sets up the rootfs and process attributes, reports `ready`
//! and blocks opening the exec fifo for writing until `rt start` opens it for reading;
//! then it changes user, drops capabilities and execs. Errors before `ready` travel back
//! over the sync socket and `rt create` prints them.

mod caps;
pub mod cgroupfs;
mod devices;
pub mod exec;
pub mod lsm;
mod mounts;
pub mod path;
mod process;
mod rootfs;
pub mod sync;
mod tmpfs;

use std::convert::Infallible;
use std::fs::{self, File};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

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
    pub fifo: &'a Path,
    /// The state lock's fd: the child closes its copy so the lock ends with `rt create`.
    pub lock_fd: RawFd,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    pub cgroups: CgroupSources,
    /// A connected socket to send the pty master to, when `process.terminal` is set.
    pub console_socket: Option<RawFd>,
    /// The bundle directory (in the state hooks get).
    pub bundle: &'a Path,
    /// The compiled `linux.seccomp`, loaded last before exec.
    pub seccomp: Option<&'a crate::seccomp::Program>,
    /// Whether the parent runs prestart/createRuntime hooks: the init then stops after its
    /// mounts and waits for them.
    pub runtime_hooks: bool,
    /// The init moves itself into this cgroup first thing (None: the parent placed it,
    /// as it must for a user namespace, whose root cannot write the host's cgroupfs).
    pub self_attach: Option<&'a cgroups::Cgroup>,
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

    let pid = clone_process(clone_flags)
        .with_context(|| format!("clone the container init ({clone_flags:?})"))?;
    if pid == 0 {
        drop(parent_sock);
        child_main(cfg, child_sock, &joined, new_cgroup_ns);
    }
    drop(child_sock);
    if clone_flags.contains(CloneFlags::CLONE_NEWUSER) {
        if let Err(e) = write_id_maps(pid, cfg.spec) {
            // SAFETY: kill and reap our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            return Err(e);
        }
    }
    Ok(Init {
        pid: pid as i32,
        sock: parent_sock,
    })
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
        fs::write("/proc/self/timens_offsets", &text)
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
            fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .with_context(|| format!("{field}: write \"deny\" to /proc/{pid}/setgroups"))?;
        }
        fs::write(format!("/proc/{pid}/{file}"), &text)
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

/// A fork-like clone(2) with `flags` (new namespaces): 0 in the child, its pid in the parent.
fn clone_process(flags: CloneFlags) -> std::io::Result<i32> {
    // SAFETY: rt is single-threaded, so the child gets a consistent copy of the process;
    // a fork-like clone (no new stack) returns twice.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags.bits() | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(pid as i32)
}

/// Signal state a child starts from: nothing blocked, SIGPIPE at its default (Rust ignores it).
fn reset_signals() {
    // SAFETY: plain libc calls on our own process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// PR_SET_PDEATHSIG (0 clears it).
fn set_parent_death_signal(sig: libc::c_int) {
    // SAFETY: prctl on our own process.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) };
}

/// The child's entry point: never returns.
fn child_main(
    cfg: &InitConfig,
    sock: SyncSocket,
    joined: &[JoinedNamespace],
    new_cgroup_ns: bool,
) -> ! {
    reset_signals();
    // Until it reports ready, a half-made init dies with `rt create` (killed, crashed): its
    // set-up must not outlive the command that would report it. A parent that died before
    // this call closed its end of the socket, so wait_go fails.
    set_parent_death_signal(libc::SIGKILL);
    // SAFETY: closing our copy of the lock fd.
    unsafe { libc::close(cfg.lock_fd) };
    if !sock.wait_go() {
        // SAFETY: terminate without running the parent's destructors.
        unsafe { libc::_exit(1) };
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        setup_and_exec(cfg, &sock, joined, new_cgroup_ns)
    }));
    let msg = match result {
        Ok(Err(e)) => format!("{e:#}"),
        Ok(Ok(never)) => match never {},
        Err(_) => "container init panicked".to_string(),
    };
    // Once `ready` was sent nobody reads the socket: then say it on stderr.
    if !sock.send_error(&msg) {
        crate::output::stderr_line(&format!("rt: container init: {msg}"));
    }
    // SAFETY: terminate without running the parent's destructors.
    unsafe { libc::_exit(127) }
}

fn setup_and_exec(
    cfg: &InitConfig,
    sock: &SyncSocket,
    joined: &[JoinedNamespace],
    new_cgroup_ns: bool,
) -> anyhow::Result<Infallible> {
    let spec = cfg.spec;
    if let Some(cgroup) = cfg.self_attach {
        cgroup
            .add_self()
            .with_context(|| format!("place the init in its cgroup {}", cgroup.path().display()))?;
    }
    let process = spec.process().as_ref().context("process: missing")?;
    // The fifo is reopened for writing through /proc/self/fd after pivot_root.
    let fifo = File::options()
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .read(true)
        .open(cfg.fifo)
        .with_context(|| format!("open {}", cfg.fifo.display()))?;

    if new_namespace(spec, LinuxNamespaceType::User) {
        // The maps are written: become the namespace's root (uid/gid 0 must be mapped).
        let root_gid = nix::unistd::Gid::from_raw(0);
        let root_uid = nix::unistd::Uid::from_raw(0);
        nix::unistd::setresgid(root_gid, root_gid, root_gid)
            .context("linux.gidMappings: container gid 0 must be mapped")?;
        nix::unistd::setresuid(root_uid, root_uid, root_uid)
            .context("linux.uidMappings: container uid 0 must be mapped")?;
        // A change of credentials clears the parent death signal.
        set_parent_death_signal(libc::SIGKILL);
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
    if new_ns(LinuxNamespaceType::Mount) {
        rootfs::prepare(spec, cfg.rootfs, &cfg.cgroups)?;
        let cwd = path::secure_join(cfg.rootfs, process.cwd())?;
        if !cwd.exists() {
            fs::create_dir_all(&cwd)
                .with_context(|| format!("process.cwd {}", process.cwd().display()))?;
        }
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
        rootfs::enter(cfg.rootfs, cfg.no_pivot)?;
        rootfs::finish(spec)?;
    }
    if process.terminal() == Some(true) {
        let socket = cfg
            .console_socket
            .context("process.terminal: a terminal needs a console socket")?;
        setup_terminal(process, socket)?;
    }
    process::set_rlimits(process)?;
    process::set_oom_score_adj(process)?;
    if !cfg.no_new_keyring {
        process::join_session_keyring()?;
    }
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    let program = args.first().context("process.args: empty")?;
    let exe = process::find_executable(program, env)?;
    nix::unistd::chdir(process.cwd())
        .with_context(|| format!("process.cwd {}", process.cwd().display()))?;
    caps.apply_bounding()?;

    // From here the init outlives `rt create`.
    set_parent_death_signal(0);
    sock.send_ready().context("report ready")?;
    let mut started = wait_for_start(&fifo, cfg.id)?;
    drop(fifo);
    // startContainer hooks; their failure goes to `rt start` through the fifo.
    if let Err(e) = crate::hooks::run(
        spec.hooks().as_ref(),
        crate::hooks::Kind::StartContainer,
        &hook_state(cfg, "created"),
        None,
    ) {
        let mut msg = format!("E{e:#}").into_bytes();
        msg.truncate(4000);
        let _ = started.write_all(&msg);
        // SAFETY: terminate without running the parent's destructors.
        unsafe { libc::_exit(1) };
    }
    started.write_all(b"0").context("write the exec fifo")?;
    drop(started);

    // seccomp(2) needs no_new_privs or CAP_SYS_ADMIN: without no_new_privs it is loaded
    // while the init still has its capabilities (as runc), else as late as possible.
    let no_new_privs = process.no_new_privileges() == Some(true);
    if let (Some(filter), false) = (cfg.seccomp, no_new_privs) {
        filter.install()?;
    }
    process::switch_user(process)?;
    caps.apply()?;
    nix::unistd::chdir(process.cwd())
        .with_context(|| format!("process.cwd {}", process.cwd().display()))?;
    if no_new_privs {
        process::set_no_new_privs()?;
    }
    if let Some(personality) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::set_personality(personality)?;
    }
    pass_fds(cfg.preserve_fds)?;
    lsm::apply_on_exec(spec)?;
    if let (Some(filter), true) = (cfg.seccomp, no_new_privs) {
        filter.install()?;
    }
    Err(process::exec(&exe, args, env))
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
    crate::console::send_fd(socket, &name, master.as_raw_fd())?;
    drop(master);
    // SAFETY: our copy of the console socket is not needed any more.
    unsafe { libc::close(socket) };
    let user = process.user();
    crate::console::attach_slave(&name, user.uid(), user.gid())
}

/// Blocks until `rt start` opens the fifo for reading.
/// Returns the fifo's write end: `0` on it says "going", `E<message>` that a
/// startContainer hook failed.
fn wait_for_start(fifo: &File, id: &str) -> anyhow::Result<File> {
    let path = PathBuf::from(format!("/proc/self/fd/{}", fifo.as_raw_fd()));
    File::options()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .with_context(|| format!("container {id}: open the exec fifo (is /proc mounted?)"))
}

/// Keeps fds 3..3+n open across exec (`--preserve-fds`); every other fd above 2 closes.
fn pass_fds(preserve: u32) -> anyhow::Result<()> {
    let first_closed = 3 + preserve;
    for fd in 3..first_closed {
        // SAFETY: fcntl on an fd number; failures (not open) are ignored.
        unsafe {
            let flags = libc::fcntl(fd as RawFd, libc::F_GETFD);
            if flags >= 0 {
                libc::fcntl(fd as RawFd, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            }
        }
    }
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only marks fds.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first_closed,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("close_range");
    }
    Ok(())
}
