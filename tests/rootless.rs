//! Rootless containers: `rt spec --rootless` and `rt run` by an unprivileged user, created
//! here once (`rt-rootless`, kept; /etc/subuid and /etc/subgid ranges added when missing).
//! Each test gets a directory the user owns (bundle, a private copy of the busybox rootfs,
//! `$XDG_RUNTIME_DIR`, a copy of rt it can execute); everything is removed afterwards.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use rt_tests::*;
use serde_json::{json, Value};

const USER: &str = "rt-rootless";
const SUB_COUNT: u32 = 65536;

struct User {
    uid: u32,
    gid: u32,
    subuid: u32,
    subgid: u32,
}

fn sh(cmd: &str) -> Output {
    Command::new("sh")
        .args(["-c", cmd])
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

fn id_of(flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, USER]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The start of the user's range in /etc/subuid or /etc/subgid, added when missing (after
/// every range there, at 1000000 or above).
fn sub_range(file: &str) -> u32 {
    let text = fs::read_to_string(file).unwrap_or_default();
    let mut end = 1_000_000u32;
    for line in text.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 3 {
            continue;
        }
        let (Ok(start), Ok(count)) = (f[1].parse::<u32>(), f[2].parse::<u32>()) else {
            continue;
        };
        if f[0] == USER && count >= SUB_COUNT {
            return start;
        }
        end = end.max(start.saturating_add(count));
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{USER}:{end}:{SUB_COUNT}\n"));
    fs::write(file, text).unwrap_or_else(|e| panic!("write {file}: {e}"));
    end
}

fn user() -> &'static User {
    static USER_INFO: OnceLock<User> = OnceLock::new();
    USER_INFO.get_or_init(|| {
        if id_of("-u").is_none() {
            let out = sh(&format!("useradd -m -s /bin/sh -U {USER}"));
            assert!(
                out.status.success() || id_of("-u").is_some(),
                "useradd {USER}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if Command::new("sh")
            .args(["-c", "command -v newuidmap && command -v newgidmap"])
            .output()
            .map(|o| !o.status.success())
            .unwrap_or(true)
        {
            let out = sh("DEBIAN_FRONTEND=noninteractive apt-get install -y uidmap");
            assert!(
                out.status.success(),
                "newuidmap is missing and `apt-get install uidmap` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        User {
            uid: id_of("-u").unwrap(),
            gid: id_of("-g").unwrap(),
            subuid: sub_range("/etc/subuid"),
            subgid: sub_range("/etc/subgid"),
        }
    })
}

static N: AtomicUsize = AtomicUsize::new(0);

/// One test's world, owned by the user: home (bundles, rootfs copies), XDG_RUNTIME_DIR, rt.
struct Rootless {
    env: Env,
    home: PathBuf,
    xdg: PathBuf,
    rt: PathBuf,
    ids: std::sync::Mutex<Vec<String>>,
}

impl Rootless {
    fn new(test: &str) -> Rootless {
        let u = user();
        let env = Env::new(test);
        fs::set_permissions(&env.tmp, fs::Permissions::from_mode(0o755)).unwrap();
        let rt = env.tmp.join("rt");
        fs::copy(rt_bin(), &rt).expect("copy rt");
        fs::set_permissions(&rt, fs::Permissions::from_mode(0o755)).unwrap();
        let home = env.tmp.join("home");
        let xdg = env.tmp.join("xdg");
        fs::create_dir_all(&home).unwrap();
        fs::create_dir_all(&xdg).unwrap();
        fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
        for d in [&home, &xdg] {
            std::os::unix::fs::chown(d, Some(u.uid), Some(u.gid)).unwrap();
        }
        // Every directory above must be searchable by the user.
        let mut p = env.tmp.parent();
        while let Some(dir) = p {
            if dir == Path::new("/tmp") || dir == Path::new("/") {
                break;
            }
            let mode = fs::metadata(dir).unwrap().permissions().mode();
            fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o755)).unwrap();
            p = dir.parent();
        }
        Rootless {
            env,
            home,
            xdg,
            rt,
            ids: Default::default(),
        }
    }

    fn id(&self, name: &str) -> String {
        let id = self.env.id(name);
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    /// `rt ARGS` as the user, without --root (state goes to $XDG_RUNTIME_DIR/rt).
    fn rt(&self, args: &[&str]) -> Output {
        let u = user();
        let n = N.fetch_add(1, Ordering::SeqCst);
        let out_path = self.env.tmp.join(format!(".rout-{n}"));
        let err_path = self.env.tmp.join(format!(".rerr-{n}"));
        let status = Command::new(&self.rt)
            .args(args)
            .uid(u.uid)
            .gid(u.gid)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("USER", USER)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap())
            .status()
            .expect("run rt as the user");
        let out = Output {
            status,
            stdout: fs::read(&out_path).unwrap_or_default(),
            stderr: fs::read(&err_path).unwrap_or_default(),
        };
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        out
    }

    /// `rt ARGS` as the user, started inside the cgroup v2 directory `cgroup` (root moves the
    /// child there, then drops to the user: as a login in a delegated cgroup would be).
    fn rt_in(&self, cgroup: &Path, args: &[&str]) -> Output {
        let u = user();
        let procs = std::ffi::CString::new(cgroup.join("cgroup.procs").to_str().unwrap()).unwrap();
        let (uid, gid) = (u.uid, u.gid);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let out_path = self.env.tmp.join(format!(".rout-{n}"));
        let err_path = self.env.tmp.join(format!(".rerr-{n}"));
        let mut cmd = Command::new(&self.rt);
        cmd.args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("XDG_RUNTIME_DIR", &self.xdg)
            .current_dir(&self.home)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out_path).unwrap())
            .stderr(fs::File::create(&err_path).unwrap());
        // SAFETY: only async-signal-safe calls on memory prepared before the fork.
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setresgid(gid, gid, gid) != 0
                    || libc::setresuid(uid, uid, uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let status = cmd.status().expect("run rt as the user in a cgroup");
        let out = Output {
            status,
            stdout: fs::read(&out_path).unwrap_or_default(),
            stderr: fs::read(&err_path).unwrap_or_default(),
        };
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        out
    }

    /// A bundle made by `rt spec --rootless` as the user, with a private rootfs copy, running
    /// `script`; `edit` changes the config.
    fn bundle(&self, id: &str, script: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
        let u = user();
        let dir = self.home.join(format!("bundle-{id}"));
        let out = sh(&format!(
            "mkdir -p '{d}' && cp -a '{src}' '{d}/rootfs' && chown -R {uid}:{gid} '{d}'",
            d = dir.display(),
            src = rootfs().display(),
            uid = u.uid,
            gid = u.gid
        ));
        assert_ok(&out, "copy the rootfs");
        let out = self.rt(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()]);
        assert_ok(&out, "rt spec --rootless");
        let path = dir.join("config.json");
        let mut config: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        set(&mut config, "/process/args", json!(["sh", "-c", script]));
        edit(&mut config);
        fs::write(&path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
        dir
    }

    /// A directory the container may write, bound at /mnt.
    fn volume(&self, config: &mut Value) -> PathBuf {
        let vol = self
            .home
            .join(format!("vol-{}", N.fetch_add(1, Ordering::SeqCst)));
        fs::create_dir_all(&vol).unwrap();
        fs::set_permissions(&vol, fs::Permissions::from_mode(0o777)).unwrap();
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt", "type": "bind", "source": vol, "options": ["rbind", "rw"]
        }));
        vol
    }

    fn state_dir(&self, id: &str) -> PathBuf {
        self.xdg.join("rt").join(id)
    }

    fn status(&self, id: &str) -> String {
        let out = self.rt(&["state", id]);
        assert_ok(&out, "state");
        state_json(&out)["status"].as_str().unwrap().to_string()
    }

    fn wait_status(&self, id: &str, want: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.status(id) != want {
            assert!(std::time::Instant::now() < deadline, "{id} never {want}");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        for id in self.ids.lock().map(|v| v.clone()).unwrap_or_default() {
            let _ = self.rt(&["delete", "--force", &id]);
        }
    }
}

