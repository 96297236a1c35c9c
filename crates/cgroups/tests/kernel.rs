//! Real-kernel tests (root). They run on cgroup v1/hybrid hosts and on cgroup v2, branching on
//! `mode()`. Every cgroup lives below a parent named after the test run and is removed by a
//! guard, even when the test fails.

use std::path::Path;

use cgroups::{
    mode, Cgroup, CgroupPath, Cpu, Error, FreezerState, Memory, Mode, Pid, Pids, Recursive,
    Resources, StatOptions,
};

mod common;

use common::*;

#[test]
fn mode_is_detected() {
    let m = mode();
    let root_is_v2 = mounts()
        .iter()
        .any(|(t, _, mp)| t == "cgroup2" && mp == Path::new("/sys/fs/cgroup"));
    assert_eq!(m == Mode::Unified, root_is_v2, "{m:?}");
    let own = CgroupPath::of_pid(Pid(std::process::id() as i32)).unwrap();
    assert!(CgroupPath::nested(Pid(std::process::id() as i32), "x").is_ok());
    drop(own);
}

#[test]
fn create_applies_limits_in_the_kernel() {
    let root = TestRoot::new("limits");
    let r = limits();
    let cg = Cgroup::new(root.path("c"), &r).unwrap();
    let p = cg.path().to_path_buf();
    assert_eq!(p, root.0.join("c"));
    if mode() == Mode::Unified {
        assert_eq!(kread("", &p, "memory.max"), "67108864");
        assert_eq!(kread("", &p, "cpu.max"), "50000 100000");
        assert_eq!(kread("", &p, "cpu.weight"), "59");
        assert_eq!(kread("", &p, "pids.max"), "20");
        assert_eq!(kread("", &p, "cpuset.cpus"), "0");
        if r.memory.as_ref().and_then(|m| m.swap).is_some() {
            if let Some(d) = kdir("", &p) {
                if d.join("memory.swap.max").exists() {
                    assert_eq!(kread("", &p, "memory.swap.max"), "67108864");
                }
            }
        }
    } else {
        assert_eq!(kread("memory", &p, "memory.limit_in_bytes"), "67108864");
        if r.memory.as_ref().and_then(|m| m.swap).is_some() {
            assert_eq!(
                kread("memory", &p, "memory.memsw.limit_in_bytes"),
                "134217728"
            );
        }
        assert_eq!(kread("cpu", &p, "cpu.cfs_quota_us"), "50000");
        assert_eq!(kread("cpu", &p, "cpu.cfs_period_us"), "100000");
        assert_eq!(kread("cpu", &p, "cpu.shares"), "512");
        assert_eq!(kread("pids", &p, "pids.max"), "20");
        assert_eq!(kread("cpuset", &p, "cpuset.cpus"), "0");
        // Copied down from the root.
        assert!(!kread("cpuset", &p, "cpuset.mems").is_empty());
        assert!(!kread("cpuset", &root.0, "cpuset.cpus").is_empty());
    }
    let s = cg.stats(StatOptions::default()).unwrap();
    assert_eq!(s.memory.usage.limit, 64 << 20);
    assert_eq!(s.pids.limit, 20);

    // Update: lower memory (and swap, kept >= memory), raise pids.
    let mut r2 = r.clone();
    r2.memory = Some(Memory {
        limit: Some(32 << 20),
        swap: r.memory.as_ref().and_then(|m| m.swap).map(|_| 48 << 20),
        ..Default::default()
    });
    r2.pids = Some(Pids { limit: -1 });
    cg.update(&r2).unwrap();
    let s = cg.stats(StatOptions::default()).unwrap();
    assert_eq!(s.memory.usage.limit, 32 << 20);
    assert_eq!(s.pids.limit, 0);
    assert_eq!(kread("pids", &p, "pids.max"), "max");
}

