//! The sync channel between `rt create` (parent) and the container's init (child): a
//! SOCK_SEQPACKET socketpair, so every message arrives whole.
//!
//! parent -> child: `G` (you are in your cgroup, go on).
//! child -> parent: `R` (set up, waiting on the exec fifo) or `E<message>` (failed, written by
//! child::report).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

const GO: u8 = b'G';
const READY: u8 = b'R';
const ERROR: u8 = b'E';
/// child -> parent: mounts are set up, run the prestart/createRuntime hooks (then `G`).
const HOOKS: u8 = b'H';

/// What the child reported.
pub enum ChildReport {
    Ready,
    Failed(String),
    /// The child closed the channel without a word (it died).
    Gone,
}

pub struct SyncSocket {
    fd: OwnedFd,
}

impl std::os::fd::AsRawFd for SyncSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl SyncSocket {
    /// A connected pair: (parent end, child end). Both are close-on-exec.
    pub fn pair() -> io::Result<(SyncSocket, SyncSocket)> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: socketpair writes two fds into the array.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both fds are fresh and owned by us.
        unsafe {
            Ok((
                SyncSocket {
                    fd: OwnedFd::from_raw_fd(fds[0]),
                },
                SyncSocket {
                    fd: OwnedFd::from_raw_fd(fds[1]),
                },
            ))
        }
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        loop {
            // SAFETY: msg is a valid buffer for its length.
            let n = unsafe {
                libc::send(
                    self.fd.as_raw_fd(),
                    msg.as_ptr().cast(),
                    msg.len(),
                    libc::MSG_NOSIGNAL,
                )
            };
            if n >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Receives one message; an empty vector means the peer closed its end.
    fn recv(&self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 8192];
        loop {
            // SAFETY: buf is a valid writable buffer for its length.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n >= 0 {
                buf.truncate(n as usize);
                return Ok(buf);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }

    /// Parent: tell the child to go on.
    pub fn send_go(&self) -> io::Result<()> {
        self.send(&[GO])
    }

    /// Child: wait for the parent's go. False when the parent is gone.
    pub fn wait_go(&self) -> bool {
        matches!(self.recv().as_deref(), Ok([GO]))
    }

    /// Child: report that set-up is done.
    pub fn send_ready(&self) -> io::Result<()> {
        self.send(&[READY])
    }

    /// Child: ask the parent to run the runtime-namespace hooks; true once it says go on.
    pub fn request_hooks(&self) -> io::Result<bool> {
        self.send(&[HOOKS])?;
        Ok(self.wait_go())
    }

    /// Parent: like `wait_report`, but `None` when the child asks for the hooks.
    pub fn wait_report_or_hooks(&self) -> io::Result<Option<ChildReport>> {
        let msg = self.recv()?;
        if msg == [HOOKS] {
            return Ok(None);
        }
        Ok(Some(Self::report(&msg)))
    }

    fn report(msg: &[u8]) -> ChildReport {
        match msg.split_first() {
            None => ChildReport::Gone,
            Some((&READY, _)) => ChildReport::Ready,
            Some((&ERROR, text)) => ChildReport::Failed(String::from_utf8_lossy(text).into_owned()),
            Some(_) => ChildReport::Failed("unexpected message from container init".into()),
        }
    }

    /// Parent: wait for the child's report.
    pub fn wait_report(&self) -> io::Result<ChildReport> {
        let msg = self.recv()?;
        Ok(match msg.split_first() {
            None => ChildReport::Gone,
            Some((&READY, _)) => ChildReport::Ready,
            Some((&ERROR, text)) => ChildReport::Failed(String::from_utf8_lossy(text).into_owned()),
            Some(_) => ChildReport::Failed("unexpected message from container init".into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let (parent, child) = SyncSocket::pair().unwrap();
        parent.send_go().unwrap();
        assert!(child.wait_go());
        // What child::report writes.
        let msg = b"Emounts[2]: boom";
        // SAFETY: a write of a local buffer to the child end.
        unsafe { libc::write(child.as_raw_fd(), msg.as_ptr().cast(), msg.len()) };
        match parent.wait_report().unwrap() {
            ChildReport::Failed(msg) => assert_eq!(msg, "mounts[2]: boom"),
            _ => panic!("expected an error report"),
        }
        child.send_ready().unwrap();
        assert!(matches!(parent.wait_report().unwrap(), ChildReport::Ready));
        drop(child);
        assert!(matches!(parent.wait_report().unwrap(), ChildReport::Gone));
    }
}
