//! go-runc (containerd's runc client, Debian's golang-github-containerd-go-runc-dev) decodes
//! what `rt events --stats` prints, with its own types: a Go program built from
//! tests/gorunc/main.go reads rt's output.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use rt_tests::*;

const GO_RUNC: &str = "/usr/share/gocode/src/github.com/containerd/go-runc/events.go";

/// Installs Go and go-runc's source from Debian when missing.
fn ensure_go_runc() {
    if Path::new(GO_RUNC).exists() && Command::new("go").arg("version").output().is_ok() {
        return;
    }
    let install = || {
        Command::new("apt-get")
            .args([
                "-o",
                "DPkg::Lock::Timeout=600",
                "install",
                "-y",
                "--no-install-recommends",
            ])
            .args(["golang-go", "golang-github-containerd-go-runc-dev"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if !install() {
        let _ = Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600", "update"])
            .status();
        assert!(
            install(),
            "cannot install golang-go and golang-github-containerd-go-runc-dev"
        );
    }
}

#[test]
fn go_runc_decodes_events_stats() {
    if std::env::var_os("RT_GUEST").is_some() {
        // The guest has no package network; the schema is the same on v1 and v2, and the host
        // tier runs this check.
        eprintln!("go-runc check: runs in the host tier only (the guest cannot install Go)");
        return;
    }
    ensure_go_runc();
    let env = Env::new("gorunc");
    let decoder = env.tmp.join("gorunc-events");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&decoder)
        .arg(".")
        .current_dir(repo().join("tests/gorunc"))
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", env.tmp.join("gocache"))
        .output()
        .expect("run go build");
    assert_ok(&out, "go build tests/gorunc");

    let id = env.id("c");
    let bundle = env.bundle(&id, &env.config(&id, &["sleep", "1000"]));
    assert_ok(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "run -d",
    );
    let stats = env.rt(&["events", "--stats", &id]);
    assert_ok(&stats, "events --stats");

    let mut go = Command::new(&decoder)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the go-runc decoder");
    go.stdin.take().unwrap().write_all(&stats.stdout).unwrap();
    let decoded = go.wait_with_output().unwrap();
    assert_ok(&decoded, "go-runc decoding rt's events");
    let text = stdout(&decoded);
    let fields: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(fields[..2], ["stats", id.as_str()], "{text}");
    let memory: u64 = fields[2].parse().unwrap();
    let pids: u64 = fields[3].parse().unwrap();
    assert!(memory > 0, "memory usage as go-runc reads it: {text}");
    assert_eq!(pids, 1, "pids.current as go-runc reads it: {text}");

    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}
