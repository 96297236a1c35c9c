//! `rt checkpoint` / `rt restore` with CRIU, on real busybox containers.
//!
//! Where CRIU works (`criu check` passes: the cgroup v2 guest's Debian 6.1 kernel) the
//! containers are checkpointed and restored for real; in the guest CRIU must work, or the
//! tests fail. On a host where it cannot work (this dev host: Debian's CRIU 3.17 on kernel
//! 6.18 fails `criu check` with "vdso: Unexpected rt vDSO area bounds") every test checks
//! instead that rt says so, in one line, and that `checkpoint --help` fails there (podman's
//! probe for checkpoint support).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::{json, Value};

/// Why CRIU cannot work here (`criu check` fails or there is no criu), or None.
fn criu_unavailable() -> Option<&'static str> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| match Command::new("criu").arg("check").output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`criu check` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("no criu: {e}")),
    })
    .as_deref()
}

/// rt's answer where CRIU cannot work: `checkpoint --help` fails with one line naming CRIU.
fn assert_reported_unavailable(env: &Env) {
    let out = env.rt(&["checkpoint", "--help"]);
    assert_fails_with(&out, "rt: checkpoint: ");
    let err = stderr(&out);
    assert!(
        err.contains("CRIU") || err.contains("criu"),
        "the reason does not name CRIU: {err}"
    );
}

/// An environment for a test that checkpoints for real; None (after checking that rt
/// reports CRIU unavailable) on a host where CRIU cannot work. In the guest CRIU must work.
fn cr_env(name: &str) -> Option<Env> {
    let env = Env::new(name);
    let Some(why) = criu_unavailable() else {
        return Some(env);
    };
    assert!(
        std::env::var_os("RT_GUEST").is_none(),
        "CRIU must work in the cgroup v2 guest, but {why}"
    );
    eprintln!(
        "{name}: CRIU cannot work on this host ({}); checked that rt says so. Checkpoint and \
         restore run in the cgroup v2 guest tier (make test-v2).",
        why.lines().last().unwrap_or(why)
    );
    assert_reported_unavailable(&env);
    None
}

/// How long to wait for things (the guest emulates its CPU).
fn patience() -> Duration {
    if std::env::var_os("RT_GUEST").is_some() {
        Duration::from_secs(120)
    } else {
        Duration::from_secs(30)
    }
}

/// A container whose shell counts, every 0.1 s: `echo $i` (stdout) and into /tmp/n (its
/// tmpfs, which CRIU dumps and restores).
fn counter(env: &Env, id: &str) -> Value {
    env.config(
        id,
        &[
            "sh",
            "-c",
            "i=0; while :; do echo $i; echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; i=$((i+1)); sleep 0.1; done",
        ],
    )
}

/// A new file for the stderr of an rt command. It is kept (until the Env goes): a container
/// started by the command inherits it, and a restore opens it again (CRIU can hand over
/// only a file that is still there, as it was).
fn stderr_file(env: &Env) -> (PathBuf, File) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = env
        .tmp
        .join(format!("stderr-{}", N.fetch_add(1, Ordering::SeqCst)));
    let file = File::create(&path).expect("stderr file");
    (path, file)
}

/// `rt ARGS` with /dev/null as stdin and stdout, stderr captured.
fn rt_quiet(env: &Env, args: &[&str]) -> std::process::Output {
    let (err_path, err) = stderr_file(env);
    let status = env
        .rt_cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .status()
        .expect("run rt");
    let stderr = fs::read(&err_path).unwrap_or_default();
    std::process::Output {
        status,
        stdout: Vec::new(),
        stderr,
    }
}

/// `rt ARGS` whose stdout (inherited by the container) is a pipe: the numbers read from it
/// arrive on the receiver, which disconnects when the container's end is closed.
fn rt_on_pipe(env: &Env, args: &[&str]) -> (ExitStatus, String, Receiver<u64>) {
    let (err_path, err) = stderr_file(env);
    let mut child = env
        .rt_cmd(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .expect("run rt");
    let stdout = child.stdout.take().expect("stdout pipe");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(n) = line.trim().parse() {
                if tx.send(n).is_err() {
                    break;
                }
            }
        }
    });
    let status = child.wait().expect("wait for rt");
    let stderr = fs::read_to_string(&err_path).unwrap_or_default();
    (status, stderr, rx)
}

/// The next number on the pipe.
fn next(rx: &Receiver<u64>, what: &str) -> u64 {
    rx.recv_timeout(patience())
        .unwrap_or_else(|e| panic!("{what}: no number from the container ({e:?})"))
}

