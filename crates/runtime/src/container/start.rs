//! `start`: open the exec fifo for reading so the blocked init goes on, and read the fifo to
//! its end: the init writes `E<message>` there if a startContainer hook, its seccomp filter
//! or its execve fails; a successful execve closes the init's end (close-on-exec), and the
//! reader sees end-of-file. So `rt start` exits 0 only once the container's process runs.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{bail, Context};

use super::{Container, Status};
use crate::init::child;

/// How long one poll waits before checking that the init is still alive.
const POLL_MS: u16 = 100;

pub fn start(container: &Container) -> anyhow::Result<()> {
    let status = container.status();
    // runc's texts (start.go).
    match status {
        Status::Created => {}
        Status::Stopped => bail!(
            "cannot start a container that has stopped: {}: container not running",
            container.id()
        ),
        _ => bail!(
            "cannot start an already running container {} (it is {status})",
            container.id()
        ),
    }
    let fifo_path = container.dir.fifo_path();
    // Non-blocking: the open succeeds at once and the init's open for writing returns.
    let mut fifo = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo_path)
        .with_context(|| format!("open {}", fifo_path.display()))?;
    let mut message = Vec::new();
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut pfd = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
        let n = match poll(&mut pfd, PollTimeout::from(POLL_MS)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).context("poll the exec fifo"),
        };
        if n > 0 {
            // Data, or the init's end closed (POLLHUP): read to the end.
            let mut buf = [0u8; 4096];
            match fifo.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => message.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("read the exec fifo"),
            }
            continue;
        }
        // The init never opened its end: it is still on its way there, or dead.
        if !container.init_alive() {
            if message.is_empty() {
                bail!(
                    "container {}: its init exited before it was started",
                    container.id()
                );
            }
            break;
        }
    }
    if let Some(text) = message.strip_prefix(b"E") {
        bail!(
            "container {}: {}",
            container.id(),
            String::from_utf8_lossy(text)
        );
    }
    if !child::exec_outcome(
        container.state.pid,
        Some(container.state.pid_start),
        child::MARKER_INIT,
    ) {
        bail!(
            "container {}: its init died before it could run its process (no error \
             reported: killed by a signal, e.g. by its seccomp profile)",
            container.id()
        );
    }
    fs::remove_file(&fifo_path).with_context(|| format!("remove {}", fifo_path.display()))?;
    // A failing poststart hook is a warning (runtime-spec); the container keeps running.
    crate::hooks::run_warn(
        container.state.hooks.as_ref(),
        crate::hooks::Kind::Poststart,
        &container.oci_state(Status::Running),
        Some(&container.state.bundle),
    );
    Ok(())
}
