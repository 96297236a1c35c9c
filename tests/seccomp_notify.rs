//! SCMP_ACT_NOTIFY: the container's filter hands syscalls to a seccomp agent. rt sends the
//! filter's notification fd to `linux.seccomp.listenerPath` with the container process
//! state JSON (SCM_RIGHTS), as runc, crun and youki do; the agent below answers: mkdir fails
//! with EXDEV (an errno only the agent gives), chmod goes on (SECCOMP_USER_NOTIF_FLAG_CONTINUE).

use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use rt_tests::*;
use serde_json::{json, Value};

/// What the agent saw: the state JSON of each connection and the syscalls it answered.
struct Seen {
    states: Vec<Value>,
    answered: Vec<i64>,
}

fn recv_state_and_fd(listener: &UnixListener) -> (Value, OwnedFd) {
    let (conn, _) = listener.accept().expect("accept the runtime's connection");
    let mut buf = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix_cmsg_space();
    // SAFETY: a msghdr over local buffers for one recvmsg.
    let (n, fd) = unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = space.len();
        let n = libc::recvmsg(conn.as_raw_fd(), &mut msg, libc::MSG_CMSG_CLOEXEC);
        assert!(n > 0, "recvmsg: {}", std::io::Error::last_os_error());
        let hdr = libc::CMSG_FIRSTHDR(&msg);
        assert!(!hdr.is_null(), "no SCM_RIGHTS with the state");
        assert_eq!((*hdr).cmsg_type, libc::SCM_RIGHTS);
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(hdr) as *const RawFd);
        (n as usize, OwnedFd::from_raw_fd(fd))
    };
    let state: Value = serde_json::from_slice(&buf[..n]).expect("the state is JSON");
    (state, fd)
}

fn nix_cmsg_space() -> Vec<u8> {
    // SAFETY: CMSG_SPACE is a pure computation.
    vec![0u8; unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize]
}

/// Answers notifications on `fd` until every process using the filter is gone (or `stop`).
fn serve(fd: OwnedFd, stop: &AtomicBool) -> Vec<i64> {
    let mut answered = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, 100) };
        if n < 0 || pfd.revents & libc::POLLHUP != 0 {
            break;
        }
        if n == 0 {
            continue;
        }
        // SAFETY: the kernel fills a zeroed seccomp_notif; the response goes back by id.
        unsafe {
            let mut req: libc::seccomp_notif = std::mem::zeroed();
            if libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) != 0 {
                continue;
            }
            let nr = i64::from(req.data.nr);
            answered.push(nr);
            let mut resp: libc::seccomp_notif_resp = std::mem::zeroed();
            resp.id = req.id;
            if nr == libc::SYS_mkdir || nr == libc::SYS_mkdirat {
                resp.error = -libc::EXDEV;
            } else {
                resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
            }
            libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp);
        }
    }
    answered
}

/// An agent serving `connections` runtime connections, each on a thread of its own, until
/// `stop` is set.
struct Agent {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Seen>,
}

impl Agent {
    fn start(socket: &Path, connections: usize) -> Agent {
        let listener = UnixListener::bind(socket).expect("bind the agent's socket");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut states = Vec::new();
            let mut servers = Vec::new();
            for _ in 0..connections {
                let (state, fd) = recv_state_and_fd(&listener);
                states.push(state);
                let flag = flag.clone();
                servers.push(std::thread::spawn(move || serve(fd, &flag)));
            }
            let answered = servers
                .into_iter()
                .flat_map(|t| t.join().unwrap_or_default())
                .collect();
            Seen { states, answered }
        });
        Agent { stop, thread }
    }

    fn finish(self) -> Seen {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the agent thread")
    }
}

fn profile(socket: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": socket,
        "listenerMetadata": "meta-1",
        "syscalls": [
            { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" },
            { "names": ["chmod", "fchmodat"], "action": "SCMP_ACT_NOTIFY" }
        ]
    })
}

const SCRIPT: &str =
    "mkdir /tmp/x 2>&1; echo mk=$?; touch /tmp/f; chmod 600 /tmp/f; stat -c %a /tmp/f";

fn check_output(text: &str) {
    assert!(
        text.contains("Invalid cross-device link"),
        "mkdir was not answered by the agent: {text}"
    );
    assert!(text.contains("mk=1"), "{text}");
    assert!(
        text.lines().any(|l| l.trim() == "600"),
        "chmod did not go on: {text}"
    );
}

#[test]
fn a_seccomp_agent_answers_the_containers_notified_syscalls() {
    let env = Env::new("notify");
    for nnp in [true, false] {
        let socket = env.tmp.join(format!("agent-{nnp}.sock"));
        let served = Agent::start(&socket, 2);
        let id = env.id("c");
        let mut config = env.config(&id, &["sh", "-c", &format!("{SCRIPT}; sleep 100")]);
        set(&mut config, "/linux/seccomp", profile(&socket));
        set(&mut config, "/process/noNewPrivileges", json!(nnp));
        set(&mut config, "/root/readonly", json!(false));
        env.create(&id, &config);
        assert_ok(&env.rt(&["start", &id]), "start");
        let pid = state_json(&env.rt(&["state", &id]))["pid"]
            .as_i64()
            .unwrap();
        // rt exec's process gets the container's filter, and its own agent connection.
        let out = env.rt(&["exec", &id, "sh", "-c", "mkdir /tmp/y 2>&1; echo mk=$?"]);
        assert!(
            stdout(&out).contains("Invalid cross-device link"),
            "exec: {}",
            stdout(&out)
        );
        assert_ok(&env.rt(&["kill", &id, "KILL"]), "kill");
        env.wait_status(&id, "stopped");
        assert_ok(&env.rt(&["delete", &id]), "delete");
        let seen = served.finish();
        let init = &seen.states[0];
        assert_eq!(init["ociVersion"], "1.2.0");
        assert_eq!(init["fds"], json!(["seccompFd"]));
        assert_eq!(init["pid"].as_i64(), Some(pid));
        assert_eq!(init["metadata"], "meta-1");
        assert_eq!(init["state"]["id"], json!(id));
        assert_eq!(init["state"]["status"], "creating");
        assert!(seen.states[1]["pid"]
            .as_i64()
            .is_some_and(|p| p > 0 && p != pid));
        assert!(seen
            .answered
            .iter()
            .any(|&nr| nr == libc::SYS_mkdir || nr == libc::SYS_mkdirat));
        env.assert_clean(&id, None);
    }
    // rt run: the init's output shows the agent's answers.
    let socket = env.tmp.join("agent-run.sock");
    let served = Agent::start(&socket, 1);
    let text = env.run_script(SCRIPT, |c| {
        set(c, "/linux/seccomp", profile(&socket));
        set(c, "/root/readonly", json!(false));
    });
    check_output(&text);
    served.finish();
}

#[test]
fn notify_without_a_listener_or_an_agent_is_a_clear_error() {
    let env = Env::new("notify-bad");
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    let mut p = profile(Path::new("/nonexistent/agent.sock"));
    p.as_object_mut().unwrap().remove("listenerPath");
    set(&mut config, "/linux/seccomp", p);
    let out = env.run(&id, &config);
    assert_fails_with(&out, "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath");
    env.assert_clean(&id, None);
    let id = env.id("c");
    let mut config = env.config(&id, &["true"]);
    set(
        &mut config,
        "/linux/seccomp",
        profile(Path::new("/nonexistent/agent.sock")),
    );
    let out = env.run(&id, &config);
    assert_fails_with(
        &out,
        "linux.seccomp.listenerPath /nonexistent/agent.sock: connect",
    );
    env.assert_clean(&id, None);
}
