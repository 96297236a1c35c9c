//! Bad input: each case gets one clear line on stderr naming the file, field or value, exit
//! status 1, and leaves no state dir, cgroup directory, mount or process behind.

use std::fs;

use rt_tests::*;
use serde_json::{json, Value};

/// A config change and the text the error must contain.
struct Case {
    name: &'static str,
    edit: fn(&mut Value),
    needle: &'static str,
}

fn config_cases() -> Vec<Case> {
    vec![
        Case {
            name: "unknown namespace type",
            edit: |c| set(c, "/linux/namespaces/0", json!({ "type": "bogus" })),
            needle: "bogus",
        },
        Case {
            name: "duplicate namespace",
            edit: |c| set(c, "/linux/namespaces/1", json!({ "type": "pid" })),
            needle: "linux.namespaces[1]: duplicate namespace type \"pid\"",
        },
        Case {
            name: "wrong type for args",
            edit: |c| set(c, "/process/args", json!("sh -c true")),
            needle: "line",
        },
        Case {
            name: "empty args",
            edit: |c| set(c, "/process/args", json!([])),
            needle: "process.args",
        },
        Case {
            name: "relative cwd",
            edit: |c| set(c, "/process/cwd", json!("tmp")),
            needle: "process.cwd",
        },
        Case {
            name: "relative mount destination",
            edit: |c| {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({ "destination": "relative/dir", "type": "tmpfs", "source": "tmpfs" }),
                )
            },
            needle: "mounts[6].destination",
        },
        Case {
            name: "unsupported propagation value",
            edit: |c| set(c, "/linux/rootfsPropagation", json!("sideways")),
            needle: "linux.rootfsPropagation \"sideways\"",
        },
        Case {
            name: "hostname without uts namespace",
            edit: |c| {
                c["linux"]["namespaces"].as_array_mut().unwrap().remove(3);
            },
            needle: "hostname",
        },
        Case {
            name: "device outside /dev",
            edit: |c| {
                set(
                    c,
                    "/linux/devices",
                    json!([{ "path": "/etc/evil", "type": "c", "major": 1, "minor": 3 }]),
                )
            },
            needle: "linux.devices[0].path",
        },
        Case {
            name: "unknown capability",
            edit: |c| set(c, "/process/capabilities/bounding", json!(["CAP_BOGUS"])),
            needle: "CAP_BOGUS",
        },
        Case {
            name: "unknown rlimit",
            edit: |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{ "type": "RLIMIT_BOGUS", "hard": 1, "soft": 1 }]),
                )
            },
            needle: "RLIMIT_BOGUS",
        },
        Case {
            name: "cgroupsPath with ..",
            edit: |c| set(c, "/linux/cgroupsPath", json!("/a/../../b")),
            needle: "linux.cgroupsPath",
        },
        // Errors found by the container's init, reported by `rt create` itself.
        Case {
            name: "mount source that does not exist",
            edit: |c| {
                c["mounts"].as_array_mut().unwrap().push(json!({
                    "destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["rbind"]
                }))
            },
            needle: "mounts[6] /data",
        },
        Case {
            name: "program not found",
            edit: |c| set(c, "/process/args", json!(["no-such-program"])),
            needle: "no-such-program",
        },
        Case {
            name: "rlimit above the hard maximum",
            edit: |c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{ "type": "RLIMIT_NOFILE", "hard": 1073741816u64, "soft": 1073741816u64 }]),
                )
            },
            needle: "RLIMIT_NOFILE",
        },
        Case {
            name: "unknown sysctl",
            edit: |c| set(c, "/linux/sysctl", json!({ "kernel.no_such_knob": "1" })),
            needle: "linux.sysctl \"kernel.no_such_knob\"",
        },
        Case {
            name: "impossible cpuset",
            edit: |c| set(c, "/linux/resources/cpu", json!({ "cpus": "999" })),
            needle: "999",
        },
        Case {
            name: "namespace path that does not exist",
            edit: |c| {
                set(
                    c,
                    "/linux/namespaces/1",
                    json!({ "type": "network", "path": "/proc/no/ns/net" }),
                )
            },
            needle: "linux.namespaces[1].path /proc/no/ns/net",
        },
        // Wrong types and missing sections: serde names the value and the line.
        Case {
            name: "cwd is a number",
            edit: |c| set(c, "/process/cwd", json!(42)),
            needle: "invalid type: integer `42`",
        },
        Case {
            name: "namespaces is an object",
            edit: |c| set(c, "/linux/namespaces", json!({ "type": "pid" })),
            needle: "invalid type: map",
        },
        Case {
            name: "uid is a string",
            edit: |c| set(c, "/process/user/uid", json!("root")),
            needle: "invalid type: string \"root\"",
        },
        Case {
            name: "negative cpu shares",
            edit: |c| set(c, "/linux/resources/cpu", json!({ "shares": -5 })),
            needle: "-5",
        },
        Case {
            name: "no process",
            edit: |c| {
                c.as_object_mut().unwrap().remove("process");
            },
            needle: "process: missing",
        },
        Case {
            name: "no root",
            edit: |c| {
                c.as_object_mut().unwrap().remove("root");
            },
            needle: "root: missing",
        },
        Case {
            name: "empty program name",
            edit: |c| set(c, "/process/args", json!(["", "x"])),
            needle: "process.args",
        },
        Case {
            name: "env entry without =",
            edit: |c| set(c, "/process/env/1", json!("NOEQUALS")),
            needle: "process.env[1] \"NOEQUALS\"",
        },
        // Paths.
        Case {
            name: "mount destination with ..",
            edit: |c| {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({ "destination": "/tmp/../../etc", "type": "tmpfs", "source": "tmpfs" }),
                )
            },
            needle: "mounts[6].destination",
        },
        Case {
            name: "relative masked path",
            edit: |c| set(c, "/linux/maskedPaths", json!(["proc/kcore"])),
            needle: "linux.maskedPaths[0] \"proc/kcore\"",
        },
        Case {
            name: "readonly path with ..",
            edit: |c| set(c, "/linux/readonlyPaths", json!(["/proc/../etc"])),
            needle: "linux.readonlyPaths[0]",
        },
        Case {
            name: "device path escaping /dev with ..",
            edit: |c| {
                set(
                    c,
                    "/linux/devices",
                    json!([{ "path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3 }]),
                )
            },
            needle: "linux.devices[0].path",
        },
        Case {
            name: "device of type a",
            edit: |c| {
                set(
                    c,
                    "/linux/devices",
                    json!([{ "path": "/dev/all", "type": "a", "major": 1, "minor": 3 }]),
                )
            },
            needle: "linux.devices[0] /dev/all",
        },
        Case {
            name: "bind mount without source",
            edit: |c| {
                c["mounts"].as_array_mut().unwrap().push(
                    json!({ "destination": "/tmp/data", "type": "bind", "options": ["rbind"] }),
                )
            },
            needle: "mounts[6] /tmp/data",
        },
        Case {
            name: "unknown filesystem type",
            edit: |c| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "destination": "/tmp/x", "type": "bogusfs", "source": "none" }))
            },
            needle: "mounts[6] /tmp/x (bogusfs)",
        },
        Case {
            name: "relative namespace path",
            edit: |c| {
                set(
                    c,
                    "/linux/namespaces/1",
                    json!({ "type": "network", "path": "proc/1/ns/net" }),
                )
            },
            needle: "linux.namespaces[1].path",
        },
        // Negative and absurd resource values.
        Case {
            name: "negative memory limit",
            edit: |c| set(c, "/linux/resources/memory", json!({ "limit": -5 })),
            needle: "linux.resources.memory.limit -5",
        },
        Case {
            name: "negative swap",
            edit: |c| set(c, "/linux/resources/memory", json!({ "swap": -2 })),
            needle: "linux.resources.memory.swap -2",
        },
        Case {
            name: "swappiness above 100",
            edit: |c| set(c, "/linux/resources/memory", json!({ "swappiness": 200 })),
            needle: "linux.resources.memory.swappiness 200",
        },
        Case {
            name: "negative cpu quota",
            edit: |c| set(c, "/linux/resources/cpu", json!({ "quota": -100 })),
            needle: "linux.resources.cpu.quota -100",
        },
        Case {
            name: "absurd cpu period",
            edit: |c| {
                set(
                    c,
                    "/linux/resources/cpu",
                    json!({ "period": 1_000_000_000_000u64 }),
                )
            },
            needle: "linux.resources.cpu.period 1000000000000",
        },
        Case {
            name: "absurd cpu shares",
            edit: |c| {
                set(
                    c,
                    "/linux/resources/cpu",
                    json!({ "shares": 1_000_000_000u64 }),
                )
            },
            needle: "linux.resources.cpu.shares 1000000000",
        },
        Case {
            name: "negative pids limit",
            edit: |c| set(c, "/linux/resources/pids", json!({ "limit": -7 })),
            needle: "linux.resources.pids.limit -7",
        },
        Case {
            name: "blkio weight out of range",
            edit: |c| set(c, "/linux/resources/blockIO", json!({ "weight": 5000 })),
            needle: "linux.resources.blockIO.weight 5000",
        },
        Case {
            name: "negative hugepage limit",
            edit: |c| {
                set(
                    c,
                    "/linux/resources/hugepageLimits",
                    json!([{ "pageSize": "2MB", "limit": -1 }]),
                )
            },
            needle: "linux.resources.hugepageLimits[0].limit -1",
        },
        // User namespaces and id mappings.
        Case {
            name: "user namespace without mappings",
            edit: |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "type": "user" }))
            },
            needle: "linux.uidMappings: a user namespace needs at least one mapping",
        },
        Case {
            name: "mapping of size 0",
            edit: |c| {
                add_user_namespace(
c,
json!([{ "containerID": 0, "hostID": 100000, "size": 0 }]),
json!([{ "containerID": 0, "hostID": 100000, "size": 1 }]),
);
            },
            needle: "linux.uidMappings[0]: size must not be 0",
        },
        Case {
            name: "overlapping mappings",
            edit: |c| {
                add_user_namespace(
c,
json!([{ "containerID": 0, "hostID": 100000, "size": 1000 }]),
json!([
                        { "containerID": 0, "hostID": 100000, "size": 1000 },
                        { "containerID": 500, "hostID": 300000, "size": 10 }
                    ]),
);
            },
            needle: "linux.gidMappings[0] and [1]: ranges overlap",
        },
        Case {
            name: "mappings without a user namespace",
            edit: |c| {
                set(
                    c,
                    "/linux/uidMappings",
                    json!([{ "containerID": 0, "hostID": 100000, "size": 1 }]),
                )
            },
            needle: "linux.uidMappings: mappings need a user namespace",
        },
        Case {
            name: "mappings with a user namespace joined by path",
            edit: |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "type": "user", "path": "/proc/1/ns/user" }));
                set(
                    c,
                    "/linux/uidMappings",
                    json!([{ "containerID": 0, "hostID": 100000, "size": 1 }]),
                )
            },
            needle: "linux.uidMappings: a user namespace joined by path (linux.namespaces[6]) has its mappings already",
        },
        // Capabilities, seccomp, hooks.
        Case {
            name: "unknown effective capability",
            edit: |c| set(c, "/process/capabilities/effective", json!(["CAP_NOPE"])),
            needle: "CAP_NOPE",
        },
        Case {
            name: "unknown seccomp default action",
            edit: |c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({ "defaultAction": "SCMP_ACT_BOGUS" }),
                )
            },
            needle: "SCMP_ACT_BOGUS",
        },
        Case {
            name: "unknown seccomp rule action",
            edit: |c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({ "defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_SOMETIMES" }] }),
                )
            },
            needle: "SCMP_ACT_SOMETIMES",
        },
        Case {
            name: "unknown seccomp architecture",
            edit: |c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"] }),
                )
            },
            needle: "SCMP_ARCH_Z80",
        },
        Case {
            name: "unknown seccomp operator",
            edit: |c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({ "defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                           "args": [{ "index": 0, "value": 1, "op": "SCMP_CMP_ALMOST" }] }] }),
                )
            },
            needle: "SCMP_CMP_ALMOST",
        },
        Case {
            name: "seccomp errno out of range",
            edit: |c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({ "defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100000 }] }),
                )
            },
            needle: "linux.seccomp.syscalls[0].errnoRet 100000",
        },
        Case {
            name: "relative prestart hook path",
            edit: |c| set(c, "/hooks", json!({ "prestart": [{ "path": "bin/true" }] })),
            needle: "hooks.prestart[0].path \"bin/true\"",
        },
        Case {
            name: "relative createRuntime hook path",
            edit: |c| {
                set(
                    c,
                    "/hooks",
                    json!({ "createRuntime": [{ "path": "true" }] }),
                )
            },
            needle: "hooks.createRuntime[0].path",
        },
        Case {
            name: "hook timeout 0",
            edit: |c| {
                set(
                    c,
                    "/hooks",
                    json!({ "poststart": [{ "path": "/bin/true", "timeout": 0 }] }),
                )
            },
            needle: "hooks.poststart[0].timeout 0",
        },
        // Other kernel interfaces.
        Case {
            name: "user namespace path that is no namespace",
            edit: |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "type": "user", "path": "/etc/passwd" }))
            },
            needle: "linux.namespaces: join the user namespace /etc/passwd",
        },
        Case {
            name: "time offsets without a time namespace",
            edit: |c| {
                set(
                    c,
                    "/linux/timeOffsets",
                    json!({ "boottime": { "secs": 5 } }),
                )
            },
            needle: "linux.timeOffsets: needs a new time namespace",
        },
        Case {
            name: "time offset of an unknown clock",
            edit: |c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({ "type": "time" }));
                set(
                    c,
                    "/linux/timeOffsets",
                    json!({ "realtime": { "secs": 5 } }),
                )
            },
            needle: "linux.timeOffsets \"realtime\"",
        },
        Case {
            name: "no mount namespace",
            edit: |c| {
                c["linux"]["namespaces"].as_array_mut().unwrap().remove(4);
            },
            needle: "linux.maskedPaths: needs a mount namespace",
        },
        Case {
            name: "sysctl key with a slash and dots",
            edit: |c| set(c, "/linux/sysctl", json!({ "net.ipv4/../x": "1" })),
            needle: "linux.sysctl",
        },
        Case {
            name: "personality flags",
            edit: |c| {
                set(
                    c,
                    "/linux/personality",
                    json!({ "domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"] }),
                )
            },
            needle: "linux.personality.flags",
        },
        Case {
            name: "oom score out of range",
            edit: |c| set(c, "/process/oomScoreAdj", json!(5000)),
            needle: "process.oomScoreAdj 5000",
        },
        Case {
            name: "hostname too long",
            edit: |c| set(c, "/hostname", json!("h".repeat(100))),
            needle: "hostname",
        },
    ]
}

