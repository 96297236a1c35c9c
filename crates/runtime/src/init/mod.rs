//! What runs in the container's init process, from the fork to the exec (this file), and in
//! an `rt exec` process (exec_process.rs); child.rs holds what both share.
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
pub mod exec_process;
pub mod fds;
pub mod idmap;
pub mod lsm;
pub mod mount_api;
pub mod mount_options;
mod mounts;
pub mod path;
mod process;
pub mod procfs;
pub mod rootdir;
mod rootfs;
pub mod seccomp_agent;
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
use crate::bundle::{has_namespace, namespaces_of, new_namespace};

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
    /// The container's cgroup. On v2 the init is born in it (clone3's CLONE_INTO_CGROUP)
    /// where the kernel has that; else it moves itself in first thing when `self_attach`,
    /// or the parent places it ([`Init::placed`] false), as it must for a new user
    /// namespace, whose root cannot write the host's cgroupfs.
    pub cgroup: Option<&'a cgroups::Cgroup>,
    pub self_attach: bool,
    /// Whether the host enforces AppArmor, judged by `rt create` from the host's /sys
    /// (the container's fresh /sys after pivot_root would not tell).
    pub apparmor: bool,
    /// A socket connected to the seccomp agent (SCMP_ACT_NOTIFY), which gets the filter's
    /// notification fd with the state JSON the parent sends along with `go`.
    pub seccomp_agent: Option<RawFd>,
}

/// What rt create hands the init with its go.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct GoData {
    /// The container process state for the seccomp agent (SCMP_ACT_NOTIFY).
    #[serde(default)]
    agent_state: Option<String>,
    /// Indices in `mounts` of the idmapped mounts whose fds came along, in that order.
    #[serde(default)]
    idmapped: Vec<usize>,
}

/// The parent's handle on a spawned init.
pub struct Init {
    pub pid: i32,
    /// The init is in its cgroup, or will be before it does anything (born there, or
    /// moving itself in); false: the parent must place it.
    pub placed: bool,
    sock: SyncSocket,
    /// The process that forked the init, when one was needed (see [`Intermediate`]).
    intermediate: Option<Intermediate>,
}

impl Init {
    /// SIGKILLs the init (and reaps it, or its intermediate parent with it).
    pub fn kill(self) {
        crate::container::kill_and_reap(self.pid);
        if let Some(mid) = self.intermediate {
            crate::container::kill_and_reap(mid.pid);
        }
    }

    /// The init is set up: an intermediate parent may go, the init is reparented.
    pub fn release(&mut self) {
        if let Some(mid) = self.intermediate.take() {
            mid.release();
        }
    }

    /// Tells the child it is in its cgroup and may go on.
    pub fn go(&self) -> anyhow::Result<()> {
        self.sock.send_go().context("signal the container init")
    }

    /// [`Init::go`], with what the init needs from rt create: the state JSON the seccomp
    /// agent is to get, and the idmapped mounts made for it.
    pub fn go_with(
        &self,
        spec: &Spec,
        bundle: &Path,
        agent_state: Option<Vec<u8>>,
    ) -> anyhow::Result<()> {
        let idmapped = idmap::prepare(spec, bundle, self.pid)?;
        let go = GoData {
            agent_state: agent_state
                .map(String::from_utf8)
                .transpose()
                .context("seccomp agent state")?,
            idmapped: idmapped.iter().map(|(i, _)| *i).collect(),
        };
        let data = serde_json::to_vec(&go).context("encode the init's go")?;
        let fds: Vec<OwnedFd> = idmapped.into_iter().map(|(_, m)| m.into_fd()).collect();
        let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
        self.sock
            .send_go_with(&data, &raw)
            .context("signal the container init")
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
    path: std::path::PathBuf,
}

impl JoinedNamespace {
    /// Whether it is the namespace rt itself is in (joining it again changes nothing; for a
    /// user namespace setns would refuse).
    fn is_ours(&self) -> bool {
        use std::os::unix::fs::MetadataExt;
        let name = match self.typ {
            LinuxNamespaceType::Mount => "mnt".to_string(),
            LinuxNamespaceType::Network => "net".to_string(),
            other => other.to_string(),
        };
        let theirs = nix::sys::stat::fstat(self.fd.as_raw_fd());
        match (theirs, std::fs::metadata(format!("/proc/self/ns/{name}"))) {
            (Ok(t), Ok(o)) => (t.st_dev, t.st_ino) == (o.dev(), o.ino()),
            _ => false,
        }
    }

