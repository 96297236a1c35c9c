//! `rt update`: new limits from flags, a JSON file and stdin, enforced by the kernel; bad
//! input changes nothing.

use std::io::Write;
use std::path::Path;
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

fn stats(env: &Env, id: &str) -> Value {
    let out = env.rt(&["events", "--stats", id]);
    assert_ok(&out, "events --stats");
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["data"].clone()
}

fn limits(env: &Env, id: &str) -> (Value, Value) {
    let data = stats(env, id);
    (
        data["memory"]["usage"]["limit"].clone(),
        data["pids"]["limit"].clone(),
    )
}

/// `rt update ARGS` with `input` on stdin.
fn update_stdin(env: &Env, args: &[&str], input: &str) -> std::process::Output {
    let mut child = env
        .rt_cmd(&[&["update"], args].concat())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rt update");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Waits until the container's /tmp/r holds `want`.
fn wait_file(path: &Path, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(15) * slow();
    loop {
        let now = std::fs::read_to_string(path).unwrap_or_default();
        if now.trim() == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {now:?}, expected {want}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn update_changes_limits_that_the_kernel_enforces() {
    let env = Env::new("update");
    let id = env.id("u");
    // The shell forks every 0.2 s; when a fork fails, busybox sh reports it and exits.
    let out_dir = env.tmp.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let script = "while :; do (true) && echo ok >/tmp/out/r; sleep 0.2; done 2>/tmp/out/err";
    let mut config = env.config(&id, &["sh", "-c", script]);
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/out", "type": "bind", "source": out_dir, "options": ["rbind", "rw"]
    }));
    set(
        &mut config,
        "/linux/resources/pids",
        json!({ "limit": 100 }),
    );
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 128 << 20, "swap": 128 << 20 }),
    );
    env.create(&id, &config);
    assert_ok(&env.rt(&["start", &id]), "start");
    wait_file(&out_dir.join("r"), "ok");
    assert_eq!(limits(&env, &id), (json!(128 << 20), json!(100)));

    // Memory flags with units, as runc takes them.
    assert_ok(
        &env.rt(&["update", "--memory", "64m", "--memory-swap", "64m", &id]),
        "update --memory",
    );
    assert_eq!(limits(&env, &id).0, json!(64 << 20));

    // A LinuxResources file (podman's way), flags on top of it.
    let file = env.tmp.join("resources.json");
    let doc = json!({ "memory": { "limit": 48 << 20, "swap": 48 << 20 }, "pids": { "limit": 20 } });
    std::fs::write(&file, doc.to_string()).unwrap();
    let arg = format!("--resources={}", file.display());
    assert_ok(
        &env.rt(&["update", &arg, "--pids-limit", "30", &id]),
        "update --resources=FILE",
    );
    assert_eq!(limits(&env, &id), (json!(48 << 20), json!(30)));

    // stdin (containerd's way).
    let doc = json!({ "memory": { "limit": 40 << 20, "swap": 40 << 20 }, "pids": { "limit": 25 } });
    let out = update_stdin(&env, &["--resources", "-", &id], &doc.to_string());
    assert_ok(&out, "update --resources -");
    assert_eq!(limits(&env, &id), (json!(40 << 20), json!(25)));
    assert_eq!(env.status(&id), "running");

    // The pids limit drops to 1 (the shell itself): its next fork fails.
    assert_ok(
        &env.rt(&["update", "--pids-limit", "1", &id]),
        "update --pids-limit",
    );
    env.wait_status(&id, "stopped");
    let err = std::fs::read_to_string(out_dir.join("err")).unwrap_or_default();
    assert!(err.contains("fork"), "the shell's error: {err:?}");

    assert_ok(&env.rt(&["delete", &id]), "delete");
}

#[test]
fn update_with_bad_input_changes_nothing() {
    let env = Env::new("update-bad");
    let id = env.id("u");
    let mut config = env.config(&id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/resources/pids",
        json!({ "limit": 100 }),
    );
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 128 << 20 }),
    );
    env.create(&id, &config);
    assert_ok(&env.rt(&["start", &id]), "start");
    let before = limits(&env, &id);

    // Malformed JSON on stdin: the error names the source, line and column.
    let out = update_stdin(
        &env,
        &["--resources", "-", "--memory", "64m", &id],
        "{\"pids\": {\"limit\": 5},\n \"memory\": {\"limit\": }}",
    );
    assert_fails_with(&out, "--resources stdin");
    assert!(stderr(&out).contains("line 2 column"), "{}", stderr(&out));
    // From a file: wrong type.
    let file = env.tmp.join("bad.json");
    std::fs::write(&file, "{\"pids\": {\"limit\": \"many\"}}").unwrap();
    let out = env.rt(&["update", "--resources", file.to_str().unwrap(), &id]);
    assert_fails_with(&out, &format!("--resources {}", file.display()));
    assert!(stderr(&out).contains("line 1 column"), "{}", stderr(&out));
    // A missing file, a bad size.
    assert_fails_with(
        &env.rt(&["update", "--resources", "/nonexistent.json", &id]),
        "/nonexistent.json",
    );
    let out = env.rt(&["update", "--memory", "lots", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("invalid size"), "{}", stderr(&out));
    assert_eq!(limits(&env, &id), before, "bad input changed the limits");

    // Unknown and stopped containers.
    assert_fails_with(
        &env.rt(&["update", "--pids-limit", "5", "nope"]),
        "does not exist",
    );
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    env.wait_status(&id, "stopped");
    assert_fails_with(
        &env.rt(&["update", "--pids-limit", "5", &id]),
        "container not running",
    );
    assert_ok(&env.rt(&["delete", &id]), "delete");
}
