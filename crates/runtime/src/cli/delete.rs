//! `rt delete [--force] ID`

use std::path::Path;

use crate::container;
use crate::logging;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill a running or paused container first; an unknown ID is not an error.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container ID.
    pub id: String,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let store = Store::new(root);
    // Read before the cgroup (which holds the OOM kill count) goes.
    let oom_killed = container::Container::load(&store, &args.id)
        .is_ok_and(|c| container::oom_killed(&c, c.status()));
    container::delete(&store, &args.id, args.force)?;
    if oom_killed {
        logging::warn(&format!("container {} was OOM-killed", args.id));
    }
    Ok(())
}
