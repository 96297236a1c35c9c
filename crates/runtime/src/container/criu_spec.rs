//! What CRIU must be told about a container rt made, so that a restore rebuilds the same
//! container: the mounts whose source is outside the container (external mounts: the
//! spec's bind mounts, the host cgroup directories rt binds in, the masked files rt covers
//! with /dev/null, device nodes bound from the host), the namespaces given by path (kept
//! out of the images and joined again on restore), and the image files rt adds.
//!
//! As runc: at dump an external mount is named by its mountpoint (key = value = the path
//! in the container); at restore that name maps to the host path to bind there.

use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxNamespaceType, Mount, Spec};
use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;

/// runc's file in the image directory: what the init's stdin, stdout and stderr were
/// (readlink of /proc/PID/fd/0..2), so a restore can hand pipes over.
pub const DESCRIPTORS_FILE: &str = "descriptors.json";

/// Default device nodes every container gets (init/devices.rs makes them).
const DEFAULT_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
];

/// A mount CRIU must not dump: its mountpoint in the container and, for a restore, the
/// host path to bind there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalMount {
    pub dest: String,
    pub source: PathBuf,
}

fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .any(|o| o == "bind" || o == "rbind")
}

/// A spec path as its mountpoint in the container: symlinks resolved inside the rootfs, as
/// `rt create` resolved them when it mounted.
fn in_container(rootfs: &Path, dest: &Path) -> String {
    crate::init::path::secure_join(rootfs, dest)
        .ok()
        .and_then(|p| {
            p.strip_prefix(rootfs)
                .ok()
                .map(|rel| Path::new("/").join(rel))
        })
        .unwrap_or_else(|| dest.to_path_buf())
        .to_string_lossy()
        .into_owned()
}

/// The bind mounts of the spec, rt's cgroup binds (`cgroup_dirs`: the container's cgroup
/// directory in each hierarchy) and the default and spec device nodes.
pub fn external_mounts(bundle: &Bundle, cgroup_dirs: &[(String, PathBuf)]) -> Vec<ExternalMount> {
    let spec = &bundle.spec;
    let private_cgroupns = bundle.has_namespace(LinuxNamespaceType::Cgroup);
    let mut out = Vec::new();
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        let dest = in_container(&bundle.rootfs, m.destination());
        let typ = m.typ().as_deref().unwrap_or("");
        if typ == "cgroup" || typ == "cgroup2" {
            // init/cgroupfs.rs: v1 binds each hierarchy's directory into a tmpfs; v2 binds
            // the directory without a cgroup namespace (with one it mounts cgroup2 afresh,
            // which CRIU dumps itself).
            for (name, dir) in cgroup_dirs {
                if name.is_empty() && private_cgroupns {
                    continue;
                }
                let dest = if name.is_empty() {
                    dest.clone()
                } else {
                    format!("{}/{name}", dest.trim_end_matches('/'))
                };
                out.push(ExternalMount {
                    dest,
                    source: dir.clone(),
                });
            }
        } else if is_bind(m) {
            let source = m.source().clone().unwrap_or_default();
            let source = if source.is_relative() {
                bundle.dir.join(source)
            } else {
                source
            };
            out.push(ExternalMount { dest, source });
        }
    }
    let linux = spec.linux().as_ref();
    let devices = linux.and_then(|l| l.devices().as_deref()).unwrap_or(&[]);
    let paths = DEFAULT_DEVICES
        .iter()
        .map(PathBuf::from)
        .chain(devices.iter().map(|d| d.path().clone()));
    for path in paths {
        let dest = path.to_string_lossy().into_owned();
        if !out.iter().any(|m| m.dest == dest) {
            out.push(ExternalMount { dest, source: path });
        }
    }
    out
}

