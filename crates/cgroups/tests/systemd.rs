//! The systemd driver on a real systemd (root): transient scopes and slices over D-Bus.
//! Runs in the systemd guest (tests/guest/systemd, `make test-systemd`); elsewhere (no
//! systemd as PID 1, e.g. this project's host) each test says it is skipped, and fails when
//! RT_GUEST_SYSTEMD=1 says systemd should be there.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use cgroups::{Cgroup, Cpu, DeleteOptions, Memory, Pid, Pids, Recursive, Resources};

fn have_systemd(test: &str) -> bool {
    if cgroups::systemd::booted() {
        // SAFETY: geteuid has no preconditions.
        assert_eq!(unsafe { libc::geteuid() }, 0, "{test}: needs root");
        return true;
    }
    assert!(
        std::env::var_os("RT_GUEST_SYSTEMD").is_none(),
        "{test}: RT_GUEST_SYSTEMD is set but systemd is not running"
    );
    eprintln!("SKIPPED {test}: systemd is not PID 1 here (run `make test-systemd`)");
    false
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id())
}

fn sleeper() -> Child {
    Command::new("sleep").arg("1000").spawn().unwrap()
}

fn kfile(path: &Path, file: &str) -> String {
    let p = PathBuf::from("/sys/fs/cgroup")
        .join(path.strip_prefix("/").unwrap())
        .join(file);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// `systemctl show -p PROP --value UNIT`.
fn show(unit: &str, prop: &str) -> String {
    let out = Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn proc_cgroup(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap()
        .trim()
        .to_string()
}

fn wait_gone(path: &Path) {
    let dir = PathBuf::from("/sys/fs/cgroup").join(path.strip_prefix("/").unwrap());
    let deadline = Instant::now() + Duration::from_secs(5);
    while dir.exists() {
        assert!(Instant::now() < deadline, "{} still exists", dir.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn limits() -> Resources {
    Resources {
        memory: Some(Memory {
            limit: Some(64 << 20),
            ..Default::default()
        }),
        cpu: Some(Cpu {
            shares: Some(512),
            quota: Some(12_345),
            period: Some(100_000),
            ..Default::default()
        }),
        pids: Some(Pids { limit: 50 }),
        ..Default::default()
    }
}

#[test]
fn scope_with_limits_update_add_and_delete() {
    if !have_systemd("scope_with_limits_update_add_and_delete") {
        return;
    }
    let unit = format!("{}.scope", unique("rt-cgtest-a"));
    let mut first = sleeper();
    let cg = Cgroup::new_systemd(
        "system.slice",
        &unit,
        Some(Pid(first.id() as i32)),
        &limits(),
    )
    .unwrap();
    let path = PathBuf::from(format!("/system.slice/{unit}"));
    assert_eq!(cg.path(), path);
    assert_eq!(cg.systemd_unit(), Some(unit.as_str()));
    assert_eq!(
        cg.systemd_control_group().unwrap().as_deref(),
        Some(path.to_str().unwrap())
    );
    assert_eq!(proc_cgroup(first.id()), format!("0::{}", path.display()));
    // Files: exact values (systemd alone would round the quota up to 20000).
    assert_eq!(kfile(&path, "memory.max"), (64u64 << 20).to_string());
    assert_eq!(kfile(&path, "pids.max"), "50");
    assert_eq!(kfile(&path, "cpu.max"), "12345 100000");
    // Unit properties.
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Delegate"), "yes");
    assert_eq!(show(&unit, "Slice"), "system.slice");
    assert_eq!(show(&unit, "MemoryMax"), (64u64 << 20).to_string());
    assert_eq!(show(&unit, "TasksMax"), "50");
    assert_eq!(show(&unit, "CPUQuotaPerSecUSec"), "130ms");
    assert_eq!(show(&unit, "CPUWeight"), kfile(&path, "cpu.weight"));

    // Update: properties and files.
    let r = Resources {
        pids: Some(Pids { limit: 60 }),
        memory: Some(Memory {
            limit: Some(128 << 20),
            ..Default::default()
        }),
        ..Default::default()
    };
    cg.update(&r).unwrap();
    assert_eq!(kfile(&path, "pids.max"), "60");
    assert_eq!(show(&unit, "TasksMax"), "60");
    assert_eq!(show(&unit, "MemoryMax"), (128u64 << 20).to_string());
    assert_eq!(kfile(&path, "memory.max"), (128u64 << 20).to_string());

    // Add a second process.
    let mut second = sleeper();
    cg.add(Pid(second.id() as i32)).unwrap();
    let mut pids: Vec<i32> = cg
        .processes(Recursive::Yes)
        .unwrap()
        .iter()
        .map(|p| p.0)
        .collect();
    pids.sort();
    let mut want = vec![first.id() as i32, second.id() as i32];
    want.sort();
    assert_eq!(pids, want);

    // Delete: kill, stop the unit, the cgroup is gone.
    cg.delete_with(DeleteOptions { kill: true }).unwrap();
    assert!(first.wait().unwrap().code().is_none());
    assert!(second.wait().unwrap().code().is_none());
    wait_gone(&path);
    assert_eq!(show(&unit, "LoadState"), "not-found");
}

#[test]
fn scope_started_after_its_process() {
    if !have_systemd("scope_started_after_its_process") {
        return;
    }
    let unit = format!("{}.scope", unique("rt-cgtest-b"));
    let r = Resources {
        pids: Some(Pids { limit: 7 }),
        ..Default::default()
    };
    // The directory and its limits exist before the unit (a process can be born in it).
    let cg = Cgroup::new_systemd("", &unit, None, &r).unwrap();
    let path = PathBuf::from(format!("/system.slice/{unit}"));
    assert_eq!(kfile(&path, "pids.max"), "7");
    assert_eq!(show(&unit, "LoadState"), "not-found");
    let mut child = sleeper();
    cg.started(Pid(child.id() as i32)).unwrap();
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "TasksMax"), "7");
    assert_eq!(proc_cgroup(child.id()), format!("0::{}", path.display()));
    // load by name, delete by name: the unit is stopped (its process killed).
    let loaded = Cgroup::load_systemd("system.slice", &unit).unwrap();
    assert_eq!(loaded.path(), path);
    Cgroup::delete_systemd("system.slice", &unit).unwrap();
    assert!(child.wait().unwrap().code().is_none());
    wait_gone(&path);
    // Deleting again is fine.
    Cgroup::delete_systemd("system.slice", &unit).unwrap();
}

#[test]
fn nested_slice_and_a_scope_in_it() {
    if !have_systemd("nested_slice_and_a_scope_in_it") {
        return;
    }
    let slice = format!("rtcg-{}.slice", unique("n"));
    let r = Resources {
        memory: Some(Memory {
            limit: Some(256 << 20),
            ..Default::default()
        }),
        ..Default::default()
    };
    let s = Cgroup::new_systemd("/", &slice, None, &r).unwrap();
    let spath = PathBuf::from(format!("/rtcg.slice/{slice}"));
    assert_eq!(s.path(), spath);
    assert_eq!(show(&slice, "ActiveState"), "active");
    assert_eq!(kfile(&spath, "memory.max"), (256u64 << 20).to_string());

    let unit = format!("{}.scope", unique("rt-cgtest-c"));
    let mut child = sleeper();
    let cg = Cgroup::new_systemd(&slice, &unit, Some(Pid(child.id() as i32)), &limits()).unwrap();
    assert_eq!(cg.path(), spath.join(&unit));
    assert_eq!(
        proc_cgroup(child.id()),
        format!("0::{}", spath.join(&unit).display())
    );
    // delete() of a loaded unit stops it (and with it its process).
    Cgroup::load_systemd(&slice, &unit)
        .unwrap()
        .delete()
        .unwrap();
    assert!(child.wait().unwrap().code().is_none());
    wait_gone(&spath.join(&unit));
    s.delete().unwrap();
    wait_gone(&spath);
    assert_ne!(show(&slice, "ActiveState"), "active");
}
