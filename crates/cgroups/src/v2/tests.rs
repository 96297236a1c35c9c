//! v2 against a fake tree: conversions and exact file contents.

use super::cpu::{cpu_max, shares_to_weight};
use super::io::blkio_to_io_weight;
use super::memory::swap_to_v2;
use crate::resources::*;
use crate::testutil::{fake_v2, TempDir};
use crate::{Cgroup, CgroupPath, Detail, Error, FreezerState, Pid, Recursive, StatOptions};

#[test]
fn cpu_shares_to_weight_matches_runc() {
    assert_eq!(shares_to_weight(0), 0);
    assert_eq!(shares_to_weight(2), 1);
    assert_eq!(shares_to_weight(1024), 100);
    assert_eq!(shares_to_weight(262_144), 10_000);
    assert_eq!(shares_to_weight(512), 59);
    assert_eq!(shares_to_weight(2048), 174);
    assert_eq!(shares_to_weight(100), 17);
}

#[test]
fn other_conversions() {
    assert_eq!(blkio_to_io_weight(10), 1);
    assert_eq!(blkio_to_io_weight(500), 4950);
    assert_eq!(blkio_to_io_weight(1000), 10_000);
    assert_eq!(cpu_max(50_000, 100_000), "50000 100000");
    assert_eq!(cpu_max(-1, 100_000), "max 100000");
    assert_eq!(cpu_max(20_000, 0), "20000");
    assert_eq!(swap_to_v2(300, 100).unwrap(), 200);
    assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
    assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
    assert!(swap_to_v2(50, 100).is_err());
    assert!(swap_to_v2(50, 0).is_err());
}

#[test]
fn create_writes_converted_values_and_enables_controllers() {
    let t = TempDir::new();
    let h = fake_v2(&t);
    let r = Resources {
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            period: Some(100_000),
            cpus: Some("0".into()),
            ..Default::default()
        }),
        memory: Some(Memory {
            limit: Some(1 << 20),
            swap: Some(3 << 20),
            reservation: Some(1 << 19),
            ..Default::default()
        }),
        pids: Some(Pids { limit: -1 }),
        block_io: Some(BlockIo {
            weight: Some(500),
            throttle_read_bps_device: vec![ThrottleDevice {
                major: 8,
                minor: 0,
                rate: 1000,
            }],
            ..Default::default()
        }),
        unified: [("memory.high".to_string(), "900000".to_string())].into(),
        ..Default::default()
    };
    // memory.high is not in the fake root: give the emulated kernel one.
    std::fs::write(t.path().join("unified/memory.high"), "max\n").unwrap();
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/rt/c"), &r).unwrap();
    let f = |n: &str| t.read(format!("unified/rt/c/{n}"));
    assert_eq!(f("cpu.weight"), "100");
    assert_eq!(f("cpu.max"), "50000 100000");
    assert_eq!(f("cpuset.cpus"), "0");
    assert_eq!(f("memory.max"), "1048576");
    assert_eq!(f("memory.swap.max"), "2097152");
    assert_eq!(f("memory.low"), "524288");
    assert_eq!(f("pids.max"), "max");
    assert_eq!(f("io.weight"), "4950");
    assert_eq!(f("io.max"), "8:0 rbps=1000");
    assert_eq!(f("memory.high"), "900000");
    // Controllers enabled at the root and at /rt for the levels below.
    let want = "+cpu +cpuset +io +memory +pids";
    assert_eq!(t.read("unified/cgroup.subtree_control"), want);
    assert_eq!(t.read("unified/rt/cgroup.subtree_control"), want);
    assert_eq!(f("cgroup.subtree_control"), "");
    cg.delete().unwrap();
    assert!(!t.path().join("unified/rt/c").exists());
    assert!(t.path().join("unified/rt").exists());
}

