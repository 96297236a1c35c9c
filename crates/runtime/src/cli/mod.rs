//! The command line: runc-compatible flags, one file per subcommand.
//!
//! Subcommand files parse and print; `container/` decides what happens.

mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod monitor;
mod pause;
mod ps;
mod restore;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args as _, Parser, ValueEnum};

use crate::logging::{self, LogFormat};

/// Default state directory, as runc's /run/runc.
pub const DEFAULT_ROOT: &str = "/run/rt";

#[derive(Parser, Debug)]
#[command(
    name = "rt",
    version,
    about = "rt: a low-level OCI container runtime",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Directory for container state (tmpfs recommended) [default: /run/rt, or
    /// $XDG_RUNTIME_DIR/rt for an unprivileged user].
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Also write log messages to FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of the log file.
    #[arg(long = "log-format", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd: linux.cgroupsPath is "slice:prefix:name" and the
    /// container's cgroup a transient scope unit (prefix-name.scope).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// crun's spelling: "systemd" is --systemd-cgroup; "cgroupfs" (default) and "disabled"
    /// use cgroupfs.
    #[arg(long = "cgroup-manager", global = true, value_enum, hide = true)]
    pub cgroup_manager: Option<CgroupManager>,
    /// The CRIU binary for checkpoint and restore (a name is looked up in $PATH).
    #[arg(long, global = true, value_name = "PATH", default_value = crate::criu::DEFAULT_BIN)]
    pub criu: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

/// Output format of `list` and `ps`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupManager {
    Cgroupfs,
    Systemd,
    Disabled,
}

#[derive(Debug)]
pub enum Command {
    Create(create::Args),
    Start(start::Args),
    State(state::Args),
    Kill(kill::Args),
    Delete(delete::Args),
    Exec(exec::Args),
    Run(run::Args),
    List(list::Args),
    Spec(spec::Args),
    Features,
    Pause(pause::Args),
    Resume(resume::Args),
    Ps(ps::Args),
    Events(events::Args),
    Update(update::Args),
    Monitor(monitor::Args),
    Checkpoint(checkpoint::Args),
    Restore(restore::Args),
}

/// Adds a subcommand's arguments to its (empty) clap command.
type AddArgs = fn(clap::Command) -> clap::Command;

/// The subcommands: (name, one-line help, how to add its arguments). Each one's arguments
/// are added only when clap needs them (`Command::defer`): when it is the one given, or for
/// its --help. Building all of them for every invocation was a fifth of an `rt delete`'s
/// CPU, and rt starts twice per create (the sealed re-exec).
const SUBCOMMANDS: &[(&str, &str, AddArgs)] = &[
    (
        "create",
        "Create a container from a bundle; its process waits for `start`.",
        create::Args::augment_args,
    ),
    (
        "start",
        "Start the user process of a created container.",
        start::Args::augment_args,
    ),
    (
        "state",
        "Print the OCI state of a container as JSON.",
        state::Args::augment_args,
    ),
    (
        "kill",
        "Send a signal to the container's init process (or all its processes).",
        kill::Args::augment_args,
    ),
    (
        "delete",
        "Delete a stopped or created container (killing a created one's init) and everything \
         rt made for it.",
        delete::Args::augment_args,
    ),
    (
        "exec",
        "Run a new process in a running container.",
        exec::Args::augment_args,
    ),
    (
        "run",
        "Create, start and wait for a container; delete it afterwards unless --detach.",
        run::Args::augment_args,
    ),
    (
        "list",
        "List the containers under --root.",
        list::Args::augment_args,
    ),
    (
        "spec",
        "Write a default config.json into a bundle directory.",
        spec::Args::augment_args,
    ),
    (
        "features",
        "Print the features this runtime supports (runtime-spec features.json).",
        |c| c,
    ),
    (
        "pause",
        "Freeze every process of a running container.",
        pause::Args::augment_args,
    ),
    (
        "resume",
        "Thaw a paused container.",
        resume::Args::augment_args,
    ),
    (
        "ps",
        "List the processes of a container (json: an array of host pids).",
        ps::Args::augment_args,
    ),
    (
        "events",
        "Print a container's statistics and OOM kills as JSON lines (runc's events schema).",
        events::Args::augment_args,
    ),
    (
        "update",
        "Change the resource limits of a running container.",
        update::Args::augment_args,
    ),
    (
        "monitor",
        "Serve Prometheus metrics of every container under --root.",
        monitor::Args::augment_args,
    ),
    (
        "checkpoint",
        "Checkpoint a running container with CRIU (it is gone afterwards unless \
         --leave-running or --pre-dump).",
        // A flag given twice counts once (podman 4.3 passes `--leave-running` twice).
        |c| checkpoint::Args::augment_args(c.disable_help_flag(true).args_override_self(true)),
    ),
    (
        "restore",
        "Restore a container from a checkpoint with CRIU; wait for it unless --detach.",
        |c| restore::Args::augment_args(c.args_override_self(true)),
    ),
];