/// `rt create` fails cleanly, and `rt run` of the same bundle too.
#[test]
fn bad_configs_fail_cleanly() {
    let env = Env::new("badconfig");
    let cases = config_cases();
    assert!(cases.len() >= 60, "{} config cases", cases.len());
    for case in cases {
        eprintln!("case: {}", case.name);
        for cmd in ["create", "run"] {
            let id = env.id("bad");
            let mut config = env.config(&id, &["true"]);
            (case.edit)(&mut config);
            let bundle = env.bundle(&id, &config);
            let out = env.rt(&[cmd, "--bundle", bundle.to_str().unwrap(), &id]);
            assert_fails_with(&out, case.needle);
            assert!(
                stderr(&out).contains("config.json") || !case.needle.contains('.'),
                "{}: error does not name the file: {}",
                case.name,
                stderr(&out)
            );
            env.assert_clean(&id, Some(&bundle));
        }
    }
}

#[test]
fn missing_and_malformed_config() {
    let env = Env::new("malformed");
    let id = env.id("c");
    let bundle = env.tmp.join("empty-bundle");
    fs::create_dir_all(&bundle).unwrap();
    let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "config.json: No such file or directory");
    env.assert_clean(&id, Some(&bundle));

    fs::write(
        bundle.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {,\n}",
    )
    .unwrap();
    let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "line 3 column 15");
    assert!(stderr(&out).contains(&format!("{}/config.json", bundle.display())));
    env.assert_clean(&id, Some(&bundle));

    let out = env.rt(&["create", "-b", "/no/such/bundle", &id]);
    assert_fails_with(&out, "/no/such/bundle");
    env.assert_clean(&id, None);
}

