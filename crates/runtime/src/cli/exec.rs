//! `rt exec [--process FILE] [-d] [--pid-file F] [--cwd D] [-e K=V] [-u UID[:GID]] ID [CMD...]`

use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{Process, Spec};

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
    /// UID[:GID] to run as.
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
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
        for var in &args.env {
            if !var.contains('=') {
                bail!("--env {var:?}: must be NAME=VALUE");
            }
        }
        let mut env = process.env().clone().unwrap_or_default();
        env.extend(args.env.iter().cloned());
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
        u.set_additional_gids(None);
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
        },
        |spec| build_process(spec, args),
    )
}

#[cfg(test)]
mod tests {
    use super::parse_user;

    #[test]
    fn parses_numeric_users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("nobody").is_err());
        assert!(parse_user("1:x").is_err());
    }
}
