//! `rt list [--format table|json] [-q]`

use std::path::Path;

use anyhow::Context;

use super::Format;
use crate::container::{self, OciState};
use crate::output;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only the IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// One row: the container's OCI state.
type Row = (crate::state::State, container::Status);

/// The row of container `id`; None for one deleted meanwhile or still being created. As
/// runc: read without the container's lock (state.json is replaced atomically), so a list
/// never waits on a create or delete.
fn row(store: &Store, id: &str) -> Option<Row> {
    let state = store.peek(id).ok()?;
    let status = container::status_of(&state, &store.fifo_path(id));
    Some((state, status))
}

/// The rows of `ids`, in order. Each costs three small files (state.json, /proc/PID/stat,
/// the freezer's state), nearly all of it in the kernel: hundreds are read in parallel.
fn rows(store: &Store, ids: &[String]) -> anyhow::Result<Vec<Row>> {
    crate::parallel::filter_map(ids, |id| row(store, id)).context("list")
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let store = Store::new(root);
    let rows = rows(&store, &store.list()?)?;
    if args.quiet {
        let mut text = String::new();
        for (state, _) in &rows {
            text.push_str(&state.id);
            text.push('\n');
        }
        return output::print(&text);
    }
    if args.format == Format::Json {
        let states: Vec<OciState> = rows.iter().map(|(st, s)| OciState::of(st, *s)).collect();
        return output::println(&serde_json::to_string(&states)?);
    }
    let mut text = format!(
        "{:<20} {:<10} {:<10} {:<40} {:<32} OWNER\n",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for (state, status) in &rows {
        let o = OciState::of(state, *status);
        text += &format!(
            "{:<20} {:<10} {:<10} {:<40} {:<32} {}\n",
            o.id,
            o.pid,
            o.status,
            o.bundle.display(),
            o.created,
            o.owner
        );
    }
    output::print(&text)
}
