//! `rt run [-d] ID`: create, start and wait; returns the container's exit status.

use std::path::Path;

use crate::container;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Return once the container is started, without waiting or deleting it.
    #[arg(short = 'd', long)]
    pub detach: bool,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<i32> {
    if args.create.console_socket.is_some() {
        anyhow::bail!("--console-socket: terminals are not supported yet");
    }
    container::run_foreground(&Store::new(root), &args.create.options(), args.detach)
}
