//! An OCI bundle: `config.json` loaded with oci-spec and validated, and its resolved rootfs.
//! Every error names the file and the field (and line/column for syntax errors).

use std::collections::HashSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The OCI runtime-spec version rt implements.
pub const OCI_VERSION: &str = "1.2.0";

use anyhow::{bail, Context};
use oci_spec::runtime::{LinuxNamespaceType, Spec};

pub const CONFIG_FILE: &str = "config.json";

pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    pub spec: Spec,
    /// config.json as read (rt create keeps a copy for rt exec).
    pub raw: Vec<u8>,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
}

impl Bundle {
    /// Loads `DIR/config.json` and validates what rt relies on.
    pub fn load(dir: &Path) -> anyhow::Result<Bundle> {
        let dir = real_path(dir).with_context(|| format!("bundle {}", dir.display()))?;
        let config = dir.join(CONFIG_FILE);
        let data = fs::read(&config).with_context(|| format!("{}", config.display()))?;
        Self::from_config(dir, &data)
    }

    /// Parses and validates `data` as the config.json of the bundle at `dir` (absolute).
    pub fn from_config(dir: PathBuf, data: &[u8]) -> anyhow::Result<Bundle> {
        let config = dir.join(CONFIG_FILE);
        let spec: Spec = serde_json::from_slice(data)
            .with_context(|| format!("{}: invalid config", config.display()))?;
        let rootfs = validate(&spec, &dir).with_context(|| format!("{}", config.display()))?;
        Ok(Bundle {
            dir,
            spec,
            raw: data.to_vec(),
            rootfs,
        })
    }

    pub fn namespaces(&self) -> &[oci_spec::runtime::LinuxNamespace] {
        namespaces_of(&self.spec)
    }

    pub fn has_namespace(&self, typ: LinuxNamespaceType) -> bool {
        has_namespace(&self.spec, typ)
    }
}

/// `path` with every symlink, `.` and `..` resolved, as `fs::canonicalize`, in three
/// system calls where realpath(3) takes two per component (two dozen for a bundle and its
/// rootfs): the kernel resolves it once, opening it, and /proc names what it opened.
fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let f = fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)?;
    match fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())) {
        // Not a path from our root (no /proc, deleted, outside a chroot): the slow way
        // says what is wrong.
        Ok(real)
            if real.is_absolute()
                && !real.as_os_str().as_encoded_bytes().ends_with(b" (deleted)") =>
        {
            Ok(real)
        }
        _ => fs::canonicalize(path),
    }
}

/// Whether the spec asks for a new namespace of type `typ` (listed without a path).
pub fn new_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces_of(spec)
        .iter()
        .any(|ns| ns.typ() == typ && ns.path().is_none())
}

/// `linux.namespaces` of `spec` (none listed: empty).
pub fn namespaces_of(spec: &Spec) -> &[oci_spec::runtime::LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_deref())
        .unwrap_or(&[])
}

/// Whether `spec` lists a namespace of type `typ`, new or joined.
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces_of(spec).iter().any(|ns| ns.typ() == typ)
}

fn is_absolute_clean(path: &Path) -> bool {
    path.is_absolute() && !path.components().any(|c| c == Component::ParentDir)
}

