//! The phrases container engines look for in a runtime's error text, one row per situation:
//! engines run runc (or rt) as a command and decide what happened from its stderr or its
//! json log (go-runc passes the output on in the error it returns). rt's one-line error
//! must contain the phrase wherever the situation is the same, with exit status 1.
//!
//! Where each phrase comes from:
//! - containerd's runc shim, pkg/process/utils.go `checkKillError`: "container not running",
//!   "no such process" (lower-cased) -> the process already finished; "does not exist" -> no
//!   such container; pkg/process/init.go `delete` ignores "does not exist".
//! - CRI-O, internal/oci/runtime_oci.go `runtimeCmd` (every kill, pause, resume, update,
//!   start...): "container not running" (runc) or "no such process" (crun) -> not found.
//! - podman, libpod/oci_conmon_common.go `UpdateContainerStatus`: "does not exist" (or "No
//!   such file") from `state` -> the container exited; libpod/oci_util.go
//!   `getOCIRuntimeError`: "executable file not found in" / "no such file or directory" ->
//!   exit 127, "permission denied" / "operation not permitted" -> exit 126.
//! - runc's own texts, which Docker users, Nomad's docker driver ("container with id
//!   exists:", it retries the create) and scripts match: "container with id exists",
//!   "cannot exec in a stopped container", "cannot exec in a paused container", "cannot
//!   start an already running container", "cannot start a container that has stopped",
//!   "container not paused", "that is not stopped".

use rt_tests::*;

struct Row<'a> {
    situation: &'a str,
    args: Vec<&'a str>,
    /// The phrase, and who matches it.
    phrase: &'a str,
}

