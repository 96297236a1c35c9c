//! `linux.seccomp` -> BPF, with seccompiler.
//!
//! seccompiler compiles one match action per filter, while an OCI profile gives each rule its
//! own action. rt installs a short stack of filters instead of one, relying on the kernel
//! returning the highest-precedence result of all stacked filters (KILL_PROCESS >
//! KILL_THREAD > TRAP > ERRNO > USER_NOTIF > TRACE > LOG > ALLOW):
//!
//! 1. a guard (hand-written, 7 instructions on x86_64): syscalls of another architecture (i386 through
//!    `int 0x80`, x32 numbers with bit 30 set) fail with ENOSYS; everything else is ALLOW;
//! 2. the default filter, when the default action is not ALLOW: every syscall matched by a
//!    rule whose action differs from the default -> ALLOW; everything else -> default action;
//! 3. one filter per distinct rule action other than ALLOW and the default (e.g. ERRNO(38),
//!    KILL_PROCESS): its rules -> that action; everything else -> ALLOW.
//!
//! So an unmatched syscall gets the default action, a syscall matched by rules of one action
//! gets that action, and one matched by rules of several actions gets the strictest of them.
//! Docker's and podman's profiles (default ERRNO, ~350 ALLOW rules, a few ERRNO(ENOSYS)
//! rules) become three filters. Each seccompiler filter's own architecture check returns
//! ALLOW on a foreign architecture (the guard decides those), so a foreign syscall number is
//! never read with the native table.

mod syscalls;

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};
use seccompiler::{
    sock_filter, BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition,
    SeccompFilter, SeccompRule, TargetArch,
};

use crate::logging;

/// The errno of SCMP_ACT_ERRNO / SCMP_ACT_TRACE without `errnoRet`, as runc.
const DEFAULT_ERRNO: u32 = libc::EPERM as u32;
/// The largest errno the kernel passes through (MAX_ERRNO).
const MAX_ERRNO: u32 = 4095;
/// x32 syscall numbers on x86_64 carry this bit (__X32_SYSCALL_BIT).
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// What `rt features` reports.
pub const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
pub const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
pub const KNOWN_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];
pub const SUPPORTED_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

/// Architectures a profile may list here. Only the native one is filtered by the rules;
/// the others' syscalls fail with ENOSYS (see the module doc).
pub fn archs() -> &'static [&'static str] {
    if cfg!(target_arch = "x86_64") {
        &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    } else if cfg!(target_arch = "aarch64") {
        &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    } else {
        &[]
    }
}

/// A rule's (or the default's) action, with its data; ordered by first appearance later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Action {
    Allow,
    Errno(u32),
    KillThread,
    KillProcess,
    Trap,
    Trace(u32),
    Log,
    /// SCMP_ACT_NOTIFY: the syscall waits for the seccomp agent's answer.
    Notify,
}

/// seccompiler has no user-notification action: its filters are built with this ERRNO
/// (above MAX_ERRNO, so no profile can ask for it), whose `ret` instructions are then
/// rewritten to SECCOMP_RET_USER_NOTIF.
const NOTIFY_PLACEHOLDER: u32 = 0xffff;

impl Action {
    fn to_seccompiler(self) -> SeccompAction {
        match self {
            Action::Allow => SeccompAction::Allow,
            Action::Errno(e) => SeccompAction::Errno(e),
            Action::KillThread => SeccompAction::KillThread,
            Action::KillProcess => SeccompAction::KillProcess,
            Action::Trap => SeccompAction::Trap,
            Action::Trace(d) => SeccompAction::Trace(d),
            Action::Log => SeccompAction::Log,
            Action::Notify => SeccompAction::Errno(NOTIFY_PLACEHOLDER),
        }
    }
}

/// The compiled filters, in install order, and the seccomp(2) flags for each.
#[derive(Debug)]
pub struct Program {
    filters: Vec<BpfProgram>,
    flags: libc::c_ulong,
    /// The filter loaded with SECCOMP_FILTER_FLAG_NEW_LISTENER (the one with
    /// SCMP_ACT_NOTIFY), and its extra flags.
    listener: Option<(usize, libc::c_ulong)>,
}

impl Program {
    /// BPF instructions in each filter, in install order.
    pub fn sizes(&self) -> Vec<usize> {
        self.filters.iter().map(Vec::len).collect()
    }

