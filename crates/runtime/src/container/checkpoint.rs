//! `checkpoint`: CRIU dumps a running (or paused) container's process tree into image
//! files; the container is then gone (deleted as `rt delete --force` does) unless it was
//! left running or this was a pre-dump.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

use super::criu_spec;
use super::{Container, Status};
use crate::bundle::Bundle;
use crate::criu::rpc::{CgMode, Features, Opts, Req, ReqType};
use crate::criu::{self, Criu};
use crate::logging;
use crate::state::Store;

/// CRIU's log, in the work directory (else the image directory).
pub const DUMP_LOG: &str = "dump.log";

/// The options of `rt checkpoint` (runc's names).
pub struct CheckpointOptions<'a> {
    pub criu: &'a Criu,
    pub image_path: &'a Path,
    pub work_path: Option<&'a Path>,
    /// A previous pre-dump's image directory, relative to `image_path`.
    pub parent_path: Option<&'a Path>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub link_remap: bool,
    pub auto_dedup: bool,
    pub manage_cgroups_mode: Option<CgMode>,
}

/// Makes `dir` (and its parents) if missing, mode 0700, and opens it.
pub(super) fn open_dir(dir: &Path, flag: &str) -> anyhow::Result<File> {
    let what = || format!("{flag} {}", dir.display());
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(what)?;
    File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .with_context(what)
}

/// CRIU's configuration file for rt (`/etc/criu/rt.conf`, as runc's runc.conf), or the one the
/// container's annotation `org.criu.config` names (empty: none). CRIU ignores a missing one.
pub(super) fn config_file(annotations: impl Fn(&str) -> Option<String>) -> Option<String> {
    match annotations("org.criu.config") {
        Some(file) if file.is_empty() => None,
        Some(file) => Some(file),
        None => Some("/etc/criu/rt.conf".to_string()),
    }
}

