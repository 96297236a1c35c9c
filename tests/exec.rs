//! `rt exec`: a new process in a running container sees the container's hostname, pid
//! namespace, filesystem and cgroup, with the user, cwd and env asked for.

use std::fs;
use std::time::Duration;

use rt_tests::*;
use serde_json::json;

fn running(env: &Env) -> String {
    let id = env.id("c");
    let bundle = env.bundle(&id, &env.config(&id, &["sleep", "1000"]));
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    id
}

#[test]
fn exec_joins_the_containers_namespaces_and_returns_its_status() {
    let env = Env::new("exec");
    let id = running(&env);
    let script = "hostname; cat /proc/1/comm; echo $$; ls /bin/busybox; exit 7";
    let out = env.rt(&["exec", &id, "sh", "-c", script]);
    assert_eq!(out.status.code(), Some(7), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "rt-test");
    assert_eq!(lines[1], "sleep", "pid 1 of the container's pid namespace");
    assert!(lines[2].parse::<i32>().unwrap() > 1);
    assert_eq!(lines[3], "/bin/busybox");
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn exec_detached_lands_in_the_containers_cgroup() {
    let env = Env::new("execd");
    let id = running(&env);
    let pid_file = env.tmp.join("exec.pid");
    let out = env.rt(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "500",
    ]);
    assert_ok(&out, "exec -d");
    let pid: i32 = fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(procs_in_cgroup(&env.cgroup_path(&id)).contains(&pid));
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    // delete --force kills the exec'd process too.
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    std::thread::sleep(Duration::from_millis(50));
    env.assert_clean(&id, None);
}

#[test]
fn exec_user_cwd_env_and_process_file() {
    let env = Env::new("execopts");
    let id = running(&env);
    let out = env.rt(&[
        "exec",
        "-u",
        "1000:100",
        "--cwd",
        "/tmp",
        "-e",
        "FOO=bar",
        &id,
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO",
    ]);
    assert_ok(&out, "exec -u --cwd -e");
    assert_eq!(stdout(&out), "1000\n100\n/tmp\nbar\n");

    let process = json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh", "-c", "echo from-file; grep CapEff /proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] }
    });
    let file = env.tmp.join("process.json");
    fs::write(&file, process.to_string()).unwrap();
    let out = env.rt(&["exec", "--process", file.to_str().unwrap(), &id]);
    assert_ok(&out, "exec --process");
    assert_eq!(stdout(&out), "from-file\nCapEff:\t0000000000000020\n");
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
}

#[test]
fn exec_errors() {
    let env = Env::new("execbad");
    assert_fails_with(&env.rt(&["exec", "ghost", "true"]), "does not exist");
    let id = running(&env);
    assert_fails_with(
        &env.rt(&["exec", &id, "no-such-program"]),
        "no-such-program",
    );
    assert_fails_with(
        &env.rt(&["exec", "-u", "nobody", &id, "true"]),
        "--user \"nobody\"",
    );
    let bad = env.tmp.join("bad.json");
    fs::write(&bad, "{\"args\": [").unwrap();
    assert_fails_with(
        &env.rt(&["exec", "-p", bad.to_str().unwrap(), &id]),
        "bad.json",
    );
    // The failed execs left no process behind: only the init is in the cgroup.
    assert_eq!(procs_in_cgroup(&env.cgroup_path(&id)).len(), 1);
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    env.wait_status(&id, "stopped");
    assert_fails_with(&env.rt(&["exec", &id, "true"]), "it is stopped");
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, None);
}
