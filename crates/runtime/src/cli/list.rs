//! `rt list [--format table|json] [-q]`

use std::path::Path;

use super::Format;
use crate::container::Container;
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
        let mut text = String::new();
        for row in &rows {
            text.push_str(row["id"].as_str().unwrap_or_default());
            text.push('\n');
        }
        return output::print(&text);
    }
    if args.format == Format::Json {
        return output::println(&serde_json::Value::Array(rows).to_string());
    }
    let mut text = format!(
        "{:<20} {:<10} {:<10} {:<40} {:<32} OWNER\n",
        "ID", "PID", "STATUS", "BUNDLE", "CREATED"
    );
    for row in &rows {
        let s = |k: &str| row[k].as_str().unwrap_or_default().to_string();
        text += &format!(
            "{:<20} {:<10} {:<10} {:<40} {:<32} {}\n",
            s("id"),
            row["pid"].to_string(),
            s("status"),
            s("bundle"),
            s("created"),
            s("owner")
        );
    }
    output::print(&text)
}
