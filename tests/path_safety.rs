//! Symlink and path safety: a rootfs whose symlinks point outside it (absolute, `..`, through
//! /proc's magic links) never makes rt touch the host. Each test works on a private copy of
//! the busybox rootfs (the shared one is never modified) and a canary directory on the host
//! that the symlinks point at; afterwards the canary is unchanged (entries, content, mtime)
//! and no mount refers to it.

use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rt_tests::*;
use serde_json::{json, Value};

/// A host directory with one file, and what it looked like.
struct Canary {
    dir: PathBuf,
    snapshot: Vec<(String, u64, i64, Vec<u8>)>,
    dir_mtime: i64,
}

impl Canary {
    fn new(env: &Env) -> Canary {
        let dir = env.tmp.join("host-canary");
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("secret"), "host data").unwrap();
        let mut c = Canary {
            dir,
            snapshot: Vec::new(),
            dir_mtime: 0,
        };
        (c.snapshot, c.dir_mtime) = c.take();
        c
    }

    #[allow(clippy::type_complexity)]
    fn take(&self) -> (Vec<(String, u64, i64, Vec<u8>)>, i64) {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).unwrap().flatten() {
            let meta = e.path().symlink_metadata().unwrap();
            let data = if meta.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                Vec::new()
            };
            out.push((
                e.file_name().to_string_lossy().into_owned(),
                meta.ino(),
                meta.mtime_nsec() + meta.mtime() * 1_000_000_000,
                data,
            ));
        }
        out.sort();
        let m = fs::metadata(&self.dir).unwrap();
        (out, m.mtime_nsec() + m.mtime() * 1_000_000_000)
    }

    fn assert_untouched(&self) {
        let (now, mtime) = self.take();
        assert_eq!(
            now,
            self.snapshot,
            "the host canary {} changed",
            self.dir.display()
        );
        assert_eq!(
            mtime, self.dir_mtime,
            "the host canary directory was written"
        );
        let sub: Vec<_> = fs::read_dir(self.dir.join("sub")).unwrap().collect();
        assert!(sub.is_empty(), "something was created in the host canary");
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mountinfo.contains(&*self.dir.to_string_lossy()),
            "a mount on the host canary:\n{mountinfo}"
        );
    }
}

/// A private copy of the busybox rootfs under the test's directory.
fn private_rootfs(env: &Env) -> PathBuf {
    let dst = env.tmp.join("rootfs");
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&dst)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    dst
}

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
        "mounts[0] /proc (proc): destination resolves to the rootfs itself",
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

/// Mount destinations through symlinks that point at the host land inside the rootfs.
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
        &[
            "sh",
            "-c",
            "ls /mnt/abs/sub /mnt/rel/t2 && cat /mnt/magic/sub/x",
        ],
    );
    let src = env.tmp.join("bind-src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("x"), "from bind").unwrap();
    let mounts = config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({ "destination": "/mnt/abs/sub", "type": "tmpfs", "source": "tmpfs" }));
    mounts.push(json!({ "destination": "/mnt/rel/t2", "type": "tmpfs", "source": "tmpfs" }));
    mounts.push(json!({ "destination": "/mnt/magic/sub", "type": "bind", "source": src, "options": ["rbind", "ro"] }));
    let out = run_ok(&env, &id, &config);
    assert!(out.contains("from bind"), "{out}");
    canary.assert_untouched();
    env.assert_clean(&id, None);
}

/// Masked and read-only paths that are symlinks out of the rootfs — absolute, through `..`,
/// and through /proc/PID/root of a host process, which without a pid namespace is the host root — are
/// resolved inside the container's root.
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
        json!(["/masked-abs", "/masked-rel", "/via-proc/secret"]),
    );
    set(&mut config, "/linux/readonlyPaths", json!(["/via-proc"]));
    let out = run_ok(&env, &id, &config);
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
}
