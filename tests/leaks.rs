//! Process leaks: every process in a container's cgroup dies with `delete --force`, even
//! when the init is gone and its children were reparented to the host, and when the
//! container is paused.

use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::json;

fn wait_procs(env: &Env, id: &str, at_least: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = procs_in_cgroup(&env.cgroup_path(id)).len();
        if n >= at_least {
            return n;
        }
        assert!(
            Instant::now() < deadline,
            "only {n} processes in the cgroup"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Forks 500 children without a pid namespace, kills the init: the children live on
/// (reparented on the host); `delete --force` kills them all and removes the cgroup.
#[test]
fn orphans_of_a_dead_init_are_killed_by_delete() {
    let env = Env::new("orphans");
    let id = env.id("c");
    let script = "i=0; while [ $i -lt 500 ]; do sleep 1000 & i=$((i+1)); done; exec sleep 1000";
    let mut config = env.config(&id, &["sh", "-c", script]);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    set(
        &mut config,
        "/linux/resources/pids",
        json!({ "limit": 1000 }),
    );
    let bundle = env.create(&id, &config);
    assert_ok(&env.rt(&["start", &id]), "start");
    wait_procs(&env, &id, 501);
    let state = state_json(&env.rt(&["state", &id]));
    let pid = state["pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the container's init, which this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    env.wait_status(&id, "stopped");
    let left = procs_in_cgroup(&env.cgroup_path(&id)).len();
    assert!(left >= 500, "the children should outlive the init: {left}");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
    env.assert_clean(&id, Some(&bundle));
}

/// A paused container with children: `delete --force` thaws, kills and removes it.
#[test]
fn paused_container_force_delete() {
    let env = Env::new("pausedel");
    for pid_ns in [true, false] {
        let id = env.id("c");
        let script = "i=0; while [ $i -lt 50 ]; do sleep 1000 & i=$((i+1)); done; exec sleep 1000";
        let mut config = env.config(&id, &["sh", "-c", script]);
        if !pid_ns {
            config["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "pid");
        }
        let bundle = env.create(&id, &config);
        assert_ok(&env.rt(&["start", &id]), "start");
        wait_procs(&env, &id, 51);
        assert_ok(&env.rt(&["pause", &id]), "pause");
        assert_eq!(env.status(&id), "paused");
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
        env.assert_clean(&id, Some(&bundle));
    }
}
