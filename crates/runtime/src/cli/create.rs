//! `rt create`

use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use crate::console;
use crate::container::{self, CreateOptions};
use crate::state::Store;

#[derive(clap::Args, Debug)]
#[group(skip)]
pub struct Args {
    /// Path to the bundle directory (holding config.json).
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Write the init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (with process.terminal).
    #[arg(long = "console-socket", value_name = "SOCK")]
    pub console_socket: Option<PathBuf>,
    /// Use move + chroot instead of pivot_root (for ramdisk roots).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (3 .. 3+N-1) to the container process.
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Container ID.
    pub id: String,
}

impl Args {
    /// `console_socket`: the connected --console-socket (or rt run's own pty channel).
    pub fn options(
        &self,
        console_socket: Option<RawFd>,
        cgroup_driver: cgroups::Driver,
    ) -> CreateOptions<'_> {
        CreateOptions {
            id: &self.id,
            bundle: &self.bundle,
            pid_file: self.pid_file.as_deref(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            console_socket,
            cgroup_driver,
        }
    }
}

pub fn run(root: &Path, driver: cgroups::Driver, args: &Args) -> anyhow::Result<()> {
    let console = args
        .console_socket
        .as_deref()
        .map(console::connect)
        .transpose()?;
    let fd = console.as_ref().map(|c| c.as_raw_fd());
    container::create(&Store::new(root), &args.options(fd, driver))?;
    Ok(())
}
