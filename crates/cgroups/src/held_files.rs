//! Files kept open between reads, for [`crate::StatsSampler`]: a cgroupfs file costs
//! 9–12 µs to open, read and close, and 2–3 µs to read again from offset 0 when it is
//! already open (measured on a 2-core VM, kernel 6.18, cgroup v1). While a set is installed
//! on a thread ([`with`]), every read of `crate::fs` on that thread goes through it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One file of the set: open, or known not to exist (a cgroup's files are fixed by its
/// controllers when it is made, so a missing file stays missing; asked again after
/// [`HeldFiles::clear`]).
#[derive(Debug)]
enum Held {
    Open(File),
    Missing,
}

/// The open files of one cgroup's statistics, by path.
#[derive(Debug, Default)]
pub(crate) struct HeldFiles {
    files: HashMap<PathBuf, Held>,
}

thread_local! {
    static CURRENT: RefCell<Option<HeldFiles>> = const { RefCell::new(None) };
    /// The read buffer of this thread's samples, initialised once and reused: zeroing a
    /// fresh page per read cost more than the read.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Run `f` with the reads of this thread served from `held` (and files it opens added).
pub(crate) fn with<R>(held: &mut HeldFiles, f: impl FnOnce() -> R) -> R {
    let set = std::mem::take(held);
    CURRENT.with(|c| *c.borrow_mut() = Some(set));
    let r = f();
    *held = CURRENT.with(|c| c.borrow_mut().take()).unwrap_or_default();
    r
}

/// `path` read through the set installed on this thread; None when there is none.
pub(crate) fn read(path: &Path) -> Option<io::Result<String>> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(|set| set.read(path)))
}

/// Descriptors from this number up are not kept: the rest of the soft RLIMIT_NOFILE stays
/// for the process' other work (a quarter of it, at least 128).
fn keep_below() -> i32 {
    static LIMIT: OnceLock<i32> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        let soft = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map_or(1024, |(soft, _)| soft);
        let soft = i32::try_from(soft).unwrap_or(i32::MAX);
        soft.saturating_sub((soft / 4).max(128))
    })
}

impl HeldFiles {
    /// Close every file: the next reads open them again.
    pub(crate) fn clear(&mut self) {
        self.files.clear();
    }

    /// How many files are open.
    pub(crate) fn open_count(&self) -> usize {
        self.files
            .values()
            .filter(|h| matches!(h, Held::Open(_)))
            .count()
    }

    fn read(&mut self, path: &Path) -> io::Result<String> {
        match self.files.get(path) {
            Some(Held::Open(f)) => return read_from_start(f),
            Some(Held::Missing) => return Err(io::ErrorKind::NotFound.into()),
            None => {}
        }
        let f = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.files.insert(path.to_path_buf(), Held::Missing);
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let text = read_from_start(&f)?;
        if f.as_raw_fd() < keep_below() {
            self.files.insert(path.to_path_buf(), Held::Open(f));
        }
        Ok(text)
    }
}

/// The whole file from offset 0 with pread(2): seq_file (cgroupfs) renders the file anew
/// for a read at offset 0; reads until one returns nothing, as `fs::read_whole` does.
fn read_from_start(f: &File) -> io::Result<String> {
    SCRATCH.with(|scratch| {
        let mut scratch = scratch.borrow_mut();
        if scratch.is_empty() {
            scratch.resize(SCRATCH_SIZE, 0);
        }
        let mut filled = 0;
        loop {
            if filled == scratch.len() {
                let grown = scratch.len() * 2;
                scratch.resize(grown, 0);
            }
            match f.read_at(&mut scratch[filled..], filled as u64) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        String::from_utf8(scratch[..filled].to_vec())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    })
}

/// The read buffer's first size: the statistics files are below 4 KiB but for per-CPU
/// lists on big machines.
const SCRATCH_SIZE: usize = 8192;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_from_the_start_and_sees_new_content() {
        let dir = crate::testutil::TempDir::new();
        let p = dir.path().join("memory.usage_in_bytes");
        std::fs::write(&p, "100\n").unwrap();
        let mut held = HeldFiles::default();
        assert_eq!(with(&mut held, || read(&p)).unwrap().unwrap(), "100\n");
        assert_eq!(held.open_count(), 1);
        // Rewritten in place (as the kernel renders it anew): the open file sees it.
        std::fs::write(&p, "2000000\n").unwrap();
        assert_eq!(with(&mut held, || read(&p)).unwrap().unwrap(), "2000000\n");
        // A file bigger than one read buffer comes whole.
        let big = "x".repeat(10_000);
        std::fs::write(&p, &big).unwrap();
        assert_eq!(with(&mut held, || read(&p)).unwrap().unwrap(), big);
    }

    #[test]
    fn missing_files_are_remembered_until_cleared() {
        let dir = crate::testutil::TempDir::new();
        let p = dir.path().join("memory.memsw.usage_in_bytes");
        let mut held = HeldFiles::default();
        let err = with(&mut held, || read(&p)).unwrap().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        std::fs::write(&p, "1\n").unwrap();
        assert!(with(&mut held, || read(&p)).unwrap().is_err());
        held.clear();
        assert_eq!(with(&mut held, || read(&p)).unwrap().unwrap(), "1\n");
    }

    #[test]
    fn no_set_installed_reads_nothing() {
        assert!(read(Path::new("/proc/self/stat")).is_none());
    }
}
