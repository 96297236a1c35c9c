//! The state store under `--root`: one directory per container holding `state.json`
//! (written atomically: temp file + rename) and the exec fifo; a per-container lock (flock
//! on the directory) serialises operations on one container.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const STATE_FILE: &str = "state.json";
/// The container's config.json as `rt create` read it (what `rt exec` builds on).
pub const CONFIG_COPY: &str = "config.json";
pub const EXEC_FIFO: &str = "exec.fifo";
/// The container's cgroup placement (JSON), written by `rt create` before it makes the
/// cgroup, so that `rt delete --force` finds the cgroup when state.json was never written
/// or is corrupt.
pub const CGROUP_MARKER: &str = "cgroup.json";
const MAX_ID_LEN: usize = 1024;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("invalid container id {0:?}: {1}")]
    InvalidId(String, &'static str),
    /// runc's words, which engines and their users match (e.g. Nomad's docker driver).
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container {0:?} does not exist")]
    NotFound(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("container {0:?} is incomplete (rt create did not finish): `rt delete --force` cleans it up")]
    Incomplete(String),
    #[error("{path}: corrupt state ({source}); `rt delete --force` cleans up what it can")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// 64 random bits (getrandom), for names nobody can predict.
pub fn random_u64() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: getrandom fills the local buffer of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n != buf.len() as isize {
        // Not reached on Linux >= 3.17; still unpredictable enough for a temp name.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_ne_bytes(buf)
}

/// Checks a container ID: `[A-Za-z0-9][A-Za-z0-9_.+-]*`, at most 1024 characters.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| Err(StoreError::InvalidId(id.to_string(), why));
    if id.is_empty() {
        return bad("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return bad("it is longer than 1024 characters");
    }
    let mut chars = id.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return bad("it must start with a letter or digit");
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c)) {
        return bad("only letters, digits and _ . + - are allowed");
    }
    Ok(())
}

/// What rt remembers about a container between commands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init; 0 once it is known to be gone.
    pub pid: i32,
    /// Start time of `pid` (field 22 of /proc/PID/stat), so a recycled pid is never ours.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub owner: String,
    /// Where the container's cgroup is and which driver manages it, as `rt create` decided
    /// ([`cgroups::Placement::resolve`]); every later command reads it from here. The state
    /// of a container made by an older rt (`cgroup_path`) reads as its placement.
    #[serde(alias = "cgroup_path", deserialize_with = "placement_or_legacy_path")]
    pub placement: cgroups::Placement,
    /// Whether the init joined an existing pid namespace or the host's (then `kill --all`
    /// style cleanup is needed on delete, as runc does).
    #[serde(default)]
    pub shared_pid_ns: bool,
    /// Without a mount namespace of its own, the container's mounts are made in rt's: the
    /// ids of the mounts that were at or under the rootfs before (the others are rt's, and
    /// `rt delete` removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts_before: Option<Vec<u64>>,
    /// The poststart and poststop hooks (run after `create`, when the bundle may be gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

/// A placement, or the `cgroup_path` an older rt recorded: a path (a systemd scope's has the
/// shape `.../X.slice/U.scope` and its slice), or empty for no cgroup.
fn placement_or_legacy_path<'de, D>(d: D) -> std::result::Result<cgroups::Placement, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use cgroups::{CgroupPath, Placement};
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Recorded {
        Placement(Placement),
        Path(PathBuf),
    }
    Ok(match Recorded::deserialize(d)? {
        Recorded::Placement(p) => p,
        Recorded::Path(p) if p.as_os_str().is_empty() => {
            Placement::None("no cgroup (recorded by an older rt)".to_string())
        }
        Recorded::Path(p) => legacy_systemd_scope(&p)
            .unwrap_or_else(|| Placement::Cgroupfs(CgroupPath::static_path(p))),
    })
}