impl clap::Subcommand for Command {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        SUBCOMMANDS
            .iter()
            .fold(cmd, |cmd, &(name, about, args)| {
                cmd.subcommand(clap::Command::new(name).about(about).defer(args))
            })
            .subcommand_required(true)
            .arg_required_else_help(true)
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        SUBCOMMANDS.iter().any(|&(n, _, _)| n == name)
    }
}

impl clap::FromArgMatches for Command {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut matches.clone())
    }

    fn from_arg_matches_mut(matches: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        use clap::FromArgMatches as F;
        let Some((name, mut sub)) = matches.remove_subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        let m = &mut sub;
        Ok(match name.as_str() {
            "create" => Command::Create(F::from_arg_matches_mut(m)?),
            "start" => Command::Start(F::from_arg_matches_mut(m)?),
            "state" => Command::State(F::from_arg_matches_mut(m)?),
            "kill" => Command::Kill(F::from_arg_matches_mut(m)?),
            "delete" => Command::Delete(F::from_arg_matches_mut(m)?),
            "exec" => Command::Exec(F::from_arg_matches_mut(m)?),
            "run" => Command::Run(F::from_arg_matches_mut(m)?),
            "list" => Command::List(F::from_arg_matches_mut(m)?),
            "spec" => Command::Spec(F::from_arg_matches_mut(m)?),
            "features" => Command::Features,
            "pause" => Command::Pause(F::from_arg_matches_mut(m)?),
            "resume" => Command::Resume(F::from_arg_matches_mut(m)?),
            "ps" => Command::Ps(F::from_arg_matches_mut(m)?),
            "events" => Command::Events(F::from_arg_matches_mut(m)?),
            "update" => Command::Update(F::from_arg_matches_mut(m)?),
            "monitor" => Command::Monitor(F::from_arg_matches_mut(m)?),
            "checkpoint" => Command::Checkpoint(F::from_arg_matches_mut(m)?),
            "restore" => Command::Restore(F::from_arg_matches_mut(m)?),
            _ => return Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand)),
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Cli {
    /// Parses argv. `--help`/`--version` print as clap writes them and exit 0; a usage
    /// error is one line `rt: ...` on stderr and exit status 1 (as every rt error; runc
    /// exits 1 too), never clap's multi-line text.
    pub fn parse_from_env() -> Cli {
        match Cli::try_parse() {
            Ok(cli) => cli,
            Err(err) if !err.use_stderr() => {
                let _ = err.print();
                std::process::exit(0);
            }
            Err(err) => {
                crate::output::stderr_line(&format!("rt: {}", usage_error_line(&err)));
                std::process::exit(1);
            }
        }
    }
}

/// One line for a clap usage error: its first paragraph without clap's `error: ` prefix
/// (the tips and usage that follow are dropped), and which `--help` to read.
fn usage_error_line(err: &clap::Error) -> String {
    use clap::error::ErrorKind;
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return "a command is required (see rt --help)".to_string();
    }
    // Display of a clap error is plain text (no colour codes).
    let text = err.to_string();
    let mut lines = text.lines().map(str::trim).skip_while(|l| l.is_empty());
    let what: Vec<&str> = lines.by_ref().take_while(|l| !l.is_empty()).collect();
    let what = what.join(" ");
    let what = what.strip_prefix("error: ").unwrap_or(&what);
    // "Usage: rt kill [OPTIONS] <ID> [SIGNAL]" names the (sub)command.
    let command: Vec<&str> = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Usage: "))
        .map(|u| {
            u.split_whitespace()
                .take_while(|w| !w.starts_with(['[', '<', '-']))
                .collect()
        })
        .unwrap_or_default();
    let command = if command.is_empty() {
        "rt".to_string()
    } else {
        command.join(" ")
    };
    format!("{what} (see {command} --help)")
}

