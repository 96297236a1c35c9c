//! The process `rt exec` forks into a running container (not the init: that is mod.rs; what
//! both share is child.rs). It joins the init's namespaces (the pid
//! namespace through the parent, before the fork), moves itself into the container's
//! cgroup, then takes the process spec's rlimits, cwd (checked to be inside the container),
//! LSM label, user, capabilities, no_new_privs and the container's seccomp filter, and
//! execs. Its first steps and its reporting are the init's (child.rs): errors before the
//! exec come back over the sync socket; a successful exec closes the socket
//! (close-on-exec), which is how the parent knows it worked.

use std::convert::Infallible;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{anyhow, bail, Context};
use nix::sched::CloneFlags;
use oci_spec::runtime::Process;

use super::caps::CapSets;
use super::sync::{ChildReport, SyncSocket};
use super::{child, fds, process};

/// Namespaces joined, in this order (mount last: it changes the root).
const NAMESPACES: &[(&str, CloneFlags)] = &[
    ("user", CloneFlags::CLONE_NEWUSER),
    ("time", CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

pub struct ExecConfig<'a> {
    /// The container's init, whose namespaces the process joins.
    pub init_pid: i32,
    pub process: &'a Process,
    pub preserve_fds: u32,
    /// A connected socket for the pty master, when `process.terminal` is set.
    pub console_socket: Option<i32>,
    /// The cgroup files (`tasks` on v1, `cgroup.procs` on v2) of the container's cgroup, or
    /// of the `--cgroup` sub-cgroups: the process writes "0" to each, moving itself there
    /// before joining anything (none: a rootless container without a cgroup).
    pub cgroup_files: &'a [std::path::PathBuf],
    /// The container's compiled seccomp profile.
    pub seccomp: Option<&'a crate::seccomp::Program>,
    /// The container's spec as created (its linux.personality).
    pub spec: &'a oci_spec::runtime::Spec,
    /// Whether the host enforces AppArmor (judged before joining the container).
    pub apparmor: bool,
    /// A socket connected to the seccomp agent (see init::InitConfig::seccomp_agent).
    pub seccomp_agent: Option<i32>,
}

/// The parent's handle on the exec'd process.
pub struct ExecProcess {
    pub pid: i32,
    sock: SyncSocket,
}

impl ExecProcess {
    /// Lets the child go on (it is in the cgroup; `agent_state`: the JSON for the seccomp
    /// agent) and waits until it has exec'd.
    pub fn go_and_wait_exec(&self, agent_state: &[u8]) -> anyhow::Result<()> {
        self.sock
            .send_go_with(agent_state, &[])
            .context("signal the exec process")?;
        match self
            .sock
            .wait_report()
            .context("wait for the exec process")?
        {
            ChildReport::Gone if child::exec_outcome(self.pid, None, child::MARKER_EXEC) => Ok(()),
            ChildReport::Gone => bail!(
                "the exec process died before it could run its program (no error reported: \
                 killed by a signal, e.g. by the container's seccomp profile)"
            ),
            ChildReport::Failed(msg) => Err(anyhow!(msg)),
            ChildReport::Ready => bail!("unexpected message from the exec process"),
        }
    }
}

/// Opens the namespaces of `pid` that differ from ours.
fn open_namespaces(pid: i32) -> anyhow::Result<Vec<(OwnedFd, CloneFlags, &'static str)>> {
    let mut out = Vec::new();
    for &(name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let ours = format!("/proc/self/ns/{name}");
        if std::fs::read_link(&theirs).ok() == std::fs::read_link(&ours).ok() {
            continue;
        }
        let fd: OwnedFd = File::open(&theirs)
            .with_context(|| format!("open {theirs}"))?
            .into();
        out.push((fd, flag, name));
    }
    Ok(out)
}

/// Unprivileged, joining the container's pid namespace needs CAP_SYS_ADMIN in the user
/// namespace it joins with: rt enters the container's user and pid namespaces together
/// (setns on a pidfd), and the process it forks is in both.
fn join_user_and_pid_ns(pid: i32) -> anyhow::Result<()> {
    let mut flags = 0;
    for (name, flag) in [("user", libc::CLONE_NEWUSER), ("pid", libc::CLONE_NEWPID)] {
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/{name}")).ok();
        if theirs != std::fs::read_link(format!("/proc/self/ns/{name}")).ok() {
            flags |= flag;
        }
    }
    if flags == 0 {
        return Ok(());
    }
    // SAFETY: pidfd_open returns a new fd or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context(format!("pidfd_open {pid}"));
    }
    // SAFETY: fd is ours, a valid open pidfd.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    // SAFETY: setns on a valid fd; rt is single-threaded here.
    if unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&fd), flags) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("join the container's user and pid namespaces");
    }
    Ok(())
}

