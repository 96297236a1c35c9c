//! Symlink and path safety: a rootfs whose symlinks point outside it (absolute, `..`, through
//! /proc's magic links) never makes rt touch the host. Each test works on a private copy of
//! the busybox rootfs (the shared one is never modified) and a canary directory on the host
//! that the symlinks point at; afterwards the canary is unchanged (entries, content, mtime)
//! and no mount refers to it.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt};
use std::path::Path;

use rt_tests::*;
use serde_json::{json, Value};

fn config_on(env: &Env, id: &str, rootfs: &Path, args: &[&str]) -> Value {
    let mut c = env.config(id, args);
    set(&mut c, "/root/path", json!(rootfs));
    // No tmpfs on /tmp: the canary's twin path inside the rootfs is under /tmp.
    c["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/tmp");
    c
}

fn run_ok(env: &Env, id: &str, config: &Value) -> String {
    let out = env.run(id, config);
    assert_ok(&out, "run");
    stdout(&out)
}

#[test]
fn proc_symlinked_to_root_is_refused() {
    let env = Env::new("procroot");
    let canary = Canary::new(&env);
    let rootfs = private_rootfs(&env);
    fs::remove_dir(rootfs.join("proc")).unwrap();
    symlink("/", rootfs.join("proc")).unwrap();
    let id = env.id("c");
    let config = config_on(&env, &id, &rootfs, &["true"]);
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(
        &out,
        "mounts[0] /proc (proc): proc must be mounted on an ordinary directory",
    );
    env.assert_clean(&id, Some(&bundle));
    canary.assert_untouched();
    assert!(rootfs
        .join("proc")
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Without a tmpfs on /dev, devices and /dev symlinks go into the rootfs' own /dev: a
/// symlink there (to the host canary, absolute or through `..`) is resolved in the rootfs
/// for directories and replaced (never written through) for the node itself.
#[test]
fn dev_symlinks_stay_in_the_rootfs() {
    let env = Env::new("devlinks");
    let canary = Canary::new(&env);
    let rootfs = private_rootfs(&env);
    let c = canary.dir.to_str().unwrap();
    symlink(c, rootfs.join("dev/x")).unwrap();
    symlink(format!("{c}/secret"), rootfs.join("dev/null")).unwrap();
    symlink(
        format!("../../../../../../../..{c}/secret"),
        rootfs.join("dev/zero"),
    )
    .unwrap();
    symlink(format!("{c}/sub"), rootfs.join("dev/fd")).unwrap();
    symlink(format!("{c}/secret"), rootfs.join("dev/ptmx")).unwrap();
    let id = env.id("c");
    let mut config = config_on(
        &env,
        &id,
        &rootfs,
        &["sh", "-c", "echo hi > /dev/null; ls /dev/x"],
    );
    // No tmpfs on /dev (nor the mounts under it).
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    set(
        &mut config,
        "/linux/devices",
        json!([{ "path": "/dev/x/node", "type": "c", "major": 1, "minor": 3, "fileMode": 438 }]),
    );
    let out = run_ok(&env, &id, &config);
    assert!(out.contains("node"), "{out}");
    canary.assert_untouched();
    // The nodes are real nodes in the private rootfs.
    let null = rootfs.join("dev/null").symlink_metadata().unwrap();
    assert!(null.file_type().is_char_device());
    let inside = rootfs.join(c.trim_start_matches('/')).join("node");
    assert!(inside
        .symlink_metadata()
        .unwrap()
        .file_type()
        .is_char_device());
    env.assert_clean(&id, None);
}

/// Mount destinations through symlinks that point at the host land inside the rootfs; one
/// through a /proc magic link (which leads back to the host) is refused.
#[test]
fn mount_destinations_through_symlinks_stay_in_the_rootfs() {
    let env = Env::new("mountlinks");
    let canary = Canary::new(&env);
    let rootfs = private_rootfs(&env);
    let c = canary.dir.to_str().unwrap();
    fs::create_dir_all(rootfs.join("mnt")).unwrap();
    symlink(c, rootfs.join("mnt/abs")).unwrap();
    symlink(format!("../../../../../../..{c}"), rootfs.join("mnt/rel")).unwrap();
    symlink(format!("/proc/self/root{c}"), rootfs.join("mnt/magic")).unwrap();
    let id = env.id("c");
    let mut config = config_on(
        &env,
        &id,
        &rootfs,
        &["sh", "-c", "ls /mnt/abs/sub /mnt/rel/t2"],
    );
    let src = env.tmp.join("bind-src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("x"), "from bind").unwrap();
    let mounts = config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({ "destination": "/mnt/abs/sub", "type": "tmpfs", "source": "tmpfs" }));
    mounts.push(json!({ "destination": "/mnt/rel/t2", "type": "bind", "source": src, "options": ["rbind", "ro"] }));
    let out = run_ok(&env, &id, &config);
    assert!(out.contains('x'), "{out}");
    canary.assert_untouched();
    env.assert_clean(&id, None);

    let id = env.id("magic");
    let mut config = config_on(&env, &id, &rootfs, &["true"]);
    let n = config["mounts"].as_array().unwrap().len();
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "destination": "/mnt/magic/sub", "type": "bind", "source": src, "options": ["rbind", "ro"] }));
    let bundle = env.bundle(&id, &config);
    let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, &format!("mounts[{n}] /mnt/magic/sub (bind)"));
    canary.assert_untouched();
    env.assert_clean(&id, Some(&bundle));
}

