//! Nothing fails silently: one row per way the container's init can fail, each asserting
//! which command fails (`rt create` for everything the init can check before it reports
//! ready, `rt start` for what only happens after: startContainer hooks, the seccomp filter,
//! execve), its one-line message, and that nothing is left behind. No row may leave a
//! container that `create` and `start` called a success while its process never ran.
//!
//! Also: allow-list seccomp profiles that omit each syscall rt itself makes after loading
//! the filter still run the container, with and without noNewPrivileges.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;

use rt_tests::*;
use serde_json::{json, Value};

/// Which command must fail.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fails {
    Create,
    Start,
}

struct Row {
    name: &'static str,
    edit: fn(&Env, &mut Value),
    fails: Fails,
    needle: &'static str,
    /// Environment for rt (a crash-test stage).
    rt_env: &'static [(&'static str, &'static str)],
    /// Drop CAP_SYS_BOOT from rt's bounding set before it starts (a capability the host
    /// cannot grant, wherever the test runs).
    without_sys_boot: bool,
}

fn docker_profile() -> Value {
    serde_json::from_slice(
        &fs::read(repo().join("tests/fixtures/seccomp-docker-default.json")).unwrap(),
    )
    .unwrap()
}

/// Docker's default profile (an allow-list, default ERRNO) without `names`.
fn allow_list_without(names: &[&str]) -> Value {
    let mut p = docker_profile();
    for rule in p["syscalls"].as_array_mut().unwrap() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| !names.contains(&n.as_str().unwrap()));
    }
    p["syscalls"]
        .as_array_mut()
        .unwrap()
        .retain(|r| !r["names"].as_array().unwrap().is_empty());
    p
}

fn no_user_namespace_maps(c: &mut Value) {
    add_user_namespace(
        c,
        json!([{ "containerID": 0, "hostID": 100000, "size": 1000 }]),
        json!([{ "containerID": 0, "hostID": 100000, "size": 1000 }]),
    );
}

