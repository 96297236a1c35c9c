//! CRIU (checkpoint/restore in userspace), driven the way runc drives it: `criu swrk FD`
//! serves one RPC session over a SOCK_SEQPACKET socketpair, one protobuf message per packet
//! (see `rpc`). RPC rather than CRIU's command line because the session carries what the
//! command line cannot: CRIU's notifications while it works (`setup-namespaces` to run the
//! runtime hooks, `post-restore` with the restored init's pid, `orphan-pts-master` with a
//! terminal's new pty master passed as an fd), the images and work directories as rt's own
//! fds, and a structured answer (success, errno, CRIU's first error message).

pub mod rpc;

use std::ffi::OsString;
use std::fs;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::{anyhow, bail, Context};
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use self::rpc::{Notify, Req, Resp};
use crate::logging;

/// The default `--criu`: `criu`, looked up in $PATH.
pub const DEFAULT_BIN: &str = "criu";

/// The largest message CRIU sends (runc reads into 40 KiB; a response is far smaller).
const MAX_MESSAGE: usize = 64 * 1024;

/// A CRIU binary that `criu check` says works on this host.
#[derive(Debug, Clone)]
pub struct Criu {
    pub bin: PathBuf,
}

impl Criu {
    /// Finds CRIU (`given` if it has a `/`, else in $PATH) and runs `criu check`, once per
    /// boot and CRIU binary: a pass is remembered in `cache_dir` (rt's state root; `criu
    /// check` takes seconds on a slow machine). The error says in one line why
    /// checkpoint/restore cannot work here.
    pub fn probe(given: &Path, cache_dir: &Path) -> anyhow::Result<Criu> {
        if !nix::unistd::geteuid().is_root() {
            bail!(
                "CRIU needs root: rt runs as uid {} (rootless checkpoint/restore is not supported)",
                nix::unistd::geteuid()
            );
        }
        let bin = find(given).ok_or_else(|| {
            anyhow!(
                "{} not found: checkpoint/restore need CRIU (install the criu package, or \
                 give its path with --criu)",
                if given.as_os_str().as_encoded_bytes().contains(&b'/') {
                    given.display().to_string()
                } else {
                    format!("{} (in $PATH)", given.display())
                }
            )
        })?;
        let stamp = check_stamp(&bin);
        let cache = cache_dir.join(CHECK_CACHE);
        if stamp.is_some() && fs::read_to_string(&cache).ok() == stamp {
            logging::debug(&format!(
                "{} check: passed before on this boot",
                bin.display()
            ));
            return Ok(Criu { bin });
        }
        let out = Command::new(&bin)
            .arg("check")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("run {} check", bin.display()))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr).into_owned()
                + &String::from_utf8_lossy(&out.stdout);
            let why = check_failure(&text).unwrap_or_else(|| out.status.to_string());
            bail!(
                "CRIU cannot work on this host: `{} check` failed: {why} (CRIU {}, kernel {})",
                bin.display(),
                version_of(&bin).unwrap_or_else(|| "of unknown version".into()),
                kernel_release()
            );
        }
        logging::debug(&format!("{} check: ok", bin.display()));
        if let Some(stamp) = stamp {
            // Best effort, and only in a state root that exists: without it the next
            // command checks again.
            let tmp = cache_dir.join(format!("{CHECK_CACHE}.{}", std::process::id()));
            if fs::write(&tmp, stamp).is_ok() {
                let _ = fs::rename(&tmp, &cache);
            }
            let _ = fs::remove_file(&tmp);
        }
        Ok(Criu { bin })
    }

    /// Starts `criu swrk` for a dump: stdin, stdout and stderr /dev/null.
    pub fn start(&self) -> anyhow::Result<Session> {
        self.spawn(false)
    }

    /// Starts `criu swrk` for a restore: CRIU gets rt's stdin, stdout and stderr, which it
    /// hands to the restored process where the dumped one had stdio from outside.
    pub fn start_with_stdio(&self) -> anyhow::Result<Session> {
        self.spawn(true)
    }

    fn spawn(&self, inherit_stdio: bool) -> anyhow::Result<Session> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .context("socketpair for criu swrk")?;
        // CRIU's end crosses exec; rt forks nothing else while it is open.
        fcntl(theirs.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::empty()))
            .context("socketpair for criu swrk")?;
        let stdio = || {
            if inherit_stdio {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(&self.bin)
            .arg("swrk")
            .arg(theirs.as_raw_fd().to_string())
            .stdin(stdio())
            .stdout(stdio())
            .stderr(stdio())
            .spawn()
            .with_context(|| format!("run {} swrk", self.bin.display()));
        drop(theirs);
        Ok(Session {
            child: Some(child?),
            sock: Some(ours),
        })
    }
}