#[test]
fn errors_contain_the_phrases_engines_match() {
    let env = Env::new("errtexts");
    // One container in each state.
    let created = env.id("created");
    let created_bundle = env.create(&created, &env.config(&created, &["sleep", "1000"]));
    let running = env.id("running");
    env.create(&running, &env.config(&running, &["sleep", "1000"]));
    assert_ok(&env.rt(&["start", &running]), "start");
    let paused = env.id("paused");
    env.create(&paused, &env.config(&paused, &["sleep", "1000"]));
    assert_ok(&env.rt(&["start", &paused]), "start");
    assert_ok(&env.rt(&["pause", &paused]), "pause");
    let stopped = env.id("stopped");
    env.create(&stopped, &env.config(&stopped, &["sleep", "1000"]));
    assert_ok(&env.rt(&["start", &stopped]), "start");
    assert_ok(&env.rt(&["kill", &stopped, "KILL"]), "kill");
    env.wait_status(&stopped, "stopped");
    let b = created_bundle.to_str().unwrap();
    let not_exec = "/etc/passwd";

    let rows = vec![
        // containerd checkKillError: "does not exist" -> no such container.
        Row {
            situation: "kill of an unknown id",
            args: vec!["kill", "ghost", "9"],
            phrase: "does not exist",
        },
        // podman UpdateContainerStatus: the container is gone.
        Row {
            situation: "state of an unknown id",
            args: vec!["state", "ghost"],
            phrase: "does not exist",
        },
        // containerd init.go delete: ignored.
        Row {
            situation: "delete of an unknown id",
            args: vec!["delete", "ghost"],
            phrase: "does not exist",
        },
        Row {
            situation: "exec in an unknown id",
            args: vec!["exec", "ghost", "true"],
            phrase: "does not exist",
        },
        Row {
            situation: "start of an unknown id",
            args: vec!["start", "ghost"],
            phrase: "does not exist",
        },
        Row {
            situation: "pause of an unknown id",
            args: vec!["pause", "ghost"],
            phrase: "does not exist",
        },
        Row {
            situation: "ps of an unknown id",
            args: vec!["ps", "ghost"],
            phrase: "does not exist",
        },
        // runc's text; Nomad's docker driver retries on "container with id exists:".
        Row {
            situation: "create of an id in use",
            args: vec!["create", "-b", b, &created],
            phrase: "container with id exists:",
        },
        // containerd checkKillError, CRI-O runtimeCmd: the process already finished.
        Row {
            situation: "kill of a stopped container",
            args: vec!["kill", &stopped, "9"],
            phrase: "container not running",
        },
        Row {
            situation: "kill of a stopped container (TERM)",
            args: vec!["kill", &stopped],
            phrase: "container not running",
        },
        // runc exec.go.
        Row {
            situation: "exec in a stopped container",
            args: vec!["exec", &stopped, "true"],
            phrase: "cannot exec in a stopped container",
        },
        Row {
            situation: "exec in a stopped container (CRI-O)",
            args: vec!["exec", &stopped, "true"],
            phrase: "container not running",
        },
        Row {
            situation: "exec in a paused container",
            args: vec!["exec", &paused, "true"],
            phrase: "cannot exec in a paused container (use --ignore-paused to override)",
        },
        // CRI-O runtimeCmd.
        Row {
            situation: "pause of a stopped container",
            args: vec!["pause", &stopped],
            phrase: "container not running",
        },
        Row {
            situation: "pause of a created container",
            args: vec!["pause", &created],
            phrase: "container not running",
        },
        Row {
            situation: "resume of a stopped container",
            args: vec!["resume", &stopped],
            phrase: "container not running",
        },
        // runc libcontainer ErrNotPaused.
        Row {
            situation: "resume of a running container",
            args: vec!["resume", &running],
            phrase: "container not paused",
        },
        Row {
            situation: "update of a stopped container",
            args: vec!["update", "--pids-limit", "5", &stopped],
            phrase: "container not running",
        },
        Row {
            situation: "events of a stopped container",
            args: vec!["events", "--stats", &stopped],
            phrase: "container not running",
        },
        // runc start.go.
        Row {
            situation: "start of a running container",
            args: vec!["start", &running],
            phrase: "cannot start an already running container",
        },
        Row {
            situation: "start of a paused container",
            args: vec!["start", &paused],
            phrase: "cannot start an already running container",
        },
        Row {
            situation: "start of a stopped container",
            args: vec!["start", &stopped],
            phrase: "cannot start a container that has stopped",
        },
        Row {
            situation: "start of a stopped container (CRI-O)",
            args: vec!["start", &stopped],
            phrase: "container not running",
        },
        // runc delete.go.
        Row {
            situation: "delete of a running container",
            args: vec!["delete", &running],
            phrase: "that is not stopped",
        },
        Row {
            situation: "delete of a paused container",
            args: vec!["delete", &paused],
            phrase: "that is not stopped",
        },
        // podman getOCIRuntimeError: 127 (not found) and 126 (not executable).
        Row {
            situation: "exec of a program not in $PATH",
            args: vec!["exec", &running, "no-such-program"],
            phrase: "executable file not found in $PATH",
        },
        Row {
            situation: "exec of a path that does not exist",
            args: vec!["exec", &running, "/no/such/program"],
            phrase: "no such file or directory",
        },
        Row {
            situation: "exec of a file that is not executable",
            args: vec!["exec", &running, not_exec],
            phrase: "permission denied",
        },
    ];
    for row in &rows {
        let out = env.rt(&row.args);
        eprintln!("{}: {}", row.situation, stderr(&out).trim());
        assert_fails_with(&out, row.phrase);
    }
    // Nothing changed: each container is still in its state.
    for (id, status) in [
        (&created, "created"),
        (&running, "running"),
        (&paused, "paused"),
        (&stopped, "stopped"),
    ] {
        assert_eq!(env.status(id), status, "{id}");
    }
    for id in [&created, &running, &paused, &stopped] {
        assert_ok(&env.rt(&["delete", "--force", id]), "delete --force");
        env.assert_clean(id, None);
    }
}
