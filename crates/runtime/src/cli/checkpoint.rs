//! `rt checkpoint [--image-path DIR] ... ID`: CRIU dumps the container (runc's flags).
//!
//! `--help` is rt's own flag here: podman runs `checkpoint --help` to learn whether the
//! runtime can checkpoint, so it prints the help and exits 0 only when CRIU works on this
//! host, and otherwise fails with the reason.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;

use crate::container::{self, CheckpointOptions};
use crate::criu::rpc::CgMode;
use crate::criu::Criu;
use crate::state::Store;

/// `--manage-cgroups-mode`: what CRIU does with the container's cgroups.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupsMode {
    /// Restore the properties of the cgroups CRIU creates only (CRIU's default).
    Soft,
    /// Restore every cgroup's properties.
    Full,
    /// Like full, and fail when a cgroup exists with other properties.
    Strict,
    /// Leave the cgroups alone.
    Ignore,
}

impl From<CgroupsMode> for CgMode {
    fn from(m: CgroupsMode) -> CgMode {
        match m {
            CgroupsMode::Soft => CgMode::Soft,
            CgroupsMode::Full => CgMode::Full,
            CgroupsMode::Strict => CgMode::Strict,
            CgroupsMode::Ignore => CgMode::Ignore,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory for the image files [default: ./checkpoint].
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files [default: the image path].
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// The images of a previous --pre-dump, relative to the image path (e.g. ../parent).
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Allow established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Skip TCP connections still being set up.
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Allow unix sockets connected to peers outside the container.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// The container's process runs in a shell job (its session is outside).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Checkpoint file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Allow open files that are unlinked but still linked elsewhere (link remap).
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// Deduplicate memory pages against the parent images.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Dump the memory only, for a later checkpoint with --parent-path; the container
    /// keeps running.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// What CRIU does with the cgroups.
    #[arg(long = "manage-cgroups-mode", value_enum, value_name = "MODE")]
    pub manage_cgroups_mode: Option<CgroupsMode>,
    /// Print help (exits 0 only when checkpointing can work on this host).
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// Container ID.
    #[arg(required_unless_present = "help")]
    pub id: Option<String>,
}

/// Prints the long help of subcommand `name`.
pub fn print_help(name: &str) -> anyhow::Result<()> {
    let mut cmd = <super::Cli as clap::CommandFactory>::command();
    cmd.build();
    let sub = cmd
        .find_subcommand_mut(name)
        .with_context(|| format!("no subcommand {name}"))?;
    sub.print_long_help().context("print the help")?;
    Ok(())
}

/// The container ID clap made sure of (it is required unless --help is given).
pub fn id(id: Option<&String>) -> anyhow::Result<&str> {
    id.map(String::as_str).context("a container ID is needed")
}

/// `--image-path`, or runc's default: `checkpoint` in the current directory.
pub fn image_path(given: Option<&Path>) -> anyhow::Result<std::borrow::Cow<'_, Path>> {
    Ok(match given {
        Some(p) => p.into(),
        None => std::env::current_dir()
            .context("the current directory (for the default --image-path)")?
            .join("checkpoint")
            .into(),
    })
}

pub fn run(root: &Path, criu: &Path, args: &Args) -> anyhow::Result<()> {
    let criu = Criu::probe(criu, root).context("checkpoint")?;
    if args.help {
        return print_help("checkpoint");
    }
    let id = id(args.id.as_ref())?;
    let image_path = image_path(args.image_path.as_deref())?;
    let image_path = image_path.as_ref();
    let opts = CheckpointOptions {
        criu: &criu,
        image_path,
        work_path: args.work_path.as_deref(),
        parent_path: args.parent_path.as_deref(),
        leave_running: args.leave_running,
        pre_dump: args.pre_dump,
        tcp_established: args.tcp_established,
        tcp_skip_in_flight: args.tcp_skip_in_flight,
        ext_unix_sk: args.ext_unix_sk,
        shell_job: args.shell_job,
        file_locks: args.file_locks,
        link_remap: args.link_remap,
        auto_dedup: args.auto_dedup,
        manage_cgroups_mode: args.manage_cgroups_mode.map(CgMode::from),
    };
    container::checkpoint(&Store::new(root), id, &opts)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use super::CgroupsMode;

    #[test]
    fn runcs_flags_parse_and_a_repeated_flag_counts_once() {
        // podman 4.3 passes --leave-running twice.
        let cli = Cli::try_parse_from([
            "rt",
            "checkpoint",
            "--image-path",
            "/i",
            "--leave-running",
            "--leave-running",
            "--manage-cgroups-mode",
            "ignore",
            "c1",
        ])
        .unwrap();
        let Command::Checkpoint(args) = cli.command else {
            panic!("not checkpoint");
        };
        assert!(args.leave_running && !args.help);
        assert_eq!(args.manage_cgroups_mode, Some(CgroupsMode::Ignore));
        assert_eq!(args.id.as_deref(), Some("c1"));
        // --help needs no ID; without --help the ID is required.
        assert!(Cli::try_parse_from(["rt", "checkpoint", "--help"]).is_ok());
        assert!(Cli::try_parse_from(["rt", "checkpoint"]).is_err());
        let cli = Cli::try_parse_from([
            "rt",
            "restore",
            "-d",
            "-d",
            "-b",
            "/b",
            "--pid-file",
            "/p",
            "c1",
        ])
        .unwrap();
        assert!(matches!(cli.command, Command::Restore(ref a) if a.detach && a.id == "c1"));
    }
}
