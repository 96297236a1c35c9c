//! Terminals: the pty a container process gets when `process.terminal` is set, the master
//! sent over `--console-socket` with SCM_RIGHTS (as conmon and containerd's shim expect:
//! the message's data is the slave's name), and `rt run`'s proxy between its own stdio and
//! the master when there is no socket.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{bail, Context};
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// Connects to the console socket (done by rt before the fork: the path is on the host).
pub fn connect(path: &Path) -> anyhow::Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .with_context(|| format!("--console-socket {}", path.display()))?;
    Ok(stream.into())
}

/// Opens a new pty through the container's /dev/ptmx (resolved inside the root, checked to
/// be the pty multiplexer, char 5:2): (master, slave name).
pub fn open_pty() -> anyhow::Result<(OwnedFd, String)> {
    let root =
        crate::init::rootdir::RootDir::open(Path::new("/")).context("process.terminal: open /")?;
    let master = root
        .open_in(
            Path::new("/dev/ptmx"),
            rustix::fs::OFlags::RDWR | rustix::fs::OFlags::NOCTTY,
        )
        .context("process.terminal: open /dev/ptmx")?;
    let st = nix::sys::stat::fstat(master.as_raw_fd()).context("process.terminal: stat ptmx")?;
    let is_char = st.st_mode & libc::S_IFMT == libc::S_IFCHR;
    if !is_char || (libc::major(st.st_rdev), libc::minor(st.st_rdev)) != (5, 2) {
        bail!("process.terminal: /dev/ptmx in the container is not the pty multiplexer (char 5:2)");
    }
    // SAFETY: unlockpt/ptsname_r on the master we own, with a local buffer.
    unsafe {
        let fd = master.as_raw_fd();
        if libc::unlockpt(fd) != 0 {
            return Err(io::Error::last_os_error()).context("process.terminal: unlockpt");
        }
        let mut buf = [0 as libc::c_char; 128];
        if libc::ptsname_r(fd, buf.as_mut_ptr(), buf.len()) != 0 {
            return Err(io::Error::last_os_error()).context("process.terminal: ptsname");
        }
        let name = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
        Ok((master, name))
    }
}

/// The slave of a pty master, from the master itself (TIOCGPTPEER): no path to follow.
pub fn open_peer(master: BorrowedFd<'_>) -> anyhow::Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER returns a new fd (or -1) for the master we hold.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error()).context("process.terminal: open the pty slave");
    }
    // SAFETY: a fresh fd we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sets a terminal's size.
pub fn set_size(fd: RawFd, rows: u16, cols: u16) -> anyhow::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ with a valid winsize.
    if unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(io::Error::last_os_error()).context("process.consoleSize: TIOCSWINSZ");
    }
    Ok(())
}

/// Makes the pty slave the calling process's controlling terminal and its stdio.
pub fn attach_slave(slave: OwnedFd, name: &str, uid: u32, gid: u32) -> anyhow::Result<()> {
    let fd = slave.as_raw_fd();
    // SAFETY: plain syscalls on fds we own.
    unsafe {
        // The process's user must be able to use its terminal.
        if libc::fchown(fd, uid, gid) != 0 {
            return Err(io::Error::last_os_error()).with_context(|| format!("chown {name}"));
        }
        if libc::ioctl(fd, libc::TIOCSCTTY, 0) != 0 {
            return Err(io::Error::last_os_error()).context("TIOCSCTTY");
        }
        for target in 0..3 {
            if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error()).context("dup2 the pty slave");
            }
        }
    }
    Ok(())
}

/// Sends `fd` over a unix socket with SCM_RIGHTS; the data is `name`.
pub fn send_fd(socket: RawFd, name: &str, fd: RawFd) -> anyhow::Result<()> {
    let iov = [io::IoSlice::new(name.as_bytes())];
    let fds = [fd];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(socket, &iov, &cmsg, MsgFlags::empty(), None)
        .context("send the pty master to the console socket")?;
    Ok(())
}

/// Receives an fd sent with `send_fd`.
pub fn recv_fd(socket: RawFd) -> anyhow::Result<OwnedFd> {
    let mut buf = [0u8; 4096];
    let mut iov = [io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<()>(
        socket,
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .context("receive the pty master")?;
    for cmsg in msg.cmsgs().context("receive the pty master")? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just gave us this fd.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    bail!("the container sent no pty master")
}

/// Puts a terminal in raw mode; the returned value restores it when dropped.
pub struct RawMode {
    fd: RawFd,
    saved: libc::termios,
}

impl RawMode {
    pub fn enable(fd: RawFd) -> Option<RawMode> {
        // SAFETY: tcgetattr/tcsetattr on a valid fd with local structs.
        unsafe {
            if libc::isatty(fd) != 1 {
                return None;
            }
            let mut saved: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(fd, &mut saved) != 0 {
                return None;
            }
            let mut raw = saved;
            libc::cfmakeraw(&mut raw);
            libc::tcsetattr(fd, libc::TCSANOW, &raw);
            Some(RawMode { fd, saved })
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // SAFETY: restoring the saved attributes.
        unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &self.saved) };
    }
}

/// Copies our terminal's size (if stdin is one) to `master`.
pub fn copy_size(master: RawFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a local winsize.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// One step of the proxy: moves what is readable on `from` to `to`. False on EOF/EIO.
pub fn pump(from: RawFd, to: RawFd) -> bool {
    let mut buf = [0u8; 8192];
    // SAFETY: read/write on valid fds with a local buffer.
    let n = unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) };
    if n <= 0 {
        return n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted;
    }
    let mut off = 0usize;
    while off < n as usize {
        // SAFETY: as above.
        let w = unsafe { libc::write(to, buf[off..].as_ptr().cast(), n as usize - off) };
        if w < 0 {
            match io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                // The reader of our output is gone: what the process writes is dropped, but
                // its terminal is still drained, so it never blocks on a full pty.
                Some(libc::EPIPE) => return true,
                _ => return false,
            }
        }
        if w == 0 {
            return false;
        }
        off += w as usize;
    }
    true
}
