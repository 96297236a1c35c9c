//! `rt exec [--process FILE] [-d] [--pid-file F] [--cwd D] [-e K=V] [-u UID[:GID]] [-g GID]
//! [--cap CAP] [--no-new-privs] [--apparmor P] [--process-label L] [--cgroup [C:]PATH]
//! [--ignore-paused] ID [CMD...]`, runc's flags with runc's meaning (exec.go `getProcess`):
//! the process is the container's own (as created) with the command line's changes.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process, Spec};

use crate::console;
use crate::container::{self, ExecOptions};
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A JSON file with the process to run (an OCI `process` object).
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Return once the process has started, without waiting for it.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with --tty).
    #[arg(long = "console-socket", value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Working directory in the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Extra environment variables.
    #[arg(short = 'e', long = "env", value_name = "K=V")]
    pub env: Vec<String>,
    /// UID[:GID] to run as (numbers; the container's additional gids are kept, as runc).
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional gid for the process, added to the container's (repeatable).
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (CAP_SYS_PTRACE or sys_ptrace) to the process's bounding,
    /// effective, permitted and ambient sets (repeatable; as runc, not to the inheritable
    /// set, so it is ambient only if the container's inheritable set has it).
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs for the process (whatever the container's process.noNewPrivileges).
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// The AppArmor profile of the process (ignored where AppArmor is not enabled, as runc).
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// The SELinux label of the process (an error where SELinux is not enabled).
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Run the process in an existing sub-cgroup of the container's: PATH (relative to the
    /// container's cgroup; every hierarchy on v1, the one on v2), or CONTROLLER[,...]:PATH
    /// on cgroup v1 (repeatable, one per controller).
    #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec into a paused container: the process is frozen with it until
    /// `rt resume` (without this flag it is an error).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Container ID.
    pub id: String,
    /// The command and its arguments (without --process).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn read_process_file(path: &Path) -> anyhow::Result<Process> {
    let data = fs::read(path).with_context(|| format!("--process {}", path.display()))?;
    serde_json::from_slice(&data)
        .with_context(|| format!("--process {}: invalid process", path.display()))
}

fn parse_user(text: &str) -> anyhow::Result<(u32, Option<u32>)> {
    let bad = || format!("--user {text:?}: must be UID[:GID] (numbers)");
    let (uid, gid) = match text.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (text, None),
    };
    let uid = uid.parse().with_context(bad)?;
    let gid = gid.map(|g| g.parse()).transpose().with_context(bad)?;
    Ok((uid, gid))
}

/// `--env NAME=VALUE`: replaces every variable NAME of the container's env (where the first
/// one was), or is added at the end (runc: a later value wins).
fn set_env_var(env: &mut Vec<String>, var: &str) -> anyhow::Result<()> {
    let name = match var.split_once('=') {
        Some((name, _)) if !name.is_empty() => name,
        _ => bail!("--env {var:?}: must be NAME=VALUE"),
    };
    let named = |e: &String| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == name;
    match env.iter().position(named) {
        Some(first) => {
            env[first] = var.to_string();
            let mut i = 0;
            env.retain(|e| {
                i += 1;
                i - 1 == first || !named(e)
            });
        }
        None => env.push(var.to_string()),
    }
    Ok(())
}

/// Parses a `--cap` name: `CAP_SYS_PTRACE`, `cap_sys_ptrace` or `SYS_PTRACE`.
fn parse_capability(text: &str) -> anyhow::Result<Capability> {
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("CAP_").unwrap_or(&upper);
    name.parse()
        .map_err(|_| anyhow::anyhow!("--cap {text:?}: unknown capability"))
}

/// `--cap`: each goes into the bounding, effective, permitted and ambient sets (runc's
/// exec.go; not the inheritable set since runc 1.1.2, CVE-2022-29162).
fn add_capabilities(process: &mut Process, names: &[String]) -> anyhow::Result<()> {
    let caps: Vec<Capability> = names
        .iter()
        .map(|n| parse_capability(n))
        .collect::<anyhow::Result<_>>()?;
    let mut sets = process.capabilities().clone().unwrap_or_else(|| {
        let mut none = LinuxCapabilities::default();
        for set in [
            LinuxCapabilities::set_bounding,
            LinuxCapabilities::set_effective,
            LinuxCapabilities::set_permitted,
            LinuxCapabilities::set_inheritable,
            LinuxCapabilities::set_ambient,
        ] {
            set(&mut none, None);
        }
        none
    });
    let add = |set: &Option<Capabilities>| {
        let mut set = set.clone().unwrap_or_default();
        set.extend(caps.iter().copied());
        Some(set)
    };
    let (b, e, p, a) = (
        add(sets.bounding()),
        add(sets.effective()),
        add(sets.permitted()),
        add(sets.ambient()),
    );
    sets.set_bounding(b)
        .set_effective(e)
        .set_permitted(p)
        .set_ambient(a);
    process.set_capabilities(Some(sets));
    Ok(())
}

