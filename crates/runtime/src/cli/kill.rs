//! `rt kill [--all] ID [SIGNAL]`

use std::path::Path;

use crate::container::{self, Container};
use crate::signal;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Send the signal to every process in the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container ID.
    pub id: String,
    /// Signal name or number (default SIGTERM).
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let sig = signal::parse(&args.signal)?;
    let container = Container::load(&Store::new(root), &args.id)?;
    container::kill(&container, sig, args.all)
}
