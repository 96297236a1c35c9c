//! `rt delete [--force] ID`

use std::path::Path;

use crate::container;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill the container first if it is not stopped; an unknown ID is not an error.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    container::delete(&Store::new(root), &args.id, args.force)
}
