//! `rt list [--format table|json] [-q]`

use std::path::Path;

use super::Format;
use crate::container::Container;
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Print only the IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let store = Store::new(root);
    let mut rows = Vec::new();
    for id in store.list()? {
        // A container deleted meanwhile, or one being created, is skipped.
        let Ok(container) = Container::load(&store, &id) else {
            continue;
        };
        let status = container.status();
        rows.push(serde_json::to_value(container.oci_state(status))?);
    }
    if args.quiet {
        for row in &rows {
            println!("{}", row["id"].as_str().unwrap_or_default());
        }
        return Ok(());
    }
    if args.format == Format::Json {
        println!("{}", serde_json::Value::Array(rows));
        return Ok(());
    }
    println!(
        "{:<20} {:<10} {:<10} {:<40} {:<32} OWNER",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for row in &rows {
        let s = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        println!(
            "{:<20} {:<10} {:<10} {:<40} {:<32} {}",
            s("id"),
            row["pid"].to_string(),
            s("status"),
            s("bundle"),
            s("created"),
            s("owner")
        );
    }
    Ok(())
}
