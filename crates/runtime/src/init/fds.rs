//! File descriptors of the processes rt forks into a container (CVE-2024-21626 class): a
//! directory fd that rt's caller leaked to rt without close-on-exec must never be reachable
//! from the container, not even through `process.cwd: /proc/self/fd/N` before the exec.
//! So a child closes every fd that is neither stdio, nor a preserved one (`--preserve-fds`,
//! LISTEN_FDS), nor one of the few it needs itself, first thing after the fork; the ones it
//! opens afterwards are close-on-exec; just before the exec (and before any seccomp filter,
//! which might deny close_range) everything past the preserved range is marked
//! close-on-exec once more.
//!
//! The parent makes sure the preserved range holds the caller's fds, not rt's own: a range
//! with holes is filled with /dev/null before rt opens anything, so rt's lock or sync socket
//! can never land at a number that is passed on.

use std::io;
use std::os::fd::RawFd;

/// close_range(2) flag: mark close-on-exec instead of closing.
const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;

fn close_range(first: RawFd, last: RawFd, flags: libc::c_uint) -> io::Result<()> {
    // SAFETY: close_range only closes (or flags) fds of this process in the range; callers
    // never ask for a range that holds fds they still use.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first as libc::c_uint,
            last as libc::c_uint,
            flags,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The fds open in this process (from /proc/self/fd), for kernels without close_range.
fn open_fds() -> io::Result<Vec<RawFd>> {
    let mut fds = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd")? {
        if let Ok(fd) = entry?.file_name().to_string_lossy().parse::<RawFd>() {
            fds.push(fd);
        }
    }
    Ok(fds)
}

/// Closes every fd from `first` on except those in `keep`.
pub fn close_all_except(first: RawFd, keep: &[RawFd]) -> io::Result<()> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|&fd| fd >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut next = first;
    let mut result = Ok(());
    for &k in keep.iter().chain(std::iter::once(&RawFd::MAX)) {
        if k > next {
            let last = if k == RawFd::MAX { RawFd::MAX } else { k - 1 };
            result = result.and(close_range(next, last, 0));
        }
        next = k.saturating_add(1);
    }
    if result.is_err() {
        // Kernels before 5.9: one close(2) per open fd.
        for fd in open_fds()? {
            if fd >= first && keep.binary_search(&fd).is_err() {
                // SAFETY: closing an fd of ours that nothing uses.
                unsafe { libc::close(fd) };
            }
        }
    }
    Ok(())
}

/// Marks every fd from `first` on close-on-exec (fcntl per fd where close_range is
/// missing). Call before any seccomp filter: a profile may deny close_range.
pub fn cloexec_from(first: RawFd) -> io::Result<()> {
    if close_range(first, RawFd::MAX, CLOSE_RANGE_CLOEXEC).is_ok() {
        return Ok(());
    }
    for fd in open_fds()? {
        if fd >= first {
            set_cloexec(fd, true);
        }
    }
    Ok(())
}

/// Just before the exec: fds 3..3+`preserved` stay open across it, every later one closes.
pub fn set_cloexec_range(preserved: u32) -> anyhow::Result<()> {
    let first_closed = 3 + preserved as RawFd;
    for fd in 3..first_closed {
        set_cloexec(fd, false);
    }
    cloexec_from(first_closed).map_err(|e| anyhow::anyhow!("mark fds close-on-exec: {e}"))
}

/// Sets or clears FD_CLOEXEC; an fd that is not open is left alone.
pub fn set_cloexec(fd: RawFd, on: bool) {
    // SAFETY: fcntl on an fd number; failures (not open) are ignored.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            let new = if on {
                flags | libc::FD_CLOEXEC
            } else {
                flags & !libc::FD_CLOEXEC
            };
            libc::fcntl(fd, libc::F_SETFD, new);
        }
    }
}

/// Parent side: fds 3..3+`n` are what the container gets; any of them that is not open is
/// made /dev/null now, before rt opens an fd of its own that would take its number.
pub fn reserve_preserved(n: u32) -> io::Result<()> {
    for fd in 3..3 + n as RawFd {
        // SAFETY: F_GETFD only asks whether the fd is open.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let null = std::fs::File::options()
            .read(true)
            .write(true)
            .open("/dev/null")?;
        let null = std::os::fd::IntoRawFd::into_raw_fd(null);
        if null != fd {
            // SAFETY: dup2 onto a number that is free, then closing our temporary fd.
            unsafe {
                if libc::dup2(null, fd) < 0 {
                    let err = io::Error::last_os_error();
                    libc::close(null);
                    return Err(err);
                }
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// PR_SET_DUMPABLE: a non-dumpable process's /proc files belong to root and its memory and
/// `exe` cannot be opened by other processes of the same user (the container's).
pub fn set_dumpable(on: bool) {
    // SAFETY: prctl on our own process with constant arguments.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, libc::c_ulong::from(on), 0, 0, 0) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn closes_all_but_the_kept_ones() {
        // In a child, so the test harness's own fds are not touched.
        // SAFETY: fork in a test; the child only makes syscalls and _exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let a = std::fs::File::open("/dev/null").unwrap();
            let b = std::fs::File::open("/dev/null").unwrap();
            let c = std::fs::File::open("/dev/null").unwrap();
            let (a, b, c) = (a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd());
            close_all_except(3, &[b]).unwrap();
            // SAFETY: F_GETFD probes.
            let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
            let ok = !open(a) && open(b) && !open(c) && open(0);
            // SAFETY: leave the forked child at once.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waiting for our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    }
}
