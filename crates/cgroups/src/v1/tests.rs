//! v1 against fake trees: exact file contents.

use crate::resources::*;
use crate::testutil::{fake_v1, TempDir};
use crate::{Cgroup, CgroupPath, Detail, Error, FreezerState, Pid, Recursive, StatOptions};

fn res() -> Resources {
    Resources {
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(50_000),
            period: Some(100_000),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(64 << 20),
            swap: Some(128 << 20),
            reservation: Some(32 << 20),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 42 }),
        ..Default::default()
    }
}

#[test]
fn create_writes_limits() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/rt/a"), &res()).unwrap();
    assert_eq!(cg.path(), std::path::Path::new("/rt/a"));
    assert_eq!(t.read("cpu/rt/a/cpu.shares"), "512");
    assert_eq!(t.read("cpu/rt/a/cpu.cfs_quota_us"), "50000");
    assert_eq!(t.read("cpu/rt/a/cpu.cfs_period_us"), "100000");
    assert_eq!(t.read("memory/rt/a/memory.limit_in_bytes"), "67108864");
    assert_eq!(
        t.read("memory/rt/a/memory.memsw.limit_in_bytes"),
        "134217728"
    );
    assert_eq!(t.read("memory/rt/a/memory.soft_limit_in_bytes"), "33554432");
    assert_eq!(t.read("pids/rt/a/pids.max"), "42");
    // Untouched values keep the (emulated) kernel defaults.
    assert_eq!(t.read("memory/rt/a/memory.swappiness"), "60\n");
    for s in ["cpuacct", "cpuset", "devices", "freezer", "blkio"] {
        assert!(t.path().join(s).join("rt/a").is_dir(), "{s}");
    }
}

#[test]
fn pids_unlimited_is_max() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    for (limit, want) in [(-1, "max"), (0, "max"), (5, "5")] {
        let r = Resources {
            pids: Some(Pids { limit }),
            ..Default::default()
        };
        let cg = Cgroup::new_in(&h, CgroupPath::static_path("/p"), &r).unwrap();
        assert_eq!(t.read("pids/p/pids.max"), want);
        cg.delete().unwrap();
    }
}

