//! Soak (`make test-soak`; ignored by a plain `cargo test`): 300 containers run and deleted
//! one after another, then 50 more 8 at a time. Before and after, the counts that a leak
//! would change are equal: cgroup directories under the test's parent, mounts in our mount
//! table, open fds of this process, rt processes (and their fds), entries in the state dir;
//! and no cgroup named after the soak's containers exists anywhere in the hierarchies.
//! Under the cgroup v2 guest (RT_GUEST=1, slow emulated CPU) the counts are 30 and 16.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use rt_tests::*;

#[derive(Debug, PartialEq, Eq)]
struct Counts {
    cgroup_dirs_under_parent: usize,
    mounts: usize,
    our_fds: usize,
    rt_processes: usize,
    rt_fds: usize,
    state_entries: usize,
}

fn count_dirs(dir: &Path) -> usize {
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| 1 + count_dirs(&e.path()))
        .sum()
}

/// Directories anywhere under /sys/fs/cgroup whose name contains `needle`.
fn cgroups_named(dir: &Path, needle: &str, out: &mut Vec<String>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            if e.file_name().to_string_lossy().contains(needle) {
                out.push(e.path().display().to_string());
            }
            cgroups_named(&e.path(), needle, out);
        }
    }
}

fn counts(env: &Env) -> Counts {
    let rt = fs::canonicalize(rt_bin()).unwrap();
    let (mut rt_processes, mut rt_fds) = (0, 0);
    for e in fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        if fs::read_link(e.path().join("exe")).is_ok_and(|exe| exe == rt) {
            rt_processes += 1;
            rt_fds += fs::read_dir(e.path().join("fd")).map_or(0, |d| d.count());
        }
    }
    let parent = cgroup_dirs(&env.cgroup_parent);
    Counts {
        cgroup_dirs_under_parent: parent.iter().map(|d| count_dirs(d)).sum(),
        mounts: fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .count(),
        our_fds: fs::read_dir("/proc/self/fd").unwrap().count(),
        rt_processes,
        rt_fds,
        state_entries: fs::read_dir(&env.root).map_or(0, |d| d.count()),
    }
}

#[test]
#[ignore = "soak: run by `make test-soak`"]
fn soak_runs_leave_nothing() {
    let guest = std::env::var_os("RT_GUEST").is_some();
    let (sequential, parallel) = if guest { (30, 16) } else { (300, 50) };
    let env = Env::new("soak");
    fs::create_dir_all(&env.root).unwrap();
    // The parent cgroup exists before and after (its children are what must not leak).
    for d in cgroup_dirs(&env.cgroup_parent) {
        let _ = fs::create_dir_all(d);
    }
    let before = counts(&env);
    let started = Instant::now();
    let config = env.config("soak", &["true"]);
    let bundle_of = |id: &str| {
        let mut c = config.clone();
        set(
            &mut c,
            "/linux/cgroupsPath",
            serde_json::json!(env.cgroup_path(id)),
        );
        env.bundle(id, &c)
    };
    let prefix = format!("soak{}", std::process::id());
    for i in 0..sequential {
        let id = format!("{prefix}-s{i}");
        let bundle = bundle_of(&id);
        let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
        assert_ok(&out, &format!("run {id}"));
    }
    let seq_time = started.elapsed();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= parallel {
                    break;
                }
                let id = format!("{prefix}-p{i}");
                let bundle = bundle_of(&id);
                let out = env.rt(&["run", "-b", bundle.to_str().unwrap(), &id]);
                assert_ok(&out, &format!("run {id}"));
            });
        }
    });
    let after = counts(&env);
    eprintln!(
        "soak: {sequential} sequential in {seq_time:?}, {parallel} 8 at a time, {:?} in all; {after:?}",
        started.elapsed()
    );
    assert_eq!(before, after, "something leaked");
    assert_eq!(after.rt_processes, 0);
    let mut left = Vec::new();
    cgroups_named(Path::new("/sys/fs/cgroup"), &prefix, &mut left);
    assert!(left.is_empty(), "cgroups left: {left:?}");
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mountinfo.contains(&prefix));
}