/// The masked paths that are files in the running container (`rt create` bound /dev/null
/// over them; directories got a tmpfs, which CRIU dumps).
pub fn masked_files(spec: &Spec, init_pid: i32) -> Vec<String> {
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_deref())
        .unwrap_or(&[]);
    masked
        .iter()
        .filter(|p| {
            let on_host = format!("/proc/{init_pid}/root/{}", p.trim_start_matches('/'));
            fs::metadata(on_host).is_ok_and(|m| !m.is_dir())
        })
        .cloned()
        .collect()
}

/// Whether the spec masks any path (a restore then maps /dev/null to the host's).
pub fn masks_paths(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().as_deref())
        .is_some_and(|m| !m.is_empty())
}

/// CRIU's name of a namespace type (runc's `NsName`).
fn ns_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// The key an external namespace has in the images (runc's: `extRootNetNS`, `extRootPidNS`).
fn external_key(typ: LinuxNamespaceType) -> String {
    let name = ns_name(typ);
    let mut title = name[..1].to_uppercase();
    title.push_str(&name[1..]);
    format!("extRoot{title}NS")
}

/// Dump: the network and pid namespaces given by path are external
/// (`net[INODE]:extRootNetNS`): CRIU leaves them out and expects them at restore.
pub fn external_namespaces(bundle: &Bundle) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for ns in bundle.namespaces() {
        let (typ, Some(path)) = (ns.typ(), ns.path()) else {
            continue;
        };
        if matches!(typ, LinuxNamespaceType::Network | LinuxNamespaceType::Pid) {
            let ino = fs::metadata(path)
                .with_context(|| format!("linux.namespaces: {}", path.display()))?
                .ino();
            out.push(format!("{}[{ino}]:{}", ns_name(typ), external_key(typ)));
        }
    }
    Ok(out)
}

/// Restore: how the namespaces given by path are entered again.
#[derive(Default)]
pub struct RestoreNamespaces {
    /// (key, fd) for CRIU's `inherit_fd`: the network and pid namespaces, opened without
    /// close-on-exec so that CRIU has them at the same numbers.
    pub inherit: Vec<(String, i32)>,
    /// (ns, path) for CRIU's `join_ns`: the others.
    pub join: Vec<(String, String)>,
    /// The open namespace files (kept until CRIU is done).
    pub files: Vec<File>,
}

pub fn restore_namespaces(bundle: &Bundle) -> anyhow::Result<RestoreNamespaces> {
    use std::os::fd::AsRawFd;
    let mut out = RestoreNamespaces::default();
    for (i, ns) in bundle.namespaces().iter().enumerate() {
        let (typ, Some(path)) = (ns.typ(), ns.path()) else {
            continue;
        };
        let what = || format!("linux.namespaces[{i}].path {}", path.display());
        match typ {
            LinuxNamespaceType::Network | LinuxNamespaceType::Pid => {
                // std opens close-on-exec; CRIU must inherit this one.
                let file = File::open(path).with_context(what)?;
                nix::fcntl::fcntl(
                    file.as_raw_fd(),
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )
                .with_context(what)?;
                out.inherit.push((external_key(typ), file.as_raw_fd()));
                out.files.push(file);
            }
            LinuxNamespaceType::Cgroup => {
                bail!(
                    "{}: CRIU cannot restore into a cgroup namespace given by path",
                    what()
                )
            }
            _ => {
                fs::metadata(path).with_context(what)?;
                out.join.push((
                    ns_name(typ).to_string(),
                    path.to_string_lossy().into_owned(),
                ));
            }
        }
    }
    Ok(out)
}

/// rt's file in the image directory: the init's stdio that were files or terminals from
/// outside the container (CRIU dumps them as external files, named by mount id and inode,
/// and a restore must hand them over).
pub const EXTERNAL_STDIO_FILE: &str = "rt-external-stdio.json";

