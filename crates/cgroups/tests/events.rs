//! Real-kernel memory event tests (root), on cgroup v1 (host) and v2 (guest): a real OOM kill
//! seen by the OOM watcher and by a monitor, thresholds/pressure where the version has them.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cgroups::{
    mode, Cgroup, Error, Event, EventMonitor, Memory, MemoryEvent, Mode, PressureLevel,
    PressureMode, Resources, StatOptions,
};

mod common;

use common::*;

const LIMIT: i64 = 32 << 20;

/// 32 MiB of memory and no swap to escape to (memsw = memory where swap is accounted).
fn small_memory() -> Resources {
    let swap = match mode() {
        Mode::Unified => true,
        _ => kdir("memory", Path::new("/"))
            .is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists()),
    };
    Resources {
        memory: Some(Memory {
            limit: Some(LIMIT),
            swap: swap.then_some(LIMIT),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A shell that waits for a line on stdin, then execs `tail /dev/zero` (which buffers
/// without bound, looking for a newline that never comes).
struct Hog(Child);

impl Hog {
    fn spawn() -> Hog {
        let c = Command::new("sh")
            .args(["-c", "read x; exec tail /dev/zero"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Hog(c)
    }
    fn pid(&self) -> cgroups::Pid {
        cgroups::Pid(self.0.id() as i32)
    }
    fn go(&mut self) {
        self.0.stdin.take().unwrap().write_all(b"go\n").unwrap();
    }
}

impl Drop for Hog {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn real_oom_kill_is_seen_by_watcher_and_monitor() {
    let root = TestRoot::new("oom");
    let cg = Cgroup::new(root.path("c"), &small_memory()).unwrap();
    let mut oom = cg.oom_events().unwrap();
    assert_eq!(oom.try_read().unwrap(), 0);

    let mut mon = EventMonitor::new().unwrap();
    mon.add("oom", cg.register_memory_event(MemoryEvent::oom()).unwrap())
        .unwrap();
    let threshold = cg.register_memory_event(MemoryEvent::threshold(4 << 20));
    let pressure = cg.register_memory_event(MemoryEvent::pressure(
        PressureLevel::Critical,
        PressureMode::Hierarchy,
    ));
    match mode() {
        Mode::Unified => {
            assert!(matches!(threshold, Err(Error::Unsupported { .. })));
        }
        _ => mon.add("threshold", threshold.unwrap()).unwrap(),
    }
    mon.add("pressure", pressure.unwrap()).unwrap();

    let mut hog = Hog::spawn();
    cg.add(hog.pid()).unwrap();
    hog.go();
    let start = Instant::now();
    let kills = oom.wait_timeout(Duration::from_secs(90)).unwrap();
    assert!(kills >= 1, "no OOM kill seen in {:?}", start.elapsed());
    let status = hog.0.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    eprintln!("OOM kill seen after {:?}", start.elapsed());

    // The monitor saw the same kill (and, on v1, the threshold crossing).
    let mut seen: Vec<(&str, Event)> = Vec::new();
    let want_threshold = mode() != Mode::Unified;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let has = |k: &str| seen.iter().any(|(s, _)| *s == k);
        if has("oom") && (!want_threshold || has("threshold")) {
            break;
        }
        seen.extend(mon.wait(Some(Duration::from_millis(500))).unwrap());
    }
    eprintln!("monitor saw {seen:?}");
    assert!(
        seen.iter()
            .any(|(k, e)| *k == "oom" && matches!(e, Event::Oom { count } if *count >= 1)),
        "{seen:?}"
    );
    if want_threshold {
        assert!(seen.iter().any(|(k, _)| *k == "threshold"), "{seen:?}");
    }

    if mode() == Mode::Unified {
        let s = cg.stats(StatOptions::default()).unwrap();
        assert!(
            s.memory.event_count.oom_kill >= 1,
            "{:?}",
            s.memory.event_count
        );
    }

    // Removing the cgroup is reported to the watchers still registered.
    cg.delete().unwrap();
    let mut removed = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !removed && Instant::now() < deadline {
        removed = mon
            .wait(Some(Duration::from_millis(500)))
            .unwrap()
            .iter()
            .any(|(k, e)| *k == "oom" && *e == Event::Removed);
    }
    assert!(removed, "removal of the cgroup was not reported");
    assert_eq!(oom.try_read().unwrap(), 0);
}