/// Checks the spec and returns the absolute rootfs path.
fn validate(spec: &Spec, dir: &Path) -> anyhow::Result<PathBuf> {
    let Some(root) = spec.root() else {
        bail!("root: missing");
    };
    let rootfs = dir.join(root.path());
    let meta = fs::metadata(&rootfs).with_context(|| format!("root.path {}", rootfs.display()))?;
    if !meta.is_dir() {
        bail!("root.path {}: not a directory", rootfs.display());
    }
    let rootfs = real_path(&rootfs).with_context(|| format!("root.path {}", rootfs.display()))?;

    let Some(process) = spec.process() else {
        bail!("process: missing");
    };
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => bail!("process.args: must name the program to run"),
    }
    if !process.cwd().is_absolute() {
        bail!("process.cwd {:?}: must be an absolute path", process.cwd());
    }
    if let Some(env) = process.env() {
        for (i, var) in env.iter().enumerate() {
            if !var.contains('=') || var.starts_with('=') {
                bail!("process.env[{i}] {var:?}: must be NAME=VALUE");
            }
        }
    }

    for (i, mount) in spec.mounts().as_deref().unwrap_or(&[]).iter().enumerate() {
        if !is_absolute_clean(mount.destination()) {
            bail!(
                "mounts[{i}].destination {:?}: must be an absolute path without \"..\"",
                mount.destination()
            );
        }
    }

    crate::hooks::validate(spec.hooks().as_ref())?;

    let Some(linux) = spec.linux() else {
        bail!("linux: missing (rt runs Linux containers)");
    };
    let mut seen = HashSet::new();
    for (i, ns) in linux
        .namespaces()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if !seen.insert(ns.typ()) {
            bail!(
                "linux.namespaces[{i}]: duplicate namespace type {:?}",
                ns.typ().to_string()
            );
        }
        match ns.typ() {
            // A namespace joined by path has its mappings already.
            LinuxNamespaceType::User if ns.path().is_some() => {
                for (field, maps) in [
                    ("linux.uidMappings", linux.uid_mappings()),
                    ("linux.gidMappings", linux.gid_mappings()),
                ] {
                    if maps.as_deref().is_some_and(|m| !m.is_empty()) {
                        bail!(
                            "{field}: a user namespace joined by path (linux.namespaces[{i}]) \
                             has its mappings already"
                        );
                    }
                }
            }
            LinuxNamespaceType::User => validate_id_mappings(linux)?,
            _ => {}
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                bail!("linux.namespaces[{i}].path {path:?}: must be an absolute path");
            }
        }
    }
    let has_new = |t| seen.contains(&t);
    if !has_new(LinuxNamespaceType::User) {
        for (field, maps) in [
            ("linux.uidMappings", linux.uid_mappings()),
            ("linux.gidMappings", linux.gid_mappings()),
        ] {
            if maps.as_deref().is_some_and(|m| !m.is_empty()) {
                bail!("{field}: mappings need a user namespace in linux.namespaces");
            }
        }
    }
    if let Some(resources) = linux.resources() {
        validate_resources(resources)?;
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty())
        && !has_new(LinuxNamespaceType::Uts)
    {
        bail!("hostname: setting a hostname needs a uts namespace in linux.namespaces");
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !has_new(LinuxNamespaceType::Uts)
    {
        bail!("domainname: setting a domainname needs a uts namespace in linux.namespaces");
    }
    if !has_new(LinuxNamespaceType::Mount) {
        // Without a mount namespace of its own the container's mounts are made in rt's
        // (and removed again by `rt delete`), and it is chroot'ed into root.path; masking
        // and read-only remounts would change that namespace: runc refuses them too.
        for (field, set) in [
            (
                "linux.maskedPaths",
                linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty()),
            ),
            (
                "linux.readonlyPaths",
                linux
                    .readonly_paths()
                    .as_ref()
                    .is_some_and(|p| !p.is_empty()),
            ),
            (
                "root.readonly",
                spec.root().as_ref().and_then(|r| r.readonly()) == Some(true),
            ),
        ] {
            if set {
                bail!("{field}: needs a mount namespace in linux.namespaces");
            }
        }
    }
    if let Some(prop) = linux.rootfs_propagation() {
        if ![
            "",
            "private",
            "rprivate",
            "slave",
            "rslave",
            "shared",
            "rshared",
            "unbindable",
            "runbindable",
        ]
        .contains(&prop.as_str())
        {
            bail!("linux.rootfsPropagation {prop:?}: unknown propagation mode");
        }
    }
    for (i, dev) in linux.devices().as_deref().unwrap_or(&[]).iter().enumerate() {
        let path = dev.path();
        if !is_absolute_clean(path) || !path.starts_with("/dev/") {
            bail!("linux.devices[{i}].path {path:?}: must be an absolute path under /dev");
        }
    }
    for (field, paths) in [
        ("linux.maskedPaths", linux.masked_paths()),
        ("linux.readonlyPaths", linux.readonly_paths()),
    ] {
        for (i, p) in paths.as_deref().unwrap_or(&[]).iter().enumerate() {
            if !is_absolute_clean(Path::new(p)) {
                bail!("{field}[{i}] {p:?}: must be an absolute path without \"..\"");
            }
        }
    }
    if let Some(sysctl) = linux.sysctl() {
        for key in sysctl.keys() {
            if key.is_empty() || key.contains("..") || key.starts_with('/') {
                bail!("linux.sysctl {key:?}: not a valid sysctl name");
            }
            check_sysctl_namespaced(linux, key)?;
        }
    }
    // linux.seccomp is checked when it is compiled (crate::seccomp::compile), in `create`.
    if let Some(offsets) = linux.time_offsets() {
        if !offsets.is_empty() && !new_namespace(spec, LinuxNamespaceType::Time) {
            bail!("linux.timeOffsets: needs a new time namespace in linux.namespaces");
        }
        for (clock, offset) in offsets {
            if clock != "monotonic" && clock != "boottime" {
                bail!("linux.timeOffsets {clock:?}: only monotonic and boottime have offsets");
            }
            if offset.nanosecs().unwrap_or(0) >= 1_000_000_000 {
                bail!("linux.timeOffsets.{clock}.nanosecs: must be below 1000000000");
            }
        }
    }
    crate::init::lsm::check(spec)?;
    if let Some(flags) = linux
        .personality()
        .as_ref()
        .and_then(|p| p.flags().as_deref())
        .filter(|f| !f.is_empty())
    {
        bail!("linux.personality.flags {flags:?}: no flags are supported");
    }
    if let Some(path) = linux.cgroups_path() {
        if path.components().any(|c| c == Component::ParentDir) {
            bail!("linux.cgroupsPath {path:?}: must not contain \"..\"");
        }
    }
    Ok(rootfs)
}