/// One of the init's stdio that came from outside the container (not a pipe or socket).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalStdio {
    pub fd: i32,
    /// CRIU's name: `file[MNT_ID:INO]`, or `tty[RDEV:DEV]` for a terminal.
    pub key: String,
    /// The file's path on the host (reopened by the restore; unused for a terminal).
    pub path: String,
    /// Its open flags (access mode and O_APPEND are reused).
    pub flags: i32,
}

/// Dump: what the init's stdin, stdout and stderr are, in the two files a restore reads:
/// `descriptors.json` (runc's: readlink of each, so a pipe is `pipe:[INO]`) and rt's list
/// of the files and terminals among them that are not on the container's mounts (the host's
/// /dev/null of `rt run -d`, a log file, a terminal). Returns CRIU's `external` entries for
/// the latter: CRIU cannot dump those.
pub fn save_stdio(images: &Path, init_pid: i32) -> anyhow::Result<Vec<String>> {
    let mountinfo = fs::read_to_string(format!("/proc/{init_pid}/mountinfo"))
        .with_context(|| format!("read /proc/{init_pid}/mountinfo"))?;
    let mount_ids: Vec<&str> = mountinfo
        .lines()
        .filter_map(|l| l.split(' ').next())
        .collect();
    let mut links = Vec::new();
    let mut external: Vec<ExternalStdio> = Vec::new();
    for fd in 0..3 {
        let link = fs::read_link(format!("/proc/{init_pid}/fd/{fd}"))
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        links.push(link.clone());
        if !link.starts_with('/') {
            continue; // pipe:[..], socket:[..], anon_inode:..: CRIU handles them
        }
        let info = fs::read_to_string(format!("/proc/{init_pid}/fdinfo/{fd}")).unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
        };
        let Some(mnt_id) = field("mnt_id:") else {
            continue;
        };
        if mount_ids.contains(&mnt_id.as_str()) {
            continue; // on the container's own mounts: CRIU dumps it
        }
        let meta = fs::metadata(format!("/proc/{init_pid}/fd/{fd}"))
            .with_context(|| format!("stat /proc/{init_pid}/fd/{fd}"))?;
        let key = if is_tty(&meta) {
            format!("tty[{:x}:{:x}]", meta.rdev(), meta.dev())
        } else {
            let mnt: u64 = mnt_id.parse().unwrap_or(0);
            format!("file[{mnt:x}:{:x}]", meta.ino())
        };
        let flags = field("flags:")
            .and_then(|f| i32::from_str_radix(&f, 8).ok())
            .unwrap_or(libc::O_RDWR);
        external.push(ExternalStdio {
            fd,
            key,
            path: link,
            flags,
        });
    }
    let write = |name: &str, data: Vec<u8>| {
        let path = images.join(name);
        fs::write(&path, data).with_context(|| format!("write {}", path.display()))
    };
    write(
        DESCRIPTORS_FILE,
        serde_json::to_vec(&links).context("descriptors.json")?,
    )?;
    write(
        EXTERNAL_STDIO_FILE,
        serde_json::to_vec(&external).context("external stdio")?,
    )?;
    let mut keys: Vec<String> = Vec::new();
    for e in external {
        if !keys.contains(&e.key) {
            keys.push(e.key);
        }
    }
    Ok(keys)
}

/// A terminal CRIU knows as one (console, tty, pty slave).
fn is_tty(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let major = nix::sys::stat::major(meta.rdev());
    meta.file_type().is_char_device() && (major == 4 || major == 5 || (136..=143).contains(&major))
}

/// What a restore hands CRIU for the init's stdio.
pub struct InheritedStdio {
    /// (key, fd) for CRIU's `inherit_fd`.
    pub inherit: Vec<(String, i32)>,
    /// The files opened again for it, held open until this is dropped (after CRIU).
    pub _open: Vec<File>,
}

