//! Seccomp user notification (SCMP_ACT_NOTIFY): the notification fd of the container's
//! filter goes to the seccomp agent listening on `linux.seccomp.listenerPath`, in one
//! message over a unix socket: the container process state JSON of the runtime spec
//! (`{"ociVersion", "fds": ["seccompFd"], "pid", "metadata", "state"}`) with the fd as
//! SCM_RIGHTS, as runc, crun and youki send it.
//!
//! `rt create` (or `rt exec`) connects to the agent and writes the JSON (it knows the
//! process's host pid); the process, once its filter is loaded, sends both on the socket it
//! inherited and closes it. The agent may be asked before the process has exec'd (a
//! notified execve waits for its answer), which is why the message goes out at once.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use anyhow::Context;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use serde::Serialize;

/// The runtime spec's name of the seccomp notification fd in `fds`.
pub const SECCOMP_FD_NAME: &str = "seccompFd";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerProcessState<'a, S: Serialize> {
    oci_version: &'a str,
    fds: [&'a str; 1],
    pid: i32,
    metadata: &'a str,
    state: &'a S,
}

/// The JSON the agent gets for the process `pid` (host pid) of a container in `state`.
pub fn process_state(
    pid: i32,
    metadata: Option<&str>,
    state: &impl Serialize,
) -> anyhow::Result<Vec<u8>> {
    serde_json::to_vec(&ContainerProcessState {
        oci_version: crate::container::OCI_VERSION,
        fds: [SECCOMP_FD_NAME],
        pid,
        metadata: metadata.unwrap_or(""),
        state,
    })
    .context("encode the container process state")
}

/// Connects to the agent's socket.
pub fn connect(path: &Path) -> anyhow::Result<OwnedFd> {
    let stream = std::os::unix::net::UnixStream::connect(path)
        .with_context(|| format!("linux.seccomp.listenerPath {}: connect", path.display()))?;
    Ok(stream.into())
}

/// Sends the state and the notification fd to the agent, then closes the socket.
pub fn send(socket: RawFd, state: &[u8], notify_fd: OwnedFd) -> anyhow::Result<()> {
    let iov = [IoSlice::new(state)];
    let fds = [notify_fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::MSG_NOSIGNAL, None)
        .context("linux.seccomp.listenerPath: send the notification fd to the seccomp agent")?;
    // SAFETY: the socket is ours and not needed any more.
    unsafe { libc::close(socket) };
    Ok(())
}
