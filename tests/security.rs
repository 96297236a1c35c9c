//! The container boundary, attacked for real (test tier 4b, DESIGN.md §7): each test runs a
//! known escape of runc/crun against a copy of the built rt binary, with busybox
//! containers, in bounded rounds (races: 200), and fails if the attack ever succeeds.
//!
//! - the rt binary overwritten from inside (CVE-2019-5736): through /proc/PID/exe of `rt
//!   exec`'s child, of rt run by a `#!/proc/self/exe` entrypoint, and of the init of a
//!   container that joins another's pid namespace; with and without CAP_SYS_PTRACE;
//! - a leaked directory fd reaching the container (CVE-2024-21626);
//! - mount destinations raced through a shared volume (CVE-2021-30465, CVE-2024-45310);
//! - /proc and /sys as symlinks, mounts over and inside /proc (CVE-2019-19921,
//!   CVE-2023-27561);
//! - masking with a /dev/null that is not the null device (CVE-2025-31133);
//! - sysctls that are not the container's (host kernel knobs);
//! - host state: permissions of the state root and exec fifo, pid files through planted
//!   symlinks, cgroupsPath of the hierarchy root or of another container;
//! - `rt exec` bound by the container as created, not by an edited config.json.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rt_tests::*;
use serde_json::{json, Value};

/// Rounds of each race, on the host and in the cgroup v2 guest alike.
const ROUNDS: usize = 200;

fn file_bytes(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// A container config on a private rootfs, with `out` (a host directory) bound at /out.
fn config_on(env: &Env, id: &str, rootfs: &Path, out: &Path, args: &[&str]) -> Value {
    let mut c = env.config(id, args);
    set(&mut c, "/root/path", json!(rootfs));
    c["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/out", "type": "bind", "source": out, "options": ["rbind"]
    }));
    c
}

fn add_capability(config: &mut Value, cap: &str) {
    for set in ["bounding", "effective", "permitted"] {
        config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!(cap));
    }
}

/// The host's libraries, read-only, where the dynamic loader looks for them: so that the
/// (dynamically linked) rt binary can run inside a busybox container when an entrypoint
/// makes the kernel run it there (`#!/proc/self/exe`).
fn with_host_libraries(config: &mut Value) {
    for (dest, source) in [
        ("/lib64", "/lib64"),
        ("/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu"),
    ] {
        if Path::new(source).exists() {
            config["mounts"].as_array_mut().unwrap().push(json!({
                "destination": dest, "type": "bind", "source": source, "options": ["rbind", "ro"]
            }));
        }
    }
}

/// The attacker's log once it is done (it writes `done N` last).
fn wait_for_log(log: &Path) -> String {
    for _ in 0..600 {
        let text = fs::read_to_string(log).unwrap_or_default();
        if text.lines().any(|l| l.starts_with("done ")) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "the attacker never finished: {}",
        fs::read_to_string(log).unwrap_or_default()
    );
}

