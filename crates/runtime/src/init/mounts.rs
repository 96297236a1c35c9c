//! The spec's `mounts`: option parsing and mounting inside the rootfs, before pivot_root.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::Mount;

use super::cgroupfs::CgroupSources;
use super::path::secure_join;

/// Mount flags and data parsed from an OCI mount's `options`.
#[derive(Debug, PartialEq, Eq)]
pub struct MountOptions {
    pub flags: MsFlags,
    /// Flags to clear (e.g. `rw` clears MS_RDONLY); kept for remounts.
    pub cleared: MsFlags,
    pub propagation: MsFlags,
    pub data: Vec<String>,
    /// `tmpcopyup`: a tmpfs starts with a copy of the directory it covers.
    pub copyup: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            propagation: MsFlags::empty(),
            data: Vec::new(),
            copyup: false,
        }
    }
}

impl MountOptions {
    pub fn parse(options: &[String]) -> MountOptions {
        let mut out = MountOptions::default();
        for opt in options {
            let (set, flag) = match opt.as_str() {
                "ro" => (true, MsFlags::MS_RDONLY),
                "rw" => (false, MsFlags::MS_RDONLY),
                "nosuid" => (true, MsFlags::MS_NOSUID),
                "suid" => (false, MsFlags::MS_NOSUID),
                "nodev" => (true, MsFlags::MS_NODEV),
                "dev" => (false, MsFlags::MS_NODEV),
                "noexec" => (true, MsFlags::MS_NOEXEC),
                "exec" => (false, MsFlags::MS_NOEXEC),
                "sync" => (true, MsFlags::MS_SYNCHRONOUS),
                "async" => (false, MsFlags::MS_SYNCHRONOUS),
                "dirsync" => (true, MsFlags::MS_DIRSYNC),
                "remount" => (true, MsFlags::MS_REMOUNT),
                "mand" => (true, MsFlags::MS_MANDLOCK),
                "nomand" => (false, MsFlags::MS_MANDLOCK),
                "atime" => (false, MsFlags::MS_NOATIME),
                "noatime" => (true, MsFlags::MS_NOATIME),
                "diratime" => (false, MsFlags::MS_NODIRATIME),
                "nodiratime" => (true, MsFlags::MS_NODIRATIME),
                "relatime" => (true, MsFlags::MS_RELATIME),
                "norelatime" => (false, MsFlags::MS_RELATIME),
                "strictatime" => (true, MsFlags::MS_STRICTATIME),
                "nostrictatime" => (false, MsFlags::MS_STRICTATIME),
                "bind" => (true, MsFlags::MS_BIND),
                "rbind" => (true, MsFlags::MS_BIND | MsFlags::MS_REC),
                "private" | "rprivate" | "shared" | "rshared" | "slave" | "rslave"
                | "unbindable" | "runbindable" => {
                    out.propagation |= propagation_flags(opt).unwrap_or(MsFlags::empty());
                    continue;
                }
                // Options of other runtimes that carry no meaning here.
                "tmpcopyup" => {
                    out.copyup = true;
                    continue;
                }
                "idmap" | "ridmap" | "copy-symlink" | "z" | "Z" => continue,
                other => {
                    out.data.push(other.to_string());
                    continue;
                }
            };
            if set {
                out.flags |= flag;
                out.cleared &= !flag;
            } else {
                out.flags &= !flag;
                out.cleared |= flag;
            }
        }
        out
    }

    pub fn is_bind(&self) -> bool {
        self.flags.contains(MsFlags::MS_BIND)
    }
}

