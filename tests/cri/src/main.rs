//! rt-cri: drives containerd's CRI plugin as the kubelet does, once per runtime handler (rt,
//! then runc for reference), then checks that the CRI reported the same for each and prints
//! each call's latency side by side. Started by tests/cri/run.sh, which owns containerd.
//!
//!   rt-cri --socket SOCK --dir DIR --cgroup-parent /PARENT --image IMAGE --bridge NAME
//!          --subnet 10.250.250. --sandbox-ids FILE [--handlers rt,runc] [--rounds 2]
//!
//! Prints one PASS/FAIL line per check, the table, and "N passed, M failed"; exits 1 on any
//! failure.

mod checks;
mod containers;
mod cri;
mod flow;
mod report;
mod specs;
mod stream;

use std::path::PathBuf;
use std::process::ExitCode;

use checks::Checks;
use report::Run;
use specs::Ctx;

struct Args {
    socket: PathBuf,
    dir: PathBuf,
    cgroup_parent: String,
    image: String,
    bridge: String,
    subnet: String,
    sandbox_ids: PathBuf,
    handlers: Vec<String>,
    rounds: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let mut get = std::collections::HashMap::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        get.insert(flag, value);
    }
    let mut take = |flag: &str| {
        get.remove(flag)
            .ok_or_else(|| format!("missing {flag} (see the top of tests/cri/src/main.rs)"))
    };
    let args = Args {
        socket: take("--socket")?.into(),
        dir: take("--dir")?.into(),
        cgroup_parent: take("--cgroup-parent")?,
        image: take("--image")?,
        bridge: take("--bridge")?,
        subnet: take("--subnet")?,
        sandbox_ids: take("--sandbox-ids")?.into(),
        handlers: take("--handlers")
            .unwrap_or_else(|_| "rt,runc".into())
            .split(',')
            .map(str::to_string)
            .collect(),
        rounds: take("--rounds")
            .unwrap_or_else(|_| "2".into())
            .parse()
            .map_err(|e| format!("--rounds: {e}"))?,
    };
    if let Some(flag) = get.keys().next() {
        return Err(format!("unknown option {flag}"));
    }
    if !args.cgroup_parent.starts_with('/') {
        return Err("--cgroup-parent must be absolute".into());
    }
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rt-cri: {e}");
            return ExitCode::from(2);
        }
    };
    let channel = match cri::connect(&args.socket).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rt-cri: {e}");
            println!("0 passed, 1 failed");
            return ExitCode::FAILURE;
        }
    };
    // The first call on a fresh connection pays for the connection: not in the table.
    let mut warm = cri::Cri::new(channel.clone());
    let request = k8s_cri::v1::VersionRequest {
        version: "v1".into(),
    };
    if let Err(e) = warm.version("warm-up", flow::DEADLINE, request).await {
        eprintln!("rt-cri: Version: {}", flow::status_text(&e));
        println!("0 passed, 1 failed");
        return ExitCode::FAILURE;
    }
    let mut runs = Vec::new();
    // Rounds alternate the handlers (rt, runc, rt, runc): neither gets only the cold start.
    for (round, handler) in
        (1..=args.rounds).flat_map(|r| args.handlers.iter().map(move |h| (r, h)))
    {
        let ctx = Ctx {
            handler: handler.clone(),
            round,
            dir: args.dir.clone(),
            cgroup_parent: args.cgroup_parent.clone(),
            image: args.image.clone(),
            bridge: args.bridge.clone(),
            subnet: args.subnet.clone(),
            sandbox_ids: args.sandbox_ids.clone(),
        };
        let mut cri = cri::Cri::new(channel.clone());
        let mut checks = Checks::new(handler, &format!("{handler}.{round}"));
        let start = std::time::Instant::now();
        flow::Flow::new(&ctx, &mut cri, &mut checks).run().await;
        let took = start.elapsed().as_secs_f64();
        eprintln!("--- {handler} (run {round}): flow took {took:.1} s");
        runs.push(Run {
            handler: handler.clone(),
            round,
            checks,
            timings: cri.timings,
        });
    }
    let mut same = Checks::new("", "same");
    if runs.len() > 1 {
        report::compare(&runs, &mut same);
    }
    println!(
        "\nCRI call latency (median of n calls, ms):\n{}",
        report::latency_table(&runs)
    );
    let passed = same.passed + runs.iter().map(|r| r.checks.passed).sum::<usize>();
    let mut failed: Vec<String> = same.failed.iter().map(|f| format!("same/{f}")).collect();
    if args.rounds == 0 || args.handlers.is_empty() {
        failed.push("no flow ran".into());
    }
    for run in &runs {
        let name = format!("{}.{}", run.handler, run.round);
        failed.extend(run.checks.failed.iter().map(|f| format!("{name}/{f}")));
    }
    if !failed.is_empty() {
        println!("failed: {}", failed.join(" "));
    }
    println!("{passed} passed, {} failed", failed.len());
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
