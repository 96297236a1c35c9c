//! Small files read in as few system calls as it takes.
//!
//! `fs::read` and `fs::read_to_string` stat the file for a size hint; procfs reports none,
//! so they probe with 32-byte reads, doubling: a /proc/PID/stat costs a statx and five
//! reads. `rt list` and `rt monitor` read a few small files per container.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The whole file: open, reads into a page of spare capacity (growing, never zeroed) until
/// one returns nothing, close: a small file costs two reads. `Take` hides the File from
/// std's size hint (a statx, and for procfs a 0 that starts the 32-byte probing).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(4096);
    File::open(path)?.take(u64::MAX).read_to_end(&mut buf)?;
    Ok(buf)
}

/// [`read`] as UTF-8 text.
pub fn read_string(path: &Path) -> io::Result<String> {
    String::from_utf8(read(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_files_of_every_size_whole() {
        let dir = std::env::temp_dir().join(format!("rt-readfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for len in [0usize, 1, 4095, 4096, 4097, 8192, 100_000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let p = dir.join(format!("f{len}"));
            std::fs::write(&p, &data).unwrap();
            assert_eq!(read(&p).unwrap(), data, "{len} bytes");
        }
        std::fs::remove_dir_all(&dir).unwrap();
        // procfs reports no size: read whole all the same.
        let stat = read_string(Path::new("/proc/self/stat")).unwrap();
        assert!(
            stat.starts_with(&format!("{} (", std::process::id())),
            "{stat}"
        );
        assert!(stat.ends_with('\n'), "{stat}");
    }

    #[test]
    fn reads_procfs_files_of_several_pages_whole() {
        // /proc/self/maps with a few hundred mappings more (alternating protections, so
        // that none merge).
        let pages: Vec<usize> = (0..300)
            .map(|i| {
                let prot = if i % 2 == 0 {
                    libc::PROT_READ
                } else {
                    libc::PROT_READ | libc::PROT_WRITE
                };
                // SAFETY: a fresh anonymous mapping, unmapped below.
                let p = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        4096,
                        prot,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                assert_ne!(p, libc::MAP_FAILED);
                p as usize
            })
            .collect();
        let maps = read_string(Path::new("/proc/self/maps")).unwrap();
        let ranges: Vec<(usize, usize)> = maps
            .lines()
            .filter_map(|l| {
                let (a, b) = l.split_whitespace().next()?.split_once('-')?;
                Some((
                    usize::from_str_radix(a, 16).ok()?,
                    usize::from_str_radix(b, 16).ok()?,
                ))
            })
            .collect();
        for &p in &pages {
            // A mapping may merge with a neighbour made before: it is inside some line.
            assert!(
                ranges.iter().any(|&(a, b)| a <= p && p < b),
                "{p:x} missing from {} lines",
                ranges.len()
            );
            // SAFETY: unmapping what was mapped above.
            unsafe { libc::munmap(p as *mut libc::c_void, 4096) };
        }
        assert!(maps.len() > 3 * 4096, "{} bytes", maps.len());
    }
}
