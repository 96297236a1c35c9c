//! A reader that goes away (`rt list | head -1`, `rt state ID | jq` when jq fails): every
//! printing command ends quietly, as runc does (killed by SIGPIPE, or done), never with a
//! panic or an abort, and leaves nothing half done. stderr closed and a log file that
//! cannot be written never break a command either.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Output, Stdio};

use rt_tests::*;
use serde_json::json;

/// Runs `cmd` with its stdout a pipe whose reader is already gone; returns its status and
/// stderr.
fn with_gone_reader(mut cmd: Command) -> (ExitStatus, String) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let err = tempfile_path("stderr");
    let out = cmd
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(std::fs::File::create(&err).expect("stderr file"))
        .status()
        .expect("run rt");
    let text = std::fs::read_to_string(&err).unwrap_or_default();
    let _ = std::fs::remove_file(&err);
    (out, text)
}

fn tempfile_path(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::env::temp_dir().join(format!("{}-{name}-{n}", run_id()))
}

/// Exit 0 or SIGPIPE (141 in a shell), as runc; nothing on stderr.
fn assert_quiet(what: &str, status: ExitStatus, stderr: &str) {
    let ok = status.success() || status.signal() == Some(libc::SIGPIPE);
    assert!(ok, "{what}: status {status}, stderr: {stderr}");
    assert!(stderr.is_empty(), "{what}: stderr not empty: {stderr}");
}

#[test]
fn printing_commands_end_quietly_when_the_reader_is_gone() {
    let env = Env::new("sigpipe");
    let id = env.id("c");
    env.create(&id, &env.config(&id, &["sleep", "100"]));
    assert_ok(&env.rt(&["start", &id]), "start");
    let cases: &[&[&str]] = &[
        &["list"],
        &["list", "--format", "json"],
        &["list", "-q"],
        &["state", &id],
        &["ps", &id],
        &["ps", "--format", "json", &id],
        &["ps", &id, "-ef"],
        &["events", "--stats", &id],
        &["events", "--interval", "50ms", &id],
        &["features"],
    ];
    for args in cases {
        let (status, err) = with_gone_reader(env.rt_cmd(args));
        assert_quiet(&args.join(" "), status, &err);
    }
    // --help and --version print through clap.
    for args in [&["--help"][..], &["--version"], &["list", "--help"]] {
        let mut cmd = Command::new(rt_bin());
        cmd.args(args);
        let (status, err) = with_gone_reader(cmd);
        assert_quiet(&args.join(" "), status, &err);
    }
    // The container is untouched by all this.
    assert_eq!(env.status(&id), "running");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn run_and_exec_proxying_a_terminal_outlive_their_reader() {
    let env = Env::new("sigpipe-tty");
    // `rt run` of a terminal container proxies the pty to its stdout: the reader is gone,
    // the output is dropped, and rt still returns the container's status and cleans up.
    let id = env.id("run");
    let mut config = env.config(&id, &["sh", "-c", "seq 1 2000; exit 3"]);
    set(&mut config, "/process/terminal", json!(true));
    let bundle = env.bundle(&id, &config);
    let (status, err) = with_gone_reader(env.rt_cmd(&["run", "-b", bundle.to_str().unwrap(), &id]));
    assert_eq!(status.code(), Some(3), "rt run: {status}, stderr: {err}");
    assert!(err.is_empty(), "rt run: stderr: {err}");
    env.assert_clean(&id, Some(&bundle));

    let id = env.id("exec");
    env.create(&id, &env.config(&id, &["sleep", "100"]));
    assert_ok(&env.rt(&["start", &id]), "start");
    let (status, err) =
        with_gone_reader(env.rt_cmd(&["exec", "-t", &id, "sh", "-c", "seq 1 2000; exit 4"]));
    assert_eq!(
        status.code(),
        Some(4),
        "rt exec -t: {status}, stderr: {err}"
    );
    assert!(err.is_empty(), "rt exec -t: stderr: {err}");
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    env.assert_clean(&id, None);
}

#[test]
fn closed_stderr_and_unwritable_log_never_break_a_command() {
    let env = Env::new("sigpipe-stderr");
    // An error with stderr closed: still exit 1, not a panic (134) or a signal.
    let out: Output = env
        .rt_cmd(&["state", "no-such-container"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            drop(child.stderr.take());
            child.wait_with_output()
        })
        .expect("run rt");
    assert_eq!(out.status.code(), Some(1), "status {}", out.status);

    // A log file on a full disk: the container is created and deleted all the same.
    let id = env.id("c");
    let bundle = env.bundle(&id, &env.config(&id, &["true"]));
    let out = env.rt(&[
        "--log",
        "/dev/full",
        "--debug",
        "run",
        "-b",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "run with --log /dev/full: {}",
        stderr(&out)
    );
    env.assert_clean(&id, Some(&bundle));
}
