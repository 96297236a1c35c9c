//! OOM kills reported by `rt run`, `rt state`, `rt delete` and `rt events`, and the events
//! stream, on real busybox containers.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::{json, Value};

fn slow() -> u32 {
    if std::env::var_os("RT_GUEST").is_some() {
        4
    } else {
        1
    }
}

/// A container limited to 32 MiB (swap too, so swap cannot absorb it) whose shell doubles a
/// string until the kernel OOM-kills it (anonymous memory, unlike tmpfs pages).
fn oom_config(env: &Env, id: &str) -> Value {
    let mut config = env.config(id, &["sh", "-c", "a=x; while :; do a=$a$a; done"]);
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 32 << 20, "swap": 32 << 20 }),
    );
    config
}

#[test]
fn run_state_and_delete_report_an_oom_kill() {
    let env = Env::new("oom");
    let id = env.id("run");
    let out = env.run(&id, &oom_config(&env, &id));
    assert_eq!(out.status.code(), Some(137), "stderr: {}", stderr(&out));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(&format!("container {id} was OOM-killed")),
        "{err}"
    );
    env.assert_clean(&id, None);

    // Detached: `state` of the stopped container says so, `delete` too.
    let id = env.id("detached");
    let bundle = env.create(&id, &oom_config(&env, &id));
    assert_ok(&env.rt(&["start", &id]), "start");
    env.wait_status(&id, "stopped");
    let state = state_json(&env.rt(&["state", &id]));
    assert_eq!(state["oomKilled"], true, "{state}");
    let out = env.rt(&["delete", &id]);
    assert_ok(&out, "delete");
    assert!(
        stderr(&out).contains(&format!("container {id} was OOM-killed")),
        "{}",
        stderr(&out)
    );
    env.assert_clean(&id, Some(&bundle));

    // A container that merely exits has no such field and no such line.
    // SIGKILL without an OOM kill: 137, and no OOM line.
    let id = env.id("fine");
    let bundle = env.bundle(&id, &env.config(&id, &["sleep", "1000"]));
    let run = env
        .rt_cmd(&["run", "--bundle", bundle.to_str().unwrap(), &id])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rt run");
    env.wait_status(&id, "running");
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    let out = run.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    assert!(!stderr(&out).contains("OOM"), "{}", stderr(&out));
    let id = env.id("fine2");
    env.create(&id, &env.config(&id, &["true"]));
    assert_ok(&env.rt(&["start", &id]), "start");
    env.wait_status(&id, "stopped");
    let state = state_json(&env.rt(&["state", &id]));
    assert!(state.get("oomKilled").is_none(), "{state}");
    let out = env.rt(&["delete", &id]);
    assert_ok(&out, "delete");
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

/// Runs `rt events ARGS` in the background, stdout to a file; returns (child, path).
fn spawn_events(env: &Env, args: &[&str]) -> (std::process::Child, std::path::PathBuf) {
    let path = env.tmp.join(format!("events-{}.out", args.last().unwrap()));
    let file = fs::File::create(&path).unwrap();
    let child = env
        .rt_cmd(&[&["events"], args].concat())
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn rt events");
    (child, path)
}

/// Waits for a child we started (killing it after `limit`); returns its exit code.
fn wait_child(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("rt events did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn events_report_the_oom_kill_and_end_with_the_container() {
    let env = Env::new("events-oom");
    let id = env.id("oom");
    env.create(&id, &oom_config(&env, &id));
    let (mut child, path) = spawn_events(&env, &["--interval", "300ms", &id]);
    // Let events set up its OOM watcher (it prints stats first).
    let deadline = Instant::now() + Duration::from_secs(10) * slow();
    while fs::read_to_string(&path).unwrap_or_default().is_empty() {
        assert!(Instant::now() < deadline, "no first stats line");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_ok(&env.rt(&["start", &id]), "start");
    let code = wait_child(&mut child, Duration::from_secs(30) * slow());
    assert_eq!(code, Some(0));
    let events = lines(&path);
    assert_eq!(events[0]["type"], "stats");
    assert_eq!(events[0]["id"], id.as_str());
    assert!(events[0]["data"]["memory"]["usage"].is_object());
    let ooms: Vec<&Value> = events.iter().filter(|e| e["type"] == "oom").collect();
    assert!(!ooms.is_empty(), "no oom line: {events:?}");
    assert_eq!(ooms[0], &json!({ "type": "oom", "id": id }));
    assert_ok(&env.rt(&["delete", &id]), "delete");
}

#[test]
fn events_stream_stats_every_interval_until_the_container_stops() {
    let env = Env::new("events");
    let id = env.id("sleep");
    let secs = 2 * slow();
    let sleep = format!("sleep {secs}");
    env.create(&id, &env.config(&id, &["sh", "-c", &sleep]));
    assert_ok(&env.rt(&["start", &id]), "start");
    let (mut child, path) = spawn_events(&env, &["--interval", "200ms", &id]);
    let code = wait_child(&mut child, Duration::from_secs(30) * slow());
    assert_eq!(code, Some(0));
    let events = lines(&path);
    assert!(
        events.len() >= 3,
        "expected several stats lines: {events:?}"
    );
    assert!(events
        .iter()
        .all(|e| e["type"] == "stats" && e["id"] == id.as_str()));
    // Once stopped, events (and --stats) refuse it, as runc.
    env.wait_status(&id, "stopped");
    assert_fails_with(&env.rt(&["events", &id]), "container not running");
    assert_fails_with(
        &env.rt(&["events", "--stats", &id]),
        "container not running",
    );
    assert_ok(&env.rt(&["delete", &id]), "delete");
}

#[test]
fn events_of_an_unknown_container_or_with_a_bad_interval_fail() {
    let env = Env::new("events-bad");
    assert_fails_with(
        &env.rt(&["events", "nope"]),
        "container \"nope\" does not exist",
    );
    assert_fails_with(
        &env.rt(&["events", "--stats", "nope"]),
        "container \"nope\" does not exist",
    );
    let out = env.rt(&["events", "--interval", "5x", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("invalid duration"),
        "{}",
        stderr(&out)
    );
}
