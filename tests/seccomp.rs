//! `linux.seccomp`, observed from inside busybox containers: errno rules, kill rules,
//! argument comparisons, docker's default profile, and malformed profiles.

use std::fs;

use rt_tests::*;
use serde_json::{json, Value};

/// `sh -c script` under `profile`; returns the output of `rt run`.
fn run_with(
    env: &Env,
    script: &str,
    profile: Value,
    edit: impl FnOnce(&mut Value),
) -> (String, std::process::Output) {
    let id = env.id("c");
    let mut config = env.config(&id, &["sh", "-c", script]);
    set(&mut config, "/linux/seccomp", profile);
    edit(&mut config);
    let out = env.run(&id, &config);
    env.assert_clean(&id, None);
    (id, out)
}

fn deny_mkdir(action: &str, errno: Option<u32>) -> Value {
    let mut rule = json!({ "names": ["mkdir", "mkdirat"], "action": action });
    if let Some(e) = errno {
        rule["errnoRet"] = json!(e);
    }
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [rule] })
}

#[test]
fn errno_rule_fails_the_syscall_with_that_errno() {
    let env = Env::new("sc-errno");
    let script =
        "mkdir /tmp/d 2>&1; echo rc=$?; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status";
    let (_, out) = run_with(&env, script, deny_mkdir("SCMP_ACT_ERRNO", Some(38)), |_| {});
    assert_ok(&out, "run");
    let text = stdout(&out);
    assert!(text.contains("Function not implemented"), "{text}");
    assert!(text.contains("rc=1"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");

    // Without errnoRet: EPERM. Without no_new_privs: loaded while the init still has
    // CAP_SYS_ADMIN, before the capabilities are dropped.
    let (_, out) = run_with(&env, script, deny_mkdir("SCMP_ACT_ERRNO", None), |c| {
        set(c, "/process/noNewPrivileges", json!(false));
    });
    assert_ok(&out, "run");
    let text = stdout(&out);
    assert!(text.contains("Operation not permitted"), "{text}");
    assert!(text.contains("NoNewPrivs:\t0"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
}

#[test]
fn kill_process_rule_kills_the_container() {
    let env = Env::new("sc-kill");
    let id = env.id("c");
    let mut config = env.config(&id, &["mkdir", "/tmp/d"]);
    set(
        &mut config,
        "/linux/seccomp",
        deny_mkdir("SCMP_ACT_KILL_PROCESS", None),
    );
    let out = env.run(&id, &config);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGSYS),
        "{}",
        stderr(&out)
    );
    env.assert_clean(&id, None);

    // SCMP_ACT_KILL is KILL_THREAD: the single-threaded process dies of SIGSYS all the same.
    let id = env.id("c");
    let mut config = env.config(&id, &["mkdir", "/tmp/d"]);
    set(
        &mut config,
        "/linux/seccomp",
        deny_mkdir("SCMP_ACT_KILL", None),
    );
    let out = env.run(&id, &config);
    assert_eq!(
        out.status.code(),
        Some(128 + libc::SIGSYS),
        "{}",
        stderr(&out)
    );
    env.assert_clean(&id, None);
}

#[test]
fn argument_comparisons_match_only_the_given_values() {
    let env = Env::new("sc-args");
    let profile = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            // kill(pid, 0) -> EACCES
            { "names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
              "args": [{ "index": 1, "value": 0, "op": "SCMP_CMP_EQ" }] },
            // kill(pid, sig) with sig & 0x1c == 0x1c (SIGWINCH 28 ...) -> EINVAL
            { "names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
              "args": [{ "index": 1, "value": 28, "valueTwo": 28, "op": "SCMP_CMP_MASKED_EQ" }] }
        ]
    });
    let script = "kill -0 $$ 2>&1; echo zero=$?; kill -WINCH $$ 2>&1; echo winch=$?; \
                  kill -CONT $$; echo cont=$?";
    let (_, out) = run_with(&env, script, profile, |_| {});
    assert_ok(&out, "run");
    let text = stdout(&out);
    assert!(text.contains("Permission denied"), "{text}");
    assert!(text.contains("zero=1"), "{text}");
    assert!(text.contains("Invalid argument"), "{text}");
    assert!(text.contains("winch=1"), "{text}");
    assert!(text.contains("cont=0"), "{text}");
}

