//! Shared helpers for the integration tests: run `rt` on real busybox containers, with every
//! test's state under its own `--root`, every cgroup under a parent named after the test
//! run, and checks that nothing is left behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `rt` binary: `$RT_BIN`, or the one next to the test binary's deps directory.
pub fn rt_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("RT_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let target_dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = target_dir.join("rt");
    assert!(
        bin.exists(),
        "{} not found: build it first (`cargo build -p runtime` or `make build`), or set RT_BIN",
        bin.display()
    );
    bin
}

/// An attack program of tests/security/ (built static by build.rs).
pub fn attack_program(name: &str) -> PathBuf {
    Path::new(env!("OUT_DIR")).join(name)
}

/// The busybox rootfs built by `make bundle`.
pub fn rootfs() -> PathBuf {
    let rootfs = repo().join("bundles/busybox/rootfs");
    assert!(
        rootfs.join("bin/busybox").exists(),
        "{} missing: run `make bundle` first",
        rootfs.display()
    );
    rootfs
}

/// A unique name for this test process (pid + start time).
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("rt-test-{}-{nanos}", std::process::id())
    })
}

/// Running inside the cgroup v2 guest.
pub fn unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The directories a cgroup path has on the host (one per v1 hierarchy, or one on v2).
pub fn cgroup_dirs(cgroup_path: &str) -> Vec<PathBuf> {
    let rel = cgroup_path.trim_start_matches('/');
    if unified() {
        return vec![Path::new("/sys/fs/cgroup").join(rel)];
    }
    [
        "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
    ]
    .iter()
    .map(|c| Path::new("/sys/fs/cgroup").join(c).join(rel))
    .collect()
}

