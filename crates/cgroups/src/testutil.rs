//! Fake cgroupfs trees in temp dirs for unit tests.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::hierarchy::Hierarchy;

/// The kernel of fake trees: a new cgroup directory gets its parent's files (those whose
/// content a new cgroup does not inherit empty), and a directory goes with its files.
pub(crate) mod kernel {
    use std::io;
    use std::path::Path;

    /// Files whose content a new cgroup does not inherit from its parent.
    const EMPTY_IN_NEW_CGROUP: &[&str] = &[
        "cgroup.procs",
        "tasks",
        "cgroup.threads",
        "cgroup.subtree_control",
        "cpuset.cpus",
        "cpuset.mems",
    ];

    pub fn mkdir(dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)?;
        let Some(parent) = dir.parent() else {
            return Ok(());
        };
        for ent in std::fs::read_dir(parent)?.flatten() {
            if ent.file_type()?.is_file() {
                let name = ent.file_name();
                let content = if EMPTY_IN_NEW_CGROUP.iter().any(|n| name == *n) {
                    String::new()
                } else {
                    std::fs::read_to_string(ent.path())?
                };
                std::fs::write(dir.join(&name), content)?;
            }
        }
        Ok(())
    }

    /// As the kernel: a cgroup with child cgroups is busy; its own files go with it.
    pub fn rmdir(dir: &Path) -> io::Result<()> {
        for ent in std::fs::read_dir(dir)? {
            if ent?.file_type()?.is_dir() {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
        }
        std::fs::remove_dir_all(dir)
    }
}

/// A temp dir removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "cgroups-unit-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Content of a file below the dir.
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        std::fs::read_to_string(self.0.join(rel)).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_all(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (f, v) in files {
        std::fs::write(dir.join(f), v).unwrap();
    }
}

const V1_COMMON: &[(&str, &str)] = &[("cgroup.procs", ""), ("tasks", "")];

fn v1_files(subsystem: &str) -> Vec<(&'static str, &'static str)> {
    let own: &[(&str, &str)] = match subsystem {
        "cpu" => &[
            ("cpu.shares", "1024\n"),
            ("cpu.cfs_quota_us", "-1\n"),
            ("cpu.cfs_period_us", "100000\n"),
            ("cpu.rt_period_us", "1000000\n"),
            ("cpu.rt_runtime_us", "0\n"),
            ("cpu.idle", "0\n"),
            (
                "cpu.stat",
                "nr_periods 7\nnr_throttled 2\nthrottled_time 300\n",
            ),
        ],
        "cpuacct" => &[
            ("cpuacct.usage", "1000\n"),
            ("cpuacct.usage_percpu", "600 400 \n"),
            ("cpuacct.stat", "user 10\nsystem 5\n"),
        ],
        "cpuset" => &[("cpuset.cpus", "0-1\n"), ("cpuset.mems", "0\n")],
        "memory" => &[
            ("memory.limit_in_bytes", "9223372036854771712\n"),
            ("memory.usage_in_bytes", "4096\n"),
            ("memory.max_usage_in_bytes", "8192\n"),
            ("memory.failcnt", "3\n"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712\n"),
            ("memory.memsw.usage_in_bytes", "5000\n"),
            ("memory.memsw.max_usage_in_bytes", "9000\n"),
            ("memory.memsw.failcnt", "0\n"),
            ("memory.soft_limit_in_bytes", "9223372036854771712\n"),
            ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"),
            ("memory.swappiness", "60\n"),
            ("memory.oom_control", "oom_kill_disable 0\n"),
            ("memory.use_hierarchy", "1\n"),
            ("memory.stat", "cache 10\nrss 20\n"),
        ],
        "pids" => &[("pids.max", "max\n"), ("pids.current", "2\n")],
        "devices" => &[("devices.allow", ""), ("devices.deny", "")],
        "freezer" => &[("freezer.state", "THAWED\n")],
        "blkio" => &[
            ("blkio.bfq.weight", "100\n"),
            ("blkio.throttle.read_bps_device", ""),
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 100\n8:0 Write 200\nTotal 300\n",
            ),
        ],
        _ => &[],
    };
    V1_COMMON.iter().chain(own).copied().collect()
}

/// A fake v1 tree: one directory per controller (cpu and cpuacct comounted if asked), and
/// the hierarchy rooted there.
pub(crate) fn fake_v1(t: &TempDir, comount_cpu: bool) -> Hierarchy {
    for s in [
        "cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio",
    ] {
        let dirname = if comount_cpu && (s == "cpu" || s == "cpuacct") {
            "cpu,cpuacct"
        } else {
            s
        };
        write_all(&t.path().join(dirname), &v1_files(s));
    }
    Hierarchy::v1_at(t.path()).unwrap()
}

/// A fake v2 tree.
pub(crate) fn fake_v2(t: &TempDir) -> Hierarchy {
    let root = t.path().join("unified");
    write_all(
        &root,
        &[
            ("cgroup.controllers", "cpuset cpu io memory pids\n"),
            ("cgroup.subtree_control", ""),
            ("cgroup.procs", ""),
            ("cgroup.threads", ""),
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 0\nfrozen 0\n"),
            ("cpu.weight", "100\n"),
            ("cpu.max", "max 100000\n"),
            ("cpu.idle", "0\n"),
            (
                "cpu.stat",
                "usage_usec 5\nuser_usec 3\nsystem_usec 2\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n",
            ),
            ("cpuset.cpus", ""),
            ("cpuset.mems", ""),
            ("memory.max", "max\n"),
            ("memory.low", "0\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "4096\n"),
            ("memory.swap.current", "100\n"),
            ("memory.stat", "anon 1\nfile 2\n"),
            ("pids.max", "max\n"),
            ("pids.current", "1\n"),
            ("io.weight", "default 100\n"),
            ("io.max", ""),
            ("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n"),
        ],
    );
    Hierarchy::v2_at(&root)
}
