//! Lines of /proc/PID/mountinfo (proc(5)), as far as cgroups and their users need them: the
//! mount's root, where it is mounted, its filesystem type and super options. The one parser
//! of mountinfo in the workspace.

use std::path::PathBuf;

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The mount's id (field 1), unique while it is mounted.
    pub id: u64,
    /// The directory of the filesystem the mount shows as its root (field 4).
    pub root: PathBuf,
    /// Where it is mounted (field 5).
    pub mount_point: PathBuf,
    /// The filesystem type (first field after the " - " separator).
    pub fs_type: String,
    /// The superblock options (third field after the separator).
    pub super_options: String,
}

/// The mounts listed in `text` (malformed lines are skipped).
pub fn parse(text: &str) -> impl Iterator<Item = Entry> + '_ {
    text.lines().filter_map(|line| {
        let (pre, post) = line.split_once(" - ")?;
        let mut pre = pre.split(' ');
        let id = pre.next()?.parse().ok()?;
        let root = pre.nth(2)?;
        let mount_point = pre.next()?;
        let mut post = post.split(' ');
        let fs_type = post.next()?;
        let super_options = post.nth(1)?;
        Some(Entry {
            id,
            root: PathBuf::from(unescape(root)),
            mount_point: PathBuf::from(unescape(mount_point)),
            fs_type: fs_type.to_string(),
            super_options: super_options.to_string(),
        })
    })
}

/// Every mount point listed in `text`.
pub fn mount_points(text: &str) -> impl Iterator<Item = PathBuf> + '_ {
    parse(text).map(|e| e.mount_point)
}

/// Undoes mountinfo's octal escapes (`\040` for space, `\011` tab, `\012` newline, `\134`
/// backslash).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).ok();
            if let Some(v) = oct.and_then(|o| u8::from_str_radix(o, 8).ok()) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_escapes() {
        let text =
            "36 25 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:15 - cgroup cgroup rw,memory\n\
                    40 25 8:1 /a\\040b /mnt/x\\040y rw - ext4 /dev/sda1 rw\n\
                    garbage\n";
        let v: Vec<Entry> = parse(text).collect();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].id, v[1].id), (36, 40));
        assert_eq!(v[0].mount_point, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(v[0].fs_type, "cgroup");
        assert_eq!(v[0].super_options, "rw,memory");
        assert_eq!(v[1].root, PathBuf::from("/a b"));
        assert_eq!(v[1].mount_point, PathBuf::from("/mnt/x y"));
        assert_eq!(unescape("/x\\"), "/x\\");
    }
}
