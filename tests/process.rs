//! Process attributes, observed from inside real busybox containers: args, env, cwd, user,
//! groups, umask, rlimits, oomScoreAdj, capabilities, noNewPrivileges; and the cgroup
//! limits the container runs under, read back from the host.

use std::fs;

use rt_tests::*;
use serde_json::json;

#[test]
fn args_env_and_cwd() {
    let env = Env::new("argsenv");
    let id = env.id("c");
    let mut config = env.config(&id, &["/bin/echo", "one", "two words", "$HOME"]);
    let out = env.run(&id, &config);
    assert_ok(&out, "echo");
    assert_eq!(stdout(&out), "one two words $HOME\n");

    let id = env.id("c");
    config = env.config(&id, &["sh", "-c", "echo $FOO-$BAR; pwd; env | grep -c ^"]);
    set(
        &mut config,
        "/process/env",
        json!(["PATH=/bin", "FOO=foo", "BAR=b a r"]),
    );
    set(&mut config, "/process/cwd", json!("/tmp/work/dir"));
    let out = env.run(&id, &config);
    assert_ok(&out, "env");
    // The cwd is created when missing; the environment is exactly the spec's (plus PWD/SHLVL
    // that sh itself adds).
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "foo-b a r");
    assert_eq!(lines[1], "/tmp/work/dir");
    assert!(lines[2].parse::<u32>().unwrap() <= 5, "{text}");
}

#[test]
fn user_groups_and_umask() {
    let env = Env::new("user");
    let script = "id -u; id -g; id -G; umask; touch /tmp/f; stat -c %a /tmp/f";
    let out = env.run_script(script, |c| {
        set(
            c,
            "/process/user",
            json!({ "uid": 1000, "gid": 1000, "additionalGids": [100, 5], "umask": 0o027 }),
        );
    });
    // setgroups(2) keeps groups sorted.
    assert_eq!(out, "1000\n1000\n1000 5 100\n0027\n640\n");
}

#[test]
fn rlimits_are_set() {
    let env = Env::new("rlimits");
    let out = env.run_script("ulimit -n; ulimit -Hn; ulimit -c", |c| {
        set(
            c,
            "/process/rlimits",
            json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 768 },
                   { "type": "RLIMIT_CORE", "soft": 0, "hard": 0 }]),
        );
    });
    assert_eq!(out, "512\n768\n0\n");
}

#[test]
fn oom_score_adj_is_set() {
    let env = Env::new("oomadj");
    let out = env.run_script("cat /proc/self/oom_score_adj", |c| {
        set(c, "/process/oomScoreAdj", json!(500));
    });
    assert_eq!(out, "500\n");
}

fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| match *n {
            "CAP_CHOWN" => 0,
            "CAP_KILL" => 5,
            "CAP_NET_BIND_SERVICE" => 10,
            "CAP_NET_RAW" => 13,
            "CAP_SYS_ADMIN" => 21,
            "CAP_AUDIT_WRITE" => 29,
            other => panic!("add {other}"),
        })
        .fold(0, |m, bit| m | (1 << bit))
}

