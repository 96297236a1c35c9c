//! After every handler's flow: the comparison of what the CRI reported for each, and the
//! latency of each call side by side.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::checks::Checks;

/// One run of a handler's flow.
pub struct Run {
    pub handler: String,
    pub round: usize,
    pub checks: Checks,
    pub timings: Vec<(&'static str, Duration)>,
}

impl Run {
    fn name(&self) -> String {
        format!("{} (run {})", self.handler, self.round)
    }
}

/// Every observation must be the same for all handlers: one PASS/FAIL line per key.
pub fn compare(runs: &[Run], out: &mut Checks) {
    let Some((first, rest)) = runs.split_first() else {
        return;
    };
    let mut keys: Vec<&String> = runs.iter().flat_map(|r| r.checks.observed.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let value = |run: &Run| {
            run.checks
                .observed
                .get(key)
                .cloned()
                .unwrap_or_else(|| "(not observed)".into())
        };
        let reference = value(first);
        let differ: Vec<String> = rest
            .iter()
            .filter(|r| value(r) != reference)
            .map(|r| format!("{} [{}]", r.name(), value(r)))
            .collect();
        if differ.is_empty() {
            out.pass(&format!("{key} [{reference}]"));
        } else {
            out.fail(
                key,
                format!("{} [{reference}] but {}", first.name(), differ.join(", ")),
            );
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// The table: one row per call label (in the order of the first flow), the number of calls
/// per handler and each handler's median over all its runs in milliseconds, and the ratio of
/// the first handler's to the second's.
pub fn latency_table(runs: &[Run]) -> String {
    let mut order: Vec<&'static str> = Vec::new();
    let mut handlers: Vec<&str> = Vec::new();
    let mut by_handler: Vec<BTreeMap<&'static str, Vec<Duration>>> = Vec::new();
    for run in runs {
        let i = match handlers.iter().position(|h| *h == run.handler) {
            Some(i) => i,
            None => {
                handlers.push(&run.handler);
                by_handler.push(BTreeMap::new());
                handlers.len() - 1
            }
        };
        for (label, d) in &run.timings {
            if !order.contains(label) {
                order.push(label);
            }
            by_handler[i].entry(label).or_default().push(*d);
        }
    }
    let width = order.iter().map(|l| l.len()).max().unwrap_or(4).max(4);
    let mut table = format!("{:<width$} {:>3}", "call", "n");
    for handler in &handlers {
        table += &format!(" {:>12}", format!("{handler} ms"));
    }
    if let [a, b] = handlers[..] {
        table += &format!(" {:>8}", format!("{a}/{b}"));
    }
    table += "\n";
    let mut totals = vec![Duration::ZERO; handlers.len()];
    for label in &order {
        let n = by_handler
            .iter()
            .map(|m| m.get(label).map_or(0, Vec::len))
            .max()
            .unwrap_or(0);
        table += &format!("{label:<width$} {n:>3}");
        let mut medians = Vec::new();
        for (i, map) in by_handler.iter().enumerate() {
            match map.get(label) {
                Some(v) => {
                    totals[i] += v.iter().sum::<Duration>();
                    let m = median(v.clone());
                    medians.push(Some(m));
                    table += &format!(" {:>12}", ms(m));
                }
                None => {
                    medians.push(None);
                    table += &format!(" {:>12}", "-");
                }
            }
        }
        if let [Some(a), Some(b)] = medians[..] {
            table += &format!(" {:>8.2}", a.as_secs_f64() / b.as_secs_f64().max(1e-9));
        }
        table += "\n";
    }
    let rounds = runs.iter().map(|r| r.round).max().unwrap_or(1);
    table += &format!(
        "{:<width$} {:>3}",
        format!("all calls, sum of {rounds} runs"),
        ""
    );
    for t in &totals {
        table += &format!(" {:>12}", ms(*t));
    }
    if let [a, b] = totals[..] {
        table += &format!(" {:>8.2}", a.as_secs_f64() / b.as_secs_f64().max(1e-9));
    }
    table + "\n"
}
