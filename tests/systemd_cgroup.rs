//! `rt --systemd-cgroup`: containers in transient systemd scopes. The container tests run in
//! the systemd guest (`make test-systemd`); on a machine without systemd as PID 1 they say
//! they are skipped (and fail when RT_GUEST_SYSTEMD=1 says systemd should be there). The
//! refusals run everywhere.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::json;

fn have_systemd(test: &str) -> bool {
    if Path::new("/run/systemd/system").is_dir() {
        return true;
    }
    assert!(
        std::env::var_os("RT_GUEST_SYSTEMD").is_none(),
        "{test}: RT_GUEST_SYSTEMD is set but systemd is not running"
    );
    eprintln!("SKIPPED {test}: systemd is not PID 1 here (run `make test-systemd`)");
    false
}

fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn kfile(cgroup: &str, file: &str) -> String {
    let p = format!("/sys/fs/cgroup{cgroup}/{file}");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {p}: {e}"))
        .trim()
        .to_string()
}

fn wait_unit_gone(unit: &str, cgroup: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while show(unit, "LoadState") != "not-found"
        || Path::new(&format!("/sys/fs/cgroup{cgroup}")).exists()
    {
        assert!(Instant::now() < deadline, "{unit} ({cgroup}) still there");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn limits(config: &mut serde_json::Value) {
    set(
        config,
        "/linux/resources",
        json!({
            "devices": [{ "allow": false, "access": "rwm" }],
            "memory": { "limit": 67108864 },
            "pids": { "limit": 40 },
            "cpu": { "quota": 50000, "period": 100000, "shares": 512 }
        }),
    );
}

#[test]
fn create_in_a_scope_with_limits_then_delete_stops_it() {
    if !have_systemd("create_in_a_scope_with_limits_then_delete_stops_it") {
        return;
    }
    let env = Env::new("systemd-create");
    let id = env.id("sd");
    let mut config = env.config(&id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/cgroupsPath",
        json!(format!("system.slice:rt:{id}")),
    );
    limits(&mut config);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "create --systemd-cgroup");
    let unit = format!("rt-{id}.scope");
    let cgroup = format!("/system.slice/{unit}");
    let state = state_json(&env.rt(&["state", &id]));
    let pid = state["pid"].as_i64().unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(own.trim(), format!("0::{cgroup}"));
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Delegate"), "yes");
    assert_eq!(show(&unit, "TasksMax"), "40");
    assert_eq!(show(&unit, "MemoryMax"), "67108864");
    assert_eq!(show(&unit, "CPUQuotaPerSecUSec"), "500ms");
    assert_eq!(kfile(&cgroup, "pids.max"), "40");
    assert_eq!(kfile(&cgroup, "memory.max"), "67108864");
    assert_eq!(kfile(&cgroup, "cpu.max"), "50000 100000");
    // start, ps, stats-backed commands find the cgroup.
    assert_ok(&env.rt(&["start", &id]), "start");
    env.wait_status(&id, "running");
    let ps = env.rt(&["ps", "--format", "json", &id]);
    assert_ok(&ps, "ps");
    assert!(stdout(&ps).contains(&pid.to_string()), "{}", stdout(&ps));
    // update goes to the unit too.
    assert_ok(&env.rt(&["update", "--pids-limit", "30", &id]), "update");
    assert_eq!(kfile(&cgroup, "pids.max"), "30");
    assert_eq!(show(&unit, "TasksMax"), "30");
    // delete --force (without the flag: the path says it is a scope) stops the unit.
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    wait_unit_gone(&unit, &cgroup);
    assert!(!env.root.join(&id).exists());
}

#[test]
fn run_with_cgroup_manager_systemd_and_default_path() {
    if !have_systemd("run_with_cgroup_manager_systemd_and_default_path") {
        return;
    }
    let env = Env::new("systemd-run");
    let id = env.id("sd");
    let mut config = env.config(&id, &["cat", "/proc/self/cgroup"]);
    // No cgroupsPath: ":rt:ID"; no cgroup namespace, so the full path shows.
    config["linux"]
        .as_object_mut()
        .unwrap()
        .remove("cgroupsPath");
    let ns = config["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "cgroup");
    limits(&mut config);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&[
        "--cgroup-manager",
        "systemd",
        "run",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "run --cgroup-manager systemd");
    let unit = format!("rt-{id}.scope");
    assert!(
        stdout(&out).starts_with(&format!("0::/system.slice/{unit}\n")),
        "{}",
        stdout(&out)
    );
    wait_unit_gone(&unit, &format!("/system.slice/{unit}"));
    assert!(!env.root.join(&id).exists());
}

#[test]
fn nested_slice_from_the_path() {
    if !have_systemd("nested_slice_from_the_path") {
        return;
    }
    let env = Env::new("systemd-slice");
    let id = env.id("sd");
    let mut config = env.config(&id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/cgroupsPath",
        json!(format!("rttest-sub.slice:pfx:{id}")),
    );
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&[
        "--systemd-cgroup",
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "create");
    let pid = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap();
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let cgroup = format!("/rttest.slice/rttest-sub.slice/pfx-{id}.scope");
    assert_eq!(own.trim(), format!("0::{cgroup}"));
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    wait_unit_gone(&format!("pfx-{id}.scope"), &cgroup);
}

#[test]
fn refusals_leave_nothing() {
    let env = Env::new("systemd-refuse");
    for (path, want) in [
        ("/rt/plain", "expected \"slice:prefix:name\""),
        ("a--b.slice:rt:x", "empty component"),
        ("system.slice:rt:x.slice", "not supported"),
    ] {
        let id = env.id("sd");
        let mut config = env.config(&id, &["true"]);
        set(&mut config, "/linux/cgroupsPath", json!(path));
        let bundle = env.bundle(&id, &config);
        let out = env.rt(&[
            "--systemd-cgroup",
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ]);
        assert_fails_with(&out, want);
        assert!(!env.root.join(&id).exists(), "{path}: state left");
    }
    if !Path::new("/run/systemd/system").is_dir() {
        let id = env.id("sd");
        let mut config = env.config(&id, &["true"]);
        set(
            &mut config,
            "/linux/cgroupsPath",
            json!(format!("system.slice:rt:{id}")),
        );
        let bundle = env.bundle(&id, &config);
        let out = env.rt(&[
            "--systemd-cgroup",
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ]);
        assert_fails_with(&out, "systemd is not running");
        assert!(!env.root.join(&id).exists());
    }
}