/// Every way a container process can reach rt's binary through /proc/PID/exe; the binary
/// (a copy) must come out unchanged.
fn exe_overwrite_attack(ptrace: bool) {
    let mut env = Env::new(if ptrace { "sec-exe-ptrace" } else { "sec-exe" });
    let copy = env.use_copy_of_rt();
    let original = file_bytes(&copy);
    let rootfs = private_rootfs(&env);
    fs::copy(attack_program("exe_attacker"), rootfs.join("attacker")).unwrap();
    // An entrypoint whose interpreter is the runtime itself.
    fs::write(rootfs.join("evil"), "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(rootfs.join("evil"), fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.tmp.join("out");
    fs::create_dir_all(&out).unwrap();

    // The attacker: pid 1 of its container, scanning its pid namespace.
    let a = env.id("attacker");
    let mut config = config_on(&env, &a, &rootfs, &out, &["/attacker", "15", "/out/log"]);
    with_host_libraries(&mut config);
    set(&mut config, "/root/readonly", json!(false));
    if ptrace {
        // With CAP_SYS_PTRACE, being non-dumpable does not stop it: only the sealed
        // binary does.
        add_capability(&mut config, "CAP_SYS_PTRACE");
    }
    env.create(&a, &config);
    assert_ok(&env.rt(&["start", &a]), "start the attacker");
    let state = state_json(&env.rt(&["state", &a]));
    let attacker_pid = state["pid"].as_i64().unwrap();

    // rt exec's child passes through the attacker's pid namespace, and so does rt itself
    // when `/evil` makes the kernel run /proc/self/exe as its interpreter.
    // A binary some process holds open for writing cannot be executed (ETXTBSY): that is
    // the attack under way.
    let busy = |e: std::io::Error| -> std::process::Output {
        panic!(
            "the container holds rt's binary open for writing ({e}):\n{}",
            fs::read_to_string(out.join("log")).unwrap_or_default()
        )
    };
    for round in 0..ROUNDS {
        let args: &[&str] = if round % 2 == 0 {
            &["/evil"]
        } else {
            &["true"]
        };
        let mut cmd = vec!["exec", &a];
        cmd.extend_from_slice(args);
        env.try_rt(&cmd).unwrap_or_else(busy);
    }
    // A container joining the attacker's pid namespace, its entrypoint the runtime.
    for _ in 0..ROUNDS / 4 {
        let b = env.id("joiner");
        let mut config = config_on(&env, &b, &rootfs, &out, &["/evil"]);
        with_host_libraries(&mut config);
        let ns = config["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "pid");
        ns.push(json!({ "type": "pid", "path": format!("/proc/{attacker_pid}/ns/pid") }));
        let bundle = env.bundle(&b, &config);
        env.try_rt(&["run", "-b", bundle.to_str().unwrap(), &b])
            .unwrap_or_else(busy);
    }
    let log = wait_for_log(&out.join("log"));
    assert!(
        !log.contains("WRITTEN"),
        "the container overwrote rt's binary:\n{log}"
    );
    assert!(file_bytes(&copy) == original, "rt's binary changed:\n{log}");
    // The attack did get as far as it can: rt run as `#!/proc/self/exe` is an ordinary
    // process of the container, and its exe was opened; every write-open failed.
    assert!(
        log.contains("opened "),
        "the attacker never reached rt:\n{log}"
    );
    for line in log.lines().filter(|l| l.starts_with("write-open ")) {
        assert!(
            line.contains("EROFS") || line.contains("ETXTBSY") || line.contains("EACCES"),
            "unexpected write-open result {line}:\n{log}"
        );
    }
    assert_ok(&env.rt(&["delete", "--force", &a]), "delete the attacker");
}

#[test]
fn the_rt_binary_cannot_be_overwritten_from_a_container() {
    exe_overwrite_attack(false);
}

#[test]
fn the_rt_binary_cannot_be_overwritten_even_with_cap_sys_ptrace() {
    exe_overwrite_attack(true);
}

/// rt's own process is sealed too: its exe is read-only (or a sealed memfd) however it
/// was started, and the init and exec child are not dumpable until they exec.
#[test]
fn container_processes_run_from_a_sealed_binary_and_are_not_dumpable() {
    let mut env = Env::new("sec-sealed");
    env.use_copy_of_rt();
    let id = env.id("c");
    env.create(&id, &env.config(&id, &["sleep", "100"]));
    let pid = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap();
    let exe = format!("/proc/{pid}/exe");
    // SAFETY: statvfs into a local struct.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    let c = std::ffi::CString::new(exe.clone()).unwrap();
    assert_eq!(unsafe { libc::statvfs(c.as_ptr(), &mut vfs) }, 0);
    let read_only = vfs.f_flag & libc::ST_RDONLY != 0;
    let sealed = {
        let f = fs::File::open(&exe).unwrap();
        // SAFETY: F_GET_SEALS on an fd we own.
        let seals = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&f), libc::F_GET_SEALS) };
        seals >= 0 && seals & libc::F_SEAL_WRITE != 0
    };
    assert!(
        read_only || sealed,
        "the created init runs from a writable binary"
    );
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("rt:init"), "{status}");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");

    // Not dumpable: the /proc files of a non-dumpable process belong to root whatever its
    // user, as seen with an init that already runs as user 1000 (waiting for start).
    let id = env.id("user");
    let mut config = env.config(&id, &["sleep", "100"]);
    set(
        &mut config,
        "/process/user",
        json!({ "uid": 1000, "gid": 1000 }),
    );
    env.create(&id, &config);
    let pid = state_json(&env.rt(&["state", &id]))["pid"]
        .as_i64()
        .unwrap();
    let meta = fs::metadata(format!("/proc/{pid}/status")).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (0, 0),
        "the init (user 1000, waiting for start) is dumpable"
    );
    let creds = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        creds.contains("Uid:\t1000"),
        "the init did not switch user before ready:\n{creds}"
    );
    assert_ok(&env.rt(&["start", &id]), "start");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, None);
}

