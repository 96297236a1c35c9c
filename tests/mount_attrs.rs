//! Mount attributes of runtime-spec 1.1: recursive ones (`rro`, `rnosuid`, `rnoexec`, ...)
//! applied with mount_setattr(AT_RECURSIVE) to a bind and every mount below it, plain ones
//! to the bind alone (runc's semantics); an option rt does not know on a bind mount is an
//! error naming it; idmapped bind mounts (`mounts[].uidMappings`, `idmap`, `ridmap`).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use rt_tests::*;
use serde_json::{json, Value};

/// A host directory with a tmpfs mounted on its `sub` (a submount a bind takes along with
/// `rbind`); unmounted when dropped.
struct WithSubmount {
    dir: PathBuf,
}

impl WithSubmount {
    fn new(env: &Env) -> WithSubmount {
        let dir = env.tmp.join("with-submount");
        fs::create_dir_all(dir.join("sub")).unwrap();
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=1m", "rt-test-sub"])
            .arg(dir.join("sub"))
            .status()
            .unwrap();
        assert!(st.success(), "mount a tmpfs for the test");
        WithSubmount { dir }
    }
}

impl Drop for WithSubmount {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.join("sub"))
            .status();
    }
}

fn with_volume(env: &Env, script: &str, volume: &Path, options: Value) -> String {
    env.run_script(script, |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/tmp/vol", "type": "bind", "source": volume, "options": options
        }));
    })
}

const PROBE: &str =
    "for d in /tmp/vol /tmp/vol/sub; do touch $d/probe 2>/dev/null && echo $d=rw || echo $d=ro; done";

#[test]
fn recursive_attributes_reach_every_submount_and_plain_ones_only_the_bind() {
    let env = Env::new("rattrs");
    let vol = WithSubmount::new(&env);
    let out = with_volume(&env, PROBE, &vol.dir, json!(["rbind", "rro"]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["/tmp/vol=ro", "/tmp/vol/sub=ro"],
        "rro: {out}"
    );
    let out = with_volume(&env, PROBE, &vol.dir, json!(["rbind", "ro"]));
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["/tmp/vol=ro", "/tmp/vol/sub=rw"],
        "ro: {out}"
    );
    // rrw undoes a read-only source mount below, rnosuid/rnoexec/rnodev reach the submount.
    let out = with_volume(
        &env,
        "grep ' /tmp/vol/sub ' /proc/self/mountinfo",
        &vol.dir,
        json!(["rbind", "rnosuid", "rnoexec", "rnodev", "rnoatime"]),
    );
    for flag in ["nosuid", "nodev", "noexec", "noatime"] {
        assert!(
            out.split(' ').nth(5).unwrap_or("").contains(flag),
            "{flag} missing: {out}"
        );
    }
    let out = with_volume(
        &env,
        "grep ' /tmp/vol ' /proc/self/mountinfo",
        &vol.dir,
        json!(["rbind", "nosymfollow"]),
    );
    assert!(out.contains("nosymfollow"), "{out}");
    // The host's mounts are untouched.
    fs::write(vol.dir.join("sub/host-probe"), "x").expect("the host's submount became read-only");
    fs::remove_file(vol.dir.join("sub/host-probe")).unwrap();
}

#[test]
fn unknown_options_on_a_bind_mount_are_an_error_naming_them() {
    let env = Env::new("bindopts");
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    let n = config["mounts"].as_array().unwrap().len();
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/vol", "type": "bind", "source": env.tmp, "options": ["rbind", "ro", "size=10m"]
    }));
    let out = env.run(&id, &config);
    assert_fails_with(
        &out,
        &format!("mounts[{n}].options[2] \"size=10m\": not a mount option rt knows"),
    );
    env.assert_clean(&id, None);
}

/// A directory where idmapped mounts work: the test's own on the host (ext4), an ext4
/// image on a loop device in the cgroup v2 guest (its root is 9p, its /tmp a tmpfs of a
/// kernel older than tmpfs' idmap support). Unmounted when dropped.
struct IdmapDir {
    dir: PathBuf,
    loop_mounted: bool,
}

