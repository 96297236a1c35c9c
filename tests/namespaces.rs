//! Namespaces the config does not list, or joins by path:
//! - no mount namespace (or no namespaces at all): the container runs in rt's own mount
//!   namespace, chroot'ed into root.path, its mounts made there and removed by `rt delete`
//!   (runc leaves them behind); `rt exec` lands in the same root;
//! - a mount namespace joined by path still gets the rootfs set up and pivot_root'ed into;
//! - a user namespace joined by path (another container's), and `rt exec` joins it too.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use rt_tests::*;
use serde_json::{json, Value};

fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.split(' ').nth(4).is_some_and(|mp| mp.starts_with(&dir)))
        .map(String::from)
        .collect()
}

fn ns_inode(path: &str) -> u64 {
    fs::metadata(path).unwrap().ino()
}

/// A config on a private rootfs holding `/marker`, without masked or read-only paths.
fn on_private_rootfs(env: &Env, id: &str, args: &[&str]) -> (Value, std::path::PathBuf) {
    let rootfs = private_rootfs(env);
    fs::write(rootfs.join("marker"), "the container's root\n").unwrap();
    let mut c = env.config(id, args);
    set(&mut c, "/root/path", json!(rootfs));
    set(&mut c, "/root/readonly", json!(false));
    c["linux"].as_object_mut().unwrap().remove("maskedPaths");
    c["linux"].as_object_mut().unwrap().remove("readonlyPaths");
    (c, rootfs)
}

#[test]
fn without_a_mount_namespace_the_container_runs_in_rts_and_delete_removes_its_mounts() {
    let env = Env::new("nomntns");
    let host_mnt = ns_inode("/proc/self/ns/mnt");
    for keep in [&["pid", "network", "ipc", "uts", "cgroup"][..], &[]] {
        let id = env.id("c");
        let (mut c, rootfs) = on_private_rootfs(&env, &id, &["sleep", "100"]);
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| keep.contains(&n["type"].as_str().unwrap()));
        if keep.is_empty() {
            c.as_object_mut().unwrap().remove("hostname");
        }
        let before = mounts_under(&rootfs);
        env.create(&id, &c);
        assert_ok(&env.rt(&["start", &id]), "start");
        // Its mounts are in rt's namespace, under its rootfs.
        assert!(
            mounts_under(&rootfs).len() > before.len(),
            "no mount under the rootfs"
        );
        let out = env.rt(&[
            "exec",
            &id,
            "sh",
            "-c",
            "cat /marker; stat -L -c %i /proc/self/ns/mnt",
        ]);
        assert_ok(&out, "exec");
        let text = stdout(&out);
        assert!(
            text.contains("the container's root"),
            "exec is not in root.path: {text}"
        );
        assert_eq!(
            text.lines().last().unwrap().trim(),
            host_mnt.to_string(),
            "{text}"
        );
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
        assert_eq!(
            mounts_under(&rootfs),
            before,
            "rt delete left mounts under the rootfs"
        );
        env.assert_clean(&id, None);
    }
    // Masking and read-only paths need a mount namespace (they would change rt's).
    let id = env.id("masked");
    let mut c = env.config(&id, &["true"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    let out = env.run(&id, &c);
    assert_fails_with(&out, "linux.maskedPaths: needs a mount namespace");
    env.assert_clean(&id, None);
}

/// A process of the test in a namespace of its own (`unshare` flags), to join by path.
struct Holder(Child);

impl Holder {
    fn new(flags: &[&str]) -> Holder {
        let child = Command::new("unshare")
            .args(flags)
            .args(["sleep", "100"])
            .stdin(Stdio::null())
            .spawn()
            .expect("run unshare");
        // Until it is in its namespace.
        let me = ns_inode("/proc/self/ns/mnt");
        for _ in 0..200 {
            if fs::metadata(format!("/proc/{}/ns/mnt", child.id())).is_ok_and(|m| m.ino() != me)
                || !flags.contains(&"-m")
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Holder(child)
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_joined_mount_namespace_still_gets_the_rootfs() {
    let env = Env::new("joinmnt");
    let holder = Holder::new(&["-m", "--propagation", "private"]);
    let path = format!("/proc/{}/ns/mnt", holder.0.id());
    let joined = ns_inode(&path);
    let id = env.id("c");
    let (mut c, _rootfs) = on_private_rootfs(
        &env,
        &id,
        &["sh", "-c", "cat /marker; stat -L -c %i /proc/self/ns/mnt"],
    );
    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "mount");
    ns.push(json!({ "type": "mount", "path": path }));
    let out = env.run(&id, &c);
    assert_ok(&out, "run in a joined mount namespace");
    let text = stdout(&out);
    assert!(
        text.contains("the container's root"),
        "not pivoted into root.path: {text}"
    );
    assert_eq!(
        text.lines().last().unwrap().trim(),
        joined.to_string(),
        "{text}"
    );
    env.assert_clean(&id, None);
}

#[test]
fn a_user_namespace_joined_by_path_is_used_by_the_init_and_exec() {
    let env = Env::new("joinuser");
    // The namespace's owner: a container with a user namespace of its own.
    let a = env.id("owner");
    let mut c = env.config(&a, &["sleep", "100"]);
    add_user_namespace(
        &mut c,
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
    );
    env.create(&a, &c);
    assert_ok(&env.rt(&["start", &a]), "start the owner");
    let pid = state_json(&env.rt(&["state", &a]))["pid"].as_i64().unwrap();

    let b = env.id("joiner");
    let mut c = env.config(&b, &["sleep", "100"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user", "path": format!("/proc/{pid}/ns/user") }));
    env.create(&b, &c);
    assert_ok(&env.rt(&["start", &b]), "start the joiner");
    let bpid = state_json(&env.rt(&["state", &b]))["pid"].as_i64().unwrap();
    assert_eq!(
        ns_inode(&format!("/proc/{bpid}/ns/user")),
        ns_inode(&format!("/proc/{pid}/ns/user")),
        "the init is not in the joined user namespace"
    );
    let status = fs::read_to_string(format!("/proc/{bpid}/status")).unwrap();
    assert!(
        status.contains("Uid:\t100000"),
        "the init is not the namespace's root:\n{status}"
    );
    let out = env.rt(&["exec", &b, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_ok(&out, "exec");
    let text = stdout(&out);
    assert_eq!(text.lines().next(), Some("0"), "{text}");
    assert!(
        text.split_whitespace()
            .collect::<Vec<_>>()
            .starts_with(&["0", "0", "100000", "65536"]),
        "{text}"
    );
    // Mappings given with a joined namespace are refused.
    let d = env.id("maps");
    let mut bad = c.clone();
    set(&mut bad, "/linux/cgroupsPath", json!(env.cgroup_path(&d)));
    set(
        &mut bad,
        "/linux/uidMappings",
        json!([{ "containerID": 0, "hostID": 100000, "size": 1 }]),
    );
    assert_fails_with(&env.run(&d, &bad), "has its mappings already");
    env.assert_clean(&d, None);
    for id in [&b, &a] {
        assert_ok(&env.rt(&["delete", "--force", id]), "delete");
        env.assert_clean(id, None);
    }
}
