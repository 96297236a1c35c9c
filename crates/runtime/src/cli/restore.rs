//! `rt restore [-b BUNDLE] [--image-path DIR] [-d] ... ID`: a container from a checkpoint
//! (runc's flags). Without --detach rt waits for it, as `rt run` does.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::checkpoint::CgroupsMode;
use crate::console;
use crate::container::{self, RestoreOptions};
use crate::criu::rpc::CgMode;
use crate::criu::Criu;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Path to the bundle directory (holding config.json).
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Directory of the image files [default: ./checkpoint].
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files [default: the image path].
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Return once the container is restored, without waiting or deleting it.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the restored init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the restored terminal's pty master to.
    #[arg(long = "console-socket", value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Do not make rt a subreaper while it waits for the container.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Allow established TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow unix sockets connected to peers outside the container.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// The container's process runs in a shell job.
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Restore file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// What CRIU does with the cgroups.
    #[arg(long = "manage-cgroups-mode", value_enum, value_name = "MODE")]
    pub manage_cgroups_mode: Option<CgroupsMode>,
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, criu: &Path, driver: cgroups::Driver, args: &Args) -> anyhow::Result<i32> {
    let criu = Criu::probe(criu, root).context("restore")?;
    let socket = args
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    let image_path = super::checkpoint::image_path(args.image_path.as_deref())?;
    let image_path = image_path.as_ref();
    let opts = RestoreOptions {
        criu: &criu,
        id: &args.id,
        bundle: &args.bundle,
        image_path,
        work_path: args.work_path.as_deref(),
        pid_file: args.pid_file.as_deref(),
        console_socket: socket.as_ref().map(|s| s.as_raw_fd()),
        detach: args.detach,
        no_subreaper: args.no_subreaper,
        tcp_established: args.tcp_established,
        ext_unix_sk: args.ext_unix_sk,
        shell_job: args.shell_job,
        file_locks: args.file_locks,
        manage_cgroups_mode: args.manage_cgroups_mode.map(CgMode::from),
        cgroup_driver: driver,
    };
    container::restore(&Store::new(root), &opts)
}