/// Masked and read-only paths that are symlinks out of the rootfs — absolute and through
/// `..` — are resolved inside the container's root; one through /proc/PID/root of a host
/// process (without a pid namespace, the host root) is a magic link and refused.
#[test]
fn masked_and_readonly_symlinks_stay_in_the_rootfs() {
    let env = Env::new("masklinks");
    let canary = Canary::new(&env);
    let rootfs = private_rootfs(&env);
    let c = canary.dir.to_str().unwrap();
    // The same path inside the rootfs, so masking has something to act on.
    let twin = rootfs.join(c.trim_start_matches('/'));
    fs::create_dir_all(twin.join("sub")).unwrap();
    fs::write(twin.join("secret"), "rootfs data").unwrap();
    symlink(format!("{c}/secret"), rootfs.join("masked-abs")).unwrap();
    symlink(
        format!("../../../../../../..{c}/sub"),
        rootfs.join("masked-rel"),
    )
    .unwrap();
    symlink(c, rootfs.join("ro-abs")).unwrap();
    // The test process: in the host pid namespace, visible in the container (no pid
    // namespace), its root the host root.
    let me = std::process::id();
    symlink(format!("/proc/{me}/root{c}"), rootfs.join("via-proc")).unwrap();
    let id = env.id("c");
    let script = format!(
        "cat {c}/secret; echo; ls {c}/sub | wc -l; touch {c}/ro-test 2>&1 || echo readonly-ok"
    );
    let mut config = config_on(&env, &id, &rootfs, &["sh", "-c", &script]);
    set(&mut config, "/root/readonly", json!(false));
    // No pid namespace: /proc/1 is the host's init.
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    set(
        &mut config,
        "/linux/maskedPaths",
        json!(["/masked-abs", "/masked-rel"]),
    );
    set(&mut config, "/linux/readonlyPaths", json!(["/ro-abs"]));
    let out = run_ok(&env, &id, &config.clone());
    // The rootfs' twin was masked (empty file), its sub directory too, and made read-only.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["", "0"], "{out}");
    assert!(out.contains("readonly-ok"), "{out}");
    canary.assert_untouched();
    assert_eq!(
        fs::read_to_string(twin.join("secret")).unwrap(),
        "rootfs data"
    );
    env.assert_clean(&id, None);

    for (field, path) in [
        ("maskedPaths", "/via-proc/secret"),
        ("readonlyPaths", "/via-proc"),
    ] {
        let id = env.id("magic");
        let mut config = config.clone();
        set(
            &mut config,
            "/linux/cgroupsPath",
            json!(env.cgroup_path(&id)),
        );
        set(&mut config, &format!("/linux/{field}"), json!([path]));
        let bundle = env.bundle(&id, &config);
        let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
        assert_fails_with(&out, &format!("linux.{field} \"{path}\""));
        canary.assert_untouched();
        env.assert_clean(&id, Some(&bundle));
    }
}
