//! `start`: open the exec fifo for reading so the blocked init goes on and execs.

use std::fs::{self, File};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use anyhow::{bail, Context};

use super::{Container, Status};

/// How long one poll waits before checking that the init is still alive.
const POLL_MS: i32 = 100;

pub fn start(container: &Container) -> anyhow::Result<()> {
    let status = container.status();
    if status != Status::Created {
        bail!(
            "container {} is {status}: only a created container can be started",
            container.id()
        );
    }
    let fifo_path = container.dir.fifo_path();
    // Non-blocking: the open succeeds at once and the init's open for writing returns.
    let mut fifo = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&fifo_path)
        .with_context(|| format!("open {}", fifo_path.display()))?;
    loop {
        let mut pfd = libc::pollfd {
            fd: fifo.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, POLL_MS) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).context("poll the exec fifo");
        }
        if n > 0 {
            // `0`, or `E<message>` when a startContainer hook failed (one atomic write).
            let mut buf = [0u8; 4096];
            match fifo.read(&mut buf) {
                Ok(n) if n > 0 && buf[0] == b'0' => break,
                Ok(n) if n > 0 => bail!(
                    "container {}: {}",
                    container.id(),
                    String::from_utf8_lossy(buf[..n].strip_prefix(b"E").unwrap_or(&buf[..n]))
                ),
                Ok(_) => bail!(
                    "container {}: its init closed the exec fifo without starting",
                    container.id()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e).context("read the exec fifo"),
            }
        }
        if !container.init_alive() {
            bail!(
                "container {}: its init exited before it was started",
                container.id()
            );
        }
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