/// IPC sysctls of runc's validator (the ipc namespace has them, plus fs.mqueue.*).
const IPC_SYSCTLS: &[&str] = &[
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// A sysctl is written only when it belongs to a namespace that is the container's own (a
/// new one, or one joined by path that is not rt's): anything else would change the host's
/// kernel (`vm.*`, `kernel.core_pattern`, the host's `net.*`). runc's validator.
fn check_sysctl_namespaced(linux: &oci_spec::runtime::Linux, key: &str) -> anyhow::Result<()> {
    // "net/ipv4/ip_forward" is the same key as "net.ipv4.ip_forward".
    let dotted = key.replace('/', ".");
    let needs = if IPC_SYSCTLS.contains(&dotted.as_str()) || dotted.starts_with("fs.mqueue.") {
        (LinuxNamespaceType::Ipc, "ipc")
    } else if dotted.starts_with("net.") {
        (LinuxNamespaceType::Network, "net")
    } else if dotted == "kernel.hostname" || dotted == "kernel.domainname" {
        (LinuxNamespaceType::Uts, "uts")
    } else {
        bail!(
            "linux.sysctl {key:?}: not a namespaced sysctl: writing it would change the host's \
             kernel"
        );
    };
    let (typ, name) = needs;
    let ns = linux
        .namespaces()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|ns| ns.typ() == typ);
    match ns.map(|ns| ns.path()) {
        None => bail!(
            "linux.sysctl {key:?}: needs a {name} namespace of the container's own in \
             linux.namespaces (it would change the host's)"
        ),
        Some(None) => Ok(()),
        Some(Some(path)) => {
            use std::os::unix::fs::MetadataExt;
            let theirs = fs::metadata(path)
                .with_context(|| format!("linux.namespaces: {}", path.display()))?;
            let ours = fs::metadata(format!("/proc/self/ns/{name}"))
                .with_context(|| format!("/proc/self/ns/{name}"))?;
            if (theirs.dev(), theirs.ino()) == (ours.dev(), ours.ino()) {
                bail!(
                    "linux.sysctl {key:?}: the {name} namespace joined ({}) is the host's",
                    path.display()
                );
            }
            Ok(())
        }
    }
}