impl IdmapDir {
    fn new(env: &Env) -> IdmapDir {
        let dir = env.tmp.join("idmap-src");
        fs::create_dir_all(&dir).unwrap();
        let in_guest = std::env::var_os("RT_GUEST").is_some();
        if in_guest {
            let img = env.tmp.join("idmap.img");
            let st = Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "truncate -s 16M {0} && mkfs.ext4 -q {0} && mount -o loop {0} {1}",
                    img.display(),
                    dir.display()
                ))
                .status()
                .unwrap();
            assert!(st.success(), "make an ext4 image for idmapped mounts");
        }
        // Owned by root on disk: uid 0, gid 0.
        fs::write(dir.join("file"), "data").unwrap();
        IdmapDir {
            dir,
            loop_mounted: in_guest,
        }
    }
}

impl Drop for IdmapDir {
    fn drop(&mut self) {
        if self.loop_mounted {
            let _ = Command::new("umount").arg("-d").arg(&self.dir).status();
        }
    }
}

fn userns_config(env: &Env, id: &str, script: &str) -> Value {
    let mut c = env.config(id, &["sh", "-c", script]);
    add_user_namespace(
        &mut c,
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]),
    );
    c
}

#[test]
fn idmapped_mounts_shift_owners_without_chown() {
    let env = Env::new("idmap");
    let src = IdmapDir::new(&env);
    let script = "stat -c %u:%g /tmp/vol/file; echo more >> /tmp/vol/file && echo written";
    // Without an idmap, root's file is nobody's in the container's user namespace.
    let id = env.id("plain");
    let mut c = userns_config(&env, &id, script);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/vol", "type": "bind", "source": src.dir, "options": ["rbind"]
    }));
    let out = env.run(&id, &c);
    assert!(stdout(&out).starts_with("65534:65534"), "{}", stdout(&out));
    env.assert_clean(&id, None);
    // `idmap` with the container's user namespace, and mappings of the mount's own.
    let own = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    for (name, extra) in [
        ("container's", json!({ "options": ["rbind", "idmap"] })),
        (
            "own",
            json!({ "options": ["rbind", "ridmap"], "uidMappings": own, "gidMappings": own }),
        ),
    ] {
        let id = env.id("idmap");
        let mut c = userns_config(&env, &id, script);
        let mut m = json!({ "destination": "/tmp/vol", "type": "bind", "source": src.dir });
        for (k, v) in extra.as_object().unwrap() {
            m[k] = v.clone();
        }
        c["mounts"].as_array_mut().unwrap().push(m);
        let out = env.run(&id, &c);
        assert_ok(&out, name);
        assert_eq!(
            stdout(&out).split_whitespace().collect::<Vec<_>>(),
            ["0:0", "written"],
            "{name}"
        );
        env.assert_clean(&id, None);
    }
    // On the host the file is still root's: no chown happened.
    let meta = fs::metadata(src.dir.join("file")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
    assert_eq!(
        fs::read_to_string(src.dir.join("file")).unwrap(),
        "datamore\nmore\n"
    );

    // Bad input: half a mapping; idmap without a user namespace or mappings.
    let id = env.id("half");
    let mut c = userns_config(&env, &id, "true");
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/vol", "type": "bind", "source": src.dir, "options": ["rbind", "idmap"], "uidMappings": own
    }));
    let n = c["mounts"].as_array().unwrap().len() - 1;
    assert_fails_with(
        &env.run(&id, &c),
        &format!("mounts[{n}] /tmp/vol (idmap): uidMappings and gidMappings go together"),
    );
    env.assert_clean(&id, None);
    let id = env.id("nouserns");
    let mut c = env.config(&id, &["true"]);
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/tmp/vol", "type": "bind", "source": src.dir, "options": ["rbind", "idmap"]
    }));
    assert_fails_with(
        &env.run(&id, &c),
        "needs uidMappings and gidMappings, or a user namespace",
    );
    env.assert_clean(&id, None);
}
