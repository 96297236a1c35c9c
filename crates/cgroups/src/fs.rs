//! Small helpers to read and write cgroupfs files with errors that name the file.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// Write `value` to `path` in one write(2). The file must exist (cgroupfs creates its files).
pub(crate) fn write(path: &Path, value: &str) -> Result<()> {
    let err = |source| Error::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    };
    let mut f = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(err)?;
    f.write_all(value.as_bytes()).map_err(err)
}

/// Like [`write`], but a missing file is `Ok(false)` instead of an error.
pub(crate) fn write_if_exists(path: &Path, value: &str) -> Result<bool> {
    match write(path, value) {
        Ok(()) => Ok(true),
        Err(e) if e.is_not_found() => Ok(false),
        Err(e) => Err(e),
    }
}

/// Write a pid to cgroup.procs-like files, retrying EINVAL (a task in TASK_NEW) as runc does.
pub(crate) fn write_pid(path: &Path, pid: i32) -> Result<()> {
    let value = pid.to_string();
    let mut tries = 0;
    loop {
        match write(path, &value) {
            Err(Error::Write { source, .. })
                if source.raw_os_error() == Some(libc::EINVAL) && tries < 5 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(30));
            }
            other => return other,
        }
    }
}

/// Read a whole file.
pub(crate) fn read(path: &Path) -> Result<String> {
    read_whole(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// A whole cgroupfs file in as few system calls as it takes: open, reads into a page of
/// spare capacity (growing, never zeroed) until one returns nothing, close: two reads for
/// a small file. cgroupfs files report no size, so `fs::read_to_string` stats them and
/// then probes with 32-byte reads, doubling: six reads and a statx for a 1 KiB file.
/// (`Take` hides the File from std's size hint.)
pub(crate) fn read_whole(path: &Path) -> io::Result<String> {
    use std::io::Read;
    if let Some(held) = crate::held_files::read(path) {
        return held;
    }
    let mut text = String::with_capacity(4096);
    fs::File::open(path)?
        .take(u64::MAX)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// Read a file; `Ok(None)` if it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match read(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parse a number as cgroupfs prints it: "max" is `u64::MAX`, negative values are 0
/// (v1 prints -1 for some unlimited values).
pub(crate) fn parse_u64(path: &Path, s: &str) -> Result<u64> {
    let t = s.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    if let Ok(v) = t.parse::<u64>() {
        return Ok(v);
    }
    match t.parse::<i64>() {
        Ok(v) if v < 0 => Ok(0),
        _ => Err(Error::Parse {
            path: path.to_path_buf(),
            value: s.to_string(),
        }),
    }
}

/// Read a single-number file.
pub(crate) fn read_u64(path: &Path) -> Result<u64> {
    let s = read(path)?;
    parse_u64(path, &s)
}

/// Read a single-number file; `Ok(None)` when it does not exist and `ignore_missing` is set.
pub(crate) fn read_u64_opt(path: &Path, ignore_missing: bool) -> Result<Option<u64>> {
    match read_u64(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if ignore_missing && e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parse "key value" lines (memory.stat, cpu.stat, cgroup.events...).
pub(crate) fn parse_flat_keyed(path: &Path, s: &str) -> Result<BTreeMap<String, u64>> {
    let mut map = BTreeMap::new();
    for line in s.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        match (it.next(), it.next(), it.next()) {
            (Some(k), Some(v), None) => {
                map.insert(k.to_string(), parse_u64(path, v)?);
            }
            _ => {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    value: line.to_string(),
                })
            }
        }
    }
    Ok(map)
}

/// Read a "key value" file.
pub(crate) fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>> {
    let s = read(path)?;
    parse_flat_keyed(path, &s)
}

/// Read a "key value" file; empty when it does not exist and `ignore_missing` is set.
pub(crate) fn read_flat_keyed_opt(
    path: &Path,
    ignore_missing: bool,
) -> Result<Option<BTreeMap<String, u64>>> {
    match read_flat_keyed(path) {
        Ok(m) => Ok(Some(m)),
        Err(e) if ignore_missing && e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Read a list of pids, one per line (cgroup.procs, tasks, cgroup.threads).
pub(crate) fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let s = read(path)?;
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.parse::<i32>().map_err(|_| Error::Parse {
                path: path.to_path_buf(),
                value: l.to_string(),
            })
        })
        .collect()
}

/// All directories below `dir` (not `dir` itself), parents before children.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut queue = vec![dir.to_path_buf()];
    while let Some(d) = queue.pop() {
        let rd = match fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::ReadDir { path: d, source }),
        };
        let mut level = Vec::new();
        for ent in rd {
            let ent = ent.map_err(|source| Error::ReadDir {
                path: d.clone(),
                source,
            })?;
            let is_dir = ent.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                level.push(ent.path());
            }
        }
        level.sort();
        for l in level {
            out.push(l.clone());
            queue.push(l);
        }
    }
    // Parents first: sort by depth (stable keeps siblings ordered).
    out.sort_by_key(|p| p.components().count());
    Ok(out)
}