/// Limits the kernel would refuse or misread: -1 means unlimited, anything lower is an error;
/// weights and swappiness have their kernel ranges. Errors name the field and the value.
fn validate_resources(r: &oci_spec::runtime::LinuxResources) -> anyhow::Result<()> {
    let at_least_minus_one = |field: &str, v: Option<i64>| -> anyhow::Result<()> {
        match v {
            Some(v) if v < -1 => {
                bail!("linux.resources.{field} {v}: must be -1 (unlimited) or at least 0")
            }
            _ => Ok(()),
        }
    };
    if let Some(m) = r.memory() {
        at_least_minus_one("memory.limit", m.limit())?;
        at_least_minus_one("memory.reservation", m.reservation())?;
        at_least_minus_one("memory.swap", m.swap())?;
        at_least_minus_one("memory.kernel", m.kernel())?;
        at_least_minus_one("memory.kernelTCP", m.kernel_tcp())?;
        if let Some(v) = m.swappiness().filter(|v| *v > 100) {
            bail!("linux.resources.memory.swappiness {v}: must be between 0 and 100");
        }
    }
    if let Some(c) = r.cpu() {
        at_least_minus_one("cpu.quota", c.quota())?;
        at_least_minus_one("cpu.realtimeRuntime", c.realtime_runtime())?;
        // The kernel's CFS period range: 1 ms to 1 s (0: unset).
        if let Some(v) = c
            .period()
            .filter(|v| *v != 0 && !(1000..=1_000_000).contains(v))
        {
            bail!("linux.resources.cpu.period {v}: must be between 1000 and 1000000 (µs)");
        }
        if let Some(v) = c.shares().filter(|v| *v > 262_144) {
            bail!("linux.resources.cpu.shares {v}: must be at most 262144");
        }
    }
    if let Some(p) = r.pids() {
        at_least_minus_one("pids.limit", Some(p.limit()))?;
    }
    if let Some(b) = r.block_io() {
        for (field, w) in [("weight", b.weight()), ("leafWeight", b.leaf_weight())] {
            if let Some(v) = w.filter(|v| *v != 0 && !(10..=1000).contains(v)) {
                bail!("linux.resources.blockIO.{field} {v}: must be between 10 and 1000");
            }
        }
    }
    for (i, h) in r
        .hugepage_limits()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        if h.limit() < 0 {
            bail!(
                "linux.resources.hugepageLimits[{i}].limit {}: must not be negative",
                h.limit()
            );
        }
    }
    Ok(())
}

/// A new user namespace needs uid and gid mappings, each range non-empty and not overlapping.
fn validate_id_mappings(linux: &oci_spec::runtime::Linux) -> anyhow::Result<()> {
    for (field, maps) in [
        ("linux.uidMappings", linux.uid_mappings()),
        ("linux.gidMappings", linux.gid_mappings()),
    ] {
        let maps = maps.as_deref().unwrap_or(&[]);
        if maps.is_empty() {
            bail!("{field}: a user namespace needs at least one mapping");
        }
        for (i, m) in maps.iter().enumerate() {
            if m.size() == 0 {
                bail!("{field}[{i}]: size must not be 0");
            }
            for (j, other) in maps.iter().enumerate().skip(i + 1) {
                let overlap = |a: u32, b: u32| {
                    (a as u64) < b as u64 + other.size() as u64
                        && (b as u64) < a as u64 + m.size() as u64
                };
                if overlap(m.container_id(), other.container_id())
                    || overlap(m.host_id(), other.host_id())
                {
                    bail!("{field}[{i}] and [{j}]: ranges overlap");
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_path_resolves_as_canonicalize_does() {
        let base = std::env::temp_dir().join(format!("rt-realpath-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("a/b")).unwrap();
        std::os::unix::fs::symlink("a/b", base.join("link")).unwrap();
        for p in [
            base.join("link"),
            base.join("a/./b/../b"),
            base.join("link/../b"),
            base.clone(),
        ] {
            assert_eq!(
                real_path(&p).unwrap(),
                fs::canonicalize(&p).unwrap(),
                "{p:?}"
            );
        }
        assert_eq!(real_path(&base.join("link")).unwrap(), base.join("a/b"));
        let missing = real_path(&base.join("nope")).unwrap_err();
        assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
        fs::remove_dir_all(&base).unwrap();
    }
}