/// Where a passed `criu check` is remembered, in rt's state root (not a valid container ID).
const CHECK_CACHE: &str = ".criu-check";

/// What a passed `criu check` holds for: this boot (the kernel and its modules) and this
/// CRIU binary (path, inode, size, modification time).
fn check_stamp(bin: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let m = fs::metadata(bin).ok()?;
    Some(format!(
        "boot {}\ncriu {} {}:{} {} {}.{}\n",
        boot.trim(),
        bin.display(),
        m.dev(),
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    ))
}

/// `given` when it is a path, else the first executable `given` in $PATH.
fn find(given: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if given.as_os_str().as_encoded_bytes().contains(&b'/') {
        return Some(given.to_path_buf()).filter(|p| executable(p));
    }
    let path = std::env::var_os("PATH")
        .unwrap_or_else(|| OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"));
    std::env::split_paths(&path)
        .map(|dir| dir.join(given))
        .find(|p| executable(p))
}

/// The telling line of a failed `criu check`: its first error that is not a helper's exit
/// status, without CRIU's `Error (file:line): ` prefix.
fn check_failure(output: &str) -> Option<String> {
    let errors: Vec<&str> = output
        .lines()
        .filter_map(|l| l.split_once("Error (").map(|(_, rest)| rest))
        .filter_map(|l| l.split_once("): ").map(|(_, msg)| msg.trim()))
        .collect();
    errors
        .iter()
        .find(|m| !m.starts_with("exited, status"))
        .or(errors.first())
        .map(|m| m.to_string())
        .or_else(|| {
            output
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(String::from)
        })
}

/// `criu --version`'s version, e.g. "3.17.1".
fn version_of(bin: &Path) -> Option<String> {
    let out = Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// One `criu swrk` process and rt's end of its socket. Dropping it closes the socket (CRIU
/// then gives up what it was doing) and waits for CRIU.
pub struct Session {
    child: Option<Child>,
    sock: Option<OwnedFd>,
}

impl Session {
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `req` and answers CRIU's notifications with `notify` (the notification and the
    /// fd it carried, if any) until the final answer, which is returned when it says success.
    pub fn call(
        &mut self,
        req: &Req,
        mut notify: impl FnMut(&Notify, Option<OwnedFd>) -> anyhow::Result<()>,
    ) -> anyhow::Result<Resp> {
        self.send(&req.encode())?;
        loop {
            let (data, fd) = self.recv()?;
            if data.is_empty() {
                let status = self.finish();
                bail!(
                    "criu exited without an answer ({})",
                    status.map_or_else(|e| e.to_string(), |s| s.to_string())
                );
            }
            let resp = Resp::decode(&data).context("a message from criu")?;
            if !resp.success {
                let mut why = String::from("criu failed");
                if let Some(msg) = resp.cr_errmsg.as_deref().filter(|m| !m.is_empty()) {
                    why = format!("{why}: {}", msg.trim());
                }
                if let Some(errno) = resp.cr_errno.filter(|e| *e != 0) {
                    why = format!("{why} ({})", nix::errno::Errno::from_raw(errno).desc());
                }
                bail!(why);
            }
            if resp.req_type() != Some(rpc::ReqType::Notify) {
                return Ok(resp);
            }
            let n = resp
                .notify
                .as_ref()
                .context("criu sent a notification without its content")?;
            logging::debug(&format!("criu notification {} (pid {:?})", n.script, n.pid));
            notify(n, fd).with_context(|| format!("criu notification {}", n.script))?;
            self.send(&Req::notify_ack().encode())?;
        }
    }

    /// Closes the socket and waits for CRIU to exit.
    pub fn finish(&mut self) -> io::Result<ExitStatus> {
        self.sock = None;
        match self.child.take() {
            Some(mut child) => child.wait(),
            None => Err(io::Error::other("criu was already waited for")),
        }
    }

    fn sock(&self) -> io::Result<RawFd> {
        self.sock
            .as_ref()
            .map(|s| s.as_raw_fd())
            .ok_or_else(|| io::Error::other("the criu session is closed"))
    }

    fn send(&self, data: &[u8]) -> anyhow::Result<()> {
        let iov = [IoSlice::new(data)];
        sendmsg::<()>(self.sock()?, &iov, &[], MsgFlags::MSG_NOSIGNAL, None)
            .context("send a request to criu")?;
        Ok(())
    }

    /// One message and the fd it carried; an empty message: CRIU closed the socket.
    fn recv(&self) -> anyhow::Result<(Vec<u8>, Option<OwnedFd>)> {
        let sock = self.sock()?;
        let mut buf = vec![0u8; MAX_MESSAGE];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg =
                match recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    other => other.context("read from criu")?,
                };
            let mut fd = None;
            for cmsg in msg.cmsgs().context("read from criu")? {
                if let ControlMessageOwned::ScmRights(fds) = cmsg {
                    for (i, &raw) in fds.iter().enumerate() {
                        // SAFETY: the kernel just installed these fds in rt.
                        let owned = unsafe { OwnedFd::from_raw_fd(raw) };
                        if i == 0 && fd.is_none() {
                            fd = Some(owned);
                        }
                    }
                }
            }
            let n = msg.bytes;
            if n >= MAX_MESSAGE {
                bail!("a message from criu is larger than {MAX_MESSAGE} bytes");
            }
            buf.truncate(n);
            return Ok((buf, fd));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.child.is_some() {
            let _ = self.finish();
        }
    }
}

/// The most telling error of a CRIU log: its first `Error` line that is neither a probe of
/// an optional kernel feature CRIU logs as an error and goes on without (tun) nor the
/// closing "Dumping FAILED." / "Restoring FAILED.", without the `(timestamp) Error
/// (file:line): ` prefix.
pub fn log_error(log: &Path) -> Option<String> {
    let text = fs::read_to_string(log).ok()?;
    let errors: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once("Error (").map(|(_, rest)| rest))
        .filter_map(|l| l.split_once("): ").map(|(_, msg)| msg.trim()))
        .collect();
    let telling = |m: &&&str| {
        !m.ends_with("FAILED.") && !m.starts_with("tun: ") && !m.starts_with("exited, status")
    };
    errors
        .iter()
        .find(telling)
        .or(errors.first())
        .map(|m| m.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_cause_of_a_failed_criu_check() {
        // Debian's CRIU 3.17 on kernel 6.18.
        let out = "Error (criu/util.c:642): exited, status=1\n\
                   Error (criu/util.c:642): exited, status=1\n\
                   Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds\n\
                   Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n\
                   Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.\n";
        assert_eq!(
            check_failure(out).as_deref(),
            Some("vdso: Unexpected rt vDSO area bounds")
        );
        assert_eq!(
            check_failure("something odd\n").as_deref(),
            Some("something odd")
        );
        assert_eq!(check_failure(""), None);
    }

    #[test]
    fn picks_the_telling_error_of_a_log() {
        let dir = std::env::temp_dir().join(format!("rt-criu-log-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("dump.log");
        fs::write(
            &log,
            "(00.001) Version: 3.17.1\n\
             (00.012) Error (criu/tun.c:85): tun: Unable to create tun: No such file or directory\n\
             (00.300) Error (criu/mount.c:1106): mnt: Mount 55 ./data (master_id: 0 shared_id: 0) has unreachable sharing. Try --enable-external-masters.\n\
             (00.301) Error (criu/cr-dump.c:2099): Dumping FAILED.\n",
        )
        .unwrap();
        assert_eq!(
            log_error(&log).as_deref(),
            Some(
                "mnt: Mount 55 ./data (master_id: 0 shared_id: 0) has unreachable sharing. \
                 Try --enable-external-masters."
            )
        );
        fs::write(
            &log,
            "(00.1) Error (criu/cr-restore.c:2300): Restoring FAILED.\n",
        )
        .unwrap();
        assert_eq!(log_error(&log).as_deref(), Some("Restoring FAILED."));
        fs::write(&log, "(00.1) all fine\n").unwrap();
        assert_eq!(log_error(&log), None);
        assert_eq!(log_error(&dir.join("missing.log")), None);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_binary_is_not_found() {
        assert_eq!(find(Path::new("/nonexistent/criu")), None);
        assert_eq!(find(Path::new("rt-no-such-criu-binary")), None);
        assert_eq!(find(Path::new("/bin/sh")), Some(PathBuf::from("/bin/sh")));
    }
}
