//! OCI hooks on real containers: each kind runs once, in lifecycle order, with the state
//! JSON on stdin; failures fail create/start (and leave nothing) or warn (poststart,
//! poststop); timeouts kill the hook.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::{json, Value};

/// The static busybox of the test rootfs: a shell that exists on the host and in the guest.
fn busybox() -> PathBuf {
    rootfs().join("bin/busybox")
}

/// A hook running `sh -c script` with the host's busybox.
fn host_hook(script: &str) -> Value {
    json!({ "path": busybox(), "args": ["sh", "-c", script], "env": ["HOOK_ENV=yes"] })
}

/// A hook that appends its stdin and ` NAME $HOOK_ENV` to `log`.
fn logging_hook(path: &Path, log: &str, name: &str) -> Value {
    json!({
        "path": path,
        "args": ["sh", "-c", format!("cat >> {log}; echo \" {name} $HOOK_ENV\" >> {log}")],
        "env": ["HOOK_ENV=yes"]
    })
}

/// A config whose /tmp/hooks is the host directory `dir` (reachable from every hook).
fn config_with_hooks(env: &Env, id: &str, args: &[&str], dir: &Path, hooks: Value) -> Value {
    let mut config = env.config(id, args);
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/hooks", "type": "bind", "source": dir, "options": ["rbind", "rw"]
    }));
    set(&mut config, "/hooks", hooks);
    config
}

#[test]
fn every_hook_runs_once_in_order_with_the_state() {
    let env = Env::new("hooks-order");
    let dir = env.tmp.join("hooks");
    fs::create_dir_all(&dir).unwrap();
    let host_log = dir.join("log");
    let host_log = host_log.to_str().unwrap();
    let bb = busybox();
    let hooks = json!({
        "prestart": [logging_hook(&bb, host_log, "prestart")],
        "createRuntime": [logging_hook(&bb, host_log, "createRuntime")],
        // before pivot_root: host paths
        "createContainer": [logging_hook(&bb, host_log, "createContainer")],
        // in the container: its paths
        "startContainer": [logging_hook(Path::new("/bin/sh"), "/tmp/hooks/log", "startContainer")],
        "poststart": [logging_hook(&bb, host_log, "poststart")],
        "poststop": [logging_hook(&bb, host_log, "poststop")]
    });
    let id = env.id("c");
    let config = config_with_hooks(&env, &id, &["sh", "-c", "echo main"], &dir, hooks);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_ok(&out, "run");
    assert_eq!(stdout(&out), "main\n");
    env.assert_clean(&id, Some(&bundle));

    let log = fs::read_to_string(dir.join("log")).unwrap();
    let entries: Vec<(Value, &str)> = log
        .lines()
        .map(|line| {
            let (state, name) = line.rsplit_once("} ").expect("state then name");
            let state: Value = serde_json::from_str(&format!("{state}}}")).expect("state JSON");
            (state, name)
        })
        .collect();
    let names: Vec<&str> = entries.iter().map(|(_, n)| *n).collect();
    assert_eq!(
        names,
        [
            "prestart yes",
            "createRuntime yes",
            "createContainer yes",
            "startContainer yes",
            "poststart yes",
            "poststop yes"
        ],
        "{log}"
    );
    let statuses: Vec<&str> = entries
        .iter()
        .map(|(s, _)| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["creating", "creating", "creating", "created", "running", "stopped"]
    );
    let bundle = fs::canonicalize(&bundle).unwrap();
    for (state, name) in &entries {
        assert_eq!(state["id"], json!(id), "{name}");
        assert_eq!(state["bundle"], json!(bundle), "{name}");
        assert!(state["ociVersion"].is_string(), "{name}");
    }
    // The runtime's hooks see the host pid; the container's see the init as pid 1.
    let host_pid = entries[0].0["pid"].as_i64().unwrap();
    assert!(host_pid > 1);
    assert_eq!(entries[1].0["pid"], json!(host_pid));
    assert_eq!(entries[2].0["pid"], json!(1));
    assert_eq!(entries[3].0["pid"], json!(1));
    assert_eq!(entries[4].0["pid"], json!(host_pid));
}