/// Create every missing directory from `mount` (exclusive) down to `dir`, recording each one
/// created in `created` (top-down).
pub(crate) fn create_levels(mount: &Path, dir: &Path, created: &mut Vec<PathBuf>) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(Path::new(""));
    let mut cur = mount.to_path_buf();
    for comp in rel.components() {
        cur.push(comp);
        match kernel::mkdir(&cur) {
            Ok(()) => created.push(cur.clone()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(Error::CreateDir { path: cur, source }),
        }
    }
    Ok(())
}

/// Remove one cgroup directory, retrying EBUSY; a missing directory is fine.
pub(crate) fn remove_dir(dir: &Path) -> Result<()> {
    let mut tries = 0;
    loop {
        match kernel::rmdir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 10 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10 * tries));
            }
            Err(source) => {
                return Err(Error::RemoveDir {
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
}

/// mkdir(2) and rmdir(2) of cgroup directories: the kernel fills a new directory with its
/// files and lets it be removed while they are there. Unit tests run on plain directories
/// (testutil's fake trees), where testutil stands in for the kernel.
#[cfg(not(test))]
mod kernel {
    pub use std::fs::{create_dir as mkdir, remove_dir as rmdir};
}
#[cfg(test)]
use crate::testutil::kernel;

/// Remove `dir` and everything below it, deepest first.
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    // Most cgroups have no children: one rmdir and done, no directory listing. Busy (child
    // cgroups, or processes still exiting): the walk below, with its retries.
    match kernel::rmdir(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let mut all = subdirs(dir)?;
    all.reverse();
    for d in &all {
        remove_dir(d)?;
    }
    remove_dir(dir)
}

/// Poll `check` until it returns true or `timeout` passes.
pub(crate) fn poll(timeout: Duration, mut check: impl FnMut() -> Result<bool>) -> Result<bool> {
    let start = std::time::Instant::now();
    let mut sleep = Duration::from_millis(1);
    loop {
        if check()? {
            return Ok(true);
        }
        if start.elapsed() >= timeout {
            return Ok(false);
        }
        std::thread::sleep(sleep);
        sleep = (sleep * 2).min(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod read_tests {
    use super::*;

    #[test]
    fn read_whole_reads_past_seq_file_pages() {
        // /proc/self/mountinfo and /proc/self/maps are seq_files: at most a page per read.
        // Every line of a big one comes back, the last one whole.
        let maps = read_whole(Path::new("/proc/self/maps")).unwrap();
        assert!(maps.ends_with('\n'));
        let dir = std::env::temp_dir().join(format!("cgroups-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(dir.join("f"), &text).unwrap();
        assert_eq!(read_whole(&dir.join("f")).unwrap(), text);
        assert_eq!(
            read_whole(&dir.join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
