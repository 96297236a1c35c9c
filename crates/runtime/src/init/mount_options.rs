//! A spec mount's `options`, parsed into what the new mount API takes: attributes of the
//! mount itself, recursive attributes (`rro`, `rnosuid`, ... of runtime-spec 1.1, applied
//! with AT_RECURSIVE), propagation, superblock flags and filesystem options.
//!
//! An option rt does not know is a filesystem option of a new mount (tmpfs `size=`, devpts
//! `ptmxmode=`); on a bind mount there is no filesystem to take it, so it is an error, never
//! silently dropped.

use rustix::mount::MountAttrFlags as A;

use super::mount_api::{FsOption, MountAttr};

/// What the options of one mount ask for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MountOptions {
    /// `bind` or `rbind`.
    pub bind: bool,
    /// `rbind`: the submounts of the source come along.
    pub recursive_bind: bool,
    /// Attributes of the mount itself.
    pub attr: MountAttr,
    /// Attributes of the mount and every mount below it.
    pub recursive_attr: MountAttr,
    /// MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE (0: none), and whether `r...`.
    pub propagation: u64,
    pub recursive_propagation: bool,
    /// Superblock flags of a new filesystem (`sync`, `dirsync`, `mand`, `lazytime`).
    pub sb_flags: Vec<&'static str>,
    /// Filesystem options of a new filesystem, in order.
    pub data: Vec<FsOption>,
    /// `tmpcopyup`: a tmpfs starts with a copy of the directory it covers.
    pub copyup: bool,
    /// `idmap` / `ridmap`: the bind takes the mount's uid/gid mappings.
    pub idmap: bool,
    pub recursive_idmap: bool,
    /// Indices of options that are not mount flags (filesystem options), for errors.
    pub unknown: Vec<usize>,
}

/// One flag option: the attribute bits it sets (`set`) or clears, as a group `mask` (the
/// atime options replace one another).
struct Flag {
    name: &'static str,
    recursive: bool,
    set: A,
    clear: A,
}

const fn f(name: &'static str, recursive: bool, set: A, clear: A) -> Flag {
    Flag {
        name,
        recursive,
        set,
        clear,
    }
}

const E: A = A::empty();
const ATIME: A = A::MOUNT_ATTR__ATIME;

/// Mount attribute options, plain and recursive (runc's and runtime-spec 1.1's names).
const FLAGS: &[Flag] = &[
    f("ro", false, A::MOUNT_ATTR_RDONLY, E),
    f("rw", false, E, A::MOUNT_ATTR_RDONLY),
    f("nosuid", false, A::MOUNT_ATTR_NOSUID, E),
    f("suid", false, E, A::MOUNT_ATTR_NOSUID),
    f("nodev", false, A::MOUNT_ATTR_NODEV, E),
    f("dev", false, E, A::MOUNT_ATTR_NODEV),
    f("noexec", false, A::MOUNT_ATTR_NOEXEC, E),
    f("exec", false, E, A::MOUNT_ATTR_NOEXEC),
    f("noatime", false, A::MOUNT_ATTR_NOATIME, ATIME),
    f("atime", false, A::MOUNT_ATTR_RELATIME, ATIME),
    f("relatime", false, A::MOUNT_ATTR_RELATIME, ATIME),
    f("norelatime", false, A::MOUNT_ATTR_RELATIME, ATIME),
    f("strictatime", false, A::MOUNT_ATTR_STRICTATIME, ATIME),
    f("nostrictatime", false, A::MOUNT_ATTR_RELATIME, ATIME),
    f("nodiratime", false, A::MOUNT_ATTR_NODIRATIME, E),
    f("diratime", false, E, A::MOUNT_ATTR_NODIRATIME),
    f("nosymfollow", false, A::MOUNT_ATTR_NOSYMFOLLOW, E),
    f("symfollow", false, E, A::MOUNT_ATTR_NOSYMFOLLOW),
    f("rro", true, A::MOUNT_ATTR_RDONLY, E),
    f("rrw", true, E, A::MOUNT_ATTR_RDONLY),
    f("rnosuid", true, A::MOUNT_ATTR_NOSUID, E),
    f("rsuid", true, E, A::MOUNT_ATTR_NOSUID),
    f("rnodev", true, A::MOUNT_ATTR_NODEV, E),
    f("rdev", true, E, A::MOUNT_ATTR_NODEV),
    f("rnoexec", true, A::MOUNT_ATTR_NOEXEC, E),
    f("rexec", true, E, A::MOUNT_ATTR_NOEXEC),
    f("rnoatime", true, A::MOUNT_ATTR_NOATIME, ATIME),
    f("ratime", true, A::MOUNT_ATTR_RELATIME, ATIME),
    f("rrelatime", true, A::MOUNT_ATTR_RELATIME, ATIME),
    f("rnorelatime", true, A::MOUNT_ATTR_RELATIME, ATIME),
    f("rstrictatime", true, A::MOUNT_ATTR_STRICTATIME, ATIME),
    f("rnostrictatime", true, A::MOUNT_ATTR_RELATIME, ATIME),
    f("rnodiratime", true, A::MOUNT_ATTR_NODIRATIME, E),
    f("rdiratime", true, E, A::MOUNT_ATTR_NODIRATIME),
    f("rnosymfollow", true, A::MOUNT_ATTR_NOSYMFOLLOW, E),
    f("rsymfollow", true, E, A::MOUNT_ATTR_NOSYMFOLLOW),
];