    /// Whether a filter hands syscalls to a seccomp agent (SCMP_ACT_NOTIFY).
    pub fn notifies(&self) -> bool {
        self.listener.is_some()
    }

    /// Loads every filter into the calling thread. Needs no_new_privs or CAP_SYS_ADMIN.
    /// Returns the notification fd of the SCMP_ACT_NOTIFY filter, for the seccomp agent.
    pub fn install(&self) -> anyhow::Result<Option<std::os::fd::OwnedFd>> {
        #[repr(C)]
        struct SockFprog {
            len: libc::c_ushort,
            filter: *const sock_filter,
        }
        let n = self.filters.len();
        let mut listener = None;
        for (i, filter) in self.filters.iter().enumerate() {
            let prog = SockFprog {
                len: filter.len() as libc::c_ushort,
                filter: filter.as_ptr(),
            };
            let flags = match self.listener {
                // TSYNC and a listener only go together with TSYNC_ESRCH; rt's init is
                // single-threaded, TSYNC has nothing to do there.
                Some((at, extra)) if at == i => {
                    (self.flags & !libc::SECCOMP_FILTER_FLAG_TSYNC)
                        | libc::SECCOMP_FILTER_FLAG_NEW_LISTENER
                        | extra
                }
                _ => self.flags,
            };
            // SAFETY: the kernel copies the program; `prog` and `filter` outlive the call.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_seccomp,
                    libc::SECCOMP_SET_MODE_FILTER,
                    flags,
                    &prog as *const SockFprog,
                )
            };
            if rc < 0 {
                let err = std::io::Error::last_os_error();
                return Err(err).with_context(|| {
                    format!(
                        "linux.seccomp: load filter {} of {n} (flags {flags:#x})",
                        i + 1
                    )
                });
            }
            if flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
                // SAFETY: with NEW_LISTENER, seccomp(2) returns a new fd that we own.
                listener = Some(unsafe {
                    <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(rc as i32)
                });
            }
        }
        Ok(listener)
    }
}

fn action(act: LinuxSeccompAction, errno: Option<u32>, field: &str) -> anyhow::Result<Action> {
    let errno_field = if field.ends_with("defaultAction") {
        field.replace("defaultAction", "defaultErrnoRet")
    } else {
        field.replace(".action", ".errnoRet")
    };
    if errno.is_some()
        && !matches!(
            act,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        bail!("{errno_field}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {act}");
    }
    Ok(match act {
        LinuxSeccompAction::ScmpActAllow => Action::Allow,
        LinuxSeccompAction::ScmpActErrno => {
            let e = errno.unwrap_or(DEFAULT_ERRNO);
            if e > MAX_ERRNO {
                bail!("{errno_field} {e}: must be between 0 and {MAX_ERRNO}");
            }
            Action::Errno(e)
        }
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            Action::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
        LinuxSeccompAction::ScmpActTrap => Action::Trap,
        LinuxSeccompAction::ScmpActTrace => {
            let d = errno.unwrap_or(DEFAULT_ERRNO);
            if d > 0xffff {
                bail!("{errno_field} {d}: must be between 0 and 65535");
            }
            Action::Trace(d)
        }
        LinuxSeccompAction::ScmpActLog => Action::Log,
        LinuxSeccompAction::ScmpActNotify => Action::Notify,
    })
}