/// The systemd placement of an older rt's path `/.../X.slice/U.scope`, on a machine run by
/// systemd (that rt told systemd containers by this shape).
fn legacy_systemd_scope(path: &Path) -> Option<cgroups::Placement> {
    let unit = path.file_name()?.to_str()?;
    if !unit.ends_with(".scope") || !cgroups::systemd::booted() {
        return None;
    }
    let parent = path.parent()?;
    let slice = match parent.file_name() {
        None => "-.slice".to_string(),
        Some(s) => s.to_str()?.to_string(),
    };
    let expanded = cgroups::systemd::expand_slice(&slice).ok()?;
    (Path::new(&expanded) == parent).then(|| cgroups::Placement::Systemd {
        slice,
        unit: unit.to_string(),
    })
}

/// The directory that holds all containers' state.
pub struct Store {
    root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    /// Creates the directory of a new container exclusively and locks it. The root and
    /// every container directory are 0700: only rt's own user reaches state files and
    /// exec fifos.
    pub fn create(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .map_err(io_err(&self.root))?;
        let path = self.root.join(id);
        match fs::DirBuilder::new().mode(0o700).create(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists(id.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        }
        ContainerDir::lock(id, path)
    }

    /// Opens and locks the directory of an existing container.
    pub fn open(&self, id: &str) -> Result<ContainerDir> {
        validate_id(id)?;
        let path = self.root.join(id);
        match ContainerDir::lock(id, path) {
            Err(StoreError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(id.to_string()))
            }
            other => other,
        }
    }

    /// Where the exec fifo of container `id` is (see [`ContainerDir::fifo_path`]).
    pub fn fifo_path(&self, id: &str) -> PathBuf {
        self.root.join(id).join(EXEC_FIFO)
    }

    /// The state of a container read without taking its lock (state.json is replaced
    /// atomically, so it is whole): for observers such as `rt monitor` that must never wait
    /// on a container being created or deleted.
    pub fn peek(&self, id: &str) -> Result<State> {
        validate_id(id)?;
        let path = self.root.join(id).join(STATE_FILE);
        let data = match crate::readfile::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(id.to_string()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt { path, source })
    }

    /// IDs of every container directory under the root, sorted.
    pub fn list(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(&self.root)(e)),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A locked container directory. The lock is released when this is dropped.
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    /// Held for its flock; released when dropped.
    _lock: Flock<File>,
}