/// `rt create` with fd 7 open on a host directory, not close-on-exec (what a careless
/// caller leaks).
fn rt_with_leaked_dir(env: &Env, dir: &Path, args: &[&str]) -> std::process::Output {
    let dirfd = fs::File::open(dir).unwrap();
    let raw = std::os::fd::AsRawFd::as_raw_fd(&dirfd);
    let mut cmd = env.rt_cmd(args);
    // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = env.output_of(cmd).expect("run rt");
    drop(dirfd);
    out
}

#[test]
fn a_leaked_directory_fd_never_reaches_the_container() {
    let mut env = Env::new("sec-fd");
    env.use_copy_of_rt();
    let canary = Canary::new(&env);
    // cwd through the leaked fd: refused at create.
    let id = env.id("cwd");
    let mut config = env.config(&id, &["sh", "-c", "cat secret; ls"]);
    set(&mut config, "/process/cwd", json!("/proc/self/fd/7"));
    let bundle = env.bundle(&id, &config);
    let out = rt_with_leaked_dir(
        &env,
        &canary.dir,
        &["run", "-b", bundle.to_str().unwrap(), &id],
    );
    assert_fails_with(&out, "process.cwd /proc/self/fd/7");
    assert!(!stdout(&out).contains("host data"), "{}", stdout(&out));
    env.assert_clean(&id, Some(&bundle));

    // The fd is gone before the container's process runs: nothing but stdio is open.
    let id = env.id("fds");
    let config = env.config(
        &id,
        &[
            "sh",
            "-c",
            "ls /proc/self/fd; cat /proc/self/fd/7/secret 2>&1; true",
        ],
    );
    let bundle = env.bundle(&id, &config);
    let out = rt_with_leaked_dir(
        &env,
        &canary.dir,
        &["run", "-b", bundle.to_str().unwrap(), &id],
    );
    assert_ok(&out, "run with a leaked fd");
    let text = stdout(&out);
    assert!(!text.contains("host data"), "{text}");
    let fds: Vec<&str> = text
        .lines()
        .take_while(|l| l.parse::<u32>().is_ok())
        .collect();
    assert_eq!(fds, ["0", "1", "2", "3"], "fds the container saw: {text}");
    env.assert_clean(&id, Some(&bundle));

    // exec --cwd through the leaked fd, and through a host process's root without a pid
    // namespace.
    let id = env.id("exec");
    let mut config = env.config(&id, &["sleep", "100"]);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    env.create(&id, &config);
    assert_ok(&env.rt(&["start", &id]), "start");
    let out = rt_with_leaked_dir(
        &env,
        &canary.dir,
        &["exec", "--cwd", "/proc/self/fd/7", &id, "cat", "secret"],
    );
    assert_fails_with(&out, "process.cwd /proc/self/fd/7");
    let host_root = format!("/proc/{}/root{}", std::process::id(), canary.dir.display());
    let out = env.rt(&["exec", "--cwd", &host_root, &id, "cat", "secret"]);
    assert_fails_with(&out, "process.cwd");
    assert!(!stdout(&out).contains("host data"));
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, None);

    // The init's cwd through a host process's root, without a pid namespace.
    let id = env.id("init-root");
    let mut config = env.config(&id, &["cat", "secret"]);
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "pid");
    set(&mut config, "/process/cwd", json!(host_root));
    let out = env.run(&id, &config);
    assert_fails_with(&out, "process.cwd");
    assert!(!stdout(&out).contains("host data"));
    env.assert_clean(&id, None);
    canary.assert_untouched();
}