/// Restore: what takes the place of the init's stdio from outside the container, for CRIU's
/// `inherit_fd` (key, fd in CRIU, which inherits rt's fds): a pipe becomes rt's own stdin,
/// stdout or stderr, as runc does; so does a terminal; a file is opened again at its path
/// (as regular files go, CRIU then insists on the size it had at the dump). Missing files
/// (an image not made by rt) hand nothing over. The opened files must stay open until CRIU
/// is done.
pub fn inherited_stdio(images: &Path) -> anyhow::Result<InheritedStdio> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let read = |name: &str| -> anyhow::Result<Option<Vec<u8>>> {
        let path = images.join(name);
        match fs::read(&path) {
            Ok(data) => Ok(Some(data)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    };
    let mut inherit: Vec<(String, i32)> = Vec::new();
    let mut add = |key: String, fd: i32| {
        if !inherit.iter().any(|(k, _)| *k == key) {
            inherit.push((key, fd));
        }
    };
    if let Some(data) = read(DESCRIPTORS_FILE)? {
        let links: Vec<String> = serde_json::from_slice(&data)
            .with_context(|| format!("{}: not a JSON array of strings", DESCRIPTORS_FILE))?;
        for (link, fd) in links.into_iter().zip(0..3) {
            if link.contains("pipe:") {
                add(link, fd);
            }
        }
    }
    let mut files = Vec::new();
    if let Some(data) = read(EXTERNAL_STDIO_FILE)? {
        let external: Vec<ExternalStdio> = serde_json::from_slice(&data)
            .with_context(|| format!("{EXTERNAL_STDIO_FILE}: not rt's"))?;
        for e in external {
            if e.key.starts_with("tty[") {
                add(e.key, e.fd);
                continue;
            }
            let access = e.flags & libc::O_ACCMODE;
            // No close-on-exec: CRIU must inherit it.
            let file = File::options()
                .read(access != libc::O_WRONLY)
                .write(access != libc::O_RDONLY)
                .custom_flags(e.flags & libc::O_APPEND)
                .open(&e.path)
                .with_context(|| {
                    format!("the container's fd {} was {}: open it again", e.fd, e.path)
                })?;
            nix::fcntl::fcntl(
                file.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
            )
            .context("keep a stdio file open for criu")?;
            add(e.key, file.as_raw_fd());
            files.push(file);
        }
    }
    Ok(InheritedStdio {
        inherit,
        _open: files,
    })
}

/// Restore: makes the mountpoints the spec's mounts need in the rootfs (as `rt create`
/// does; a rootfs made afresh lacks them), except under a tmpfs of the spec, whose content
/// CRIU restores, and cgroup mounts (inside /sys).
pub fn make_mountpoints(bundle: &Bundle) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    let mounts = bundle.spec.mounts().as_deref().unwrap_or(&[]);
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    for (i, m) in mounts.iter().enumerate() {
        let dest = m.destination();
        let typ = m.typ().as_deref().unwrap_or("");
        if typ == "cgroup"
            || typ == "cgroup2"
            || tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t)
        {
            continue;
        }
        let what = || format!("mounts[{i}] {}", dest.display());
        let path = crate::init::path::secure_join(&bundle.rootfs, dest).with_context(what)?;
        if path.exists() {
            continue;
        }
        let file = is_bind(m)
            && m.source()
                .as_deref()
                .and_then(|s| fs::metadata(bundle.dir.join(s)).ok())
                .is_some_and(|meta| !meta.is_dir());
        let dir = if file {
            path.parent()
        } else {
            Some(path.as_path())
        };
        if let Some(dir) = dir {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(dir)
                .with_context(what)?;
        }
        if file {
            File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .with_context(what)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(config: serde_json::Value) -> (PathBuf, Bundle) {
        let dir = std::env::temp_dir().join(format!(
            "rt-criu-spec-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        fs::create_dir_all(dir.join("rootfs/etc")).unwrap();
        let data = serde_json::to_vec(&config).unwrap();
        let b = Bundle::from_config(dir.clone(), &data).unwrap();
        (dir, b)
    }

    #[test]
    fn bind_mounts_cgroup_binds_and_devices_are_external() {
        let (dir, b) = bundle(serde_json::json!({
            "ociVersion": "1.0.2",
            "root": { "path": "rootfs" },
            "process": { "args": ["sh"], "cwd": "/", "user": { "uid": 0, "gid": 0 } },
            "mounts": [
                { "destination": "/proc", "type": "proc", "source": "proc" },
                { "destination": "/data", "type": "bind", "source": "/srv/data" },
                { "destination": "/etc/x", "source": "x", "options": ["rbind", "ro"] },
                { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup" }
            ],
            "linux": { "namespaces": [{ "type": "mount" }] }
        }));
        let v1 = vec![
            (
                "memory".to_string(),
                PathBuf::from("/sys/fs/cgroup/memory/c"),
            ),
            (
                "cpu,cpuacct".to_string(),
                PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/c"),
            ),
        ];
        let ext = external_mounts(&b, &v1);
        let pairs: Vec<(&str, &Path)> = ext
            .iter()
            .map(|m| (m.dest.as_str(), m.source.as_path()))
            .collect();
        assert_eq!(
            &pairs[..4],
            &[
                ("/data", Path::new("/srv/data")),
                ("/etc/x", dir.join("x").as_path()),
                (
                    "/sys/fs/cgroup/memory",
                    Path::new("/sys/fs/cgroup/memory/c")
                ),
                (
                    "/sys/fs/cgroup/cpu,cpuacct",
                    Path::new("/sys/fs/cgroup/cpu,cpuacct/c")
                ),
            ]
        );
        assert_eq!(pairs[4], ("/dev/null", Path::new("/dev/null")));
        assert_eq!(ext.len(), 4 + DEFAULT_DEVICES.len());
        // v2 without a cgroup namespace: the directory is bound; with one, nothing.
        let v2 = vec![(String::new(), PathBuf::from("/sys/fs/cgroup/c"))];
        assert!(external_mounts(&b, &v2)
            .iter()
            .any(|m| m.dest == "/sys/fs/cgroup" && m.source == Path::new("/sys/fs/cgroup/c")));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn namespace_keys_are_runcs() {
        assert_eq!(external_key(LinuxNamespaceType::Network), "extRootNetNS");
        assert_eq!(external_key(LinuxNamespaceType::Pid), "extRootPidNS");
    }

    #[test]
    fn stdio_from_outside_is_handed_over() {
        let dir = std::env::temp_dir().join(format!("rt-criu-desc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let got = inherited_stdio(&dir).unwrap();
        assert!(got.inherit.is_empty() && got._open.is_empty());
        // The test runs in the mount namespace of its stdio: none is external.
        assert!(save_stdio(&dir, std::process::id() as i32)
            .unwrap()
            .is_empty());
        fs::write(
            dir.join(DESCRIPTORS_FILE),
            r#"["/dev/null","pipe:[123]","pipe:[123]"]"#,
        )
        .unwrap();
        let external = vec![
            ExternalStdio {
                fd: 0,
                key: "file[20:5]".into(),
                path: "/dev/null".into(),
                flags: libc::O_RDONLY,
            },
            ExternalStdio {
                fd: 2,
                key: "tty[8800:d]".into(),
                path: "/dev/pts/0".into(),
                flags: libc::O_RDWR,
            },
        ];
        fs::write(
            dir.join(EXTERNAL_STDIO_FILE),
            serde_json::to_vec(&external).unwrap(),
        )
        .unwrap();
        let InheritedStdio {
            inherit,
            _open: files,
        } = inherited_stdio(&dir).unwrap();
        assert_eq!(files.len(), 1);
        use std::os::fd::AsRawFd;
        assert_eq!(
            inherit,
            vec![
                ("pipe:[123]".to_string(), 1),
                ("file[20:5]".to_string(), files[0].as_raw_fd()),
                ("tty[8800:d]".to_string(), 2),
            ]
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