#[test]
fn docker_default_profile_runs_busybox() {
    let env = Env::new("sc-docker");
    let path = repo().join("tests/fixtures/seccomp-docker-default.json");
    let profile: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let script = "echo ok; ls / >/dev/null && echo ls-ok; mkdir /tmp/x && echo mkdir-ok; \
                  grep Seccomp_filters /proc/self/status; unshare -m true 2>/dev/null; echo unshare=$?";
    let (_, out) = run_with(&env, script, profile, |_| {});
    assert_ok(&out, "run");
    let text = stdout(&out);
    assert!(text.starts_with("ok\nls-ok\nmkdir-ok\n"), "{text}");
    // guard + default filter + the clone3 ENOSYS filter
    assert!(text.contains("Seccomp_filters:\t3"), "{text}");
    assert!(!text.contains("unshare=0"), "{text}");
}

#[test]
fn filter_flags_are_applied() {
    let env = Env::new("sc-flags");
    let mut profile = deny_mkdir("SCMP_ACT_ERRNO", Some(38));
    profile["flags"] = json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]);
    let (_, out) = run_with(&env, "mkdir /tmp/d 2>&1; true", profile, |_| {});
    assert_ok(&out, "run");
    assert!(
        stdout(&out).contains("Function not implemented"),
        "{}",
        stdout(&out)
    );
}

/// `rt create` of a config with `linux.seccomp` = `profile` fails naming `needle`, leaving
/// nothing behind.
fn create_fails(env: &Env, profile: Value, needle: &str) {
    let id = env.id("bad");
    let mut config = env.config(&id, &["true"]);
    set(&mut config, "/linux/seccomp", profile);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, needle);
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn malformed_profiles_are_clear_errors() {
    let env = Env::new("sc-bad");
    let rule = |r: Value| json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [r] });
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_EXPLODE" })),
        "SCMP_ACT_EXPLODE",
    );
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": -1 })),
        "invalid config",
    );
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                     "args": [{ "index": 0, "value": 1, "op": "SCMP_CMP_SOMETIMES" }] })),
        "SCMP_CMP_SOMETIMES",
    );
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" })),
        "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
    );
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                     "args": [{ "index": 7, "value": 1, "op": "SCMP_CMP_EQ" }] })),
        "linux.seccomp.syscalls[0].args[0].index 7",
    );
    create_fails(
        &env,
        rule(json!({ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100000 })),
        "linux.seccomp.syscalls[0].errnoRet 100000",
    );
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let env = Env::new("sc-unknown");
    let profile = json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        { "names": ["no_such_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
    ]});
    let (_, out) = run_with(&env, "mkdir /tmp/d 2>&1; true", profile, |_| {});
    assert_ok(&out, "run");
    assert!(
        stdout(&out).contains("Function not implemented"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn features_list_seccomp_and_hooks() {
    let env = Env::new("sc-features");
    let out = env.rt(&["features"]);
    assert_ok(&out, "features");
    let f: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sc = &f["linux"]["seccomp"];
    assert_eq!(sc["enabled"], json!(true));
    for (key, item) in [
        ("actions", "SCMP_ACT_KILL_PROCESS"),
        ("actions", "SCMP_ACT_ERRNO"),
        ("operators", "SCMP_CMP_MASKED_EQ"),
        ("supportedFlags", "SECCOMP_FILTER_FLAG_LOG"),
    ] {
        assert!(
            sc[key].as_array().unwrap().contains(&json!(item)),
            "{key}: {sc}"
        );
    }
    assert!(sc["actions"]
        .as_array()
        .unwrap()
        .contains(&json!("SCMP_ACT_NOTIFY")));
    assert!(!sc["archs"].as_array().unwrap().is_empty());
    assert_eq!(
        f["hooks"],
        json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );
}

#[test]
fn exec_processes_get_the_containers_profile() {
    let env = Env::new("sc-exec");
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/seccomp",
        deny_mkdir("SCMP_ACT_ERRNO", Some(38)),
    );
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    let out = env.rt(&[
        "exec",
        &id,
        "sh",
        "-c",
        "mkdir /tmp/x 2>&1; grep ^Seccomp: /proc/self/status",
    ]);
    assert_ok(&out, "exec");
    let text = stdout(&out);
    assert!(text.contains("Function not implemented"), "{text}");
    assert!(text.contains("Seccomp:\t2"), "{text}");
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}