#[test]
fn racing_mount_destinations_never_leave_the_rootfs() {
    let mut env = Env::new("sec-race");
    env.use_copy_of_rt();
    let canary = Canary::new(&env);
    let out = env.tmp.join("out");
    fs::create_dir_all(&out).unwrap();
    // The shared volume: x a directory, y a symlink to the host canary; the attacker swaps
    // them without pause.
    let vol = env.tmp.join("volume");
    fs::create_dir_all(vol.join("x/r")).unwrap();
    symlink(&canary.dir, vol.join("y")).unwrap();
    // A read-only volume the victim mounts through the raced path.
    let ro = env.tmp.join("ro-volume");
    fs::create_dir_all(&ro).unwrap();
    let attacker_root = private_rootfs(&env);
    fs::copy(attack_program("swapper"), attacker_root.join("swapper")).unwrap();
    let a = env.id("attacker");
    let mut config = config_on(&env, &a, &attacker_root, &out, &["/swapper", "/vol", "60"]);
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"]
    }));
    env.create(&a, &config);
    assert_ok(&env.rt(&["start", &a]), "start the attacker");

    let victim_root = private_rootfs(&env);
    let mut started = 0;
    for _ in 0..ROUNDS {
        let b = env.id("victim");
        let mut config = config_on(
            &env,
            &b,
            &victim_root,
            &out,
            &["sh", "-c", "touch /vol/x/r/probe 2>/dev/null; true"],
        );
        set(&mut config, "/root/readonly", json!(false));
        let mounts = config["mounts"].as_array_mut().unwrap();
        mounts.push(
            json!({ "destination": "/vol", "type": "bind", "source": vol, "options": ["rbind"] }),
        );
        mounts
            .push(json!({ "destination": "/vol/x/t/deeper", "type": "tmpfs", "source": "tmpfs" }));
        mounts.push(json!({ "destination": "/vol/x/r", "type": "bind", "source": ro, "options": ["rbind", "ro"] }));
        if env.run(&b, &config).status.success() {
            started += 1;
        }
        let _ = env.rt(&["delete", "--force", &b]);
    }
    assert_ok(&env.rt(&["delete", "--force", &a]), "delete the attacker");
    canary.assert_untouched();
    let written: Vec<_> = fs::read_dir(&ro)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        written.is_empty(),
        "the read-only volume was written: {written:?}"
    );
    // Most rounds ran (a race may make a victim's set-up fail; it never escapes).
    assert!(started > 0, "no victim container ever started");
}

/// Runs a config that must fail with `needle`, leaving nothing behind.
fn refused(env: &Env, id: &str, config: &Value, needle: &str) {
    let bundle = env.bundle(id, config);
    let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), id]);
    assert_fails_with(&out, needle);
    env.assert_clean(id, Some(&bundle));
}

