//! pause/resume, ps and `events --stats` on real busybox containers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::{json, Value};

/// Generous waits: the cgroup v2 guest runs under software emulation.
fn slow() -> u32 {
    if std::env::var_os("RT_GUEST").is_some() {
        4
    } else {
        1
    }
}

fn start(env: &Env, id: &str, config: &Value) -> PathBuf {
    let bundle = env.create(id, config);
    assert_ok(&env.rt(&["start", id]), "start");
    bundle
}

fn stats(env: &Env, id: &str) -> Value {
    let out = env.rt(&["events", "--stats", id]);
    assert_ok(&out, "events --stats");
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one line expected: {text}");
    let line: Value = serde_json::from_str(&text).expect("events --stats prints JSON");
    assert_eq!(line["type"], "stats");
    assert_eq!(line["id"], id);
    line["data"].clone()
}

fn cpu_total(env: &Env, id: &str) -> u64 {
    stats(env, id)["cpu"]["usage"]["total"]
        .as_u64()
        .expect("cpu.usage.total")
}

#[test]
fn pause_stops_cpu_use_and_resume_restarts_it() {
    let env = Env::new("pause");
    let id = env.id("busy");
    let config = env.config(&id, &["sh", "-c", "while :; do :; done"]);
    let bundle = start(&env, &id, &config);
    let wait = Duration::from_millis(400) * slow();

    std::thread::sleep(wait);
    let c1 = cpu_total(&env, &id);
    std::thread::sleep(wait);
    let c2 = cpu_total(&env, &id);
    assert!(c2 > c1, "a busy loop uses cpu: {c1} -> {c2}");

    assert_ok(&env.rt(&["pause", &id]), "pause");
    assert_eq!(env.status(&id), "paused");
    // A second pause is refused; nothing changes.
    assert_fails_with(&env.rt(&["pause", &id]), "already paused");
    let c3 = cpu_total(&env, &id);
    std::thread::sleep(wait);
    let c4 = cpu_total(&env, &id);
    assert_eq!(c3, c4, "a paused container uses no cpu");
    // ps works on a paused container.
    let out = env.rt(&["ps", "--format", "json", &id]);
    assert_ok(&out, "ps");
    let pids: Vec<i64> = serde_json::from_slice(&out.stdout).expect("ps json is an array");
    let init = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap();
    assert_eq!(pids, vec![init]);

    assert_ok(&env.rt(&["resume", &id]), "resume");
    assert_eq!(env.status(&id), "running");
    assert_fails_with(&env.rt(&["resume", &id]), "container not paused");
    std::thread::sleep(wait);
    let c5 = cpu_total(&env, &id);
    assert!(c5 > c4, "resumed, the loop uses cpu again: {c4} -> {c5}");

    // kill of a paused container works (rt thaws it).
    assert_ok(&env.rt(&["pause", &id]), "pause");
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill paused");
    env.wait_status(&id, "stopped");
    // Pause of a stopped container: a clear error.
    assert_fails_with(
        &env.rt(&["pause", &id]),
        &format!("cannot pause container {id}: container not running"),
    );
    assert_fails_with(&env.rt(&["resume", &id]), "container not running");
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn delete_force_of_a_paused_container() {
    let env = Env::new("pausedel");
    let id = env.id("p");
    let config = env.config(&id, &["sh", "-c", "sleep 1000 & while :; do sleep 1; done"]);
    let bundle = start(&env, &id, &config);
    assert_ok(&env.rt(&["pause", &id]), "pause");
    assert_eq!(env.status(&id), "paused");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn ps_lists_the_containers_processes() {
    let env = Env::new("ps");
    let id = env.id("p");
    let config = env.config(&id, &["sh", "-c", "sleep 1000 & sleep 1001 & wait"]);
    start(&env, &id, &config);
    let deadline = Instant::now() + Duration::from_secs(10) * slow();
    let pids = loop {
        let out = env.rt(&["ps", "-f", "json", &id]);
        assert_ok(&out, "ps");
        let pids: Vec<i64> = serde_json::from_slice(&out.stdout).expect("json array");
        if pids.len() == 3 || Instant::now() > deadline {
            break pids;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(pids.len(), 3, "sh and two sleeps: {pids:?}");
    let out = env.rt(&["ps", &id]);
    assert_ok(&out, "ps table");
    let table = stdout(&out);
    assert!(table.lines().next().unwrap().contains("PID"), "{table}");
    assert!(
        table.contains("sleep 1000") && table.contains("sleep 1001"),
        "{table}"
    );
    for pid in &pids {
        assert!(table.contains(&pid.to_string()), "{pid} missing: {table}");
    }
    assert_fails_with(&env.rt(&["ps", "nope"]), "does not exist");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
}

#[test]
fn stats_follow_runc_schema_and_report_memory_usage() {
    let env = Env::new("stats");
    let id = env.id("mem");
    // 50 MiB in a tmpfs: the pages are charged to the container's memory cgroup.
    let mut config = env.config(
        &id,
        &[
            "sh",
            "-c",
            "dd if=/dev/zero of=/dev/shm/fill bs=1M count=50 2>/dev/null && touch /tmp/done; \
             exec sleep 1000",
        ],
    );
    set(&mut config, "/linux/resources/pids", json!({ "limit": 50 }));
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 256 << 20 }),
    );
    start(&env, &id, &config);
    let init = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap();
    let done = PathBuf::from(format!("/proc/{init}/root/tmp/done"));
    let deadline = Instant::now() + Duration::from_secs(20) * slow();
    while !done.exists() {
        assert!(
            Instant::now() < deadline,
            "the container did not fill /dev/shm"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let data = stats(&env, &id);
    // runc's types.Stats shape (what go-runc decodes).
    for key in ["usage", "swap", "kernel", "kernelTCP"] {
        let entry = &data["memory"][key];
        assert!(entry.is_object(), "memory.{key}: {data}");
        assert!(
            entry["limit"].is_u64() && entry["failcnt"].is_u64(),
            "memory.{key}: {entry}"
        );
    }
    assert!(data["memory"]["raw"].is_object(), "memory.raw");
    assert!(data["cpu"]["usage"]["total"].as_u64().unwrap() > 0);
    assert!(data["blkio"].is_object() && data["hugetlb"].is_object());
    assert_eq!(data["pids"]["limit"], 50);
    assert_eq!(data["pids"]["current"], 1);
    assert_eq!(data["memory"]["usage"]["limit"], 256 << 20);
    let usage = data["memory"]["usage"]["usage"].as_u64().unwrap() as f64;
    let want = (50u64 << 20) as f64;
    assert!(
        (usage - want).abs() <= want * 0.10,
        "memory usage {usage} not within 10% of 50 MiB"
    );
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
}
