//! `rt resume ID`: thaw a paused container.

use std::path::Path;

use crate::container::{self, Container};
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let container = Container::load(&Store::new(root), &args.id)?;
    container::resume(&container)
}
