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
    assert_fails_with(
        &env.rt(&["exec", &id, "true"]),
        "cannot exec in a stopped container",
    );
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, None);
}

/// A running container from the default config changed by `edit`.
fn running_with(env: &Env, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "1000"]);
    edit(&mut config);
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    id
}

fn exec_out(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["exec"];
    all.extend_from_slice(args);
    let out = env.rt(&all);
    assert_ok(&out, &format!("{all:?}"));
    stdout(&out)
}

/// The hex mask /proc/PID/status shows for a set of capability numbers.
fn cap_mask(bits: &[u32]) -> String {
    format!("{:016x}", bits.iter().fold(0u64, |m, b| m | 1 << b))
}

#[test]
fn exec_env_replaces_the_containers_variable_of_the_same_name() {
    let env = Env::new("execenv");
    let id = running(&env);
    // The container's env has HOME=/root: -e HOME=... replaces it (runc), it is not a
    // second HOME that a program may or may not read first.
    let out = exec_out(&env, &["-e", "HOME=/tmp", "-e", "NEW=1", &id, "env"]);
    let homes: Vec<&str> = out.lines().filter(|l| l.starts_with("HOME=")).collect();
    assert_eq!(homes, ["HOME=/tmp"], "{out}");
    assert!(out.lines().any(|l| l == "NEW=1"), "{out}");
    assert!(
        out.lines().any(|l| l.starts_with("PATH=/usr/sbin")),
        "{out}"
    );
    assert_fails_with(
        &env.rt(&["exec", "-e", "NOVALUE", &id, "true"]),
        "NAME=VALUE",
    );
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn exec_cap_adds_to_bounding_effective_permitted_and_ambient() {
    let env = Env::new("execcap");
    let id = running(&env);
    // The container's sets: AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10).
    let base = [29, 5, 10];
    let caps = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([id.as_str(), "grep", "^Cap", "/proc/self/status"]);
        exec_out(&env, &all)
    };
    let line = |text: &str, set: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("Cap{set}:\t")))
            .unwrap_or_else(|| panic!("no Cap{set} in {text}"))
            .to_string()
    };
    let before = caps(&[]);
    for set in ["Eff", "Prm", "Bnd"] {
        assert_eq!(line(&before, set), cap_mask(&base), "{before}");
    }
    let after = caps(&["--cap", "CAP_SYS_PTRACE", "--cap", "chown"]);
    let more = [29, 5, 10, 19, 0];
    for set in ["Eff", "Prm", "Bnd"] {
        assert_eq!(line(&after, set), cap_mask(&more), "Cap{set}: {after}");
    }
    // As runc since 1.1.2 (CVE-2022-29162): not inheritable, so not ambient either.
    assert_eq!(line(&after, "Inh"), cap_mask(&[]), "{after}");
    assert_eq!(line(&after, "Amb"), cap_mask(&[]), "{after}");
    // With the capability inheritable (a --process file that lists it), it is ambient too,
    // and a non-root user keeps it.
    let process = json!({
        "user": { "uid": 1000, "gid": 1000 },
        "args": ["grep", "^Cap", "/proc/self/status"],
        "env": ["PATH=/bin"],
        "cwd": "/",
        "capabilities": { "inheritable": ["CAP_SYS_PTRACE"] }
    });
    let file = env.tmp.join("process.json");
    fs::write(&file, process.to_string()).unwrap();
    let ambient = exec_out(
        &env,
        &["-p", file.to_str().unwrap(), "--cap", "CAP_SYS_PTRACE", &id],
    );
    for set in ["Eff", "Prm", "Amb"] {
        assert_eq!(line(&ambient, set), cap_mask(&[19]), "Cap{set}: {ambient}");
    }
    assert_fails_with(
        &env.rt(&["exec", "--cap", "CAP_NOPE", &id, "true"]),
        "--cap \"CAP_NOPE\": unknown capability",
    );
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn exec_no_new_privs_user_and_additional_gids() {
    let env = Env::new("execnnp");
    let id = running_with(&env, |c| {
        set(c, "/process/noNewPrivileges", json!(false));
        set(c, "/process/user/additionalGids", json!([10]));
    });
    let nnp = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([id.as_str(), "grep", "NoNewPrivs", "/proc/self/status"]);
        exec_out(&env, &all)
    };
    assert_eq!(nnp(&[]), "NoNewPrivs:\t0\n");
    assert_eq!(nnp(&["--no-new-privs"]), "NoNewPrivs:\t1\n");
    // --user keeps the container's additional gids (runc); -g adds to them.
    let ids = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([id.as_str(), "sh", "-c", "id -u; id -g; id -G"]);
        exec_out(&env, &all)
    };
    assert_eq!(ids(&[]), "0\n0\n0 10\n");
    assert_eq!(ids(&["-u", "1000:100"]), "1000\n100\n100 10\n");
    assert_eq!(ids(&["-u", "1000"]), "1000\n0\n0 10\n");
    assert_eq!(
        ids(&["--user", "1000:100", "-g", "20", "--additional-gids", "30"]),
        "1000\n100\n100 10 20 30\n"
    );
    assert_fails_with(
        &env.rt(&["exec", "-g", "staff", &id, "true"]),
        "--additional-gids",
    );
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn exec_lsm_flags() {
    let env = Env::new("execlsm");
    let id = running(&env);
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    let apparmor = fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
        && std::path::Path::new("/sys/kernel/security/apparmor").exists();
    if !selinux {
        // As a config's process.selinuxLabel: an error where SELinux is not enabled.
        assert_fails_with(
            &env.rt(&[
                "exec",
                "--process-label",
                "system_u:system_r:container_t:s0",
                &id,
                "true",
            ]),
            "SELinux is disabled",
        );
    }
    if apparmor {
        let out = exec_out(
            &env,
            &[
                "--apparmor",
                "unconfined",
                &id,
                "cat",
                "/proc/self/attr/current",
            ],
        );
        assert_eq!(out.trim(), "unconfined");
    } else {
        // Without AppArmor the profile is ignored (runc), the process runs.
        assert_eq!(
            exec_out(&env, &["--apparmor", "no-such-profile", &id, "echo", "ran"]),
            "ran\n"
        );
    }
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn exec_into_a_paused_container_needs_ignore_paused() {
    let env = Env::new("execpaused");
    let id = running(&env);
    assert_ok(&env.rt(&["pause", &id]), "pause");
    assert_fails_with(
        &env.rt(&["exec", &id, "true"]),
        "cannot exec in a paused container (use --ignore-paused to override)",
    );
    // With --ignore-paused the process joins the frozen container and runs once resumed
    // (rt exec does not hold the container's lock meanwhile, or resume could not run).
    let out_file = env.tmp.join("exec-paused.out");
    let mut cmd = env.rt_cmd(&["exec", "--ignore-paused", &id, "echo", "after resume"]);
    cmd.stdout(fs::File::create(&out_file).unwrap())
        .stderr(std::process::Stdio::inherit());
    let mut exec = cmd.spawn().unwrap();
    let cgroup = env.cgroup_path(&id);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while procs_in_cgroup(&cgroup).len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the exec'd process never joined"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        exec.try_wait().unwrap().is_none(),
        "exec finished in a frozen container"
    );
    assert_eq!(env.status(&id), "paused");
    assert_ok(&env.rt(&["resume", &id]), "resume");
    let status = exec.wait().unwrap();
    assert!(status.success(), "exec --ignore-paused: {status}");
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "after resume\n");
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}

