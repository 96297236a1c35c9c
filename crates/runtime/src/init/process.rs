//! Process attributes of the container's init: rlimits, oom_score_adj, session keyring,
//! the program to run, user and groups, umask, cwd, and the final execve.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use nix::sys::resource::{setrlimit, Resource};
use nix::unistd::{setgid, setgroups, setuid, Gid, Uid};
use oci_spec::runtime::{PosixRlimitType, Process};

fn resource(typ: PosixRlimitType) -> Resource {
    match typ {
        PosixRlimitType::RlimitCpu => Resource::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => Resource::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => Resource::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => Resource::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => Resource::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => Resource::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => Resource::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => Resource::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => Resource::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => Resource::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => Resource::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => Resource::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => Resource::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => Resource::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => Resource::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => Resource::RLIMIT_RTTIME,
    }
}

pub fn set_rlimits(process: &Process) -> anyhow::Result<()> {
    for (i, rl) in process
        .rlimits()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if rl.soft() > rl.hard() {
            bail!(
                "process.rlimits[{i}] {}: soft {} is above hard {}",
                rl.typ(),
                rl.soft(),
                rl.hard()
            );
        }
        if let Err(e) = setrlimit(resource(rl.typ()), rl.soft(), rl.hard()) {
            return Err(std::io::Error::from(e)).with_context(|| {
                format!(
                    "process.rlimits[{i}] {} soft={} hard={}: setrlimit",
                    rl.typ(),
                    rl.soft(),
                    rl.hard()
                )
            });
        }
    }
    Ok(())
}

/// A new anonymous session keyring, so the container does not share the host's.
pub fn join_session_keyring() -> anyhow::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a null name creates an anonymous session keyring.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if rc < 0 {
        let err = std::io::Error::last_os_error();
        // Kernels without keyrings, or where it is not allowed: carry on, as runc.
        if !matches!(
            err.raw_os_error(),
            Some(libc::ENOSYS) | Some(libc::EACCES) | Some(libc::EPERM)
        ) {
            return Err(err).context("join a new session keyring");
        }
    }
    Ok(())
}

/// The value of `name` in an environment list.
pub fn env_value<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|kv| {
        kv.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

/// Resolves the program like execvp does, with the container's PATH, inside the container.
pub fn find_executable(program: &str, env: &[String]) -> anyhow::Result<PathBuf> {
    let is_exec = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    // The errno words podman matches (libpod getOCIRuntimeError): "no such file or
    // directory" and "executable file not found in" make exit status 127, "permission
    // denied" 126.
    if program.contains('/') {
        let p = PathBuf::from(program);
        if is_exec(&p) {
            return Ok(p);
        }
        if fs::metadata(&p).is_ok() {
            bail!("process.args[0] {program:?}: permission denied (not an executable file)");
        }
        bail!("process.args[0] {program:?}: no such file or directory in the container");
    }
    let path = env_value(env, "PATH")
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        if is_exec(&candidate) {
            return Ok(candidate);
        }
    }
    bail!("process.args[0] {program:?}: executable file not found in $PATH ({path})")
}

/// Switches to the spec's user and groups, keeping capabilities across the uid change.
pub fn switch_user(process: &Process) -> anyhow::Result<()> {
    let user = process.user();
    let listed = user.additional_gids().as_deref().unwrap_or(&[]);
    let gids: Vec<Gid> = listed.iter().map(|g| Gid::from_raw(*g)).collect();
    // SAFETY: prctl with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    // A user namespace whose gid_map an unprivileged user wrote has setgroups denied (the
    // kernel requires it): leave the groups alone, as runc, unless some were asked for.
    let denied = super::procfs::read_self("setgroups").is_ok_and(|s| s.trim() == "deny");
    if !denied {
        setgroups(&gids)
            .with_context(|| format!("process.user.additionalGids {listed:?}: setgroups"))?;
    } else if !gids.is_empty() {
        bail!(
            "process.user.additionalGids {listed:?}: setgroups is denied in this user namespace \
             (rootless with a single-gid mapping; map subordinate gids with newgidmap)"
        );
    }
    setgid(Gid::from_raw(user.gid()))
        .with_context(|| format!("process.user.gid {}", user.gid()))?;
    setuid(Uid::from_raw(user.uid()))
        .with_context(|| format!("process.user.uid {}", user.uid()))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    let umask = user.umask().unwrap_or(0o022);
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    Ok(())
}