/// The process to run: the --process file, or the container's process (from `spec`) with
/// the command line's command, env, cwd and user.
fn build_process(spec: &Spec, args: &Args) -> anyhow::Result<Process> {
    let mut process = match &args.process {
        Some(path) => read_process_file(path)?,
        None => {
            if args.command.is_empty() {
                bail!("exec: no command given (and no --process file)");
            }
            let mut p = spec
                .process()
                .clone()
                .context("the container's config.json has no process")?;
            p.set_args(Some(args.command.clone()));
            p.set_terminal(Some(args.tty));
            p
        }
    };
    if args.tty {
        process.set_terminal(Some(true));
    }
    if !args.env.is_empty() {
        let mut env = process.env().clone().unwrap_or_default();
        for var in &args.env {
            set_env_var(&mut env, var)?;
        }
        process.set_env(Some(env));
    }
    if let Some(cwd) = &args.cwd {
        if !cwd.is_absolute() {
            bail!("--cwd {}: must be an absolute path", cwd.display());
        }
        process.set_cwd(cwd.clone());
    }
    if let Some(user) = &args.user {
        let (uid, gid) = parse_user(user)?;
        let u = process.user_mut();
        u.set_uid(uid);
        if let Some(gid) = gid {
            u.set_gid(gid);
        }
    }
    if !args.additional_gids.is_empty() {
        let u = process.user_mut();
        let mut gids = u.additional_gids().clone().unwrap_or_default();
        gids.extend(&args.additional_gids);
        u.set_additional_gids(Some(gids));
    }
    if !args.caps.is_empty() {
        add_capabilities(&mut process, &args.caps)?;
    }
    if args.no_new_privs {
        process.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &args.apparmor {
        process.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        process.set_selinux_label(Some(label.clone()));
    }
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => bail!("process.args: must name the program to run"),
    }
    if args.console_socket.is_some() && process.terminal() != Some(true) {
        bail!("--console-socket given but the process has no terminal (--tty)");
    }
    Ok(process)
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<i32> {
    let store = Store::new(root);
    let console = args
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    container::exec(
        &store,
        &args.id,
        &ExecOptions {
            detach: args.detach,
            pid_file: args.pid_file.as_deref(),
            preserve_fds: args.preserve_fds,
            console_socket: console.as_ref().map(|c| c.as_raw_fd()),
            ignore_paused: args.ignore_paused,
            sub_cgroups: &args.cgroup,
        },
        |spec| build_process(spec, args),
    )
}

#[cfg(test)]
mod tests {
    use super::{parse_capability, parse_user, set_env_var};

    #[test]
    fn env_replaces_a_variable_of_the_same_name() {
        let mut env: Vec<String> = ["PATH=/bin", "A=1", "B=2", "A=3"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        set_env_var(&mut env, "A=new").unwrap();
        set_env_var(&mut env, "C=added").unwrap();
        set_env_var(&mut env, "PATH=/x=y").unwrap();
        assert_eq!(env, ["PATH=/x=y", "A=new", "B=2", "C=added"]);
        assert!(set_env_var(&mut env, "NOEQUALS").is_err());
        assert!(set_env_var(&mut env, "=value").is_err());
    }

    #[test]
    fn parses_capability_names() {
        for name in ["CAP_SYS_PTRACE", "cap_sys_ptrace", "SYS_PTRACE"] {
            assert_eq!(
                parse_capability(name).unwrap(),
                oci_spec::runtime::Capability::SysPtrace
            );
        }
        assert!(parse_capability("CAP_NOPE").is_err());
    }

    #[test]
    fn parses_numeric_users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("nobody").is_err());
        assert!(parse_user("1:x").is_err());
    }
}
