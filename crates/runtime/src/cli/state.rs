//! `rt state`: the OCI state of one container as JSON.

use std::path::Path;

use crate::container::Container;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let container = Container::load(&Store::new(root), &args.id)?;
    let state = container.oci_state(container.status());
    crate::output::println(&serde_json::to_string_pretty(&state)?)?;
    Ok(())
}