#[test]
fn proc_and_sys_mount_only_on_real_directories_and_nothing_goes_inside_proc() {
    let env = Env::new("sec-proc");
    let canary = Canary::new(&env);
    let out = env.tmp.join("out");
    fs::create_dir_all(&out).unwrap();
    for (dir, target, needle) in [
        (
            "proc",
            "/tmp",
            "mounts[0] /proc (proc): proc must be mounted on an ordinary directory",
        ),
        (
            "sys",
            "/tmp",
            "mounts[4] /sys (sysfs): sysfs must be mounted on an ordinary directory",
        ),
    ] {
        let rootfs = private_rootfs(&env);
        fs::remove_dir(rootfs.join(dir)).unwrap();
        symlink(target, rootfs.join(dir)).unwrap();
        let id = env.id(dir);
        refused(
            &env,
            &id,
            &config_on(&env, &id, &rootfs, &out, &["true"]),
            needle,
        );
    }
    let id = env.id("bind-over-proc");
    let mut config = env.config(&id, &["true"]);
    config["mounts"][0] =
        json!({ "destination": "/proc", "type": "bind", "source": "/proc", "options": ["rbind"] });
    refused(
        &env,
        &id,
        &config,
        "only a proc filesystem may be mounted on /proc",
    );

    let id = env.id("inside-proc");
    let mut config = env.config(&id, &["true"]);
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"
    }));
    refused(&env, &id, &config, "mounts inside /proc are not allowed");

    // Into /proc through a symlink of the rootfs.
    let rootfs = private_rootfs(&env);
    symlink("/proc/sys", rootfs.join("sneaky")).unwrap();
    let id = env.id("via-symlink");
    let mut config = config_on(&env, &id, &rootfs, &out, &["true"]);
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/sneaky/kernel", "type": "tmpfs", "source": "tmpfs"
    }));
    refused(&env, &id, &config, "destination resolves into /proc");
    canary.assert_untouched();
}

#[test]
fn masking_needs_the_real_null_device() {
    let env = Env::new("sec-null");
    let canary = Canary::new(&env);
    for (what, make) in [("symlink", 0), ("regular file", 1), ("another device", 2)] {
        // /dev bound from a host directory whose null is not the null device.
        let dev = env.tmp.join(format!("dev-{make}"));
        fs::create_dir_all(&dev).unwrap();
        let null = dev.join("null");
        match make {
            0 => symlink("/proc/sys/kernel/core_pattern", &null).unwrap(),
            1 => fs::write(&null, "").unwrap(),
            _ => {
                let c = std::ffi::CString::new(null.to_str().unwrap()).unwrap();
                // SAFETY: mknod of a char device 1:5 (zero) in our own test directory.
                let rc =
                    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 5)) };
                assert_eq!(rc, 0, "mknod");
            }
        }
        let id = env.id("mask");
        let mut config = env.config(&id, &["cat", "/proc/keys"]);
        config["mounts"][1] =
            json!({ "destination": "/dev", "type": "bind", "source": dev, "options": ["rbind"] });
        config["mounts"].as_array_mut().unwrap().retain(|m| {
            let d = m["destination"].as_str().unwrap();
            d == "/dev" || !d.starts_with("/dev")
        });
        let bundle = env.bundle(&id, &config);
        let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
        assert!(
            stdout(&out).is_empty(),
            "{what}: /proc/keys was readable: {}",
            stdout(&out)
        );
        assert_fails_with(&out, "is not the null device");
        env.assert_clean(&id, Some(&bundle));
    }
    canary.assert_untouched();
}

