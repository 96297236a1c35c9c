//! The sync channel between rt (parent) and a child it forks into a container (the init,
//! an exec'd process): a SOCK_SEQPACKET socketpair, so every message arrives whole.
//!
//! parent -> child: `G[data]` (you are in your cgroup, go on), with file descriptors
//! attached when the parent prepared some (idmapped mounts).
//! child -> parent: `H` (mounts done: run the runtime-namespace hooks, then `G`), `R` (set
//! up, waiting on the exec fifo) or `E<message>` (failed; written by child::report).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};

const GO: u8 = b'G';
const READY: u8 = b'R';
const ERROR: u8 = b'E';
/// child -> parent: mounts are set up, run the prestart/createRuntime hooks (then `G`).
const HOOKS: u8 = b'H';

/// The most fds one message carries.
const MAX_FDS: usize = 64;

/// What the child reported.
pub enum ChildReport {
    Ready,
    Failed(String),
    /// The child closed the channel without a word (it died, or exec'd).
    Gone,
}

/// The parent's go: its data and the fds that came with it.
pub struct Go {
    pub data: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

pub struct SyncSocket {
    fd: OwnedFd,
}

impl AsRawFd for SyncSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

fn io_err(e: nix::errno::Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

impl SyncSocket {
    /// A connected pair: (parent end, child end). Both are close-on-exec.
    pub fn pair() -> io::Result<(SyncSocket, SyncSocket)> {
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io_err)?;
        Ok((SyncSocket { fd: a }, SyncSocket { fd: b }))
    }

    fn send_with(&self, msg: &[u8], fds: &[RawFd]) -> io::Result<()> {
        let iov = [io::IoSlice::new(msg)];
        let cmsg = [ControlMessage::ScmRights(fds)];
        let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &cmsg };
        loop {
            match sendmsg::<()>(
                self.fd.as_raw_fd(),
                &iov,
                cmsgs,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io_err(e)),
            }
        }
    }

    fn send(&self, msg: &[u8]) -> io::Result<()> {
        self.send_with(msg, &[])
    }

    /// Receives one message and its fds; an empty message means the peer closed its end.
    fn recv(&self) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
        let mut buf = vec![0u8; 65536];
        let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
        loop {
            let mut iov = [io::IoSliceMut::new(&mut buf)];
            let msg = match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(msg) => msg,
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(io_err(e)),
            };
            let mut fds = Vec::new();
            for cmsg in msg.cmsgs().map_err(io_err)? {
                if let ControlMessageOwned::ScmRights(received) = cmsg {
                    // SAFETY: the kernel just installed these fds for us.
                    fds.extend(
                        received
                            .into_iter()
                            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            let n = msg.bytes;
            buf.truncate(n);
            return Ok((buf, fds));
        }
    }

    /// Parent: tell the child to go on.
    pub fn send_go(&self) -> io::Result<()> {
        self.send(&[GO])
    }

    /// Parent: tell the child to go on, with data and fds for it.
    pub fn send_go_with(&self, data: &[u8], fds: &[RawFd]) -> io::Result<()> {
        if fds.len() > MAX_FDS {
            return Err(io::Error::other(format!(
                "more than {MAX_FDS} fds for the child"
            )));
        }
        let mut msg = Vec::with_capacity(data.len() + 1);
        msg.push(GO);
        msg.extend_from_slice(data);
        self.send_with(&msg, fds)
    }

    /// Child: wait for the parent's go. False when the parent is gone.
    pub fn wait_go(&self) -> bool {
        self.wait_go_with().is_some()
    }

    /// Child: wait for the parent's go; its data and fds, or None when the parent is gone.
    pub fn wait_go_with(&self) -> Option<Go> {
        match self.recv() {
            Ok((msg, fds)) if msg.first() == Some(&GO) => Some(Go {
                data: msg[1..].to_vec(),
                fds,
            }),
            _ => None,
        }
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
        let (msg, _) = self.recv()?;
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
        let (msg, _) = self.recv()?;
        Ok(Self::report(&msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_fds_round_trip() {
        let (parent, child) = SyncSocket::pair().unwrap();
        let file = std::fs::File::open("/dev/null").unwrap();
        parent.send_go_with(b"state", &[file.as_raw_fd()]).unwrap();
        let go = child.wait_go_with().unwrap();
        assert_eq!(go.data, b"state");
        assert_eq!(go.fds.len(), 1);
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