fn condition(arg: &LinuxSeccompArg, field: &str) -> anyhow::Result<SeccompCondition> {
    let index = u8::try_from(arg.index())
        .ok()
        .filter(|i| *i <= 5)
        .with_context(|| format!("{field}.index {}: must be between 0 and 5", arg.index()))?;
    let (op, value) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (SeccompCmpOp::Ne, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (SeccompCmpOp::Lt, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (SeccompCmpOp::Le, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (SeccompCmpOp::Eq, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (SeccompCmpOp::Ge, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (SeccompCmpOp::Gt, arg.value()),
        // OCI (and libseccomp): `value` is the mask, `valueTwo` the datum.
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            SeccompCmpOp::MaskedEq(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    // Arguments are compared as 64-bit values, as libseccomp does on 64-bit architectures.
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, op, value)
        .map_err(|e| anyhow::anyhow!("{field}: {e}"))
}

/// A syscall's rules within one action: unconditional, or any of several rules (OR).
#[derive(Debug, Clone)]
enum Chain {
    Always,
    AnyOf(Vec<SeccompRule>),
}

impl Chain {
    fn merge(&mut self, other: Chain) {
        match (&mut *self, other) {
            (Chain::Always, _) => {}
            (_, Chain::Always) => *self = Chain::Always,
            (Chain::AnyOf(a), Chain::AnyOf(b)) => a.extend(b),
        }
    }

    fn rules(self) -> Vec<SeccompRule> {
        match self {
            Chain::Always => Vec::new(),
            Chain::AnyOf(rules) => rules,
        }
    }
}

type Rules = BTreeMap<i64, Chain>;

fn add(rules: &mut Rules, nr: i64, chain: Chain) {
    match rules.get_mut(&nr) {
        Some(c) => c.merge(chain),
        None => {
            rules.insert(nr, chain);
        }
    }
}

fn native_arch() -> anyhow::Result<TargetArch> {
    TargetArch::try_from(std::env::consts::ARCH).map_err(|_| {
        anyhow::anyhow!(
            "linux.seccomp: seccomp filters are not supported on {}",
            std::env::consts::ARCH
        )
    })
}

/// Instructions of the architecture check seccompiler puts at the start of every filter.
const ARCH_CHECK_LEN: usize = 3;

/// One seccompiler filter, its foreign-architecture result changed to ALLOW.
fn build(
    rules: Rules,
    mismatch: Action,
    matched: Action,
    arch: TargetArch,
) -> anyhow::Result<BpfProgram> {
    let rules = rules.into_iter().map(|(nr, c)| (nr, c.rules())).collect();
    let filter = SeccompFilter::new(
        rules,
        mismatch.to_seccompiler(),
        matched.to_seccompiler(),
        arch,
    )
    .map_err(|e| anyhow::anyhow!("linux.seccomp: {e}"))?;
    let mut prog: BpfProgram = filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| anyhow::anyhow!("linux.seccomp: {e}"))?;
    // [ld arch; jeq ARCH, 1, 0; ret KILL_PROCESS; ...]: the guard filter handles foreign
    // architectures, so this filter lets them through.
    let ret = prog
        .get_mut(ARCH_CHECK_LEN - 1)
        .filter(|i| i.code == 0x06 && i.k == libc::SECCOMP_RET_KILL_PROCESS)
        .context("linux.seccomp: unexpected seccompiler output (architecture check)")?;
    ret.k = libc::SECCOMP_RET_ALLOW;
    if matched == Action::Notify || mismatch == Action::Notify {
        const RET_K: u16 = 0x06;
        let placeholder = libc::SECCOMP_RET_ERRNO | NOTIFY_PLACEHOLDER;
        for i in prog
            .iter_mut()
            .filter(|i| i.code == RET_K && i.k == placeholder)
        {
            i.k = libc::SECCOMP_RET_USER_NOTIF;
        }
    }
    Ok(prog)
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// Native syscalls -> ALLOW; another architecture's (and x32's) -> ERRNO(ENOSYS).
fn guard(arch: TargetArch) -> anyhow::Result<BpfProgram> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // The arch check as seccompiler writes it (an empty filter is that check + one ret).
    let empty = SeccompFilter::new(
        BTreeMap::new(),
        SeccompAction::Allow,
        SeccompAction::Trap,
        arch,
    )
    .map_err(|e| anyhow::anyhow!("linux.seccomp: {e}"))?;
    let empty: BpfProgram = empty
        .try_into()
        .map_err(|e: seccompiler::BackendError| anyhow::anyhow!("linux.seccomp: {e}"))?;
    let audit_arch = empty
        .get(1)
        .filter(|i| i.code == JEQ_K)
        .map(|i| i.k)
        .context("linux.seccomp: unexpected seccompiler output (architecture check)")?;
    let enosys = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    let mut prog = vec![
        stmt(LD_W_ABS, 4),
        jump(JEQ_K, audit_arch, 1, 0),
        stmt(RET_K, enosys),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        const JGE_K: u16 = 0x35;
        prog.extend([
            stmt(LD_W_ABS, 0),
            jump(JGE_K, X32_SYSCALL_BIT, 0, 1),
            stmt(RET_K, enosys),
        ]);
    }
    prog.push(stmt(RET_K, libc::SECCOMP_RET_ALLOW));
    Ok(prog)
}

/// Translates the profile for a container process: like [`compile`], with capset(2)
/// always allowed when the process needs it after its filter is loaded — without
/// no_new_privs, loading the filter takes CAP_SYS_ADMIN, which the process drops only
/// afterwards when it is not one of its own capabilities. capset(2) can only lower a
/// process's capabilities or raise them within its permitted set, so allowing it grants
/// nothing a profile could have withheld.
pub fn compile_for(
    seccomp: &LinuxSeccomp,
    process: Option<&oci_spec::runtime::Process>,
) -> anyhow::Result<Program> {
    let nnp = process.and_then(|p| p.no_new_privileges()) == Some(true);
    let has_sys_admin = process
        .and_then(|p| p.capabilities().as_ref())
        .is_some_and(|c| {
            let has = |set: &Option<oci_spec::runtime::Capabilities>| {
                set.as_ref()
                    .is_some_and(|s| s.contains(&oci_spec::runtime::Capability::SysAdmin))
            };
            has(c.effective()) && has(c.permitted())
        });
    let always_allow: &[i64] = if !nnp && !has_sys_admin {
        &[libc::SYS_capset]
    } else {
        &[]
    };
    compile_allowing(seccomp, always_allow, true)
}

/// Translates the profile; errors name the field. Unknown syscall names are skipped.
/// (The fuzz targets' entry point; rt itself uses [`compile_for`].)
#[allow(dead_code)]
pub fn compile(seccomp: &LinuxSeccomp) -> anyhow::Result<Program> {
    compile_allowing(seccomp, &[], false)
}

/// A profile that kills (or traps) the container's execve can never run the container, and
/// its init would die without a word after `rt start`: refused when it is loaded. (An
/// ERRNO for execve is reported by `rt start` with the init's message.)
fn refuse_killing_execve(default: Action, groups: &[(Action, Rules)]) -> anyhow::Result<()> {
    let kills = |a: Action| matches!(a, Action::KillThread | Action::KillProcess | Action::Trap);
    let nr = libc::SYS_execve;
    let unconditional = groups
        .iter()
        .filter(|(_, rules)| matches!(rules.get(&nr), Some(Chain::Always)))
        .map(|(a, _)| *a);
    let matched = groups.iter().any(|(_, rules)| rules.contains_key(&nr));
    let killed = unconditional.clone().any(kills) || (!matched && kills(default));
    if killed {
        bail!(
            "linux.seccomp: the profile kills execve(2): the container's process could never \
             start"
        );
    }
    Ok(())
}

/// [`compile`], with the syscalls of `always_allow` allowed whatever the profile says;
/// `for_process`: the filter is for a container process, which must be able to exec.
fn compile_allowing(
    seccomp: &LinuxSeccomp,
    always_allow: &[i64],
    for_process: bool,
) -> anyhow::Result<Program> {
    let arch = native_arch()?;
    let default = action(
        seccomp.default_action(),
        seccomp.default_errno_ret(),
        "linux.seccomp.defaultAction",
    )?;

    for (i, a) in seccomp
        .architectures()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        // Every architecture is accepted, as libseccomp adds it to the filter; only the
        // native one can be filtered here (see the module doc).
        if *a != Arch::ScmpArchNative && !archs().contains(&a.to_string().as_str()) {
            logging::debug(&format!(
                "linux.seccomp.architectures[{i}] {a}: not this machine's; ignored"
            ));
        }
    }
    let mut flags: libc::c_ulong = 0;
    let mut listener_flags: libc::c_ulong = 0;
    for flag in seccomp.flags().as_deref().unwrap_or(&[]) {
        flags |= match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => {
                libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
            }
            // Only meaningful for the filter with a notify listener.
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                listener_flags |= libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
                0
            }
        };
    }

    // Rules grouped by action, each group in order of first appearance.
    let mut groups: Vec<(Action, Rules)> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for (i, sc) in seccomp
        .syscalls()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let act = action(sc.action(), sc.errno_ret(), &format!("{field}.action"))?;
        let args = sc.args().as_deref().unwrap_or(&[]);
        let mut conds = Vec::with_capacity(args.len());
        for (j, arg) in args.iter().enumerate() {
            conds.push(condition(arg, &format!("{field}.args[{j}]"))?);
        }
        // As runc: several conditions on one argument become separate rules (OR);
        // otherwise all conditions form one rule (AND).
        let repeated = args
            .iter()
            .enumerate()
            .any(|(j, a)| args[..j].iter().any(|b| b.index() == a.index()));
        let rule = |c: Vec<SeccompCondition>| {
            SeccompRule::new(c).map_err(|e| anyhow::anyhow!("{field}.args: {e}"))
        };
        let chain = if conds.is_empty() {
            Chain::Always
        } else if repeated {
            Chain::AnyOf(
                conds
                    .into_iter()
                    .map(|c| rule(vec![c]))
                    .collect::<anyhow::Result<_>>()?,
            )
        } else {
            Chain::AnyOf(vec![rule(conds)?])
        };
        if sc.names().is_empty() {
            bail!("{field}.names: empty");
        }
        let group = match groups.iter().position(|(a, _)| *a == act) {
            Some(g) => g,
            None => {
                groups.push((act, Rules::new()));
                groups.len() - 1
            }
        };
        for name in sc.names() {
            match syscalls::number(name) {
                Some(nr) => add(&mut groups[group].1, nr, chain.clone()),
                None => unknown.push(name),
            }
        }
    }
    if !unknown.is_empty() {
        // As runc, at debug level: real profiles list every architecture's names.
        logging::debug(&format!(
            "linux.seccomp: {} syscall names unknown on {} skipped: {}",
            unknown.len(),
            std::env::consts::ARCH,
            unknown.join(", ")
        ));
    }

    for (_, rules) in &mut groups {
        for nr in always_allow {
            rules.remove(nr);
        }
    }
    if for_process {
        refuse_killing_execve(default, &groups)?;
    }
    let mut filters = Vec::new();
    if default != Action::Allow {
        // Every syscall some rule with another action matches leaves the default.
        let mut union = Rules::new();
        for (act, rules) in &groups {
            if *act != default {
                for (nr, chain) in rules {
                    add(&mut union, *nr, chain.clone());
                }
            }
        }
        for nr in always_allow {
            add(&mut union, *nr, Chain::Always);
        }
        let blocks_seccomp =
            default != Action::Log && !matches!(union.get(&libc::SYS_seccomp), Some(Chain::Always));
        let notify = default == Action::Notify;
        filters.push((
            blocks_seccomp,
            notify,
            build(union, default, Action::Allow, arch)?,
        ));
    }
    for (act, rules) in groups {
        if act == Action::Allow || act == default || rules.is_empty() {
            continue;
        }
        let blocks_seccomp = rules.contains_key(&libc::SYS_seccomp) && act != Action::Log;
        filters.push((
            blocks_seccomp,
            act == Action::Notify,
            build(rules, Action::Allow, act, arch)?,
        ));
    }
    if filters.is_empty() {
        return Ok(Program {
            filters: Vec::new(),
            flags,
            listener: None,
        });
    }
    let notifies = filters.iter().any(|(_, notify, _)| *notify);
    if notifies && seccomp.listener_path().is_none() {
        bail!("linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath (the seccomp agent's socket)");
    }
    // Each filter is loaded with seccomp(2), so the ones that may refuse seccomp(2) go last;
    // at most one can (only equal-precedence results depend on the order otherwise).
    if filters.iter().filter(|(blocks, _, _)| *blocks).count() > 1 {
        bail!(
            "linux.seccomp: rules with different actions all deny seccomp(2); \
             rt loads its filters one by one and cannot install this profile"
        );
    }
    filters.sort_by_key(|(blocks, _, _)| *blocks);
    // The guard goes first: filter i of `filters` is i + 1 of the program.
    let listener = filters
        .iter()
        .position(|(_, notify, _)| *notify)
        .map(|i| (i + 1, listener_flags));
    let mut all = vec![guard(arch)?];
    all.extend(filters.into_iter().map(|(_, _, f)| f));
    Ok(Program {
        filters: all,
        flags,
        listener,
    })
}

#[cfg(test)]
mod tests;