/// A container-test environment: its own `--root` and cgroup parent; removed on drop.
pub struct Env {
    pub root: PathBuf,
    pub cgroup_parent: String,
    pub tmp: PathBuf,
    ids: std::sync::Mutex<Vec<String>>,
    /// The rt binary this environment runs (default: [`rt_bin`]).
    bin: Option<PathBuf>,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Env {
    pub fn new(test: &str) -> Env {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{test}-{n}");
        let tmp = std::env::temp_dir().join(run_id()).join(&name);
        let _ = fs::remove_dir_all(&tmp);
        // Retried: a test ending meanwhile may remove the (then empty) run directory.
        let made = (0..10).find_map(|_| fs::create_dir_all(&tmp).err().map_or(Some(()), |_| None));
        made.expect("create test dir");
        Env {
            root: tmp.join("state"),
            cgroup_parent: format!("/{}-{name}", run_id()),
            tmp,
            ids: Default::default(),
            bin: None,
        }
    }

    /// This environment runs its own copy of the rt binary (returned): the attack tests
    /// attack a copy, never the build's binary.
    pub fn use_copy_of_rt(&mut self) -> PathBuf {
        let copy = self.tmp.join("rt-copy");
        fs::copy(rt_bin(), &copy).expect("copy the rt binary");
        // Until every child another test thread forked meanwhile has exec'd, the copy's
        // write fd lives on in it and the copy cannot run (ETXTBSY): wait for that.
        for _ in 0..200 {
            match Command::new(&copy)
                .arg("--version")
                .stdout(Stdio::null())
                .status()
            {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => break,
            }
        }
        self.bin = Some(copy.clone());
        copy
    }

    /// A container ID unique to this environment.
    pub fn id(&self, name: &str) -> String {
        let id = format!("{name}-{}", COUNTER.fetch_add(1, Ordering::SeqCst));
        self.ids.lock().unwrap().push(id.clone());
        id
    }

    pub fn cgroup_path(&self, id: &str) -> String {
        format!("{}/{id}", self.cgroup_parent)
    }

    /// The default test config: busybox, private namespaces, `args`, absolute cgroup path.
    pub fn config(&self, id: &str, args: &[&str]) -> Value {
        json!({
            "ociVersion": "1.0.2",
            "process": {
                "terminal": false,
                "user": { "uid": 0, "gid": 0 },
                "args": args,
                "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
                "cwd": "/",
                "capabilities": {
                    "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                    "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                    "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
                },
                "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
                "noNewPrivileges": true
            },
            "root": { "path": rootfs(), "readonly": true },
            "hostname": "rt-test",
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                  "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
                { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
                  "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
                { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                  "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
                { "destination": "/sys", "type": "sysfs", "source": "sysfs",
                  "options": ["nosuid", "noexec", "nodev", "ro"] },
                { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                  "options": ["nosuid", "nodev", "mode=1777"] }
            ],
            "linux": {
                "cgroupsPath": self.cgroup_path(id),
                "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
                "namespaces": [
                    { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                    { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
                ],
                "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
                "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
            }
        })
    }

    /// Writes a bundle (config.json; the rootfs is the shared busybox one, read-only).
    pub fn bundle(&self, id: &str, config: &Value) -> PathBuf {
        let dir = self.tmp.join(format!("bundle-{id}"));
        fs::create_dir_all(&dir).expect("create bundle dir");
        fs::write(
            dir.join("config.json"),
            serde_json::to_vec_pretty(config).unwrap(),
        )
        .expect("write config.json");
        dir
    }

    /// `rt --root ROOT ARGS...`. Output goes through files, not pipes: a created
    /// container inherits rt's stdio and would hold a pipe open.
    pub fn rt(&self, args: &[&str]) -> Output {
        self.try_rt(args).expect("run rt")
    }

    /// [`Env::rt`], with a failure to start rt returned (a binary being written is busy).
    pub fn try_rt(&self, args: &[&str]) -> std::io::Result<Output> {
        self.output_of(self.rt_cmd(args))
    }

    /// Runs `cmd` (an rt command line) with stdin closed and stdout/stderr collected
    /// through files, not pipes: a created container inherits rt's stdio and would hold a
    /// pipe open.
    pub fn output_of(&self, mut cmd: Command) -> std::io::Result<Output> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_path = self.tmp.join(format!(".out-{n}"));
        let err_path = self.tmp.join(format!(".err-{n}"));
        let out_file = fs::File::create(&out_path)?;
        let err_file = fs::File::create(&err_path)?;
        let status = cmd
            .stdin(Stdio::null())
            .stdout(out_file)
            .stderr(err_file)
            .status();
        let output = status.map(|status| Output {
            status,
            stdout: fs::read(&out_path).unwrap_or_default(),
            stderr: fs::read(&err_path).unwrap_or_default(),
        });
        let _ = fs::remove_file(&out_path);
        let _ = fs::remove_file(&err_path);
        output
    }

    pub fn rt_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.bin.clone().unwrap_or_else(rt_bin));
        cmd.arg("--root").arg(&self.root).args(args);
        cmd
    }

    /// `rt run` of a config; returns the output.
    pub fn run(&self, id: &str, config: &Value) -> Output {
        let bundle = self.bundle(id, config);
        self.rt(&["run", "--bundle", bundle.to_str().unwrap(), id])
    }

    /// Runs `sh -c script` in a container from the default config changed by `edit`;
    /// asserts success and that nothing is left; returns stdout.
    pub fn run_script(&self, script: &str, edit: impl FnOnce(&mut Value)) -> String {
        let id = self.id("c");
        let mut config = self.config(&id, &["sh", "-c", script]);
        edit(&mut config);
        let out = self.run(&id, &config);
        assert_ok(&out, script);
        self.assert_clean(&id, None);
        stdout(&out)
    }

    /// `rt create` that must succeed.
    pub fn create(&self, id: &str, config: &Value) -> PathBuf {
        let bundle = self.bundle(id, config);
        let out = self.rt(&["create", "--bundle", bundle.to_str().unwrap(), id]);
        assert_ok(&out, "create");
        bundle
    }

    /// The status field of `rt state`.
    pub fn status(&self, id: &str) -> String {
        let out = self.rt(&["state", id]);
        assert_ok(&out, "state");
        state_json(&out)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until `rt state` reports `status` (the container may not exist yet, or its
    /// init may take a moment to exit).
    pub fn wait_status(&self, id: &str, status: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = self.rt(&["state", id]);
            let now = if out.status.success() {
                state_json(&out)["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            } else {
                stderr(&out)
            };
            if now == status {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id}: status {now}, expected {status}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that nothing of container `id` is left: no state dir, no cgroup directory,
    /// no mount of its bundle in our mount table, no process in its cgroup.
    pub fn assert_clean(&self, id: &str, bundle: Option<&Path>) {
        let state_dir = self.root.join(id);
        assert!(
            !state_dir.exists(),
            "state dir {} left behind",
            state_dir.display()
        );
        for dir in cgroup_dirs(&self.cgroup_path(id)) {
            assert!(!dir.exists(), "cgroup {} left behind", dir.display());
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if let Some(bundle) = bundle {
            let b = bundle.to_string_lossy();
            assert!(!mountinfo.contains(&*b), "a mount under {b} is left behind");
        }
        assert!(
            !mountinfo.contains(&*rootfs().to_string_lossy()),
            "a mount of the rootfs is left behind in the host's mount table"
        );
        // Tests share one rootfs: a mount point rt had to create in it would change what
        // later containers (and the engines' images made from it) see.
        let made_by_build_rootfs = [
            "bin", "dev", "etc", "home", "linuxrc", "proc", "root", "run", "sbin", "sys", "tmp",
            "usr", "var",
        ];
        for entry in fs::read_dir(rootfs()).expect("read rootfs").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                made_by_build_rootfs.contains(&name.as_str()),
                "/{name} was created in the shared rootfs: mount under /tmp instead"
            );
        }
        let cg = self.cgroup_path(id);
        let left = procs_in_cgroup(&cg);
        assert!(
            left.is_empty(),
            "processes {left:?} left behind in cgroup {cg}"
        );
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for id in self.ids.lock().map(|v| v.clone()).unwrap_or_default() {
            if self.try_rt(&["delete", "--force", &id]).is_err() {
                // Not even rt could be run: still clean up with the build's binary.
                let _ = Command::new(rt_bin())
                    .arg("--root")
                    .arg(&self.root)
                    .args(["delete", "--force", &id])
                    .status();
            }
        }
        remove_cgroup_tree(&self.cgroup_parent);
        let _ = fs::remove_dir_all(&self.tmp);
        // The run's directory goes with its last test (only when empty: another test may
        // have made its own in it meanwhile; the next one makes it again).
        if let Some(run) = self.tmp.parent() {
            let _ = fs::remove_dir(run);
        }
    }
}

// ---------------------------------------------------------------- host canaries and private rootfs copies

/// A host directory with one file, and what it looked like.
pub struct Canary {
    pub dir: PathBuf,
    snapshot: Vec<(String, u64, i64, Vec<u8>)>,
    dir_mtime: i64,
}

impl Canary {
    pub fn new(env: &Env) -> Canary {
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
            use std::os::unix::fs::MetadataExt;
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
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(&self.dir).unwrap();
        (out, m.mtime_nsec() + m.mtime() * 1_000_000_000)
    }

    pub fn assert_untouched(&self) {
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
pub fn private_rootfs(env: &Env) -> PathBuf {
    let dst = env
        .tmp
        .join(format!("rootfs-{}", COUNTER.fetch_add(1, Ordering::SeqCst)));
    let st = Command::new("cp")
        .arg("-a")
        .arg(rootfs())
        .arg(&dst)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a rootfs");
    dst
}

/// Pids whose /proc/PID/cgroup names `cgroup_path` (or below it).
pub fn procs_in_cgroup(cgroup_path: &str) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if text.lines().any(|l| {
            l.split(':')
                .nth(2)
                .is_some_and(|p| p == cgroup_path || p.starts_with(&format!("{cgroup_path}/")))
        }) {
            out.push(pid);
        }
    }
    out
}

/// Removes a cgroup directory tree in every hierarchy (deepest first).
pub fn remove_cgroup_tree(cgroup_path: &str) {
    for dir in cgroup_dirs(cgroup_path) {
        remove_dirs(&dir);
    }
}

fn remove_dirs(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_dirs(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        stdout(out),
        stderr(out)
    );
}

/// Asserts a failure with exactly one line on stderr, in rt's format, containing `needle`.
pub fn assert_fails_with(out: &Output, needle: &str) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected failure, got success; stdout: {}",
        stdout(out)
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit status: {}; stderr: {err}",
        out.status
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {err}");
    assert!(
        lines[0].starts_with("rt: "),
        "stderr not in rt's format: {err}"
    );
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

pub fn state_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("state is not JSON ({e}): {}", stdout(out));
    })
}

/// Sets a JSON pointer path in a config (creating objects on the way).
pub fn set(config: &mut Value, pointer: &str, value: Value) {
    let mut cur = config;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            match cur {
                Value::Object(map) => {
                    map.insert(part.to_string(), value);
                }
                Value::Array(arr) => {
                    let idx: usize = part.parse().expect("array index");
                    arr[idx] = value;
                }
                _ => panic!("cannot set {pointer}"),
            }
            return;
        }
        cur = match cur {
            Value::Object(map) => map.entry(part.to_string()).or_insert_with(|| json!({})),
            Value::Array(arr) => &mut arr[part.parse::<usize>().expect("array index")],
            _ => panic!("cannot set {pointer}"),
        };
    }
}