#[test]
fn missing_rootfs() {
    let env = Env::new("norootfs");
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    set(&mut config, "/root/path", json!("does-not-exist"));
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "root.path");
    assert!(stderr(&out).contains("does-not-exist"));
    env.assert_clean(&id, Some(&bundle));

    // A rootfs that is a file.
    let file = env.tmp.join("rootfs-file");
    fs::write(&file, "").unwrap();
    set(&mut config, "/root/path", json!(file));
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "not a directory");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn invalid_and_duplicate_ids() {
    let env = Env::new("ids");
    let id = env.id("ok");
    let bundle = env.bundle(&id, &env.config(&id, &["true"]));
    for bad in ["../x", "a/b", "", ".hidden", "a b"] {
        let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), bad]);
        assert_fails_with(&out, "invalid container id");
        let out = env.rt(&["state", bad]);
        assert_fails_with(&out, "invalid container id");
    }
    assert!(!env.tmp.join("x").exists());
    // A duplicate ID is refused and the first container is untouched.
    env.create(&id, &env.config(&id, &["true"]));
    let out = env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "container with id exists");
    assert_eq!(env.status(&id), "created");
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn commands_on_unknown_or_wrong_state_containers() {
    let env = Env::new("wrongstate");
    for cmd in [
        vec!["start", "ghost"],
        vec!["kill", "ghost"],
        vec!["state", "ghost"],
        vec!["delete", "ghost"],
    ] {
        assert_fails_with(&env.rt(&cmd), "container \"ghost\" does not exist");
    }
    let id = env.id("c");
    let bundle = env.create(&id, &env.config(&id, &["sleep", "100"]));
    assert_fails_with(
        &env.rt(&["kill", &id, "SIGBOGUS"]),
        "unknown signal \"SIGBOGUS\"",
    );
    assert_fails_with(&env.rt(&["kill", &id, "99"]), "unknown signal \"99\"");
    assert_eq!(env.status(&id), "created");
    assert_ok(&env.rt(&["start", &id]), "start");
    assert_fails_with(
        &env.rt(&["start", &id]),
        "cannot start an already running container",
    );
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    env.wait_status(&id, "stopped");
    assert_fails_with(
        &env.rt(&["start", &id]),
        "cannot start a container that has stopped",
    );
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn bad_flags_exit_1() {
    let env = Env::new("flags");
    // Usage errors are one line `rt: ...` (not clap's multi-line text), exit status 1.
    let out = env.rt(&["create", "--no-such-flag", "x"]);
    assert_fails_with(&out, "--no-such-flag");
    let out = env.rt(&["--log-format", "xml", "list"]);
    assert_fails_with(&out, "xml");
    assert_fails_with(&env.rt(&["no-such-command"]), "no-such-command");
    assert_fails_with(&env.rt(&["kill"]), "<ID>");
    assert_fails_with(&env.rt(&[]), "requires a subcommand");
    // --help and --version still print in full, on stdout, and exit 0.
    for args in [&["--help"][..], &["exec", "--help"], &["--version"]] {
        let out = env.rt(args);
        assert_ok(&out, &format!("{args:?}"));
        assert!(stderr(&out).is_empty(), "{args:?}: {}", stderr(&out));
    }
    let help = stdout(&env.rt(&["exec", "--help"]));
    assert!(
        help.lines().count() > 10 && help.contains("--ignore-paused"),
        "{help}"
    );
    assert!(stdout(&env.rt(&["--version"])).starts_with("rt "));
}

/// Flags rt refuses, before or after it made anything: each is one line, nothing left.
#[test]
fn bad_flags_fail_cleanly() {
    let env = Env::new("badflags");
    let id = env.id("c");
    let bundle = env.bundle(&id, &env.config(&id, &["true"]));
    let b = bundle.to_str().unwrap();
    let no_dir_pid = env.tmp.join("no/such/dir/pid");
    let missing_sock = env.tmp.join("no-such.sock");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["create", "-b", b, "--preserve-fds", "many", &id],
            "many",
        ),
        (
            vec![
                "create",
                "-b",
                b,
                "--pid-file",
                no_dir_pid.to_str().unwrap(),
                &id,
            ],
            "--pid-file",
        ),
        (
            vec![
                "create",
                "-b",
                b,
                "--console-socket",
                missing_sock.to_str().unwrap(),
                &id,
            ],
            "no-such.sock",
        ),
        (
            vec![
                "run",
                "-b",
                b,
                "--pid-file",
                no_dir_pid.to_str().unwrap(),
                &id,
            ],
            "--pid-file",
        ),
        (vec!["kill", &id, "SIGNOPE"], "SIGNOPE"),
        (vec!["--log-format", "xml", "create", "-b", b, &id], "xml"),
        (vec!["create", "-b", b], "ID"),
    ];
    for (args, needle) in &cases {
        eprintln!("case: {args:?}");
        let out = env.rt(args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
        env.assert_clean(&id, Some(&bundle));
    }
}