#[test]
fn memory_edge_cases() {
    let t = TempDir::new();
    let h = fake_v2(&t);
    let mem = |limit, swap| Resources {
        memory: Some(Memory {
            limit: Some(limit),
            swap: Some(swap),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/m"), &mem(-1, 0)).unwrap();
    assert_eq!(t.read("unified/m/memory.max"), "max");
    assert_eq!(t.read("unified/m/memory.swap.max"), "max");
    cg.update(&mem(1000, 1000)).unwrap();
    assert_eq!(t.read("unified/m/memory.max"), "1000");
    assert_eq!(t.read("unified/m/memory.swap.max"), "0");
    // Without swap accounting, "0"/"max" swap is skipped, a real swap limit is an error.
    std::fs::remove_file(t.path().join("unified/m/memory.swap.max")).unwrap();
    cg.update(&mem(2000, 2000)).unwrap();
    let err = cg.update(&mem(2000, 3000)).unwrap_err();
    assert!(err.to_string().contains("memory.swap.max"), "{err}");
}

#[test]
fn failure_leaves_nothing_and_names_file() {
    let t = TempDir::new();
    let h = fake_v2(&t);
    let mut r = Resources::default();
    r.unified.insert("memory.nosuch".into(), "7".into());
    let err = Cgroup::new_in(&h, CgroupPath::static_path("/f/g"), &r).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("memory.nosuch") && msg.contains("\"7\""),
        "{msg}"
    );
    assert!(!t.path().join("unified/f").exists());
    // Conversion errors happen before anything is created.
    let r = Resources {
        cpu: Some(Cpu {
            realtime_runtime: Some(1000),
            ..Default::default()
        }),
        ..Default::default()
    };
    let err = Cgroup::new_in(&h, CgroupPath::static_path("/f"), &r).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    assert!(!t.path().join("unified/f").exists());
}

#[test]
fn freeze_processes_stats() {
    let t = TempDir::new();
    let h = fake_v2(&t);
    // The fake kernel "freezes" at once.
    std::fs::write(t.path().join("unified/cgroup.events"), "frozen 1\n").unwrap();
    let cg = Cgroup::new_in(&h, CgroupPath::static_path("/z"), &Resources::default()).unwrap();
    cg.freeze().unwrap();
    assert_eq!(t.read("unified/z/cgroup.freeze"), "1");
    assert_eq!(cg.state().unwrap(), FreezerState::Frozen);
    std::fs::write(t.path().join("unified/z/cgroup.events"), "frozen 0\n").unwrap();
    assert_eq!(cg.state().unwrap(), FreezerState::Freezing);
    cg.thaw().unwrap();
    assert_eq!(cg.state().unwrap(), FreezerState::Thawed);

    cg.add(Pid(77)).unwrap();
    assert_eq!(cg.processes(Recursive::Yes).unwrap(), [Pid(77)]);
    cg.add_task(Pid(78)).unwrap();
    assert_eq!(cg.tasks(Recursive::No).unwrap(), [Pid(78)]);

    let s = cg.stats(StatOptions::default()).unwrap();
    assert_eq!(s.cpu.usage.total, 5000);
    assert_eq!(s.cpu.usage.user, 3000);
    assert_eq!(s.cpu.usage.kernel, 2000);
    assert_eq!(s.cpu.throttling.throttled_time, 7000);
    assert_eq!(s.memory.usage.usage, 4096);
    assert_eq!(s.memory.usage.limit, u64::MAX);
    assert_eq!(s.memory.swap.usage, 4196);
    assert_eq!(s.memory.cache, 2);
    assert_eq!(s.pids.current, 1);
    assert_eq!(s.pids.limit, 0);
    assert_eq!(s.blkio.io_service_bytes_recursive[1].value, 20);
    assert_eq!(s.blkio.io_serviced_recursive[0].op, "Read");

    let sum = cg
        .stats(StatOptions {
            detail: Detail::Summary,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(sum.cpu, s.cpu);
    assert_eq!(sum.memory.usage, s.memory.usage);
    assert_eq!(sum.memory.swap.usage, s.memory.swap.usage);
    assert_eq!(sum.memory.cache, s.memory.cache);
    assert_eq!(sum.pids, s.pids);
    assert_eq!(
        sum.blkio.io_service_bytes_recursive,
        s.blkio.io_service_bytes_recursive
    );
    assert_eq!(sum.memory.event_count, Default::default());
}

#[test]
fn resources_become_one_plan() {
    use crate::plan::{pairs, Facts};
    let r = Resources {
        cpu: Some(Cpu {
            shares: Some(1024),
            quota: Some(50_000),
            period: Some(100_000),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 0 }),
        block_io: Some(BlockIo {
            weight: Some(500),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(
        pairs(&super::manager::settings(&r, &Facts::default()).unwrap()),
        [
            ("cpu.weight", "100"),
            ("cpu.max", "50000 100000"),
            ("pids.max", "max"),
            ("io.weight", "4950"),
        ]
    );
    let bfq = Facts {
        bfq: true,
        ..Facts::default()
    };
    let plan = super::manager::settings(&r, &bfq).unwrap();
    assert!(pairs(&plan).contains(&("io.bfq.weight", "500")));
}
