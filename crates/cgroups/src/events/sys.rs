//! Thin, fd-owning wrappers over the syscalls the event readers use: eventfd, inotify, poll
//! (the monitor's epoll is nix's `Epoll`). Every fd is close-on-exec and owned (closed on
//! drop). nix's where it has them; inotify stays raw: nix's `Inotify` keeps its fd (no
//! `OwnedFd` out of it), and the watchers own theirs.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use nix::errno::Errno;

use crate::error::Error;

/// An error of `call` on the file `path`.
pub(crate) fn sys_err<'a>(
    call: &'static str,
    path: &'a Path,
) -> impl FnOnce(io::Error) -> Error + 'a {
    move |source| Error::Event {
        call,
        path: path.to_path_buf(),
        source,
    }
}

/// Turn a returned fd into an OwnedFd, or the last OS error.
fn owned(fd: libc::c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking, close-on-exec eventfd.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    use nix::sys::eventfd::{EfdFlags, EventFd};
    Ok(EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)?.into())
}

/// A non-blocking, close-on-exec inotify instance.
pub(crate) fn inotify() -> io::Result<OwnedFd> {
    // SAFETY: inotify_init1 has no memory-safety preconditions.
    owned(unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) })
}

fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}

/// Open `path` close-on-exec with `flags` (O_RDONLY, O_RDWR...).
pub(crate) fn open(path: &Path, flags: libc::c_int) -> io::Result<OwnedFd> {
    use std::os::unix::fs::OpenOptionsExt;
    let access = flags & libc::O_ACCMODE;
    let file = std::fs::OpenOptions::new()
        .read(access == libc::O_RDONLY || access == libc::O_RDWR)
        .write(access == libc::O_WRONLY || access == libc::O_RDWR)
        .custom_flags((flags & !libc::O_ACCMODE) | libc::O_CLOEXEC)
        .open(path)?;
    Ok(file.into())
}

/// Add an inotify watch for `mask` on `path`.
pub(crate) fn add_watch(ino: &OwnedFd, path: &Path, mask: u32) -> io::Result<i32> {
    let c = cpath(path)?;
    // SAFETY: c is a valid NUL-terminated string; ino is an inotify fd.
    let wd = unsafe { libc::inotify_add_watch(ino.as_raw_fd(), c.as_ptr(), mask) };
    if wd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(wd)
}

/// Read an eventfd's counter; 0 when it is not signalled.
pub(crate) fn read_eventfd(fd: &OwnedFd) -> io::Result<u64> {
    let mut v = [0u8; 8];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut v) {
            Ok(8) => return Ok(u64::from_ne_bytes(v)),
            Ok(_) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short read")),
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
    }
}

/// Drain a non-blocking inotify fd; returns the masks of the events read.
pub(crate) fn drain_inotify(fd: &OwnedFd) -> io::Result<Vec<(i32, u32)>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        let head = std::mem::size_of::<libc::inotify_event>();
        let mut off = 0;
        while off + head <= n {
            // SAFETY: the kernel wrote a whole inotify_event at off (checked against n);
            // read_unaligned copes with the byte buffer's alignment.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(buf[off..].as_ptr().cast()) };
            out.push((ev.wd, ev.mask));
            off += head + ev.len as usize;
        }
        if n == 0 {
            return Ok(out);
        }
    }
}

/// poll(2) one fd for `events`, waiting up to `timeout` (None: forever); the revents.
pub(crate) fn poll_one(
    fd: &OwnedFd,
    events: libc::c_short,
    timeout: Option<Duration>,
) -> io::Result<libc::c_short> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let ms = PollTimeout::try_from(timeout_ms(timeout)).unwrap_or(PollTimeout::NONE);
    loop {
        let mut p = [PollFd::new(
            fd.as_fd(),
            PollFlags::from_bits_truncate(events),
        )];
        match poll(&mut p, ms) {
            Ok(0) => return Ok(0),
            Ok(_) => return Ok(p[0].revents().map_or(0, |r| r.bits())),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// A timeout in milliseconds for poll/epoll_wait: -1 is forever; rounded up so a short
/// timeout does not become a busy 0.
pub(crate) fn timeout_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(d) => {
            let ms = d.as_micros().div_ceil(1000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

/// Write all of `data` to `fd` in one write(2).
pub(crate) fn write_fd(fd: &OwnedFd, data: &[u8]) -> io::Result<()> {
    let n = nix::unistd::write(fd, data)?;
    if n != data.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
    }
    Ok(())
}