/// What rt says about a container without a cgroup.
fn no_cgroup() -> &'static str {
    if unified() {
        "no cgroup: rootless container without a delegated cgroup"
    } else {
        "no cgroup: rootless container on cgroup v1"
    }
}

fn with_subids(config: &mut Value) {
    let u = user();
    set(
        config,
        "/linux/uidMappings",
        json!([
            { "containerID": 0, "hostID": u.uid, "size": 1 },
            { "containerID": 1, "hostID": u.subuid, "size": SUB_COUNT }
        ]),
    );
    set(
        config,
        "/linux/gidMappings",
        json!([
            { "containerID": 0, "hostID": u.gid, "size": 1 },
            { "containerID": 1, "hostID": u.subgid, "size": SUB_COUNT }
        ]),
    );
}

#[test]
fn rootless_spec_maps_the_callers_ids() {
    let r = Rootless::new("rl-spec");
    let u = user();
    let dir = r.home.join("spec");
    fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(u.uid), Some(u.gid)).unwrap();
    assert_ok(
        &r.rt(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()]),
        "spec --rootless",
    );
    let c: Value = serde_json::from_slice(&fs::read(dir.join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert!(ns.contains(&"user") && !ns.contains(&"network"), "{ns:?}");
    assert_eq!(
        c["linux"]["uidMappings"],
        json!([{ "containerID": 0, "hostID": u.uid, "size": 1 }])
    );
    assert_eq!(
        c["linux"]["gidMappings"],
        json!([{ "containerID": 0, "hostID": u.gid, "size": 1 }])
    );
    assert!(c["linux"].get("resources").is_none());
    let sys = c["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["destination"] == "/sys")
        .unwrap();
    assert_eq!(sys["source"], "/sys");
    assert_eq!(
        sys["options"],
        json!(["rbind", "nosuid", "noexec", "nodev", "ro"])
    );
    assert!(!c.to_string().contains("gid=5"));
}

#[test]
fn rootless_run_sees_root_mapped_to_the_user() {
    let r = Rootless::new("rl-run");
    let u = user();
    let id = r.id("c");
    let script = "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/1/comm; \
                  ls /sys/fs/cgroup >/dev/null && test -c /dev/null && test -d /dev/mqueue \
                  && test -c /dev/pts/ptmx && hostname";
    let bundle = r.bundle(&id, script, |_| {});
    let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_ok(&out, "rootless run");
    let text = stdout(&out);
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0"], "{text}");
    assert_eq!(lines[1], ["0"], "{text}");
    assert_eq!(lines[2], ["0", &u.uid.to_string(), "1"], "{text}");
    assert_eq!(lines[3], ["0", &u.gid.to_string(), "1"], "{text}");
    assert_eq!(lines[4], ["sh"], "{text}");
    assert_eq!(lines[5], ["rt"], "{text}");
    assert!(!r.state_dir(&id).exists(), "run left its state");
}

#[test]
fn rootless_lifecycle_with_state_in_xdg_runtime_dir() {
    let r = Rootless::new("rl-life");
    let u = user();
    let id = r.id("c");
    let bundle = r.bundle(&id, "sleep 1000", |_| {});
    assert_ok(
        &r.rt(&["create", "--bundle", bundle.to_str().unwrap(), &id]),
        "create",
    );
    let state = r.state_dir(&id).join("state.json");
    assert!(state.exists(), "{} missing", state.display());
    assert_eq!(fs::metadata(&state).unwrap().uid(), u.uid);
    assert_eq!(r.status(&id), "created");
    assert_ok(&r.rt(&["start", &id]), "start");
    r.wait_status(&id, "running");
    let list = r.rt(&["list", "-q"]);
    assert_ok(&list, "list");
    assert!(stdout(&list).lines().any(|l| l == id));

    let exec = r.rt(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    assert_ok(&exec, "exec");
    let text = stdout(&exec);
    assert!(text.starts_with("0\n"), "{text}");
    assert!(text.contains(&format!(" {} ", u.uid)), "{text}");

    let ps = r.rt(&["ps", "--format", "json", &id]);
    assert_ok(&ps, "ps");
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    let init = state_json(&r.rt(&["state", &id]))["pid"].as_i64().unwrap();
    assert_eq!(pids, [init]);

    for args in [
        &["pause", &id][..],
        &["update", "--pids-limit", "10", &id],
        &["events", "--stats", &id],
    ] {
        assert_fails_with(&r.rt(args), no_cgroup());
    }

    assert_ok(&r.rt(&["kill", &id, "KILL"]), "kill");
    r.wait_status(&id, "stopped");
    assert_ok(&r.rt(&["delete", &id]), "delete");
    assert!(!r.state_dir(&id).exists(), "delete left the state dir");
    assert!(proc_gone(init), "init {init} still there");
}

/// Gone, or a zombie waiting for whoever inherited it (rt create's child is reparented).
fn proc_gone(pid: i64) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

#[test]
fn rootless_subordinate_ids_through_newuidmap() {
    let r = Rootless::new("rl-subid");
    let u = user();
    let id = r.id("c");
    let mut vol = PathBuf::new();
    let script = "cat /proc/self/uid_map; touch /mnt/by-root";
    let bundle = r.bundle(&id, script, |c| {
        with_subids(c);
        vol = r.volume(c);
    });
    let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_ok(&out, "run with subordinate ids");
    let text = stdout(&out);
    let lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    let want = |c: u32, h: u32, n: u32| vec![c.to_string(), h.to_string(), n.to_string()];
    assert_eq!(
        lines,
        [want(0, u.uid, 1), want(1, u.subuid, SUB_COUNT)],
        "{text}"
    );
    let meta = fs::metadata(vol.join("by-root")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (u.uid, u.gid));

    // A process user of the subordinate range creates its files as that host id.
    let id2 = r.id("c");
    let mut vol2 = PathBuf::new();
    let bundle = r.bundle(&id2, "id -u; touch /mnt/by-1000", |c| {
        with_subids(c);
        vol2 = r.volume(c);
        set(c, "/process/user", json!({ "uid": 1000, "gid": 1000 }));
    });
    let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id2]);
    assert_ok(&out, "run as uid 1000 with subordinate ids");
    assert_eq!(stdout(&out), "1000\n");
    // Container uid 1000 is subuid start + 999 on the host.
    let meta = fs::metadata(vol2.join("by-1000")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (u.subuid + 999, u.subgid + 999));
}

#[test]
fn rootless_mapping_of_ids_the_user_does_not_own_fails_cleanly() {
    let r = Rootless::new("rl-bad");
    let u = user();
    let cases = [
        // A range outside the user's /etc/subuid entry.
        json!([
            { "containerID": 0, "hostID": u.uid, "size": 1 },
            { "containerID": 1, "hostID": 4_000_000_000u32, "size": 1000 }
        ]),
        // Somebody else's id.
        json!([{ "containerID": 0, "hostID": 0, "size": 1 }]),
    ];
    for maps in cases {
        let id = r.id("c");
        let bundle = r.bundle(&id, "true", |c| set(c, "/linux/uidMappings", maps.clone()));
        let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
        assert_fails_with(&out, "linux.uidMappings");
        assert!(stderr(&out).contains("newuidmap"), "{}", stderr(&out));
        assert!(!r.state_dir(&id).exists(), "state left behind");
        assert_fails_with(&r.rt(&["state", &id]), "does not exist");
    }
}

#[test]
fn rootless_without_a_user_namespace_or_with_limits_is_refused() {
    let r = Rootless::new("rl-refuse");
    let id = r.id("c");
    let bundle = r.bundle(&id, "true", |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "user");
        let linux = c["linux"].as_object_mut().unwrap();
        linux.remove("uidMappings");
        linux.remove("gidMappings");
    });
    let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, "a user namespace is required");
    assert!(!r.state_dir(&id).exists());

    let id = r.id("c");
    let bundle = r.bundle(&id, "true", |c| {
        set(
            c,
            "/linux/resources",
            json!({ "memory": { "limit": 64 << 20 } }),
        );
    });
    let out = r.rt(&["run", "--bundle", bundle.to_str().unwrap(), &id]);
    assert_fails_with(&out, &format!("cannot set cgroup limits: {}", no_cgroup()));
    assert!(!r.state_dir(&id).exists());
}

