//! `rt ps [--format table|json] ID [PS_ARGS...]`: the container's processes. `json` prints
//! an array of host pids (what go-runc's `Ps` reads); `table` prints PID and command line
//! from /proc, or, with PS_ARGS, runs `ps PS_ARGS` and keeps the lines of the container's
//! processes (as runc, whose default is `ps -ef`).

use std::fs;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use super::Format;
use crate::container::{self, Container};
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Container ID.
    pub id: String,
    /// Arguments for ps(1) (table format only), e.g. `-- -o pid,comm`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    if args.format == Format::Json && !args.ps_args.is_empty() {
        bail!("ps: --format json takes no ps arguments");
    }
    let pids = {
        let container = Container::load(&Store::new(root), &args.id)?;
        container::processes(&container)?
    };
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string(&pids)?),
        Format::Table if args.ps_args.is_empty() => {
            let mut text = format!("{:>8} CMD\n", "PID");
            for pid in pids {
                text.push_str(&format!("{pid:>8} {}\n", command_line(pid)));
            }
            text
        }
        Format::Table => filter_ps(&args.ps_args, &pids)?,
    };
    crate::output::print(&text)
}

/// /proc/PID/cmdline with spaces, or `[comm]` for kernel-style processes without one.
fn command_line(pid: i32) -> String {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let parts: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    if !parts.is_empty() {
        return parts.join(" ");
    }
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    format!("[{}]", comm.trim())
}

/// Runs `ps ARGS` and keeps the header and the lines whose PID column is one of `pids`.
fn filter_ps(ps_args: &[String], pids: &[i32]) -> anyhow::Result<String> {
    let out = Command::new("ps")
        .args(ps_args)
        .output()
        .context("run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let column = header
        .split_whitespace()
        .position(|h| h == "PID")
        .with_context(|| format!("ps {}: no PID column in {header:?}", ps_args.join(" ")))?;
    let mut result = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(column)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            result.push_str(line);
            result.push('\n');
        }
    }
    Ok(result)
}
