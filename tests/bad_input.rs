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
    ]
}

/// `rt create` fails cleanly, and `rt run` of the same bundle too.
#[test]
fn bad_configs_fail_cleanly() {
    let env = Env::new("badconfig");
    for case in config_cases() {
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
    assert_fails_with(&out, "already exists");
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
    assert_fails_with(&env.rt(&["start", &id]), "is running");
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    env.wait_status(&id, "stopped");
    assert_fails_with(&env.rt(&["start", &id]), "is stopped");
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn bad_flags_exit_1() {
    let env = Env::new("flags");
    let out = env.rt(&["create", "--no-such-flag", "x"]);
    assert_eq!(out.status.code(), Some(1));
    let out = env.rt(&["--log-format", "xml", "list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("xml"));
}