    fn join(&self) -> anyhow::Result<()> {
        if self.typ == LinuxNamespaceType::User && self.is_ours() {
            return Ok(());
        }
        nix::sched::setns(&self.fd, ns_flag(self.typ)).with_context(|| {
            format!(
                "linux.namespaces: join the {} namespace {}",
                self.typ,
                self.path.display()
            )
        })
    }
}

/// Forks the container's init. The returned init waits for `go`.
pub fn spawn(cfg: &InitConfig) -> anyhow::Result<Init> {
    let namespaces = namespaces_of(cfg.spec);
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
                    path: path.clone(),
                });
            }
        }
    }
    // The init joins its cgroup namespace only once it is in its cgroup (after `go`).
    let new_cgroup_ns = clone_flags.contains(CloneFlags::CLONE_NEWCGROUP);
    clone_flags.remove(CloneFlags::CLONE_NEWCGROUP);
    // clone(2) cannot take CLONE_NEWTIME (it collides with the exit-signal bits): the time
    // namespace is unshared before the fork, like joined pid and time namespaces (which
    // apply to children only) and a joined user namespace (which must own the init's new
    // ones). That happens in a short-lived intermediate process, never in rt itself: the
    // hooks rt runs stay in the runtime's namespaces, as the spec says.
    let new_time = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    let unshare_time = clone_flags.contains(new_time);
    clone_flags.remove(new_time);
    let before_fork: Vec<&JoinedNamespace> = joined
        .iter()
        .filter(|ns| {
            matches!(
                ns.typ,
                LinuxNamespaceType::User | LinuxNamespaceType::Pid | LinuxNamespaceType::Time
            )
        })
        .collect();
    let (parent_sock, child_sock) = SyncSocket::pair().context("socketpair")?;
    let mut keep: Vec<RawFd> = joined.iter().map(|ns| ns.fd.as_raw_fd()).collect();
    keep.push(cfg.fifo);
    keep.extend(cfg.console_socket);
    keep.extend(cfg.seccomp_agent);
    let rootless = crate::container::rootless();
    // An fd of the v2 cgroup directory the init is to be born in.
    let cgroup_dir = match cfg.cgroup.and_then(|cg| cg.unified_dir()) {
        Some(dir) => Some(
            File::options()
                .read(true)
                .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
                .open(dir)
                .with_context(|| format!("open the cgroup directory {}", dir.display()))?,
        ),
        None => None,
    };
    // (pid, born in its cgroup)
    let fork_init = || -> anyhow::Result<(i32, bool)> {
        let born = cgroup_dir.as_ref().and_then(|d| {
            match child::clone_into_cgroup(clone_flags, d.as_raw_fd()) {
                Ok(pid) => Some(pid),
                Err(e) => {
                    crate::logging::debug(&format!(
                        "clone3 into the cgroup: {e}; forking and placing the init after"
                    ));
                    None
                }
            }
        });
        let (pid, in_cgroup) = match born {
            Some(pid) => (pid, true),
            None => (
                child::clone_process(clone_flags)
                    .with_context(|| format!("clone the container init ({clone_flags:?})"))?,
                false,
            ),
        };
        if pid == 0 {
            let self_attach = cfg.cgroup.filter(|_| cfg.self_attach && !in_cgroup);
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
                |go| setup_and_exec(cfg, self_attach, &child_sock, &joined, new_cgroup_ns, go),
            );
        }
        Ok((pid, in_cgroup))
    };
    let ((pid, in_cgroup), intermediate) = if unshare_time || !before_fork.is_empty() {
        let mid = Intermediate::spawn(|| {
            for ns in &before_fork {
                ns.join()?;
            }
            if unshare_time {
                enter_new_time_namespace(cfg.spec)?;
            }
            fork_init()
        })?;
        ((mid.init_pid, mid.in_cgroup), Some(mid))
    } else {
        (fork_init()?, None)
    };
    drop(child_sock);
    drop(cgroup_dir);
    let init = Init {
        pid,
        placed: cfg.cgroup.is_none() || in_cgroup || cfg.self_attach,
        sock: parent_sock,
        intermediate,
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
        init.kill();
        return Err(e);
    }
    Ok(init)
}