/// Makes a sub-cgroup `name` of a container's cgroup directory (a v1 cpuset child needs
/// its parent's cpus and mems before a task can join it).
fn make_sub_cgroup(dir: &std::path::Path, name: &str) {
    let sub = dir.join(name);
    fs::create_dir_all(&sub).unwrap();
    for file in ["cpuset.cpus", "cpuset.mems"] {
        // (On v2 the child has no cpuset files unless its parent enables the controller
        // for it, and an empty cpuset there means the parent's.)
        if let (Ok(value), true) = (fs::read_to_string(dir.join(file)), sub.join(file).exists()) {
            if fs::read_to_string(sub.join(file)).is_ok_and(|v| v.trim().is_empty()) {
                fs::write(sub.join(file), value.trim()).unwrap();
            }
        }
    }
}

/// The container's cgroup directories (each hierarchy where it exists).
fn container_cgroup_dirs(env: &Env, id: &str) -> Vec<std::path::PathBuf> {
    cgroup_dirs(&env.cgroup_path(id))
        .into_iter()
        .filter(|d| d.is_dir())
        .collect()
}

/// `--cgroup`: the process runs in a sub-cgroup of the container's, read back from
/// /proc/self/cgroup (in the container's cgroup namespace, so relative to its cgroup).
#[test]
fn exec_cgroup_runs_in_a_sub_cgroup() {
    let env = Env::new("execcg");
    let id = running(&env);
    let cg = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([id.as_str(), "cat", "/proc/self/cgroup"]);
        exec_out(&env, &all)
    };
    let line_of = |text: &str, controller: &str| -> String {
        text.lines()
            .find(|l| {
                l.split(':')
                    .nth(1)
                    .is_some_and(|c| c.split(',').any(|c| c == controller))
            })
            .unwrap_or_else(|| panic!("no {controller:?} line in {text}"))
            .rsplit(':')
            .next()
            .unwrap()
            .to_string()
    };
    for dir in container_cgroup_dirs(&env, &id) {
        make_sub_cgroup(&dir, "sub");
    }
    // Without --cgroup, and with "/": the container's own cgroup.
    let unified = unified();
    let main = if unified { "" } else { "memory" };
    assert_eq!(line_of(&cg(&[]), main), "/");
    assert_eq!(line_of(&cg(&["--cgroup", "/"]), main), "/");
    // One PATH: every hierarchy (v1), or the one (v2).
    let out = cg(&["--cgroup", "sub"]);
    assert_eq!(line_of(&out, main), "/sub", "{out}");
    if !unified {
        assert_eq!(line_of(&out, "pids"), "/sub", "{out}");
        // CONTROLLER:PATH, per controller; the others stay in the container's cgroup.
        let dirs = container_cgroup_dirs(&env, &id);
        for dir in &dirs {
            for sub in ["submem", "subcpu"] {
                make_sub_cgroup(dir, sub);
            }
        }
        let out = cg(&[
            "--cgroup",
            "memory:submem",
            "--cgroup",
            "cpu,cpuacct:/subcpu",
        ]);
        assert_eq!(line_of(&out, "memory"), "/submem", "{out}");
        assert_eq!(line_of(&out, "cpu"), "/subcpu", "{out}");
        assert_eq!(line_of(&out, "cpuacct"), "/subcpu", "{out}");
        assert_eq!(line_of(&out, "pids"), "/", "{out}");
        assert_fails_with(
            &env.rt(&["exec", "--cgroup", "whaaat:/", &id, "true"]),
            "unknown controller \"whaaat\"",
        );
        assert_fails_with(
            &env.rt(&[
                "exec",
                "--cgroup",
                "sub",
                "--cgroup",
                "memory:sub",
                &id,
                "true",
            ]),
            "CONTROLLER:PATH",
        );
    } else {
        assert_fails_with(
            &env.rt(&["exec", "--cgroup", "memory:sub", &id, "true"]),
            "cgroup v2 has one hierarchy",
        );
    }
    assert_fails_with(
        &env.rt(&["exec", "--cgroup", "..", &id, "true"]),
        "is not a sub cgroup path",
    );
    assert_fails_with(
        &env.rt(&["exec", "--cgroup", "sub/../../x", &id, "true"]),
        "is not a sub cgroup path",
    );
    assert_fails_with(
        &env.rt(&["exec", "--cgroup", "nonexistent", &id, "true"]),
        "no such cgroup",
    );
    // The failed execs left nothing behind: only the init is in the container's cgroup.
    assert_eq!(procs_in_cgroup(&env.cgroup_path(&id)).len(), 1);
    // delete removes the sub-cgroups too.
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, None);
}