/// Receives one fd (and the message text) from an accepted console-socket connection, as
/// conmon and containerd's shim do.
pub fn recv_console_fd(
    listener: &std::os::unix::net::UnixListener,
) -> (std::os::fd::OwnedFd, String) {
    use std::os::fd::AsRawFd;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};
    let (conn, _) = listener.accept().expect("accept console socket");
    let mut buf = [0u8; 256];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: CMSG_SPACE of one fd; recvmsg into local buffers.
    let cmsg_len = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    let mut cmsg = vec![0u8; cmsg_len];
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = cmsg_len;
    let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
    assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel filled one SCM_RIGHTS header with one fd.
    let fd = unsafe {
        let hdr = libc::CMSG_FIRSTHDR(&msg);
        assert!(!hdr.is_null(), "no control message");
        assert_eq!((*hdr).cmsg_type, libc::SCM_RIGHTS);
        std::ptr::read_unaligned(libc::CMSG_DATA(hdr) as *const RawFd)
    };
    let name = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
    // SAFETY: a fresh fd from SCM_RIGHTS.
    (unsafe { OwnedFd::from_raw_fd(fd) }, name)
}

/// Reads from a pty master until `needle` shows up; fails after `patience`.
pub fn read_pty_until(
    master: &mut std::fs::File,
    patience: std::time::Duration,
    needle: &str,
) -> String {
    use std::io::Read;
    let deadline = std::time::Instant::now() + patience;
    let mut seen = String::new();
    let mut buf = [0u8; 1024];
    while !seen.contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} from the pty; got {seen:?}"
        );
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read pty: {e} (got {seen:?})"),
        }
    }
    seen
}

/// Adds a new user namespace to `config` with the given `linux.uidMappings` and
/// `linux.gidMappings`.
pub fn add_user_namespace(config: &mut Value, uid_mappings: Value, gid_mappings: Value) {
    config["linux"]["namespaces"]
        .as_array_mut()
        .expect("linux.namespaces")
        .push(serde_json::json!({ "type": "user" }));
    set(config, "/linux/uidMappings", uid_mappings);
    set(config, "/linux/gidMappings", gid_mappings);
}
