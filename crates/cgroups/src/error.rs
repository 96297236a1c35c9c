//! The crate's error type: every variant names the file (and the value) involved.

use std::io;
use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong while talking to cgroupfs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Writing `value` to the cgroupfs file `path` failed.
    #[error("write {value:?} to {}: {source}", path.display())]
    Write {
        path: PathBuf,
        value: String,
        #[source]
        source: io::Error,
    },
    /// Reading the file `path` failed.
    #[error("read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The content of `path` could not be parsed.
    #[error("parse {}: unexpected content {value:?}", path.display())]
    Parse { path: PathBuf, value: String },
    /// Creating a cgroup directory failed.
    #[error("create cgroup directory {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Removing a cgroup directory failed.
    #[error("remove cgroup directory {}: {source}", path.display())]
    RemoveDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Listing a cgroup directory failed.
    #[error("list cgroup directory {}: {source}", path.display())]
    ReadDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The cgroup does not exist (in any hierarchy).
    #[error("cgroup {} does not exist", path.display())]
    NotFound { path: PathBuf },
    /// The cgroup path is not usable (relative components, `..`, empty child name...).
    #[error("invalid cgroup path {path:?}: {reason}")]
    InvalidPath { path: String, reason: &'static str },
    /// Where a cgroup should go cannot be decided (a malformed systemd cgroupsPath, a
    /// driver that cannot serve the caller).
    #[error("{0}")]
    Placement(String),
    /// No usable cgroup hierarchy was found in /proc/self/mountinfo.
    #[error("cgroup hierarchies: {0}")]
    Mounts(String),
    /// `/proc/PID/cgroup` could not be read or parsed.
    #[error("cgroup of pid {pid}: {reason}")]
    PidCgroup { pid: i32, reason: String },
    /// A resource was requested whose controller is not available.
    #[error("{controller} controller is not available here, but {needed_by} needs it")]
    ControllerMissing {
        controller: String,
        needed_by: String,
    },
    /// A resource value that cannot be expressed in this cgroup version.
    #[error("invalid {field} value {value}: {reason}")]
    InvalidValue {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    /// Something that only exists in the other cgroup version.
    #[error("{what} is not supported on cgroup {version}")]
    Unsupported {
        what: &'static str,
        version: &'static str,
    },
    /// The kernel did not reach a state in time.
    #[error("timed out after {waited_ms} ms waiting for {} to become {want:?} (last seen {last:?})", path.display())]
    Timeout {
        path: PathBuf,
        want: &'static str,
        last: String,
        waited_ms: u128,
    },
    /// Sending a signal failed.
    #[error("send SIGKILL to pid {pid}: {source}")]
    Kill {
        pid: i32,
        #[source]
        source: io::Error,
    },
    /// A syscall on an event source (eventfd, inotify, epoll, poll) failed.
    #[error("{call} on {}: {source}", path.display())]
    Event {
        call: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// Loading or attaching the v2 eBPF device program failed (`log`: the verifier's).
    #[error("bpf {op} for {}: {source}{}", path.display(), if log.is_empty() { String::new() } else { format!("; verifier log: {log}") })]
    Bpf {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
        log: String,
    },
    /// Device rules that cannot be expressed (e.g. a deny punching a hole in a wildcard allow).
    #[error("device rule {rule:?}: {reason}")]
    DeviceRule { rule: String, reason: String },
    /// A call to systemd (the systemd cgroup driver) failed.
    #[error("systemd {op}: {reason}")]
    Systemd { op: String, reason: String },
    /// Processes remained after every kill round.
    #[error("cgroup {} still has processes after {rounds} kill rounds: {pids:?}", path.display())]
    KillIncomplete {
        path: PathBuf,
        rounds: u32,
        pids: Vec<i32>,
    },
}

impl Error {
    /// True when the error is "file or directory does not exist".
    pub fn is_not_found(&self) -> bool {
        match self {
            Error::NotFound { .. } => true,
            Error::Write { source, .. }
            | Error::Read { source, .. }
            | Error::ReadDir { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}