/// A process between rt and the init: it enters the namespaces that must be entered before
/// the init is forked, forks the init, reports its pid, and stays (the init's parent, so
/// that the init's parent-death signal keeps tying it to `rt create`) until the init is set
/// up; then it exits and the init is reparented.
pub struct Intermediate {
    pid: i32,
    init_pid: i32,
    /// The init was born in its cgroup.
    in_cgroup: bool,
    /// Closing it lets the intermediate exit.
    hold: OwnedFd,
}

impl Intermediate {
    fn spawn(body: impl FnOnce() -> anyhow::Result<(i32, bool)>) -> anyhow::Result<Intermediate> {
        let (report_r, report_w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let (hold_r, hold_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe")?;
        let pid = child::clone_process(CloneFlags::empty()).context("fork the intermediate")?;
        if pid == 0 {
            drop(report_r);
            drop(hold_w);
            child::set_parent_death_signal(libc::SIGKILL);
            let msg = match body() {
                Ok((init, in_cgroup)) => format!("P{init} {}", u8::from(in_cgroup)),
                Err(e) => format!("E{e:#}"),
            };
            let _ = nix::unistd::write(&report_w, msg.as_bytes());
            drop(report_w);
            // Until rt closes its end: an error or the init's readiness.
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(hold_r.as_raw_fd(), &mut b);
            // SAFETY: terminate without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        drop(report_w);
        drop(hold_r);
        let mut buf = vec![0u8; 8192];
        let n = nix::unistd::read(report_r.as_raw_fd(), &mut buf).unwrap_or(0);
        let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
        let reap = || crate::container::kill_and_reap(pid);
        match msg.split_at_checked(1) {
            Some(("P", init)) => match init.split_once(' ').map(|(p, c)| (p.parse(), c)) {
                Some((Ok(init_pid), c)) => Ok(Intermediate {
                    pid,
                    init_pid,
                    in_cgroup: c == "1",
                    hold: hold_w,
                }),
                _ => {
                    reap();
                    bail!("the intermediate process reported {msg:?}")
                }
            },
            Some(("E", err)) => {
                reap();
                Err(anyhow!(err.to_string()))
            }
            _ => {
                reap();
                bail!("the intermediate process died before forking the container init")
            }
        }
    }

    /// Lets it exit and reaps it.
    fn release(self) {
        drop(self.hold);
        let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(self.pid), None);
    }
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
        procfs::write_self("timens_offsets", &text)
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
    self_attach: Option<&cgroups::Cgroup>,
    sock: &SyncSocket,
    joined: &[JoinedNamespace],
    new_cgroup_ns: bool,
    go: sync::Go,
) -> anyhow::Result<Infallible> {
    let spec = cfg.spec;
    let data: GoData = if go.data.is_empty() {
        GoData::default()
    } else {
        serde_json::from_slice(&go.data).context("the parent's go")?
    };
    let agent_state = data.agent_state.unwrap_or_default().into_bytes();
    let idmapped: std::collections::HashMap<usize, mount_api::Detached> = data
        .idmapped
        .into_iter()
        .zip(go.fds.into_iter().map(mount_api::Detached::from_fd))
        .collect();
    // Made now, while the init may still make mounts: reused after it drops its privileges.
    procfs::prepare()?;
    if let Some(cgroup) = self_attach {
        cgroup
            .add_self()
            .with_context(|| format!("place the init in its cgroup {}", cgroup.path().display()))?;
    }
    let process = spec.process().as_ref().context("process: missing")?;
    // Join the namespaces given by path that were not joined before the fork (see spawn:
    // user, pid and time were); the mount namespace last (it changes the root).
    let mut order: Vec<&JoinedNamespace> = joined
        .iter()
        .filter(|ns| {
            !matches!(
                ns.typ,
                LinuxNamespaceType::User | LinuxNamespaceType::Pid | LinuxNamespaceType::Time
            )
        })
        .collect();
    order.sort_by_key(|ns| ns.typ == LinuxNamespaceType::Mount);
    if joined.iter().any(|ns| ns.typ == LinuxNamespaceType::User) {
        become_root_of_user_namespace("the user namespace joined")?;
    }
    for ns in order {
        ns.join()?;
    }
    if new_namespace(spec, LinuxNamespaceType::User) {
        // The maps are written: become the namespace's root.
        become_root_of_user_namespace("linux.uidMappings/gidMappings")?;
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
    // A mount namespace of its own (new, or joined by path) gets the rootfs set up and
    // pivot_root'ed into; without one the mounts are made in rt's namespace (removed by
    // `rt delete`) and the process is chroot'ed into root.path.
    let own_mount_ns = has_namespace(spec, LinuxNamespaceType::Mount);
    let ctx = mounts::MountContext {
        rootfs: cfg.rootfs,
        idmapped: std::cell::RefCell::new(idmapped),
        cgroups: &cfg.cgroups,
        bundle: cfg.bundle,
    };
    let root = rootfs::prepare(spec, cfg.rootfs, &ctx, own_mount_ns)?;
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
    if own_mount_ns {
        rootfs::enter(&root, cfg.rootfs, cfg.no_pivot)?;
        drop(root);
        rootfs::finish(spec)?;
    } else {
        rootfs::chroot_into(&root, cfg.rootfs)?;
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
    install_seccomp(cfg.seccomp, cfg.seccomp_agent, &agent_state)?;
    staged.finish()?;
    Err(process::exec(&exe, args, env))
}

/// Loads the seccomp filter; a notification fd goes to the seccomp agent at once.
pub(crate) fn install_seccomp(
    filter: Option<&crate::seccomp::Program>,
    agent: Option<RawFd>,
    agent_state: &[u8],
) -> anyhow::Result<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    if let Some(notify_fd) = filter.install()? {
        let agent = agent.context("linux.seccomp: no connection to the seccomp agent")?;
        seccomp_agent::send(agent, agent_state, notify_fd)?;
    }
    Ok(())
}

/// uid and gid 0 of the user namespace the process is in (they must be mapped).
fn become_root_of_user_namespace(what: &str) -> anyhow::Result<()> {
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    nix::unistd::setresgid(root_gid, root_gid, root_gid)
        .with_context(|| format!("{what}: container gid 0 must be mapped"))?;
    nix::unistd::setresuid(root_uid, root_uid, root_uid)
        .with_context(|| format!("{what}: container uid 0 must be mapped"))?;
    // A change of credentials clears the parent death signal and may reset dumpable.
    child::set_parent_death_signal(libc::SIGKILL);
    fds::set_dumpable(false);
    Ok(())
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
    let pid = std::process::id() as i32;
    crate::hooks::HookState::of(cfg.spec, cfg.id, status, pid, cfg.bundle)
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
    let file = procfs::reopen_fd(fifo, rustix::fs::OFlags::WRONLY)
        .with_context(|| format!("container {id}: open the exec fifo"))?;
    // SAFETY: the O_PATH fd is not needed any more.
    unsafe { libc::close(fifo) };
    Ok(file)
}
