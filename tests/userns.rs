//! User namespaces (rootful, with uid/gid mappings) and `linux.personality`, observed from
//! inside busybox containers.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use rt_tests::*;
use serde_json::json;

fn with_userns(c: &mut serde_json::Value) {
    add_user_namespace(
        c,
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
        json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]),
    );
}

#[test]
fn user_namespace_maps_ids_and_files_get_the_mapped_owner() {
    let env = Env::new("userns");
    let vol = env.tmp.join("vol");
    fs::create_dir_all(&vol).unwrap();
    fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
    let id = env.id("c");
    let script = "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
                  touch /home/by-root; ls -ln /dev/null | cut -c1-10; cat /proc/1/comm; true";
    let mut config = env.config(&id, &["sh", "-c", script]);
    with_userns(&mut config);
    // The mapped root cannot create mount points in the host-owned rootfs: use one that exists.
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/home", "type": "bind", "source": vol, "options": ["rbind", "rw"]
    }));
    let out = env.run(&id, &config);
    assert_ok(&out, "run in a user namespace");
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], vec!["0", "100000", "65536"]);
    assert_eq!(lines[1], vec!["0", "200000", "65536"]);
    assert_eq!(lines[2], vec!["0"]);
    assert_eq!(lines[3], vec!["0"]);
    // The default devices are the host's nodes, bind-mounted (mknod is not allowed).
    assert_eq!(lines[4], vec!["crw-rw-rw-"]);
    assert_eq!(lines[5], vec!["sh"]);
    // A file made by the container's root belongs to the mapped host ids.
    let meta = fs::metadata(vol.join("by-root")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 200000));
    env.assert_clean(&id, None);
}

#[test]
fn user_namespace_with_a_non_root_process_user() {
    let env = Env::new("usernsuser");
    let id = env.id("c");
    let mut config = env.config(&id, &["sh", "-c", "id -u; id -g; id -G"]);
    with_userns(&mut config);
    set(
        &mut config,
        "/process/user",
        json!({ "uid": 1000, "gid": 1000, "additionalGids": [100] }),
    );
    let out = env.run(&id, &config);
    assert_ok(&out, "run as uid 1000 in a user namespace");
    assert_eq!(stdout(&out), "1000\n1000\n1000 100\n");
    env.assert_clean(&id, None);
}

#[test]
fn user_namespace_bad_mappings() {
    let env = Env::new("usernsbad");
    let cases = [
        (
            json!([]),
            "linux.uidMappings: a user namespace needs at least one mapping",
        ),
        (
            json!([{ "containerID": 0, "hostID": 100000, "size": 0 }]),
            "linux.uidMappings[0]: size must not be 0",
        ),
        (
            json!([{ "containerID": 0, "hostID": 100000, "size": 10 }, { "containerID": 5, "hostID": 300000, "size": 10 }]),
            "ranges overlap",
        ),
        // uid 0 is not mapped: the init cannot become root in its namespace.
        (
            json!([{ "containerID": 1, "hostID": 100000, "size": 10 }]),
            "container uid 0 must be mapped",
        ),
    ];
    for (maps, needle) in cases {
        let id = env.id("c");
        let mut config = env.config(&id, &["true"]);
        with_userns(&mut config);
        set(&mut config, "/linux/uidMappings", maps);
        let bundle = env.bundle(&id, &config);
        assert_fails_with(
            &env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]),
            needle,
        );
        env.assert_clean(&id, Some(&bundle));
    }
}

#[test]
fn personality_linux32() {
    let env = Env::new("personality");
    let id = env.id("c");
    let mut config = env.config(&id, &["uname", "-m"]);
    set(
        &mut config,
        "/linux/personality",
        json!({ "domain": "LINUX32" }),
    );
    let out = env.run(&id, &config);
    assert_ok(&out, "run with LINUX32");
    assert_eq!(stdout(&out), "i686\n");
    set(
        &mut config,
        "/linux/personality",
        json!({ "domain": "LINUX", "flags": ["SHORT_INODE"] }),
    );
    let id = env.id("c");
    set(
        &mut config,
        "/linux/cgroupsPath",
        json!(env.cgroup_path(&id)),
    );
    let bundle = env.bundle(&id, &config);
    assert_fails_with(
        &env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]),
        "linux.personality.flags",
    );
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn exec_joins_the_user_namespace() {
    let env = Env::new("usernsexec");
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "1000"]);
    with_userns(&mut config);
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    let out = env.rt(&["exec", &id, "sh", "-c", "cat /proc/self/uid_map; id -u"]);
    assert_ok(&out, "exec");
    let text = stdout(&out);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(words, vec!["0", "100000", "65536", "0"]);
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn time_namespace_with_clock_offsets() {
    let env = Env::new("timens");
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "1000"]);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "time" }));
    set(
        &mut config,
        "/linux/timeOffsets",
        json!({ "boottime": { "secs": 864000 } }),
    );
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    let host_uptime: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // exec joins the container's time namespace too.
    let out = env.rt(&["exec", &id, "cat", "/proc/uptime"]);
    assert_ok(&out, "exec cat /proc/uptime");
    let uptime: f64 = stdout(&out)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uptime - host_uptime > 863_000.0,
        "uptime {uptime} vs host {host_uptime}"
    );
    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));

    // Offsets without a time namespace are refused.
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    set(
        &mut config,
        "/linux/timeOffsets",
        json!({ "monotonic": { "secs": 1 } }),
    );
    let bundle = env.bundle(&id, &config);
    assert_fails_with(
        &env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]),
        "linux.timeOffsets",
    );
    env.assert_clean(&id, Some(&bundle));
}
