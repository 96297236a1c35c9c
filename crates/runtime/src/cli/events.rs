//! `rt events [--stats] [--interval 5s] ID`: JSON lines in the schema of runc's events
//! (`{"type":"stats","id":..,"data":{..}}`, `{"type":"oom","id":..}`), which go-runc parses.
//! With `--stats` one stats line; otherwise stats every interval and OOM kills as they
//! happen, until the container stops (then exit 0).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;

use crate::container::{self, Container, Event};
use crate::state::Store;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the container's statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print statistics (Go duration: 5s, 500ms, 1m30s).
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Container ID.
    pub id: String,
}

/// One line of output: runc's `types.Event`.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<T>,
}

/// Writes one JSON line (a reader that went away ends rt, see `output`); always `true`:
/// watching goes on.
fn print<T: Serialize>(line: &Line<'_, T>) -> anyhow::Result<bool> {
    let mut text = serde_json::to_string(line).context("encode the event")?;
    text.push('\n');
    crate::output::print(&text)?;
    Ok(true)
}

pub fn run(root: &Path, args: &Args) -> anyhow::Result<()> {
    let store = Store::new(root);
    let id = args.id.as_str();
    if args.stats {
        let stats = {
            let container = Container::load(&store, id)?;
            container::stats(&container)?
        };
        print(&Line {
            kind: "stats",
            id,
            data: Some(stats),
        })?;
        return Ok(());
    }
    container::watch(&store, id, args.interval, |event| match event {
        Event::Stats(stats) => print(&Line {
            kind: "stats",
            id,
            data: Some(stats),
        }),
        Event::Oom => print(&Line::<()> {
            kind: "oom",
            id,
            data: None,
        }),
    })
}

/// Parses a Go-style duration ("5s", "1.5s", "500ms", "1m30s", "2h"); it must be positive.
pub fn parse_duration(text: &str) -> anyhow::Result<Duration> {
    let bad = |why: &str| anyhow::anyhow!("invalid duration {text:?}: {why}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad("it is empty"));
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("a unit (ns, us, ms, s, m, h) is missing"))?;
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| bad("expected a number"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(bad(&format!("unknown unit {unit:?}"))),
        };
        rest = &rest[unit_len..];
        total += value * scale;
    }
    if total <= 0.0 || !total.is_finite() {
        bail!("invalid duration {text:?}: it must be positive");
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "0s", "5x", "s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }
}