/// Forks the process; it waits for `go_and_wait_exec`.
pub fn spawn(cfg: &ExecConfig) -> anyhow::Result<ExecProcess> {
    if crate::container::rootless() {
        join_user_and_pid_ns(cfg.init_pid)?;
    }
    let namespaces = open_namespaces(cfg.init_pid)?;
    // A container without a mount namespace of its own is chroot'ed into its rootfs: the
    // process goes where the init is, through the init's root (from the host's /proc).
    let chroot_to = if namespaces
        .iter()
        .any(|(_, flag, _)| *flag == CloneFlags::CLONE_NEWNS)
    {
        None
    } else {
        let root = format!("/proc/{}/root", cfg.init_pid);
        let dir = File::options()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&root)
            .with_context(|| format!("open {root}"))?;
        Some(OwnedFd::from(dir))
    };
    let pid_ns = format!("/proc/{}/ns/pid", cfg.init_pid);
    if std::fs::read_link(&pid_ns).ok() != std::fs::read_link("/proc/self/ns/pid").ok() {
        let fd = File::open(&pid_ns).with_context(|| format!("open {pid_ns}"))?;
        nix::sched::setns(fd, CloneFlags::CLONE_NEWPID).context("join the pid namespace")?;
    }
    let caps = CapSets::from_spec(cfg.process.capabilities().as_ref())?;
    let (parent_sock, child_sock) = SyncSocket::pair().context("socketpair")?;
    let mut keep: Vec<i32> = namespaces.iter().map(|(fd, _, _)| fd.as_raw_fd()).collect();
    keep.extend(cfg.console_socket);
    keep.extend(cfg.seccomp_agent);
    keep.extend(chroot_to.as_ref().map(|fd| fd.as_raw_fd()));
    let rootless = crate::container::rootless();
    let pid = child::clone_process(CloneFlags::empty()).context("fork the exec process")?;
    if pid == 0 {
        drop(parent_sock);
        let keep = child::Keep {
            preserved: cfg.preserve_fds,
            fds: &keep,
        };
        child::run(
            "exec process",
            child::MARKER_EXEC,
            &child_sock,
            &keep,
            rootless,
            |go| setup_and_exec(cfg, &namespaces, chroot_to.as_ref(), &caps, &go.data),
        );
    }
    drop(child_sock);
    Ok(ExecProcess {
        pid,
        sock: parent_sock,
    })
}

fn setup_and_exec(
    cfg: &ExecConfig,
    namespaces: &[(OwnedFd, CloneFlags, &str)],
    chroot_to: Option<&OwnedFd>,
    caps: &CapSets,
    agent_state: &[u8],
) -> anyhow::Result<Infallible> {
    // Made while still privileged (see procfs::prepare).
    super::procfs::prepare()?;
    // Still in the host's namespaces, as root: a user namespace joined later could not.
    for file in cfg.cgroup_files {
        std::fs::write(file, "0").with_context(|| {
            format!("place the process in its cgroup: write {}", file.display())
        })?;
    }
    for (fd, flag, name) in namespaces {
        nix::sched::setns(fd, *flag).with_context(|| format!("join the {name} namespace"))?;
    }
    if let Some(root) = chroot_to {
        nix::unistd::fchdir(root.as_raw_fd()).context("chdir to the container's root")?;
        nix::unistd::chroot(".").context("chroot to the container's root")?;
    }
    let process = cfg.process;
    if process.terminal() == Some(true) {
        let socket = cfg
            .console_socket
            .context("process.terminal: a terminal needs a console socket")?;
        nix::unistd::setsid().context("setsid")?;
        super::setup_terminal(process, socket)?;
    }
    process::set_rlimits(process)?;
    let args = process.args().as_deref().unwrap_or(&[]);
    let env = process.env().as_deref().unwrap_or(&[]);
    let program = args.first().context("process.args: empty")?;
    let exe = process::find_executable(program, env)?;
    process::enter_cwd(process.cwd())?;
    let no_new_privs = process.no_new_privileges() == Some(true);
    let staged = super::finish_process(
        cfg.spec,
        process,
        caps,
        cfg.apparmor,
        no_new_privs,
        cfg.seccomp.is_some(),
    )?;
    fds::set_cloexec_range(cfg.preserve_fds)?;
    // The process outlives `rt exec -d`.
    child::set_parent_death_signal(0);
    super::install_seccomp(cfg.seccomp, cfg.seccomp_agent, agent_state)?;
    staged.finish()?;
    Err(process::exec(&exe, args, env))
}