impl ContainerDir {
    fn lock(id: &str, path: PathBuf) -> Result<ContainerDir> {
        let lock = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_err(&path))?;
        let lock =
            Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| io_err(&path)(e.into()))?;
        // The directory may have been removed (and even made again by another create)
        // while we waited for the lock: the lock only counts on the directory at `path`.
        let same = |meta: fs::Metadata| {
            use std::os::unix::fs::MetadataExt;
            lock.metadata()
                .is_ok_and(|l| l.dev() == meta.dev() && l.ino() == meta.ino())
        };
        if !fs::metadata(&path).is_ok_and(same) {
            return Err(StoreError::NotFound(id.to_string()));
        }
        Ok(ContainerDir {
            id: id.to_string(),
            path,
            _lock: lock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    pub fn load(&self) -> Result<State> {
        let path = self.path.join(STATE_FILE);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::Incomplete(self.id.clone()))
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&data).map_err(|source| StoreError::Corrupt { path, source })
    }

    /// Records the cgroup placement (see [`CGROUP_MARKER`]); one small write, no rename.
    pub fn save_cgroup_marker(&self, placement: &cgroups::Placement) -> Result<()> {
        let path = self.path.join(CGROUP_MARKER);
        let data = serde_json::to_vec(placement).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        fs::write(&path, data).map_err(io_err(&path))
    }

    /// The cgroup placement recorded by `rt create`: `Ok(None)` if it did not get that far.
    pub fn cgroup_marker(&self) -> Result<Option<cgroups::Placement>> {
        let path = self.path.join(CGROUP_MARKER);
        let data = match fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(&path)(e)),
        };
        serde_json::from_slice(&data)
            .map(Some)
            .map_err(|source| StoreError::Corrupt { path, source })
    }

    /// Writes state.json atomically (temp file, fsync-free rename: the store is on tmpfs).
    pub fn save(&self, state: &State) -> Result<()> {
        let path = self.path.join(STATE_FILE);
        let data = serde_json::to_vec(state).map_err(|source| StoreError::Corrupt {
            path: path.clone(),
            source,
        })?;
        self.write_atomic(STATE_FILE, &data)
    }

    /// Writes `name` in the container's directory: a private temp file (0600, created
    /// exclusively, no symlink followed), renamed into place.
    fn write_atomic(&self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.path.join(name);
        let tmp = self.path.join(format!(".{name}.tmp"));
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        file.write_all(data).map_err(io_err(&tmp))?;
        fs::rename(&tmp, &path).map_err(io_err(&path))
    }

    /// Keeps the container's config.json as created (see [`CONFIG_COPY`]).
    pub fn save_config(&self, data: &[u8]) -> Result<()> {
        self.write_atomic(CONFIG_COPY, data)
    }

    /// The config saved by [`ContainerDir::save_config`]: (its path, its bytes).
    pub fn load_config(&self) -> Result<(PathBuf, Vec<u8>)> {
        let path = self.path.join(CONFIG_COPY);
        let data = fs::read(&path).map_err(io_err(&path))?;
        Ok((path, data))
    }

    /// Removes the container's directory and everything in it.
    pub fn remove(self) -> Result<()> {
        match fs::remove_dir_all(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&self.path)(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_runc_style_ids() {
        for id in ["a", "abc-123", "x.y_z+1", "0", &"a".repeat(1024)] {
            assert!(validate_id(id).is_ok(), "{id} rejected");
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for id in [
            "",
            "../x",
            "a/b",
            ".",
            "..",
            "-a",
            "_a",
            "a b",
            "a\0",
            &"a".repeat(1025),
        ] {
            assert!(validate_id(id).is_err(), "{id:?} accepted");
        }
    }

    fn temp_root() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rt-state-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn create_is_exclusive_and_state_round_trips() {
        let root = temp_root();
        let store = Store::new(&root);
        let dir = store.create("c1").unwrap();
        assert!(matches!(store.create("c1"), Err(StoreError::Exists(_))));
        let state = State {
            id: "c1".into(),
            pid: 42,
            pid_start: 7,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "2026-01-01T00:00:00.000000000Z".into(),
            annotations: BTreeMap::from([("k".into(), "v".into())]),
            owner: String::new(),
            placement: cgroups::Placement::Cgroupfs(cgroups::CgroupPath::static_path("/rt/c1")),
            shared_pid_ns: false,
            mounts_before: None,
            hooks: None,
        };
        dir.save(&state).unwrap();
        let back = dir.load().unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(back.annotations["k"], "v");
        assert!(!dir.path().join(".state.json.tmp").exists());
        drop(dir);
        assert_eq!(store.list().unwrap(), vec!["c1".to_string()]);
        store.open("c1").unwrap().remove().unwrap();
        assert!(matches!(store.open("c1"), Err(StoreError::NotFound(_))));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn an_older_rts_cgroup_path_reads_as_the_placement() {
        use cgroups::{CgroupPath, Placement};
        let state = |cgroup: &str| {
            let json = format!(
                r#"{{"id":"c","pid":1,"pid_start":2,"bundle":"/b","rootfs":"/b/r",
                    "created":"x","cgroup_path":{cgroup}}}"#
            );
            serde_json::from_str::<State>(&json).unwrap().placement
        };
        assert_eq!(
            state(r#""/rt/c""#),
            Placement::Cgroupfs(CgroupPath::static_path("/rt/c"))
        );
        assert!(state(r#""""#).no_cgroup_reason().is_some());
        assert_eq!(
            state(r#"{"systemd":{"slice":"system.slice","unit":"rt-c.scope"}}"#),
            Placement::Systemd {
                slice: "system.slice".into(),
                unit: "rt-c.scope".into()
            }
        );
    }

    #[test]
    fn garbage_state_is_a_clear_error() {
        let root = temp_root().with_extension("garbage");
        let store = Store::new(&root);
        let dir = store.create("c2").unwrap();
        fs::write(dir.path().join(STATE_FILE), b"{\"id\": tru").unwrap();
        let err = dir.load().unwrap_err().to_string();
        assert!(
            err.contains("state.json") && err.contains("corrupt"),
            "{err}"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
