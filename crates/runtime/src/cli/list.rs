//! `rt list [--format table|json] [-q]`

use std::path::Path;

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
/// the freezer's state), nearly all of it in the kernel: hundreds are read by one thread
/// per CPU (at most 4; below 64 containers a thread costs more than it saves).
fn rows(store: &Store, ids: &[String]) -> anyhow::Result<Vec<Row>> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if ids.len() < 64 { 1 } else { cpus.min(4) };
    if workers <= 1 {
        return Ok(ids.iter().filter_map(|id| row(store, id)).collect());
    }
    let chunk = ids.len().div_ceil(workers);
    std::thread::scope(|s| {
        let workers: Vec<_> = ids
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().filter_map(|id| row(store, id)).collect()))
            .collect();
        let mut all = Vec::with_capacity(ids.len());
        for w in workers {
            let part: Vec<Row> = w
                .join()
                .map_err(|_| anyhow::anyhow!("list: a worker thread panicked"))?;
            all.extend(part);
        }
        Ok(all)
    })
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