/// Propagation flags of a mode name (`rslave`, `private`, ...).
pub fn propagation_flags(mode: &str) -> Option<MsFlags> {
    Some(match mode {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// Creates `path` (a directory, or an empty file when `file` is set) and its parents,
/// all inside the rootfs the path was securely joined to.
pub fn create_mountpoint(path: &Path, file: bool) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = if file { path.parent() } else { Some(path) };
    if let Some(dir) = dir {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
    }
    if file {
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
    }
    Ok(())
}

/// Mounts one spec mount under `rootfs`. `index` names it in errors.
pub fn mount_entry(
    rootfs: &Path,
    index: usize,
    m: &Mount,
    cgroup_sources: &CgroupSources,
) -> anyhow::Result<()> {
    let what = format!(
        "mounts[{index}] {} ({})",
        m.destination().display(),
        m.typ().as_deref().unwrap_or("bind")
    );
    mount_one(rootfs, m, cgroup_sources).with_context(|| what)
}

fn mount_one(rootfs: &Path, m: &Mount, cgroup_sources: &CgroupSources) -> anyhow::Result<()> {
    let opts = MountOptions::parse(m.options().as_deref().unwrap_or(&[]));
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = secure_join(rootfs, m.destination())?;
    // A symlink such as `/proc -> /` must not turn a mount into one over the whole rootfs.
    if dest == rootfs {
        bail!("destination resolves to the rootfs itself (through a symlink in the rootfs)");
    }
    if typ == "cgroup" || typ == "cgroup2" {
        return super::cgroupfs::mount_cgroup(&dest, &opts, cgroup_sources);
    }
    let bind = opts.is_bind() || typ == "bind";
    let source: Option<PathBuf> = m.source().clone();
    if bind {
        let Some(src) = source.as_deref() else {
            bail!("source: a bind mount needs a source");
        };
        let meta = fs::metadata(src).with_context(|| format!("source {}", src.display()))?;
        create_mountpoint(&dest, !meta.is_dir())?;
        let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
        mount(Some(src), &dest, None::<&str>, flags, None::<&str>)
            .with_context(|| format!("bind {} on {}", src.display(), dest.display()))?;
        // Bind mounts take their flags only from a remount.
        let extra = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            remount(&dest, extra | MsFlags::MS_BIND)?;
        }
    } else if typ == "tmpfs" {
        // As runc: only a directory that was already there lends its mode to the tmpfs.
        let inherit_mode = dest.is_dir();
        create_mountpoint(&dest, false)?;
        let source = m
            .source()
            .as_deref()
            .and_then(|s| s.to_str())
            .unwrap_or("tmpfs");
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        let tmpfs = super::tmpfs::Tmpfs {
            source,
            flags,
            data: opts.data.clone(),
            inherit_mode,
            copyup: opts.copyup,
        };
        tmpfs.mount(&dest)?;
    } else {
        create_mountpoint(&dest, false)?;
        let data = opts.data.join(",");
        let flags = opts.flags & !MsFlags::MS_REMOUNT;
        let src = source
            .as_deref()
            .map(|s| s.as_os_str().to_owned())
            .unwrap_or_else(|| typ.into());
        let fstype = if typ.is_empty() { None } else { Some(typ) };
        let result = mount(
            Some(src.as_os_str()),
            &dest,
            fstype,
            flags,
            Some(data.as_str()),
        );
        match result {
            Ok(()) => {}
            // sysfs cannot be mounted without a private network namespace: bind it, as runc.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
                mount(
                    Some("/sys"),
                    &dest,
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .context("bind /sys")?;
                remount(&dest, (flags & !MsFlags::MS_REC) | MsFlags::MS_BIND)?;
            }
            Err(e) => return Err(e).with_context(|| format!("mount {} options {:?}", typ, data)),
        }
    }
    if !opts.propagation.is_empty() {
        mount(
            None::<&str>,
            &dest,
            None::<&str>,
            opts.propagation,
            None::<&str>,
        )
        .context("set propagation")?;
    }
    Ok(())
}

/// Remounts a mount point with `flags`, keeping the locked flags the kernel insists on
/// (nosuid/nodev/noexec/atime flags already set on the mount).
pub fn remount(dest: &Path, flags: MsFlags) -> anyhow::Result<()> {
    let keep = current_flags(dest).unwrap_or(MsFlags::empty());
    mount(
        None::<&str>,
        dest,
        None::<&str>,
        flags | keep | MsFlags::MS_REMOUNT,
        None::<&str>,
    )
    .with_context(|| format!("remount {} ({:?})", dest.display(), flags))
}

/// Mount flags of the mount at `path`, from statvfs.
fn current_flags(path: &Path) -> Option<MsFlags> {
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let f = st.flags();
    use nix::sys::statvfs::FsFlags;
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    Some(out & !MsFlags::MS_RDONLY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        MountOptions::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_flags_data_and_propagation() {
        let o = parse(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]);
        assert_eq!(
            o.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY
        );
        assert_eq!(o.data, vec!["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, MsFlags::MS_SLAVE | MsFlags::MS_REC);
    }

    #[test]
    fn later_options_override_earlier_ones() {
        let o = parse(&["ro", "rw", "rbind"]);
        assert!(!o.flags.contains(MsFlags::MS_RDONLY));
        assert!(o.cleared.contains(MsFlags::MS_RDONLY));
        assert!(o.is_bind());
        assert!(o.flags.contains(MsFlags::MS_REC));
    }
}