fn create_fails(env: &Env, hooks: Value, needle: &str) {
    let id = env.id("bad");
    let config = config_with_hooks(env, &id, &["true"], &env.tmp, hooks);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, needle);
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn failing_create_hooks_fail_create_and_leave_nothing() {
    let env = Env::new("hooks-fail");
    create_fails(
        &env,
        json!({ "createRuntime": [{ "path": "/nonexistent/hook" }] }),
        "hooks.createRuntime[0].path /nonexistent/hook",
    );
    create_fails(
        &env,
        json!({ "prestart": [host_hook("echo no good >&2; exit 3")] }),
        "hooks.prestart[0]",
    );
    create_fails(
        &env,
        json!({ "createContainer": [host_hook("exit 4")] }),
        "hooks.createContainer[0]",
    );
    create_fails(
        &env,
        json!({ "createRuntime": [{ "path": "relative/hook" }] }),
        "hooks.createRuntime[0].path",
    );
    create_fails(
        &env,
        json!({ "createRuntime": [{ "path": "/bin/sh", "timeout": 0 }] }),
        "hooks.createRuntime[0].timeout 0",
    );
}

#[test]
fn hook_past_its_timeout_is_killed_and_fails() {
    let env = Env::new("hooks-timeout");
    let pid_file = env.tmp.join("hook.pid");
    let mut hook = host_hook(&format!("echo $$ > {}; exec sleep 30", pid_file.display()));
    hook["timeout"] = json!(1);
    let started = Instant::now();
    create_fails(
        &env,
        json!({ "createRuntime": [hook] }),
        "timeout of 1s; killed",
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    let pid = fs::read_to_string(&pid_file).unwrap();
    assert!(
        !Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "hook {pid} still alive"
    );
}

#[test]
fn failing_start_container_hook_fails_start() {
    let env = Env::new("hooks-start");
    let id = env.id("c");
    let hooks = json!({ "startContainer": [
        { "path": "/bin/sh", "args": ["sh", "-c", "echo start hook says no; exit 5"] }
    ]});
    let config = config_with_hooks(&env, &id, &["true"], &env.tmp, hooks);
    env.create(&id, &config);
    let out = env.rt(&["start", &id]);
    assert_fails_with(
        &out,
        "hooks.startContainer[0] /bin/sh: exited with status 5",
    );
    assert!(stderr(&out).contains("start hook says no"));
    env.wait_status(&id, "stopped");
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn failing_poststart_and_poststop_hooks_only_warn() {
    let env = Env::new("hooks-post");
    let id = env.id("c");
    let hooks = json!({
        "poststart": [host_hook("exit 6")],
        "poststop": [host_hook("exit 7")]
    });
    let config = config_with_hooks(&env, &id, &["sleep", "5"], &env.tmp, hooks);
    let bundle = env.create(&id, &config);
    // The bundle may be gone after create: the later hooks are kept in the state.
    fs::remove_dir_all(&bundle).unwrap();
    let out = env.rt(&["start", &id]);
    assert_ok(&out, "start");
    assert!(
        stderr(&out).contains("warning: hooks.poststart[0]"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.status(&id), "running");
    let out = env.rt(&["delete", "--force", &id]);
    assert_ok(&out, "delete");
    assert!(
        stderr(&out).contains("warning: hooks.poststop[0]"),
        "{}",
        stderr(&out)
    );
    env.assert_clean(&id, None);
}

/// A hook without `env` inherits the environment of whoever runs it, as runc (Go's exec.Cmd
/// with a nil Env): rt's for every kind but startContainer, which gets the container
/// process's `process.env`. An `env` (even an empty one) is the whole environment. rt's
/// internal re-exec marker never reaches a hook.
#[test]
fn hooks_without_env_inherit_the_runtimes_environment() {
    let env = Env::new("hooks-env");
    let dir = env.tmp.join("hooks");
    fs::create_dir_all(&dir).unwrap();
    let host_log = dir.join("log");
    let bb = busybox();
    let line = |name: &str| {
        format!(
            "echo \"{name} ${{RT_HOOK_TEST-unset}} ${{PROC_VAR-unset}} ${{_RT_SEALED_EXE-none}}\""
        )
    };
    let inherit = |path: &Path, log: &str, name: &str| json!({ "path": path, "args": ["sh", "-c", format!("{} >> {log}", line(name))] });
    let h = host_log.to_str().unwrap();
    let hooks = json!({
        "prestart": [inherit(&bb, h, "prestart")],
        "createRuntime": [inherit(&bb, h, "createRuntime")],
        "createContainer": [inherit(&bb, h, "createContainer")],
        "startContainer": [inherit(Path::new("/bin/sh"), "/tmp/hooks/log", "startContainer")],
        "poststart": [
            inherit(&bb, h, "poststart"),
            // An empty env is an empty environment; a given one is all there is.
            { "path": bb, "args": ["sh", "-c", format!("{} >> {h}", line("empty"))], "env": [] },
            { "path": bb, "args": ["sh", "-c", format!("{} >> {h}", line("given"))],
              "env": ["RT_HOOK_TEST=given"] }
        ],
        "poststop": [inherit(&bb, h, "poststop")]
    });
    let id = env.id("c");
    let mut config = config_with_hooks(&env, &id, &["true"], &dir, hooks);
    config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("PROC_VAR=from-process"));
    let bundle = env.bundle(&id, &config);
    let rt = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = env.rt_cmd(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = env.output_of(cmd).unwrap();
        assert_ok(&out, &format!("{args:?}"));
    };
    let b = bundle.to_str().unwrap();
    rt(&["create", "-b", b, &id], &[("RT_HOOK_TEST", "create-env")]);
    // rt start and delete are not re-executed from a sealed copy, so a marker in their
    // environment stays there: a hook must still not see it.
    let leak = ("_RT_SEALED_EXE", "leaked");
    rt(&["start", &id], &[("RT_HOOK_TEST", "start-env"), leak]);
    env.wait_status(&id, "stopped");
    rt(&["delete", &id], &[("RT_HOOK_TEST", "delete-env"), leak]);
    env.assert_clean(&id, Some(&bundle));
    let log = fs::read_to_string(&host_log).unwrap();
    assert_eq!(
        log.lines().collect::<Vec<_>>(),
        [
            "prestart create-env unset none",
            "createRuntime create-env unset none",
            "createContainer create-env unset none",
            "startContainer unset from-process none",
            "poststart start-env unset none",
            "empty unset unset none",
            "given given unset none",
            "poststop delete-env unset none",
        ],
        "{log}"
    );
}

/// prestart and createRuntime hooks run in the runtime's namespaces (runtime-spec), even
/// when the container joins another's pid namespace and gets a new time namespace, which
/// must be entered before its init is forked: that happens in a short-lived intermediate
/// process, never in rt, whose later children (the hooks) would land there.
#[test]
fn runtime_hooks_stay_in_the_runtimes_namespaces_with_a_joined_pid_namespace() {
    let env = Env::new("hooks-joined-pidns");
    let ns = |pid: &str, name: &str| {
        fs::read_link(format!("/proc/{pid}/ns/{name}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    // The container whose pid namespace is joined.
    let host = env.id("host");
    let bundle = env.bundle(&host, &env.config(&host, &["sleep", "1000"]));
    assert_ok(
        &env.rt(&["run", "-d", "--bundle", bundle.to_str().unwrap(), &host]),
        "run -d",
    );
    let host_pid = state_json(&env.rt(&["state", &host]))["pid"]
        .as_i64()
        .unwrap()
        .to_string();

    let dir = env.tmp.join("hooks");
    fs::create_dir_all(&dir).unwrap();
    let log = dir.join("ns");
    // busybox readlink takes one file: a loop (each readlink a child of the hook's shell,
    // in its namespaces).
    let script = format!(
        "for n in pid pid_for_children time; do readlink /proc/self/ns/$n >> {}; done",
        log.display()
    );
    let hooks = json!({ "prestart": [host_hook(&script)], "createRuntime": [host_hook(&script)] });
    let id = env.id("joiner");
    let mut config = config_with_hooks(&env, &id, &["sleep", "1000"], &dir, hooks);
    let mut namespaces: Vec<Value> = config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect();
    namespaces.push(json!({ "type": "pid", "path": format!("/proc/{host_pid}/ns/pid") }));
    let time_ns = Path::new("/proc/self/ns/time").exists();
    if time_ns {
        namespaces.push(json!({ "type": "time" }));
    }
    set(&mut config, "/linux/namespaces", json!(namespaces));
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &env.rt(&["create", "--bundle", bundle.to_str().unwrap(), &id]),
        "create",
    );
    let init = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap()
        .to_string();
    // The container is where it was asked to be...
    assert_eq!(ns(&init, "pid"), ns(&host_pid, "pid"));
    if time_ns {
        assert_ne!(ns(&init, "time"), ns("self", "time"));
    }
    // ...and both hooks ran where rt (forked by this test) runs.
    let ours = [
        ns("self", "pid"),
        ns("self", "pid_for_children"),
        ns("self", "time"),
    ];
    let lines: Vec<String> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 6, "{lines:?}");
    for hook in lines.chunks(3) {
        assert_eq!(
            hook, ours,
            "a runtime hook ran in the container's namespaces"
        );
    }
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    assert_ok(&env.rt(&["delete", "--force", &host]), "delete");
}
