//! Crashes: `rt create` SIGKILLed at each stage (the `_RT_CRASH_AT` test hook, see
//! container/create.rs) leaves nothing that `rt delete --force` does not clean: no cgroup,
//! no state directory, no process. A half-made init dies with rt create (parent death
//! signal); a ready one is found through its cgroup.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::json;

const STAGES: &[&str] = &["dir", "cgroup", "child", "state"];

fn crash_create(env: &Env, id: &str, bundle: &std::path::Path, stage: &str) {
    let status = env
        .rt_cmd(&["create", "-b", bundle.to_str().unwrap(), id])
        .env("_RT_CRASH_AT", stage)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{stage}: {status}");
}

/// Waits until no process is in the container's cgroup (the half-made init dying).
fn wait_no_procs(env: &Env, id: &str) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = procs_in_cgroup(&env.cgroup_path(id));
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn crash_at_every_stage(name: &str, edit: fn(&mut serde_json::Value)) {
    let env = Env::new(name);
    for stage in STAGES {
        eprintln!("stage: {stage}");
        let id = env.id(stage);
        let mut config = env.config(&id, &["sleep", "100"]);
        edit(&mut config);
        let bundle = env.bundle(&id, &config);
        crash_create(&env, &id, &bundle, stage);
        if *stage != "state" {
            // Before ready, the init does not survive rt create.
            let left = wait_no_procs(&env, &id);
            assert!(left.is_empty(), "{stage}: processes {left:?} survived");
        }
        // The leftover is visible and explained, and the ID stays taken until it is gone.
        assert_fails_with(&env.rt(&["state", &id]), "is incomplete");
        assert_fails_with(
            &env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]),
            "container with id exists",
        );
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
        env.assert_clean(&id, Some(&bundle));
        // And the ID works again.
        let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
        assert!(out.status.code().is_some(), "{}", stderr(&out));
        let _ = env.rt(&["delete", "--force", &id]);
        env.assert_clean(&id, Some(&bundle));
    }
}

#[test]
fn create_killed_at_each_stage() {
    crash_at_every_stage("crash", |c| set(c, "/process/args", json!(["true"])));
}

/// Without a pid namespace (the init's death would not end its children) and with the
/// runtime hooks' extra round trip (the init waits on rt create twice).
#[test]
fn create_killed_at_each_stage_other_shapes() {
    crash_at_every_stage("crash-nopidns", |c| {
        set(c, "/process/args", json!(["true"]));
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
        set(
            c,
            "/hooks",
            json!({ "createRuntime": [{ "path": "/bin/true" }] }),
        );
    });
}

/// A crashed create whose default cgroup path (`/rt/ID`) is used: the marker still leads
/// delete to it.
#[test]
fn create_killed_with_default_cgroup_path() {
    let env = Env::new("crash-default");
    for stage in ["cgroup", "state"] {
        let id = env.id(stage);
        let mut config = env.config(&id, &["sleep", "100"]);
        config["linux"]
            .as_object_mut()
            .unwrap()
            .remove("cgroupsPath");
        let bundle = env.bundle(&id, &config);
        crash_create(&env, &id, &bundle, stage);
        let cg = format!("/rt/{id}");
        assert!(
            cgroup_dirs(&cg).iter().any(|d| d.exists()),
            "{stage}: no cgroup made"
        );
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
        for d in cgroup_dirs(&cg) {
            assert!(!d.exists(), "{stage}: {} left", d.display());
        }
        assert!(procs_in_cgroup(&cg).is_empty());
        env.assert_clean(&id, Some(&bundle));
    }
}