#[test]
fn capabilities_and_no_new_privs() {
    let env = Env::new("caps");
    let script = "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status";
    let out = env.run_script(script, |c| {
        // A non-root user: what survives execve is exactly the ambient set.
        set(c, "/process/user", json!({ "uid": 1000, "gid": 1000 }));
        set(
            c,
            "/process/capabilities",
            json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
                "effective": ["CAP_CHOWN", "CAP_KILL"],
                "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "inheritable": ["CAP_NET_RAW"],
                "ambient": ["CAP_NET_RAW"]
            }),
        );
    });
    let field = |name: &str| -> u64 {
        let line = out.lines().find(|l| l.starts_with(name)).expect(name);
        let hex = line.split_whitespace().nth(1).unwrap();
        u64::from_str_radix(hex, 16).unwrap()
    };
    assert_eq!(
        field("CapBnd"),
        cap_mask(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"])
    );
    // After execve (no file caps), effective = permitted = ambient, as the kernel computes it.
    assert_eq!(field("CapAmb"), cap_mask(&["CAP_NET_RAW"]));
    assert_eq!(field("CapInh"), cap_mask(&["CAP_NET_RAW"]));
    assert_eq!(field("CapPrm"), cap_mask(&["CAP_NET_RAW"]));
    assert_eq!(field("CapEff"), cap_mask(&["CAP_NET_RAW"]));
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn root_keeps_its_capabilities_across_exec() {
    let env = Env::new("rootcaps");
    let out = env.run_script("grep -E '^(CapEff|NoNewPrivs)' /proc/self/status", |c| {
        let caps = json!(["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"]);
        for s in ["bounding", "effective", "permitted"] {
            set(c, &format!("/process/capabilities/{s}"), caps.clone());
        }
        set(c, "/process/noNewPrivileges", json!(false));
    });
    let eff = out
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    assert_eq!(
        u64::from_str_radix(eff, 16).unwrap(),
        cap_mask(&["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"])
    );
    assert!(out.contains("NoNewPrivs:\t0"));
}

#[test]
fn cgroup_limits_are_applied_before_the_process_runs_and_removed_on_delete() {
    let env = Env::new("limits");
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/resources",
        json!({
            "memory": { "limit": 41943040 },
            "cpu": { "quota": 30000, "period": 100000, "shares": 512 },
            "pids": { "limit": 20 },
            "devices": [{ "allow": false, "access": "rwm" }]
        }),
    );
    let bundle = env.create(&id, &config);
    let cg = env.cgroup_path(&id).trim_start_matches('/').to_string();
    let read = |rel: &str| {
        fs::read_to_string(format!("/sys/fs/cgroup/{rel}"))
            .unwrap()
            .trim()
            .to_string()
    };
    // Still `created`: the limits are already in place.
    if unified() {
        assert_eq!(read(&format!("{cg}/memory.max")), "41943040");
        assert_eq!(read(&format!("{cg}/cpu.max")), "30000 100000");
        assert_eq!(read(&format!("{cg}/pids.max")), "20");
    } else {
        assert_eq!(
            read(&format!("memory/{cg}/memory.limit_in_bytes")),
            "41943040"
        );
        assert_eq!(read(&format!("cpu/{cg}/cpu.cfs_quota_us")), "30000");
        assert_eq!(read(&format!("cpu/{cg}/cpu.cfs_period_us")), "100000");
        assert_eq!(read(&format!("cpu/{cg}/cpu.shares")), "512");
        assert_eq!(read(&format!("pids/{cg}/pids.max")), "20");
    }
    assert_ok(&env.rt(&["start", &id]), "start");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn pids_limit_is_enforced() {
    let env = Env::new("pidsmax");
    // The shell plus four background sleeps: fits in pids.max=5, not in 4.
    let script = "sleep 100 & sleep 100 & sleep 100 & sleep 100 & echo survived";
    for (limit, fits) in [(5, true), (4, false)] {
        let id = env.id("c");
        let mut config = env.config(&id, &["sh", "-c", script]);
        set(
            &mut config,
            "/linux/resources/pids",
            json!({ "limit": limit }),
        );
        let out = env.run(&id, &config);
        if fits {
            assert_ok(&out, "pids.max=5");
            assert_eq!(stdout(&out), "survived\n");
        } else {
            assert!(!out.status.success(), "forked past pids.max=4");
            assert!(stderr(&out).contains("fork"), "{}", stderr(&out));
            assert_eq!(stdout(&out), "");
        }
        env.assert_clean(&id, None);
    }
}

#[test]
fn blkio_weight_zero_is_unset_as_runc_treats_it() {
    // docker always sends `"blockIO": {"weight": 0}`; the kernel would reject a 0.
    let env = Env::new("blkio0");
    let out = env.run_script("echo ok", |c| {
        set(
            c,
            "/linux/resources/blockIO",
            json!({ "weight": 0, "leafWeight": 0 }),
        );
    });
    assert_eq!(out, "ok\n");
}

#[test]
fn apparmor_is_ignored_and_selinux_refused_when_the_kernel_lacks_them() {
    // This host (and the v2 guest) has neither AppArmor nor SELinux enabled.
    let env = Env::new("lsm");
    let out = env.run_script("echo ran", |c| {
        set(c, "/process/apparmorProfile", json!("docker-default"));
    });
    assert_eq!(out, "ran\n");
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    set(
        &mut config,
        "/process/selinuxLabel",
        json!("system_u:system_r:container_t:s0"),
    );
    let bundle = env.bundle(&id, &config);
    assert_fails_with(
        &env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]),
        "process.selinuxLabel \"system_u:system_r:container_t:s0\": SELinux is disabled",
    );
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn new_session_keyring_unless_no_new_keyring() {
    let env = Env::new("keyring");
    // Our session keyring (KEYCTL_GET_KEYRING_ID of KEY_SPEC_SESSION_KEYRING), as /proc/keys
    // prints ids: 8 hex digits.
    // SAFETY: keyctl with plain integer arguments.
    let ours = unsafe { libc::syscall(libc::SYS_keyctl, 0, -3i64, 0) };
    assert!(
        ours > 0,
        "no session keyring: {}",
        std::io::Error::last_os_error()
    );
    let ours = format!("{ours:08x}");
    let unmask_keys = |c: &mut serde_json::Value| {
        set(c, "/linux/maskedPaths", json!(["/proc/kcore"]));
    };
    // By default the container gets a new anonymous session keyring: a `_ses` keyring that did
    // not exist before it ran (keyrings of the same uid are visible, so ours may be listed).
    let before = fs::read_to_string("/proc/keys").unwrap_or_default();
    let out = env.run_script(
        "grep ' keyring *_ses' /proc/keys | cut -d' ' -f1",
        unmask_keys,
    );
    let new: Vec<&str> = out.lines().filter(|id| !before.contains(*id)).collect();
    assert!(
        !new.is_empty(),
        "no new session keyring in the container: {out}"
    );
    // With --no-new-keyring it keeps the one it inherited from rt.
    let id = env.id("c");
    let mut config = env.config(&id, &["sh", "-c", "cut -d' ' -f1 /proc/keys"]);
    unmask_keys(&mut config);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&[
        "run",
        "--no-new-keyring",
        "-b",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "run --no-new-keyring");
    assert!(
        stdout(&out).lines().any(|l| l == ours),
        "{ours} not in {}",
        stdout(&out)
    );
    env.assert_clean(&id, Some(&bundle));
}