/// Superblock flags a new filesystem takes through fsconfig(FSCONFIG_SET_FLAG).
const SB_FLAGS: &[&str] = &["sync", "dirsync", "mand", "lazytime"];

/// Options that set nothing: the defaults they name, superblock flags a bind cannot change
/// (as with runc, whose bind remounts ignore them), and other engines' hints rt has no use
/// for (SELinux relabelling, done by podman itself; crun's copy-symlink).
const NO_OPS: &[&str] = &[
    "defaults",
    "async",
    "nomand",
    "nolazytime",
    "remount",
    "acl",
    "noacl",
    "iversion",
    "noiversion",
    "silent",
    "loud",
    "z",
    "Z",
    "copy-symlink",
];

/// Options that are neither flags, propagation, superblock flags nor no-ops.
const OTHERS: &[&str] = &["bind", "rbind", "tmpcopyup", "idmap", "ridmap"];

/// Every option name [`MountOptions::parse`] knows (what `rt features` lists), sorted.
pub fn known() -> Vec<&'static str> {
    let propagation = [
        "private",
        "shared",
        "slave",
        "unbindable",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
    ];
    let mut all: Vec<&'static str> = FLAGS
        .iter()
        .map(|f| f.name)
        .chain(propagation)
        .chain(SB_FLAGS.iter().copied())
        .chain(NO_OPS.iter().copied())
        .chain(OTHERS.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

/// The propagation type of an option name, and whether it is recursive.
pub fn propagation(name: &str) -> Option<(u64, bool)> {
    let (rec, base) = match name.strip_prefix('r') {
        Some(rest) if matches!(rest, "private" | "shared" | "slave" | "unbindable") => (true, rest),
        _ => (false, name),
    };
    let flag = match base {
        "private" => libc::MS_PRIVATE,
        "shared" => libc::MS_SHARED,
        "slave" => libc::MS_SLAVE,
        "unbindable" => libc::MS_UNBINDABLE,
        _ => return None,
    };
    Some((flag, rec))
}

fn apply(attr: &mut MountAttr, flag: &Flag) {
    // A later option wins over an earlier one of the same group.
    let group = flag.set | flag.clear;
    attr.set &= !group;
    attr.clear &= !group;
    attr.set |= flag.set;
    attr.clear |= flag.clear;
    if flag.clear.contains(ATIME) {
        // An atime choice: clear the whole field, then set the chosen value.
        attr.clear |= ATIME;
    }
}

impl MountOptions {
    pub fn parse(options: &[String]) -> MountOptions {
        let mut out = MountOptions::default();
        for (i, opt) in options.iter().enumerate() {
            let opt = opt.as_str();
            if let Some(flag) = FLAGS.iter().find(|f| f.name == opt) {
                let attr = if flag.recursive {
                    &mut out.recursive_attr
                } else {
                    &mut out.attr
                };
                apply(attr, flag);
            } else if let Some((prop, rec)) = propagation(opt) {
                out.propagation = prop;
                out.recursive_propagation = rec;
            } else if let Some(sb) = SB_FLAGS.iter().find(|s| **s == opt) {
                out.sb_flags.push(sb);
            } else {
                match opt {
                    "bind" => out.bind = true,
                    "rbind" => {
                        out.bind = true;
                        out.recursive_bind = true;
                    }
                    "tmpcopyup" => out.copyup = true,
                    "idmap" => out.idmap = true,
                    "ridmap" => {
                        out.idmap = true;
                        out.recursive_idmap = true;
                    }
                    _ if NO_OPS.contains(&opt) => {}
                    _ => {
                        out.unknown.push(i);
                        out.data.push(FsOption::parse(opt));
                    }
                }
            }
        }
        out
    }

    /// The attributes a new filesystem is mounted with (fsmount takes only bits to set).
    pub fn fsmount_attrs(&self) -> A {
        self.attr.set
    }

    pub fn read_only(&self) -> bool {
        self.attr.set.contains(A::MOUNT_ATTR_RDONLY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &[&str]) -> MountOptions {
        MountOptions::parse(&opts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn flags_data_and_propagation() {
        let o = parse(&[
            "nosuid",
            "noexec",
            "mode=755",
            "size=65536k",
            "rslave",
            "ro",
        ]);
        assert_eq!(
            o.attr.set,
            A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NOEXEC | A::MOUNT_ATTR_RDONLY
        );
        assert_eq!(
            o.data,
            vec![
                FsOption::Value("mode".into(), "755".into()),
                FsOption::Value("size".into(), "65536k".into())
            ]
        );
        assert_eq!(o.unknown, vec![2, 3]);
        assert_eq!(
            (o.propagation, o.recursive_propagation),
            (libc::MS_SLAVE, true)
        );
        assert!(!o.bind);
    }

    #[test]
    fn later_options_win_and_rw_clears() {
        let o = parse(&["ro", "rw", "rbind"]);
        assert!(!o.attr.set.contains(A::MOUNT_ATTR_RDONLY));
        assert!(o.attr.clear.contains(A::MOUNT_ATTR_RDONLY));
        assert!(o.bind && o.recursive_bind);
    }

    #[test]
    fn recursive_attributes_are_kept_apart() {
        let o = parse(&["rbind", "rro", "rnosuid", "rnoatime", "nodev"]);
        assert_eq!(
            o.recursive_attr.set,
            A::MOUNT_ATTR_RDONLY | A::MOUNT_ATTR_NOSUID | A::MOUNT_ATTR_NOATIME
        );
        assert!(o.recursive_attr.clear.contains(ATIME));
        assert_eq!(o.attr.set, A::MOUNT_ATTR_NODEV);
        assert!(o.unknown.is_empty());
    }

    #[test]
    fn atime_options_replace_each_other() {
        let o = parse(&["noatime", "strictatime"]);
        assert_eq!(o.attr.set, A::MOUNT_ATTR_STRICTATIME);
        assert!(o.attr.clear.contains(ATIME));
    }

    #[test]
    fn every_known_option_parses_as_known() {
        let all = known();
        for name in [
            "rro",
            "rnosymfollow",
            "nosymfollow",
            "tmpcopyup",
            "ridmap",
            "rslave",
        ] {
            assert!(all.contains(&name), "{name}");
        }
        for name in all {
            let o = MountOptions::parse(&[name.to_string()]);
            assert!(o.unknown.is_empty(), "{name} is listed but not parsed");
        }
        assert!(!MountOptions::parse(&["nonsense".into()]).unknown.is_empty());
    }

    #[test]
    fn engines_hints_are_known() {
        let o = parse(&["bind", "z", "defaults", "tmpcopyup", "sync", "idmap"]);
        assert!(o.unknown.is_empty());
        assert!(o.copyup && o.idmap && !o.recursive_idmap);
        assert_eq!(o.sb_flags, vec!["sync"]);
        assert_eq!(parse(&["foo=bar", "rbind"]).unknown, vec![0]);
    }
}