fn rows() -> Vec<Row> {
    vec![
        Row {
            name: "user not mapped in the user namespace",
            edit: |_, c| {
                no_user_namespace_maps(c);
                set(c, "/process/user", json!({ "uid": 5000, "gid": 0 }));
            },
            fails: Fails::Create,
            needle: "linux.uidMappings: container uid 5000 must be mapped",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "additional group not mapped",
            edit: |_, c| {
                no_user_namespace_maps(c);
                set(
                    c,
                    "/process/user",
                    json!({ "uid": 0, "gid": 0, "additionalGids": [7000] }),
                );
            },
            fails: Fails::Create,
            needle: "process.user.additionalGids [7000]: setgroups",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "capability the host cannot grant",
            edit: |_, c| {
                for set_name in ["bounding", "effective", "permitted"] {
                    c["process"]["capabilities"][set_name]
                        .as_array_mut()
                        .unwrap()
                        .push(json!("CAP_SYS_BOOT"));
                }
            },
            fails: Fails::Create,
            needle: "process.capabilities.effective: CAP_SYS_BOOT cannot be granted",
            rt_env: &[],
            without_sys_boot: true,
        },
        Row {
            name: "rlimit above what the kernel allows",
            edit: |_, c| {
                set(
                    c,
                    "/process/rlimits",
                    json!([{ "type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1073741824u64 }]),
                )
            },
            fails: Fails::Create,
            needle: "process.rlimits[0] RLIMIT_NOFILE soft=1024 hard=1073741824: setrlimit",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "seccomp profile that denies execve",
            edit: |_, c| {
                set(
                    c,
                    "/linux/seccomp",
                    allow_list_without(&["execve", "execveat"]),
                )
            },
            fails: Fails::Start,
            needle: "exec /bin/true: EPERM",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "seccomp profile that kills on execve",
            edit: |_, c| {
                set(
                    c,
                    "/linux/seccomp",
                    json!({
                        "defaultAction": "SCMP_ACT_ALLOW",
                        "syscalls": [{ "names": ["execve"], "action": "SCMP_ACT_KILL_PROCESS" }]
                    }),
                )
            },
            fails: Fails::Create,
            needle: "linux.seccomp: the profile kills execve(2): the container's process could never start",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "failing startContainer hook",
            edit: |_, c| {
                set(
                    c,
                    "/hooks/startContainer",
                    json!([{ "path": "/bin/sh", "args": ["sh", "-c", "echo no; exit 5"] }]),
                )
            },
            fails: Fails::Start,
            needle: "hooks.startContainer[0] /bin/sh: exited with status 5: no",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "entrypoint that does not exist",
            edit: |_, c| set(c, "/process/args", json!(["/no/such/program"])),
            fails: Fails::Create,
            needle: "process.args[0] \"/no/such/program\": no such file or directory",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "entrypoint the kernel cannot execute",
            edit: |env, c| {
                let rootfs = private_rootfs(env);
                fs::write(rootfs.join("garbage"), [0u8, 1, 2, 3, 4, 5, 6, 7]).unwrap();
                fs::set_permissions(rootfs.join("garbage"), fs::Permissions::from_mode(0o755))
                    .unwrap();
                set(c, "/root/path", json!(rootfs));
                set(c, "/process/args", json!(["/garbage"]));
            },
            fails: Fails::Start,
            needle: "exec /garbage: ENOEXEC",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "SELinux label on a host without SELinux",
            edit: |_, c| {
                set(
                    c,
                    "/process/selinuxLabel",
                    json!("system_u:system_r:container_t:s0"),
                )
            },
            fails: Fails::Create,
            needle:
                "process.selinuxLabel \"system_u:system_r:container_t:s0\": SELinux is disabled",
            rt_env: &[],
            without_sys_boot: false,
        },
        Row {
            name: "init panic",
            edit: |_, _| {},
            fails: Fails::Create,
            needle: "container init panicked",
            rt_env: &[("_RT_CRASH_AT", "init-panic")],
            without_sys_boot: false,
        },
    ]
}

/// linux/capability.h
const CAP_SYS_BOOT: libc::c_ulong = 22;

fn rt_for(env: &Env, row: &Row, args: &[&str]) -> std::process::Output {
    let mut cmd = env.rt_cmd(args);
    for (k, v) in row.rt_env {
        cmd.env(k, v);
    }
    if row.without_sys_boot {
        // SAFETY: prctl in the forked child before exec (async-signal-safe).
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    env.output_of(cmd).expect("run rt")
}

#[test]
fn every_init_failure_is_reported_by_create_or_start() {
    let env = Env::new("initfail");
    for row in rows() {
        if row.name.starts_with("SELinux")
            && std::path::Path::new("/sys/fs/selinux/enforce").exists()
        {
            panic!("this host has SELinux: the SELinux row needs a host without it");
        }
        let id = env.id("c");
        let mut config = env.config(&id, &["true"]);
        (row.edit)(&env, &mut config);
        let bundle = env.bundle(&id, &config);
        let b = bundle.to_str().unwrap();
        let create = rt_for(&env, &row, &["create", "-b", b, &id]);
        match row.fails {
            Fails::Create => {
                assert_fails_with(&create, row.needle);
                env.assert_clean(&id, Some(&bundle));
            }
            Fails::Start => {
                assert_ok(&create, row.name);
                let start = rt_for(&env, &row, &["start", &id]);
                assert!(
                    !start.status.success(),
                    "{}: rt start succeeded while the process never ran",
                    row.name
                );
                assert_fails_with(&start, row.needle);
                env.wait_status(&id, "stopped");
                assert_ok(&env.rt(&["delete", &id]), "delete");
                env.assert_clean(&id, Some(&bundle));
            }
        }
        // rt run reports the same, and leaves nothing either.
        let id = env.id("r");
        let mut config = config.clone();
        set(
            &mut config,
            "/linux/cgroupsPath",
            json!(env.cgroup_path(&id)),
        );
        let bundle = env.bundle(&id, &config);
        let run = rt_for(&env, &row, &["run", "-b", bundle.to_str().unwrap(), &id]);
        assert_fails_with(&run, row.needle);
        env.assert_clean(&id, Some(&bundle));
    }
}

#[test]
fn allow_lists_without_rts_own_late_syscalls_still_run_the_container() {
    let env = Env::new("latesyscalls");
    // What rt itself calls after loading the filter, or could have: close_range (fds are
    // marked close-on-exec before the filter), capset (the CAP_SYS_ADMIN kept to load the
    // filter without no_new_privs is dropped after it), prctl, fcntl.
    for omitted in [
        &["close_range"][..],
        &["capset"],
        &["prctl"],
        &["fcntl"],
        &["close_range", "capset", "prctl"],
    ] {
        for nnp in [false, true] {
            let text = env.run_script("echo ran", |c| {
                set(c, "/linux/seccomp", allow_list_without(omitted));
                set(c, "/process/noNewPrivileges", json!(nnp));
            });
            assert_eq!(
                text.trim(),
                "ran",
                "without {omitted:?}, noNewPrivileges {nnp}"
            );
        }
    }
}