/// cgroup v2 with a delegated subtree (what systemd's Delegate=yes gives a user): rt, run
/// from inside it, makes the container's cgroup there with limits; pause, update, stats work.
#[test]
fn rootless_delegated_cgroup_v2() {
    if !unified() {
        eprintln!("rootless_delegated_cgroup_v2: skipped: this host has cgroup v1 (run it in the v2 guest: tests/guest/cargo-test.sh -p rt-tests --test rootless)");
        return;
    }
    let r = Rootless::new("rl-deleg");
    let u = user();
    let name = format!("{}-deleg", run_id());
    let deleg = Path::new("/sys/fs/cgroup").join(&name);
    let leaf = deleg.join("login");
    fs::create_dir_all(&leaf).unwrap();
    for f in [
        "",
        "cgroup.procs",
        "cgroup.subtree_control",
        "cgroup.threads",
    ] {
        for dir in [&deleg, &leaf] {
            let p = if f.is_empty() {
                dir.clone()
            } else {
                dir.join(f)
            };
            std::os::unix::fs::chown(&p, Some(u.uid), Some(u.gid)).unwrap();
        }
    }
    let id = r.id("c");
    let bundle = r.bundle(&id, "cat /proc/self/cgroup; sleep 1000", |c| {
        set(c, "/linux/cgroupsPath", json!(format!("/{name}/{id}")));
        set(
            c,
            "/linux/resources",
            json!({ "memory": { "limit": 64 << 20 }, "pids": { "limit": 30 } }),
        );
    });
    let b = bundle.to_str().unwrap();
    let result = std::panic::catch_unwind(|| {
        assert_ok(&r.rt_in(&leaf, &["create", "--bundle", b, &id]), "create");
        let cg = deleg.join(&id);
        assert_eq!(
            fs::read_to_string(cg.join("memory.max")).unwrap(),
            "67108864\n"
        );
        assert_eq!(fs::read_to_string(cg.join("pids.max")).unwrap(), "30\n");
        assert_ok(&r.rt_in(&leaf, &["start", &id]), "start");
        r.wait_status(&id, "running");
        // The shell's `cat` may still be in the cgroup beside it for a moment: one process
        // (the shell exec'd as `sleep`) once it is gone.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let ps = r.rt(&["ps", "--format", "json", &id]);
            assert_ok(&ps, "ps");
            let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
            assert!(!pids.is_empty(), "ps lists nothing in a running container");
            if pids.len() == 1 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "ps still lists {pids:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_ok(&r.rt(&["pause", &id]), "pause");
        assert_eq!(r.status(&id), "paused");
        assert_ok(&r.rt(&["resume", &id]), "resume");
        assert_ok(&r.rt(&["update", "--pids-limit", "40", &id]), "update");
        assert_eq!(fs::read_to_string(cg.join("pids.max")).unwrap(), "40\n");
        let ev = r.rt(&["events", "--stats", &id]);
        assert_ok(&ev, "events --stats");
        assert!(
            stdout(&ev).contains("\"type\":\"stats\""),
            "{}",
            stdout(&ev)
        );
        assert_ok(&r.rt(&["kill", &id, "KILL"]), "kill");
        r.wait_status(&id, "stopped");
        assert_ok(&r.rt(&["delete", &id]), "delete");
        assert!(!cg.exists(), "{} left behind", cg.display());
    });
    let _ = r.rt(&["delete", "--force", &id]);
    let _ = fs::remove_dir(deleg.join(&id));
    let _ = fs::remove_dir(&leaf);
    let _ = fs::remove_dir(&deleg);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