#[test]
fn only_the_containers_own_namespaced_sysctls_are_written() {
    let env = Env::new("sec-sysctl");
    let host = |f: &str| fs::read_to_string(f).unwrap();
    let (swappiness, core_pattern, forward) = (
        host("/proc/sys/vm/swappiness"),
        host("/proc/sys/kernel/core_pattern"),
        host("/proc/sys/net/ipv4/ip_forward"),
    );
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, &str, Edit, &str)> = vec![
        (
            "vm.swappiness",
            "1",
            Box::new(|_| {}),
            "not a namespaced sysctl",
        ),
        (
            "kernel.core_pattern",
            "|/tmp/pwn",
            Box::new(|_| {}),
            "not a namespaced sysctl",
        ),
        (
            "net.ipv4.ip_forward",
            "1",
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "network")
            }),
            "needs a net namespace of the container's own",
        ),
        (
            "net.ipv4.ip_forward",
            "1",
            Box::new(|c| {
                let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
                ns.retain(|n| n["type"] != "network");
                ns.push(json!({ "type": "network", "path": "/proc/self/ns/net" }));
            }),
            "is the host's",
        ),
        (
            "kernel.shmmax",
            "4096",
            Box::new(|c| {
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "ipc")
            }),
            "needs a ipc namespace of the container's own",
        ),
    ];
    for (key, value, edit, needle) in cases {
        let id = env.id("sysctl");
        let mut config = env.config(&id, &["true"]);
        set(&mut config, "/linux/sysctl", json!({ key: value }));
        edit(&mut config);
        refused(&env, &id, &config, needle);
    }
    assert_eq!(host("/proc/sys/vm/swappiness"), swappiness);
    assert_eq!(host("/proc/sys/kernel/core_pattern"), core_pattern);
    assert_eq!(host("/proc/sys/net/ipv4/ip_forward"), forward);
    // The container's own are written (through the verified procfs handle).
    let text = env.run_script(
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
        |c| {
            set(
                c,
                "/linux/sysctl",
                json!({ "net.ipv4.ip_forward": "1", "kernel.shmmax": "65536" }),
            );
            // /proc/sys is read-only only after the sysctls are written.
        },
    );
    assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["1", "65536"]);
    assert_eq!(host("/proc/sys/net/ipv4/ip_forward"), forward);
}