/// The last number before the container's end of the pipe closed.
fn last_before_eof(rx: &Receiver<u64>) -> Option<u64> {
    let mut last = None;
    loop {
        match rx.recv_timeout(patience()) {
            Ok(n) => last = Some(n),
            Err(RecvTimeoutError::Disconnected) => return last,
            Err(RecvTimeoutError::Timeout) => {
                panic!("the pipe is still open: is the container alive?")
            }
        }
    }
}

fn pid_of(env: &Env, id: &str) -> i32 {
    let out = env.rt(&["state", id]);
    assert_ok(&out, "state");
    state_json(&out)["pid"].as_i64().expect("pid") as i32
}

/// The count in the container's /tmp/n, read through /proc/PID/root.
fn count(pid: i32) -> u64 {
    let path = format!("/proc/{pid}/root/tmp/n");
    let deadline = Instant::now() + patience();
    loop {
        // The counter renames a complete file over /tmp/n: it is absent only before the first.
        if let Some(n) = fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return n;
        }
        assert!(Instant::now() < deadline, "no count in {path}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the count of `pid` exceeds `n`; returns it.
fn count_beyond(pid: i32, n: u64) -> u64 {
    let deadline = Instant::now() + patience();
    loop {
        let c = count(pid);
        if c > n {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} stopped counting at {c}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The state is gone: `rt state` says it does not exist.
fn assert_gone(env: &Env, id: &str) {
    assert_fails_with(&env.rt(&["state", id]), "does not exist");
    env.assert_clean(id, None);
}

#[test]
fn criu_unavailable_is_reported_clearly() {
    let env = Env::new("criu-unavailable");
    let bundle_id = env.id("c");
    let bundle = env.bundle(&bundle_id, &counter(&env, &bundle_id));
    // A CRIU that is not there, on any host.
    let missing = ["--criu", "/nonexistent/criu"];
    for args in [
        vec!["checkpoint", "--help"],
        vec!["checkpoint", "c1"],
        vec!["restore", "-b", s(&bundle), "c1"],
    ] {
        let out = env.rt(&[&missing[..], &args[..]].concat());
        assert_fails_with(&out, "/nonexistent/criu not found");
        assert_fails_with(&out, &format!("rt: {}: ", args[0]));
    }
    assert!(!env.root.join("c1").exists());

    match criu_unavailable() {
        Some(_) => {
            // This host: `criu check` fails, and rt says why, before doing anything.
            assert_reported_unavailable(&env);
            let out = env.rt(&["checkpoint", "--help"]);
            assert_fails_with(&out, "criu check` failed: ");
            let id = env.id("restore");
            let images = env.tmp.join("images");
            let out = env.rt(&["restore", "-b", s(&bundle), "--image-path", s(&images), &id]);
            assert_fails_with(&out, "rt: restore: CRIU cannot work on this host");
            assert!(!images.exists());
            env.assert_clean(&id, Some(&bundle));
        }
        None => {
            let out = env.rt(&["checkpoint", "--help"]);
            assert_ok(&out, "checkpoint --help");
            assert!(stdout(&out).contains("--image-path"), "{}", stdout(&out));
            assert_ok(&env.rt(&["restore", "--help"]), "restore --help");
        }
    }
}

#[test]
fn a_restored_container_counts_on_from_where_it_was() {
    let Some(env) = cr_env("cr-count") else {
        return;
    };
    let id = env.id("count");
    let bundle = env.bundle(&id, &counter(&env, &id));
    let (status, err, rx) = rt_on_pipe(&env, &["run", "-d", "-b", s(&bundle), &id]);
    assert!(status.success(), "run -d: {err}");
    while next(&rx, "before the checkpoint") < 5 {}

    let images = env.tmp.join("images");
    let out = rt_quiet(&env, &["checkpoint", "--image-path", s(&images), &id]);
    assert_ok(&out, "checkpoint");
    // The container is gone (CRIU killed it, rt deleted it); its end of the pipe closed.
    let last = last_before_eof(&rx).expect("numbers before the checkpoint");
    assert_gone(&env, &id);
    assert!(images.join("inventory.img").exists());
    assert!(images.join("dump.log").exists());

    // Same ID, new stdout: the next number is the one after the last.
    let (status, err, rx) = rt_on_pipe(
        &env,
        &[
            "restore",
            "-d",
            "-b",
            s(&bundle),
            "--image-path",
            s(&images),
            &id,
        ],
    );
    assert!(status.success(), "restore -d: {err}");
    assert_eq!(next(&rx, "after the restore"), last + 1);
    assert_eq!(env.status(&id), "running");
    let pid = pid_of(&env, &id);
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup of the init");
    assert!(
        cgroup.contains(&env.cgroup_path(&id)),
        "restored init not in {}: {cgroup}",
        env.cgroup_path(&id)
    );

    // A restored container checkpoints again; restored in the foreground, rt waits for it
    // and returns its exit status.
    let images2 = env.tmp.join("images2");
    let out = rt_quiet(&env, &["checkpoint", "--image-path", s(&images2), &id]);
    assert_ok(&out, "second checkpoint");
    assert_gone(&env, &id);
    let (fg_err_path, fg_err) = stderr_file(&env);
    let mut fg = env
        .rt_cmd(&[
            "restore",
            "-b",
            s(&bundle),
            "--image-path",
            s(&images2),
            &id,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(fg_err)
        .spawn()
        .expect("rt restore");
    let deadline = Instant::now() + patience();
    while !(env.rt(&["state", &id]).status.success() && env.status(&id) == "running") {
        if let Ok(Some(status)) = fg.try_wait() {
            panic!(
                "rt restore exited with {status}: {}",
                fs::read_to_string(&fg_err_path).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the foreground restore is not running"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
    let status = fg.wait().expect("wait for rt restore");
    assert_eq!(status.code(), Some(137), "rt restore's exit status");
    assert_gone(&env, &id);
}

#[test]
fn leave_running_a_paused_container_and_a_restore_under_a_new_id() {
    let Some(env) = cr_env("cr-new-id") else {
        return;
    };
    let id = env.id("orig");
    let bundle = env.bundle(&id, &counter(&env, &id));
    assert_ok(
        &rt_quiet(&env, &["run", "-d", "-b", s(&bundle), &id]),
        "run -d",
    );
    let pid = pid_of(&env, &id);
    count_beyond(pid, 3);

    // A paused container, into an image directory whose parents do not exist yet: it
    // stays paused.
    assert_ok(&env.rt(&["pause", &id]), "pause");
    let at_checkpoint = count(pid);
    let images = env.tmp.join("a/b/images");
    let out = rt_quiet(
        &env,
        &[
            "checkpoint",
            "--leave-running",
            "--image-path",
            s(&images),
            &id,
        ],
    );
    assert_ok(&out, "checkpoint --leave-running");
    assert_eq!(env.status(&id), "paused");
    assert_eq!(pid_of(&env, &id), pid, "the same init runs on");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(count(pid), at_checkpoint, "a paused container counted");
    assert_ok(&env.rt(&["resume", &id]), "resume");
    count_beyond(pid, at_checkpoint);

    let copy = env.id("copy");
    let copy_bundle = env.bundle(&copy, &counter(&env, &copy));
    let out = rt_quiet(
        &env,
        &[
            "restore",
            "-d",
            "-b",
            s(&copy_bundle),
            "--image-path",
            s(&images),
            &copy,
        ],
    );
    assert_ok(&out, "restore under a new ID");
    assert_eq!(env.status(&copy), "running");
    let copy_pid = pid_of(&env, &copy);
    assert_ne!(copy_pid, pid);
    // The copy goes on from the checkpoint, the original from where it is.
    let first = count(copy_pid);
    assert!(
        first >= at_checkpoint,
        "the copy starts at {first}, the checkpoint was at {at_checkpoint}"
    );
    count_beyond(copy_pid, first);
    count_beyond(pid, count(pid));
    let cgroup = fs::read_to_string(format!("/proc/{copy_pid}/cgroup")).expect("cgroup");
    assert!(
        cgroup.contains(&env.cgroup_path(&copy)),
        "the copy is not in its own cgroup: {cgroup}"
    );
    for c in [&id, &copy] {
        assert_ok(&env.rt(&["delete", "--force", c]), "delete --force");
        env.assert_clean(c, None);
    }
}

#[test]
fn pre_dump_then_dump_and_restore() {
    let Some(env) = cr_env("cr-pre-dump") else {
        return;
    };
    let id = env.id("pre");
    let bundle = env.bundle(&id, &counter(&env, &id));
    assert_ok(
        &rt_quiet(&env, &["run", "-d", "-b", s(&bundle), &id]),
        "run -d",
    );
    let pid = pid_of(&env, &id);
    count_beyond(pid, 3);

    let parent = env.tmp.join("parent");
    let images = env.tmp.join("images");
    let out = rt_quiet(
        &env,
        &[
            "checkpoint",
            "--parent-path",
            "/abs",
            "--image-path",
            s(&images),
            &id,
        ],
    );
    assert_fails_with(&out, "--parent-path /abs: must be relative");
    let out = rt_quiet(
        &env,
        &[
            "checkpoint",
            "--parent-path",
            "../nothing",
            "--image-path",
            s(&images),
            &id,
        ],
    );
    assert_fails_with(&out, "is not a directory");
    assert!(!images.exists());
    let out = rt_quiet(
        &env,
        &["checkpoint", "--pre-dump", "--image-path", s(&parent), &id],
    );
    assert_ok(&out, "checkpoint --pre-dump");
    assert_eq!(env.status(&id), "running", "a pre-dump leaves it running");
    assert!(
        fs::read_dir(&parent)
            .expect("pre-dump images")
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("pages-")),
        "no memory pages in the pre-dump"
    );
    count_beyond(pid, count(pid));

    let work = env.tmp.join("work");
    let out = rt_quiet(
        &env,
        &[
            "checkpoint",
            "--parent-path",
            "../parent",
            "--image-path",
            s(&images),
            "--work-path",
            s(&work),
            &id,
        ],
    );
    assert_ok(&out, "checkpoint --parent-path");
    assert_gone(&env, &id);
    assert_eq!(
        fs::read_link(images.join("parent")).ok(),
        Some(PathBuf::from("../parent")),
        "the dump names its parent"
    );
    assert!(
        work.join("dump.log").exists(),
        "CRIU's log is in --work-path"
    );

    let out = rt_quiet(
        &env,
        &[
            "restore",
            "-d",
            "-b",
            s(&bundle),
            "--image-path",
            s(&images),
            "--work-path",
            s(&work),
            &id,
        ],
    );
    assert_ok(&out, "restore");
    let pid = pid_of(&env, &id);
    count_beyond(pid, count(pid));
    assert!(work.join("restore.log").exists());
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn limits_and_oom_reporting_hold_after_a_restore() {
    let Some(env) = cr_env("cr-limits") else {
        return;
    };
    let id = env.id("oom");
    // Counts until /tmp/go appears, then doubles a string until the OOM killer ends it.
    let mut config = env.config(
        &id,
        &[
            "sh",
            "-c",
            "i=0; while [ ! -e /tmp/go ]; do echo $i > /tmp/n; i=$((i+1)); sleep 0.1; done; \
             a=x; while :; do a=$a$a; done",
        ],
    );
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 64 << 20, "swap": 64 << 20 }),
    );
    set(&mut config, "/linux/resources/pids", json!({ "limit": 64 }));
    let bundle = env.bundle(&id, &config);
    assert_ok(
        &rt_quiet(&env, &["run", "-d", "-b", s(&bundle), &id]),
        "run -d",
    );
    count_beyond(pid_of(&env, &id), 2);
    let images = env.tmp.join("images");
    assert_ok(
        &rt_quiet(&env, &["checkpoint", "--image-path", s(&images), &id]),
        "checkpoint",
    );
    assert_gone(&env, &id);
    assert_ok(
        &rt_quiet(
            &env,
            &[
                "restore",
                "-d",
                "-b",
                s(&bundle),
                "--image-path",
                s(&images),
                &id,
            ],
        ),
        "restore",
    );
    let pid = pid_of(&env, &id);
    count_beyond(pid, count(pid));

    let dir = &cgroup_dirs(&env.cgroup_path(&id))[0];
    let read = |file: &str| {
        fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
            .trim()
            .to_string()
    };
    if unified() {
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("pids.max"), "64");
    } else {
        assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
    }
    // The limits can still be changed, and the kernel's OOM kill is reported.
    assert_ok(&env.rt(&["update", "--pids-limit", "60", &id]), "update");
    if unified() {
        assert_eq!(read("pids.max"), "60");
    }
    fs::write(format!("/proc/{pid}/root/tmp/go"), "").expect("start the filler");
    env.wait_status(&id, "stopped");
    let state = state_json(&env.rt(&["state", &id]));
    assert_eq!(state["oomKilled"], true, "{state}");
    let out = env.rt(&["delete", &id]);
    assert_ok(&out, "delete");
    assert!(
        stderr(&out).contains(&format!("container {id} was OOM-killed")),
        "{}",
        stderr(&out)
    );
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let Some(env) = cr_env("cr-bad") else {
        return;
    };
    let id = env.id("bad");
    let bundle = env.bundle(&id, &counter(&env, &id));

    // Restore from nothing, from an empty directory, from images CRIU cannot read.
    let empty = env.tmp.join("empty");
    fs::create_dir_all(&empty).expect("mkdir");
    let garbage = env.tmp.join("garbage");
    fs::create_dir_all(&garbage).expect("mkdir");
    fs::write(garbage.join("inventory.img"), "not an image").expect("write");
    for (images, why) in [
        (env.tmp.join("missing"), "no checkpoint there"),
        (empty.clone(), "no checkpoint there"),
        (garbage.clone(), "criu restore failed"),
    ] {
        let out = rt_quiet(
            &env,
            &[
                "restore",
                "-d",
                "-b",
                s(&bundle),
                "--image-path",
                s(&images),
                &id,
            ],
        );
        assert_fails_with(&out, why);
        env.assert_clean(&id, Some(&bundle));
    }

    // Restore under the ID of an existing container: refused, the container untouched.
    assert_ok(
        &rt_quiet(&env, &["create", "-b", s(&bundle), &id]),
        "create",
    );
    let out = rt_quiet(
        &env,
        &[
            "restore",
            "-d",
            "-b",
            s(&bundle),
            "--image-path",
            s(&garbage),
            &id,
        ],
    );
    assert_fails_with(&out, &format!("container with id exists: {id}"));
    assert_eq!(env.status(&id), "created");

    // Checkpoint of a created container, of a stopped one, with an absolute parent path.
    let images = env.tmp.join("never");
    let out = rt_quiet(&env, &["checkpoint", "--image-path", s(&images), &id]);
    assert_fails_with(&out, "is created: only a running or paused container");
    assert_eq!(env.status(&id), "created");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));

    let stopped = env.id("stopped");
    let stopped_bundle = env.bundle(&stopped, &env.config(&stopped, &["true"]));
    assert_ok(
        &rt_quiet(&env, &["run", "-d", "-b", s(&stopped_bundle), &stopped]),
        "run -d",
    );
    env.wait_status(&stopped, "stopped");
    let out = rt_quiet(&env, &["checkpoint", "--image-path", s(&images), &stopped]);
    assert_fails_with(&out, "is stopped: only a running or paused container");
    assert!(
        !images.exists(),
        "a refused checkpoint made {}",
        images.display()
    );
    assert_ok(&env.rt(&["delete", &stopped]), "delete");
    env.assert_clean(&stopped, Some(&stopped_bundle));

    // A checkpoint of an unknown container.
    let out = rt_quiet(&env, &["checkpoint", "--image-path", s(&images), "nosuch"]);
    assert_fails_with(&out, "does not exist");
    assert!(!images.exists());
}

#[test]
fn a_restored_terminal_goes_to_the_console_socket() {
    use std::io::Write;
    use std::os::unix::net::UnixListener;
    let Some(env) = cr_env("cr-tty") else {
        return;
    };
    let id = env.id("tty");
    let mut config = env.config(
        &id,
        &[
            "sh",
            "-c",
            "n=0; while read line; do n=$((n+1)); echo got$n:$line; done",
        ],
    );
    set(&mut config, "/process/terminal", json!(true));
    let bundle = env.bundle(&id, &config);
    let sock = env.tmp.join("console.sock");
    let listener = UnixListener::bind(&sock).expect("bind");
    let receiver = std::thread::spawn(move || (recv_console_fd(&listener).0, listener));
    let out = rt_quiet(
        &env,
        &[
            "run",
            "-d",
            "--console-socket",
            s(&sock),
            "-b",
            s(&bundle),
            &id,
        ],
    );
    assert_ok(&out, "run -d --console-socket");
    let (master, listener) = receiver.join().expect("console socket");
    let mut master = File::from(master);
    master.write_all(b"one\n").expect("write the pty");
    read_pty_until(&mut master, patience(), "got1:one");

    let images = env.tmp.join("images");
    assert_ok(
        &rt_quiet(&env, &["checkpoint", "--image-path", s(&images), &id]),
        "checkpoint",
    );
    assert_gone(&env, &id);
    drop(master);
    // The restore sends CRIU's new pty master to the console socket; the shell goes on
    // (its count too).
    let receiver = std::thread::spawn(move || recv_console_fd(&listener).0);
    let out = rt_quiet(
        &env,
        &[
            "restore",
            "-d",
            "--console-socket",
            s(&sock),
            "-b",
            s(&bundle),
            "--image-path",
            s(&images),
            &id,
        ],
    );
    assert_ok(&out, "restore --console-socket");
    let mut master = File::from(receiver.join().expect("console socket"));
    master.write_all(b"two\n").expect("write the pty");
    read_pty_until(&mut master, patience(), "got2:two");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete --force");
    env.assert_clean(&id, Some(&bundle));
}