/// Runs the chosen subcommand and returns the process exit status.
pub fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    // The commands that fork into a container: the fds they pass on are held before rt
    // opens any of its own (its log first), and they run from a sealed copy of rt.
    let preserved = match &cli.command {
        Command::Create(args) => Some(args.preserve_fds),
        Command::Run(args) => Some(args.create.preserve_fds),
        Command::Exec(args) => Some(args.preserve_fds),
        _ => None,
    };
    if let Some(n) = preserved {
        let n = n.saturating_add(crate::container::socket_activation_fds());
        crate::init::fds::reserve_preserved(n).context("hold the preserved fds")?;
    }
    logging::init(cli.log.as_deref(), cli.log_format, cli.debug)?;
    if preserved.is_some() {
        crate::sealed::ensure()?;
    }
    // Only the commands that make a cgroup choose its driver; the others read the one
    // recorded in the container's state.
    let driver = if cli.systemd_cgroup || cli.cgroup_manager == Some(CgroupManager::Systemd) {
        cgroups::Driver::Systemd
    } else {
        cgroups::Driver::Cgroupfs
    };
    let root = &state_root(cli.root.as_deref());
    match &cli.command {
        Command::Create(args) => create::run(root, driver, args).map(|()| 0),
        Command::Start(args) => start::run(root, args).map(|()| 0),
        Command::State(args) => state::run(root, args).map(|()| 0),
        Command::Kill(args) => kill::run(root, args).map(|()| 0),
        Command::Delete(args) => delete::run(root, args).map(|()| 0),
        Command::Run(args) => run::run(root, driver, args),
        Command::Exec(args) => exec::run(root, args),
        Command::List(args) => list::run(root, args).map(|()| 0),
        Command::Spec(args) => spec::run(args).map(|()| 0),
        Command::Features => features::run().map(|()| 0),
        Command::Pause(args) => pause::run(root, args).map(|()| 0),
        Command::Resume(args) => resume::run(root, args).map(|()| 0),
        Command::Ps(args) => ps::run(root, args).map(|()| 0),
        Command::Events(args) => events::run(root, args).map(|()| 0),
        Command::Update(args) => update::run(root, args).map(|()| 0),
        Command::Monitor(args) => monitor::run(root, args).map(|()| 0),
        Command::Checkpoint(args) => checkpoint::run(root, &cli.criu, args).map(|()| 0),
        Command::Restore(args) => restore::run(root, &cli.criu, driver, args),
    }
}

/// `--root`, else /run/rt; an unprivileged user (euid != 0) with `$XDG_RUNTIME_DIR` gets
/// `$XDG_RUNTIME_DIR/rt` (as runc's `$XDG_RUNTIME_DIR/runc`).
fn state_root(given: Option<&std::path::Path>) -> PathBuf {
    if let Some(root) = given {
        return root.to_path_buf();
    }
    if crate::container::rootless() {
        if let Some(xdg) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
            return PathBuf::from(xdg).join("rt");
        }
    }
    PathBuf::from(DEFAULT_ROOT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        // Builds every deferred subcommand too.
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_parses_to_its_own_variant() {
        for &(name, _, _) in SUBCOMMANDS {
            // `--help` prints the subcommand's help (clap's "error" that goes to stdout);
            // checkpoint parses it itself (podman reads its output).
            match Cli::try_parse_from(["rt", name, "--help"]) {
                Err(err) => assert!(!err.use_stderr(), "{name}: {err}"),
                Ok(cli) => assert!(matches!(cli.command, Command::Checkpoint(_)), "{name}"),
            }
        }
        let cli =
            Cli::try_parse_from(["rt", "--root", "/r", "kill", "--all", "c1", "TERM"]).unwrap();
        assert!(matches!(cli.command, Command::Kill(_)), "{cli:?}");
        assert_eq!(cli.root.as_deref(), Some(std::path::Path::new("/r")));
        let cli = Cli::try_parse_from(["rt", "features"]).unwrap();
        assert!(matches!(cli.command, Command::Features));
        // Global flags after the subcommand, as engines pass them.
        let cli = Cli::try_parse_from(["rt", "delete", "--force", "c1", "--debug"]).unwrap();
        assert!(cli.debug && matches!(cli.command, Command::Delete(_)));
        assert!(Cli::try_parse_from(["rt", "nosuch"]).is_err());
    }
}