/// Changes into the container's working directory: resolved inside the root (no symlink
/// out of it, no /proc magic link such as /proc/self/fd/N or /proc/PID/root), entered by
/// fd, and checked afterwards to be inside the root, as runc does (CVE-2024-21626).
pub fn enter_cwd(cwd: &Path) -> anyhow::Result<()> {
    let what = || format!("process.cwd {}", cwd.display());
    let root = super::rootdir::RootDir::open(Path::new("/")).with_context(what)?;
    let dir = root.resolve(cwd).with_context(what)?;
    nix::unistd::fchdir(std::os::fd::AsRawFd::as_raw_fd(&std::os::fd::AsFd::as_fd(
        &dir,
    )))
    .with_context(what)?;
    let now = nix::unistd::getcwd().with_context(what)?;
    if !now.is_absolute() || now.starts_with("(unreachable)") {
        bail!(
            "process.cwd {}: the working directory is outside the container ({})",
            cwd.display(),
            now.display()
        );
    }
    Ok(())
}

pub fn set_no_new_privs() -> anyhow::Result<()> {
    // SAFETY: prctl with constant arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error()).context("noNewPrivileges");
    }
    Ok(())
}

/// `linux.personality`: the execution domain (LINUX or LINUX32).
pub fn set_personality(p: &oci_spec::runtime::LinuxPersonality) -> anyhow::Result<()> {
    use oci_spec::runtime::LinuxPersonalityDomain;
    const PER_LINUX: libc::c_ulong = 0x0000;
    const PER_LINUX32: libc::c_ulong = 0x0008;
    if let Some(flags) = p.flags().as_deref().filter(|f| !f.is_empty()) {
        bail!("linux.personality.flags {flags:?}: no flags are supported");
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    // SAFETY: personality(2) with a plain value.
    if unsafe { libc::personality(persona) } < 0 {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("linux.personality.domain {}", p.domain()));
    }
    Ok(())
}

fn cstrings(items: &[String], what: &str) -> anyhow::Result<Vec<CString>> {
    items
        .iter()
        .map(|s| {
            CString::new(s.as_bytes()).map_err(|_| anyhow!("{what} {s:?}: contains a NUL byte"))
        })
        .collect()
}

/// Replaces this process with the container's program. Returns only on failure.
pub fn exec(path: &Path, args: &[String], env: &[String]) -> anyhow::Error {
    let prepared = (|| -> anyhow::Result<(CString, Vec<CString>, Vec<CString>)> {
        let p = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| anyhow!("process.args[0]: contains a NUL byte"))?;
        Ok((
            p,
            cstrings(args, "process.args")?,
            cstrings(env, "process.env")?,
        ))
    })();
    let (p, argv, envp) = match prepared {
        Ok(v) => v,
        Err(e) => return e,
    };
    match nix::unistd::execve(&p, &argv, &envp) {
        Err(e) => anyhow!("exec {}: {e}", path.display()),
        Ok(never) => match never {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_value_takes_the_last_definition() {
        let env = vec![
            "PATH=/a".to_string(),
            "X=1".into(),
            "PATH=/b".into(),
            "PATHX=no".into(),
        ];
        assert_eq!(env_value(&env, "PATH"), Some("/b"));
        assert_eq!(env_value(&env, "Y"), None);
    }

    #[test]
    fn finds_programs_on_path() {
        let env = vec!["PATH=/nonexistent:/bin:/usr/bin".to_string()];
        let sh = find_executable("sh", &env).unwrap();
        assert!(sh.ends_with("sh"));
        let err = find_executable("no-such-program-xyz", &env).unwrap_err();
        assert!(err.to_string().contains("not found in $PATH"), "{err}");
        assert!(find_executable("/no/such/file", &env).is_err());
    }
}