#[test]
fn state_and_exec_fifo_belong_to_rt_and_the_container_user() {
    let env = Env::new("sec-state");
    let id = env.id("c");
    let mut config = env.config(&id, &["id", "-u"]);
    set(
        &mut config,
        "/process/user",
        json!({ "uid": 1000, "gid": 1000 }),
    );
    env.create(&id, &config);
    let mode = |p: &Path| fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&env.root), 0o700, "state root");
    let dir = env.root.join(&id);
    assert_eq!(mode(&dir), 0o700, "container directory");
    let fifo = dir.join("exec.fifo");
    assert_eq!(mode(&fifo), 0o600, "exec fifo");
    let meta = fs::metadata(&fifo).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000), "the fifo's owner");
    for entry in fs::read_dir(&dir).unwrap().flatten() {
        assert_eq!(
            mode(&entry.path()) & 0o022,
            0,
            "{} is writable by others",
            entry.path().display()
        );
    }
    // Another local user cannot reach the fifo to start (or break) the container.
    let fifo_c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: fork; the child only makes syscalls and _exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: setuid to nobody, then an open attempt; _exit with the errno.
        unsafe {
            libc::setgid(65534);
            libc::setuid(65534);
            let fd = libc::open(fifo_c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK);
            let err = if fd >= 0 {
                0
            } else {
                *libc::__errno_location()
            };
            libc::_exit(err);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(
        libc::WEXITSTATUS(status),
        libc::EACCES,
        "another user opened the fifo"
    );
    // The container user itself still runs.
    assert_ok(&env.rt(&["start", &id]), "start");
    env.wait_status(&id, "stopped");
    assert_ok(&env.rt(&["delete", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn pid_files_never_follow_a_planted_symlink() {
    let env = Env::new("sec-pidfile");
    let canary = Canary::new(&env);
    let dir = env.tmp.join("pids");
    fs::create_dir_all(&dir).unwrap();
    let secret = canary.dir.join("secret");
    // The target itself and the temp name older rt versions used, both planted.
    symlink(&secret, dir.join("pid")).unwrap();
    symlink(&secret, dir.join(".pid.tmp")).unwrap();
    let id = env.id("c");
    let bundle = env.bundle(&id, &env.config(&id, &["sleep", "100"]));
    let pid_file = dir.join("pid");
    let out = env.rt(&[
        "create",
        "-b",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "create");
    assert!(!fs::symlink_metadata(&pid_file)
        .unwrap()
        .file_type()
        .is_symlink());
    let pid: i64 = fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        pid,
        state_json(&env.rt(&["state", &id]))["pid"]
            .as_i64()
            .unwrap()
    );
    canary.assert_untouched();
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn a_cgroup_of_another_container_or_the_root_is_refused() {
    let env = Env::new("sec-cgroup");
    let a = env.id("a");
    env.create(&a, &env.config(&a, &["sleep", "100"]));
    assert_ok(&env.rt(&["start", &a]), "start");
    let b = env.id("b");
    let mut config = env.config(&b, &["true"]);
    set(
        &mut config,
        "/linux/cgroupsPath",
        json!(env.cgroup_path(&a)),
    );
    let bundle = env.bundle(&b, &config);
    let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &b]);
    assert_fails_with(&out, "already holds processes");
    // The other container was not touched by the failed create.
    assert_eq!(env.status(&a), "running");
    assert!(!procs_in_cgroup(&env.cgroup_path(&a)).is_empty());
    assert!(!env.root.join(&b).exists());

    let c = env.id("root");
    let mut config = env.config(&c, &["true"]);
    set(&mut config, "/linux/cgroupsPath", json!("/"));
    let bundle = env.bundle(&c, &config);
    let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &c]);
    assert_fails_with(
        &out,
        "the root of a cgroup hierarchy cannot be a container's cgroup",
    );
    assert!(!env.root.join(&c).exists());
    assert_ok(&env.rt(&["delete", "--force", &a]), "delete");
    env.assert_clean(&a, None);
}

#[test]
fn exec_is_bound_by_the_container_as_created() {
    let env = Env::new("sec-exec");
    let id = env.id("c");
    let mut config = env.config(&id, &["sleep", "100"]);
    set(
        &mut config,
        "/linux/seccomp",
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO" }]
        }),
    );
    let bundle = env.create(&id, &config);
    assert_ok(&env.rt(&["start", &id]), "start");
    // Someone edits the bundle: no seccomp, more capabilities.
    let mut edited = config.clone();
    edited["linux"].as_object_mut().unwrap().remove("seccomp");
    add_capability(&mut edited, "CAP_SYS_ADMIN");
    fs::write(
        bundle.join("config.json"),
        serde_json::to_vec(&edited).unwrap(),
    )
    .unwrap();
    let out = env.rt(&["exec", &id, "mkdir", "/tmp/x"]);
    assert!(
        !out.status.success(),
        "mkdir ran without the container's seccomp filter"
    );
    assert!(
        stderr(&out).contains("Operation not permitted")
            || stdout(&out).contains("Operation not permitted"),
        "{}",
        stderr(&out)
    );
    let out = env.rt(&["exec", &id, "grep", "CapEff", "/proc/self/status"]);
    assert_ok(&out, "exec grep");
    // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE: bits 29, 5, 10.
    assert!(
        stdout(&out).contains("0000000020000420"),
        "{}",
        stdout(&out)
    );
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn tmpcopyup_uses_no_staging_directory() {
    let env = Env::new("sec-copyup");
    let before: Vec<PathBuf> = fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("copyup"))
        .collect();
    let text = env.run_script("ls /etc | grep -c passwd; touch /etc/new && echo rw", |c| {
        c["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]
        }));
    });
    assert_eq!(
        text.split_whitespace().collect::<Vec<_>>(),
        ["1", "rw"],
        "{text}"
    );
    let after: Vec<PathBuf> = fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("copyup"))
        .collect();
    assert_eq!(before, after);
    // Nothing was written into the shared rootfs either.
    assert!(!rootfs().join("etc/new").exists());
}