#[test]
fn cpuset_is_copied_down_each_level() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let r = Resources {
        cpu: Some(Cpu {
            cpus: Some("1".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    Cgroup::new_in(&h, CgroupPath::static_path("/a/b/c"), &r).unwrap();
    assert_eq!(t.read("cpuset/a/cpuset.cpus"), "0-1");
    assert_eq!(t.read("cpuset/a/cpuset.mems"), "0");
    assert_eq!(t.read("cpuset/a/b/cpuset.cpus"), "0-1");
    assert_eq!(t.read("cpuset/a/b/c/cpuset.cpus"), "1");
    assert_eq!(t.read("cpuset/a/b/c/cpuset.mems"), "0");
}

#[test]
fn comounted_cpu_cpuacct_share_one_dir() {
    let t = TempDir::new();
    let h = fake_v1(&t, true);
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/x"), &res()).unwrap();
    assert_eq!(t.read("cpu,cpuacct/x/cpu.cfs_quota_us"), "50000");
    cg.add(Pid(1234)).unwrap();
    assert_eq!(t.read("cpu,cpuacct/x/cgroup.procs"), "1234");
    assert_eq!(t.read("memory/x/cgroup.procs"), "1234");
    assert_eq!(t.read("freezer/x/cgroup.procs"), "1234");
    cg.add_task(Pid(99)).unwrap();
    assert_eq!(t.read("pids/x/tasks"), "99");
    cg.delete().unwrap();
    assert!(!t.path().join("cpu,cpuacct/x").exists());
}

#[test]
fn failure_removes_created_dirs_only() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    Cgroup::new_in(&h, CgroupPath::static_path("/keep"), &Resources::default()).unwrap();
    let r = Resources {
        block_io: Some(BlockIo {
            weight_device: vec![WeightDevice {
                major: 8,
                minor: 0,
                weight: Some(300),
                leaf_weight: None,
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = Cgroup::new_in(&h, CgroupPath::static_path("/keep/new/x"), &r).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("blkio.bfq.weight_device") && msg.contains("8:0 300"),
        "{msg}"
    );
    for s in ["cpu", "memory", "pids", "blkio", "cpuset"] {
        assert!(t.path().join(s).join("keep").is_dir(), "{s}");
        assert!(!t.path().join(s).join("keep/new").exists(), "{s}");
    }
}

#[test]
fn missing_controller_and_unified_are_errors_before_creating() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let r = Resources {
        hugepage_limits: vec![HugepageLimit {
            page_size: "2MB".into(),
            limit: 1 << 21,
        }],
        ..Default::default()
    };
    let err = Cgroup::new_in(&h, CgroupPath::static_path("/h"), &r).unwrap_err();
    assert!(matches!(err, Error::ControllerMissing { .. }), "{err}");
    let mut r = Resources::default();
    r.unified.insert("memory.high".into(), "1".into());
    let err = Cgroup::new_in(&h, CgroupPath::static_path("/h"), &r).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(!t.path().join("memory/h").exists());
}

#[test]
fn devices_rules_in_order() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let r = Resources {
        devices: vec![
            DeviceRule {
                allow: false,
                access: "rwm".into(),
                ..Default::default()
            },
            DeviceRule {
                allow: true,
                kind: DeviceKind::Char,
                major: Some(1),
                minor: Some(3),
                access: "rwm".into(),
            },
        ],
        ..Default::default()
    };
    Cgroup::new_in(&h, CgroupPath::static_path("/d"), &r).unwrap();
    assert_eq!(t.read("devices/d/devices.deny"), "a *:* rwm");
    assert_eq!(t.read("devices/d/devices.allow"), "c 1:3 rwm");
}

#[test]
fn update_load_child_freeze_processes_stats() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/u"), &Resources::default()).unwrap();
    cg.update(&res()).unwrap();
    assert_eq!(t.read("cpu/u/cpu.cfs_quota_us"), "50000");

    let loaded = Cgroup::load_in(&h, CgroupPath::static_path("/u")).unwrap();
    let kid = loaded.child("kid", &Resources::default()).unwrap();
    assert_eq!(kid.path(), std::path::Path::new("/u/kid"));
    assert_eq!(t.read("cpuset/u/kid/cpuset.cpus"), "0-1");

    std::fs::write(t.path().join("freezer/u/cgroup.procs"), "10\n11\n").unwrap();
    std::fs::write(t.path().join("freezer/u/kid/cgroup.procs"), "12\n").unwrap();
    assert_eq!(cg.processes(Recursive::No).unwrap(), [Pid(10), Pid(11)]);
    assert_eq!(
        cg.processes(Recursive::Yes).unwrap(),
        [Pid(10), Pid(11), Pid(12)]
    );

    cg.freeze().unwrap();
    assert_eq!(t.read("freezer/u/freezer.state"), "FROZEN");
    assert_eq!(cg.state().unwrap(), FreezerState::Frozen);
    cg.thaw().unwrap();
    assert_eq!(cg.state().unwrap(), FreezerState::Thawed);

    let s = cg.stats(StatOptions::default()).unwrap();
    assert_eq!(s.cpu.usage.total, 1000);
    assert_eq!(s.cpu.usage.percpu, [600, 400]);
    let tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .unwrap()
        .unwrap() as u64;
    assert_eq!(s.cpu.usage.user, 10 * 1_000_000_000 / tck);
    assert_eq!(s.cpu.usage.kernel, 5 * 1_000_000_000 / tck);
    assert_eq!(s.cpu.throttling.periods, 7);
    assert_eq!(s.cpu.throttling.throttled_periods, 2);
    assert_eq!(s.cpu.throttling.throttled_time, 300);
    assert_eq!(s.memory.usage.limit, 67108864);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.memory.usage.max, 8192);
    assert_eq!(s.memory.usage.failcnt, 3);
    assert_eq!(s.memory.swap.usage, 5000);
    assert_eq!(s.memory.cache, 10);
    assert_eq!(s.memory.raw["rss"], 20);
    assert_eq!(s.pids.current, 2);
    assert_eq!(s.pids.limit, 42);
    assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
    assert_eq!(s.blkio.io_service_bytes_recursive[1].op, "Write");
    assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 200);

    // A summary: the same counters, without what only `events --stats` shows.
    let sum = cg
        .stats(StatOptions {
            detail: Detail::Summary,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(sum.cpu.usage.total, s.cpu.usage.total);
    assert_eq!(sum.cpu.usage.user, s.cpu.usage.user);
    assert_eq!(sum.cpu.throttling, s.cpu.throttling);
    assert_eq!(sum.memory.usage, s.memory.usage);
    assert_eq!(sum.memory.swap.usage, s.memory.swap.usage);
    assert_eq!(sum.memory.cache, s.memory.cache);
    assert_eq!(sum.pids, s.pids);
    assert_eq!(sum.blkio, s.blkio);
    assert!(!s.cpu.usage.percpu.is_empty());
    assert!(sum.cpu.usage.percpu.is_empty());
    assert!(!s.cpuset.cpus.is_empty());
    assert!(sum.cpuset.cpus.is_empty());

    cg.delete().unwrap();
    for s in ["cpu", "memory", "pids", "freezer", "cpuset"] {
        assert!(!t.path().join(s).join("u").exists(), "{s}");
    }
    let err = Cgroup::load_in(&h, CgroupPath::static_path("/u")).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn sampler_keeps_files_open_and_reports_what_stats_does() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/s"), &Resources::default()).unwrap();
    let opts = StatOptions {
        ignore_not_exist: true,
        detail: Detail::Summary,
    };
    let sampler = cg.sampler(opts);
    assert_eq!(sampler.open_files(), 0);
    let first = sampler.sample().unwrap();
    assert_eq!(first, cg.stats(opts).unwrap());
    let held = sampler.open_files();
    assert!(held >= 10, "{held} files held");
    // Values change in place (the kernel renders the file anew): the next sample sees them
    // through the files it holds, and opens nothing more.
    std::fs::write(t.path().join("memory/s/memory.usage_in_bytes"), "123456\n").unwrap();
    std::fs::write(t.path().join("pids/s/pids.current"), "7\n").unwrap();
    let second = sampler.sample().unwrap();
    assert_eq!(second.memory.usage.usage, 123456);
    assert_eq!(second.pids.current, 7);
    assert_eq!(second, cg.stats(opts).unwrap());
    assert_eq!(sampler.open_files(), held);
    drop(sampler);
    cg.delete().unwrap();
}

#[test]
fn invalid_paths_are_rejected() {
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let r = Resources::default();
    assert!(Cgroup::new_in(&h, CgroupPath::static_path("/a/../../x"), &r).is_err());
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/a"), &r).unwrap();
    assert!(cg.child("..", &r).is_err());
    assert!(cg.child("/abs", &r).is_err());
}

#[test]
fn kill_of_a_cgroup_that_is_gone_succeeds() {
    // A systemd scope vanishes when its last process exits, maybe while rt kills it.
    let t = TempDir::new();
    let h = fake_v1(&t, false);
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/gone"), &Resources::default()).unwrap();
    for entry in std::fs::read_dir(t.path()).unwrap().flatten() {
        let _ = std::fs::remove_dir_all(entry.path().join("gone"));
    }
    cg.kill().unwrap();
    assert!(cg.processes(Recursive::Yes).unwrap_err().is_not_found());
}

#[test]
fn resources_become_one_plan_in_controller_order() {
    use crate::plan::{pairs, Check, Facts};
    let facts = Facts {
        memsw: true,
        memory_limit: Some(1 << 30),
        ..Facts::default()
    };
    let plan = super::settings(&res(), &facts).unwrap();
    assert_eq!(
        pairs(&plan),
        [
            ("memory.limit_in_bytes", "67108864"),
            ("memory.memsw.limit_in_bytes", "134217728"),
            ("memory.soft_limit_in_bytes", "33554432"),
            ("cpu.shares", "512"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "50000"),
            ("pids.max", "42"),
        ]
    );
    // cpu.shares is read back (the kernel clamps), a period with a new quota retried after it.
    assert!(matches!(plan[3].check, Check::ReadBack { .. }));
    assert_eq!(plan[4].check, Check::RetryLaterOnEinval);
    // BFQ's weight files when the cgroup has them.
    let r = Resources {
        block_io: Some(BlockIo {
            weight: Some(300),
            ..Default::default()
        }),
        ..Default::default()
    };
    let bfq = Facts {
        bfq: true,
        ..Facts::default()
    };
    assert_eq!(
        pairs(&super::settings(&r, &bfq).unwrap()),
        [("blkio.bfq.weight", "300")]
    );
    assert_eq!(
        pairs(&super::settings(&r, &Facts::default()).unwrap()),
        [("blkio.weight", "300")]
    );
}

#[test]
fn a_clamped_share_is_an_error() {
    // The fake kernel keeps what is written; one that clamps is emulated by a file the
    // writer cannot change: a directory in its place makes the write fail instead, so the
    // read-back is checked through a value the kernel would print differently.
    use crate::plan::{write, Check, Setting};
    let t = TempDir::new();
    std::fs::write(t.path().join("cpu.shares"), "1024\n").unwrap();
    let s = Setting::new("cpu.shares", "512 ").with(Check::ReadBack {
        field: "cpu.shares",
        reason: "the kernel clamped it",
    });
    let err = write(&[s], |_| Ok(t.path())).unwrap_err();
    assert!(err.to_string().contains("clamped"), "{err}");
}