/// A truncated, garbage or missing state.json: every command says so in one line, and
/// `delete --force` still removes the cgroup and kills the processes.
#[test]
fn broken_state_is_reported_and_force_deleted() {
    let env = Env::new("badstate");
    for (name, content) in [
        ("truncated", Some(&b"{\"id\": \"x\", \"pid\": 12"[..])),
        ("garbage", Some(&b"\x00\xffnot json at all"[..])),
        ("empty", Some(&b""[..])),
        ("missing", None),
    ] {
        eprintln!("case: {name}");
        let id = env.id(name);
        let bundle = env.create(&id, &env.config(&id, &["sleep", "100"]));
        let state = env.root.join(&id).join("state.json");
        match content {
            Some(bytes) => fs::write(&state, bytes).unwrap(),
            None => fs::remove_file(&state).unwrap(),
        }
        let needle = if content.is_some() {
            "corrupt state"
        } else {
            "is incomplete"
        };
        for cmd in ["state", "start", "kill", "delete", "pause", "ps"] {
            assert_fails_with(&env.rt(&[cmd, &id]), needle);
        }
        assert!(!procs_in_cgroup(&env.cgroup_path(&id)).is_empty());
        let out = env.rt(&["delete", "--force", &id]);
        assert_ok(&out, "delete --force");
        env.assert_clean(&id, Some(&bundle));
    }
}
