//! Terminals: `process.terminal` with `--console-socket` (the pty master arrives over the
//! socket with SCM_RIGHTS, as conmon and containerd's shim receive it), `exec -t`, and
//! `rt run` proxying a pty to its own stdio.

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::time::Duration;

use rt_tests::*;
use serde_json::json;

#[test]
fn console_socket_receives_a_working_pty() {
    let env = Env::new("console");
    let sock = env.tmp.join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let id = env.id("c");
    let mut config = env.config(
        &id,
        &["sh", "-c", "tty; read line; echo got:$line; sleep 100"],
    );
    set(&mut config, "/process/terminal", json!(true));
    let bundle = env.bundle(&id, &config);
    let receiver = std::thread::spawn(move || recv_console_fd(&listener));
    let out = env.rt(&[
        "create",
        "--console-socket",
        sock.to_str().unwrap(),
        "-b",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_ok(&out, "create --console-socket");
    let (master, name) = receiver.join().unwrap();
    assert!(name.starts_with("/dev/pts/"), "message {name:?}");
    let mut master = std::fs::File::from(master);
    assert_ok(&env.rt(&["start", &id]), "start");
    let seen = read_pty_until(&mut master, Duration::from_secs(20), "/dev/pts/0");
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    master.write_all(b"hello\n").unwrap();
    read_pty_until(&mut master, Duration::from_secs(20), "got:hello");

    // exec -t: a second pty, from the same kind of socket.
    let sock2 = env.tmp.join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).unwrap();
    let receiver = std::thread::spawn(move || recv_console_fd(&listener2));
    let out = env.rt(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock2.to_str().unwrap(),
        &id,
        "sh",
        "-c",
        "echo exec-tty:$(tty); sleep 100",
    ]);
    assert_ok(&out, "exec -t --console-socket");
    let (master2, _) = receiver.join().unwrap();
    let mut master2 = std::fs::File::from(master2);
    let seen = read_pty_until(&mut master2, Duration::from_secs(20), "exec-tty:/dev/pts/1");
    assert!(seen.contains("exec-tty:/dev/pts/1"), "{seen}");

    assert_ok(&env.rt(&["delete", "-f", &id]), "delete");
    env.assert_clean(&id, Some(&bundle));
}

#[test]
fn run_proxies_the_pty_to_its_stdio() {
    let env = Env::new("runtty");
    let id = env.id("c");
    let mut config = env.config(&id, &["sh", "-c", "tty; stty size; exit 3"]);
    set(&mut config, "/process/terminal", json!(true));
    set(
        &mut config,
        "/process/consoleSize",
        json!({ "height": 33, "width": 77 }),
    );
    let out = env.run(&id, &config);
    assert_eq!(out.status.code(), Some(3), "stderr: {}", stderr(&out));
    // A pty turns \n into \r\n.
    assert_eq!(stdout(&out), "/dev/pts/0\r\n33 77\r\n");
    env.assert_clean(&id, None);
}

#[test]
fn terminal_errors() {
    let env = Env::new("ttybad");
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    set(&mut config, "/process/terminal", json!(true));
    let bundle = env.bundle(&id, &config);
    // create (detached by nature) needs a socket for a terminal.
    assert_fails_with(
        &env.rt(&["create", "-b", bundle.to_str().unwrap(), &id]),
        "--console-socket",
    );
    env.assert_clean(&id, Some(&bundle));
    assert_fails_with(
        &env.rt(&["run", "-d", "-b", bundle.to_str().unwrap(), &id]),
        "--console-socket",
    );
    env.assert_clean(&id, Some(&bundle));
    let out = env.rt(&[
        "create",
        "--console-socket",
        "/no/such.sock",
        "-b",
        bundle.to_str().unwrap(),
        &id,
    ]);
    assert_fails_with(&out, "--console-socket /no/such.sock");
    env.assert_clean(&id, Some(&bundle));
}
