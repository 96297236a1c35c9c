//! Helpers shared by the real-kernel test binaries: a per-test parent cgroup removed on drop,
//! kernel file reads, a sleeper process.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{SystemTime, UNIX_EPOCH};

use cgroups::{mode, Cgroup, CgroupPath, Cpu, Memory, Mode, Pid, Pids, Resources};

/// Controllers this crate places cgroups in on v1.
pub const V1_CONTROLLERS: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
];

pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the real-kernel cgroup tests need root (run the test binary as root)"
    );
}

/// Mount points from /proc/self/mountinfo: (fstype, super options, mountpoint).
pub fn mounts() -> Vec<(String, String, PathBuf)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .filter_map(|l| {
            let (pre, post) = l.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some((
                post[0].to_string(),
                post.get(2)?.to_string(),
                PathBuf::from(pre[4]),
            ))
        })
        .collect()
}

/// The kernel directory of cgroup `path` for `controller` (ignored on v2).
pub fn kdir(controller: &str, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    let ms = mounts();
    let m = if mode() == Mode::Unified {
        ms.iter().find(|(t, _, _)| t == "cgroup2")
    } else {
        ms.iter()
            .find(|(t, o, _)| t == "cgroup" && o.split(',').any(|x| x == controller))
    };
    m.map(|(_, _, mp)| mp.join(rel))
}

pub fn kread(controller: &str, path: &Path, file: &str) -> String {
    let p = kdir(controller, path).unwrap().join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Every kernel directory the cgroup could have.
pub fn all_kdirs(path: &Path) -> Vec<PathBuf> {
    let ctrls: &[&str] = if mode() == Mode::Unified {
        &["any"]
    } else {
        V1_CONTROLLERS
    };
    ctrls.iter().filter_map(|c| kdir(c, path)).collect()
}

/// The parent of one test's cgroups; removed (processes killed first) on drop.
pub struct TestRoot(pub PathBuf);

impl TestRoot {
    pub fn new(test: &str) -> TestRoot {
        require_root();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        TestRoot(PathBuf::from(format!(
            "/cgtest-{}-{nanos}-{test}",
            std::process::id()
        )))
    }

    pub fn path(&self, child: &str) -> CgroupPath {
        CgroupPath::static_path(self.0.join(child))
    }
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        if let Ok(cg) = Cgroup::load(CgroupPath::static_path(&self.0)) {
            let _ = cg.thaw();
            let _ = cg.kill();
            if let Err(e) = cg.delete() {
                eprintln!("cleanup of {}: {e}", self.0.display());
            }
        }
    }
}

/// A `sleep 30` we started; killed and reaped on drop.
pub struct Sleeper(pub Child);

impl Sleeper {
    pub fn spawn() -> Sleeper {
        Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
    }
    pub fn pid(&self) -> Pid {
        Pid(self.0.id() as i32)
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn limits() -> Resources {
    // Swap only where the kernel accounts it.
    let swap = kdir("memory", Path::new("/"))
        .map(|d| {
            if mode() == Mode::Unified {
                true
            } else {
                d.join("memory.memsw.limit_in_bytes").exists()
            }
        })
        .unwrap_or(false);
    Resources {
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(64 << 20),
            swap: swap.then_some(128 << 20),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 20 }),
        ..Default::default()
    }
}