#[test]
fn process_lifecycle_freeze_kill_delete() {
    let root = TestRoot::new("life");
    let cg = Cgroup::new(root.path("c"), &limits()).unwrap();
    let mut sleeper = Sleeper::spawn();
    cg.add(sleeper.pid()).unwrap();
    assert_eq!(cg.processes(Recursive::No).unwrap(), [sleeper.pid()]);
    assert!(cg.tasks(Recursive::Yes).unwrap().contains(&sleeper.pid()));
    let own = std::fs::read_to_string(format!("/proc/{}/cgroup", sleeper.pid())).unwrap();
    assert!(own.contains(&*root.0.join("c").to_string_lossy()), "{own}");

    let s = cg.stats(StatOptions::default()).unwrap();
    assert_eq!(s.pids.current, 1);
    let json = serde_json::to_value(&s).unwrap();
    assert!(json["memory"]["usage"]["limit"].is_u64());

    cg.freeze().unwrap();
    assert_eq!(cg.state().unwrap(), FreezerState::Frozen);
    if mode() != Mode::Unified {
        assert_eq!(kread("freezer", cg.path(), "freezer.state"), "FROZEN");
    }
    cg.thaw().unwrap();
    assert_eq!(cg.state().unwrap(), FreezerState::Thawed);

    cg.kill().unwrap();
    assert!(cg.processes(Recursive::Yes).unwrap().is_empty());
    let status = sleeper.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGKILL));

    let dirs = all_kdirs(cg.path());
    assert!(!dirs.is_empty());
    assert!(dirs.iter().all(|d| d.is_dir()));
    cg.delete().unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} still exists", d.display());
    }
    // Deleting again is fine; loading is NotFound.
    cg.delete().unwrap();
    let err = Cgroup::load(root.path("c")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn kill_frozen_cgroup_with_children() {
    let root = TestRoot::new("killtree");
    let cg = Cgroup::new(root.path("c"), &Resources::default()).unwrap();
    let kid = cg.child("kid", &Resources::default()).unwrap();
    let a = Sleeper::spawn();
    let b = Sleeper::spawn();
    if mode() == Mode::Unified {
        // v2: no processes in a cgroup whose children have controllers enabled.
        cg.child("kid2", &Resources::default())
            .unwrap()
            .add(a.pid())
            .unwrap();
    } else {
        cg.add(a.pid()).unwrap();
    }
    kid.add(b.pid()).unwrap();
    let mut all = cg.processes(Recursive::Yes).unwrap();
    all.sort_by_key(|p| p.0);
    let mut want = vec![a.pid(), b.pid()];
    want.sort_by_key(|p| p.0);
    assert_eq!(all, want);
    cg.freeze().unwrap();
    cg.kill().unwrap();
    assert!(cg.processes(Recursive::Yes).unwrap().is_empty());
    cg.delete().unwrap();
    assert!(all_kdirs(kid.path()).iter().all(|d| !d.exists()));
}

#[test]
fn child_and_move_to() {
    let root = TestRoot::new("move");
    let parent = Cgroup::new(root.path("p"), &Resources::default()).unwrap();
    let kid = parent.child("kid", &limits()).unwrap();
    assert_eq!(kid.path(), root.0.join("p/kid"));
    let other = Cgroup::new(root.path("other"), &Resources::default()).unwrap();
    let s = Sleeper::spawn();
    kid.add(s.pid()).unwrap();
    assert!(parent.processes(Recursive::No).unwrap().is_empty());
    assert_eq!(parent.processes(Recursive::Yes).unwrap(), [s.pid()]);
    kid.move_to(&other).unwrap();
    assert!(kid.processes(Recursive::No).unwrap().is_empty());
    assert_eq!(other.processes(Recursive::No).unwrap(), [s.pid()]);
    // Load through the pid's own path.
    let loaded = Cgroup::load(CgroupPath::of_pid(s.pid()).unwrap()).unwrap();
    assert_eq!(loaded.path(), root.0.join("other"));
    assert_eq!(loaded.processes(Recursive::No).unwrap(), [s.pid()]);
}

#[test]
fn invalid_value_names_file_and_leaves_nothing() {
    let root = TestRoot::new("invalid");
    let r = Resources {
        cpu: Some(Cpu {
            cpus: Some("999".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = Cgroup::new(root.path("bad/deeper"), &r).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cpuset.cpus") && msg.contains("999"), "{msg}");
    for d in all_kdirs(&root.0) {
        assert!(!d.exists(), "{} left behind", d.display());
    }
}