pub fn checkpoint(store: &Store, id: &str, opts: &CheckpointOptions) -> anyhow::Result<()> {
    let container = Container::load(store, id)?;
    let status = container.status();
    if !matches!(status, Status::Running | Status::Paused) {
        bail!(
            "cannot checkpoint container {id}: container not running (it is {status}: only a \
             running or paused container can be checkpointed)"
        );
    }
    let pid = container.state.pid;
    let cgroup = container.require_cgroup()?;
    let bundle = Bundle::load(&container.state.bundle)
        .with_context(|| format!("container {id}: its bundle (CRIU is told about its mounts)"))?;
    if let Some(parent) = opts.parent_path {
        if parent.is_absolute() {
            bail!(
                "--parent-path {}: must be relative to --image-path",
                parent.display()
            );
        }
        // CRIU links `parent` in the image directory to it; the image directory may not
        // exist yet (it is made below), so resolve its `..` by name then.
        let real = if opts.image_path.is_dir() {
            opts.image_path.join(parent)
        } else {
            lexical_join(opts.image_path, parent)
        };
        if !real.is_dir() {
            bail!(
                "--parent-path {}: {} is not a directory (the images of a pre-dump)",
                parent.display(),
                real.display()
            );
        }
    }
    let images = open_dir(opts.image_path, "--image-path")?;
    let work = opts
        .work_path
        .map(|w| open_dir(w, "--work-path"))
        .transpose()?;
    let log = opts.work_path.unwrap_or(opts.image_path).join(DUMP_LOG);

    let dirs = cgroup.dirs();
    let freezer = dirs
        .iter()
        .find(|(name, _)| name.is_empty() || name.split(',').any(|n| n == "freezer"))
        .map(|(_, dir)| dir.to_string_lossy().into_owned());
    let mut o = Opts {
        images_dir_fd: images.as_raw_fd(),
        work_dir_fd: work.as_ref().map(|w| w.as_raw_fd()),
        pid: Some(pid),
        log_level: Some(4),
        log_file: Some(DUMP_LOG.into()),
        root: Some(container.state.rootfs.to_string_lossy().into_owned()),
        manage_cgroups: true,
        manage_cgroups_mode: opts.manage_cgroups_mode,
        notify_scripts: true,
        leave_running: opts.leave_running,
        tcp_established: opts.tcp_established,
        tcp_skip_in_flight: opts.tcp_skip_in_flight,
        ext_unix_sk: opts.ext_unix_sk,
        shell_job: opts.shell_job,
        file_locks: opts.file_locks,
        link_remap: opts.link_remap,
        auto_dedup: opts.auto_dedup,
        orphan_pts_master: true,
        // The freezer stops every task at once (no fork can slip through); CRIU thaws what
        // it leaves running.
        freeze_cgroup: freezer,
        external: criu_spec::external_namespaces(&bundle)?,
        config_file: config_file(|k| container.state.annotations.get(k).cloned()),
        ..Opts::default()
    };
    if let Some(parent) = opts.parent_path {
        o.parent_img = Some(parent.to_string_lossy().into_owned());
        o.track_mem = true;
    }
    // A pre-dump only copies memory: no need to describe the container.
    if !opts.pre_dump {
        for m in criu_spec::external_mounts(&bundle, &dirs) {
            o.ext_mnt.push((m.dest.clone(), m.dest));
        }
        for path in criu_spec::masked_files(&bundle.spec, pid) {
            o.ext_mnt.push((path, "/dev/null".into()));
        }
        let external = criu_spec::save_stdio(opts.image_path, pid)?;
        o.external.extend(external);
    }
    let what = if opts.pre_dump { "pre-dump" } else { "dump" };
    if opts.pre_dump {
        check_memory_tracking(opts.criu)?;
    }
    let typ = if opts.pre_dump {
        ReqType::PreDump
    } else {
        ReqType::Dump
    };
    let mut session = opts.criu.start()?;
    let result = session.call(&Req::new(typ, Some(o)), |_, _| Ok(()));
    // CRIU stays for more requests after a pre-dump; closing the socket ends it.
    let status = session.finish();
    if let Err(e) = result {
        let why = criu::log_error(&log).unwrap_or_else(|| format!("{e:#}"));
        bail!(
            "container {id}: criu {what} failed: {why} (log: {})",
            log.display()
        );
    }
    match status {
        Ok(s) if !s.success() && !opts.pre_dump => {
            bail!(
                "container {id}: criu {what} exited with {s} (log: {})",
                log.display()
            )
        }
        Err(e) => return Err(e).context("wait for criu"),
        _ => {}
    }
    logging::debug(&format!("container {id}: criu {what} done"));
    if opts.leave_running || opts.pre_dump {
        return Ok(());
    }
    // CRIU killed the container's processes: what is left is rt's.
    drop(container);
    super::delete(store, id, true)
        .with_context(|| format!("container {id}: delete it after the dump"))
}

/// `base/rel` with `.` and `..` taken by name.
fn lexical_join(base: &Path, rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in base.join(rel).components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// A pre-dump needs the kernel's memory change tracking (soft-dirty bits).
fn check_memory_tracking(criu: &Criu) -> anyhow::Result<()> {
    let mut session = criu.start()?;
    let req = Req {
        features: Some(Features {
            mem_track: Some(true),
            lazy_pages: None,
        }),
        ..Req::new(ReqType::FeatureCheck, None)
    };
    let resp = session
        .call(&req, |_, _| Ok(()))
        .context("criu feature check")?;
    if resp.features.and_then(|f| f.mem_track) == Some(false) {
        bail!("--pre-dump: this kernel cannot track memory changes (CRIU's mem_track feature)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_paths_resolve_by_name() {
        assert_eq!(
            lexical_join(Path::new("/a/b/images"), Path::new("../parent")),
            Path::new("/a/b/parent")
        );
        assert_eq!(
            lexical_join(Path::new("rel/images"), Path::new("./../../p")),
            Path::new("p")
        );
    }
}
