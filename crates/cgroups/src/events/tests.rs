//! Event sources on fake files: v1 registration lines, v2 memory.events counting, the monitor.

use std::time::Duration;

use super::*;
use crate::testutil::TempDir;

fn fake_v1_memory() -> TempDir {
    let t = TempDir::new();
    for f in [
        V1_EVENT_CONTROL,
        V1_OOM_CONTROL,
        V1_USAGE,
        V1_PRESSURE_LEVEL,
    ] {
        std::fs::write(t.path().join(f), "").unwrap();
    }
    t
}

fn fake_v2_memory(oom_kill: u64) -> TempDir {
    let t = TempDir::new();
    write_events(&t, oom_kill);
    t
}

fn write_events(t: &TempDir, oom_kill: u64) {
    let text = format!("low 0\nhigh 0\nmax 3\noom 1\noom_kill {oom_kill}\noom_group_kill 0\n");
    std::fs::write(t.path().join(V2_MEMORY_EVENTS), text).unwrap();
}

#[test]
fn v1_registration_lines() {
    let t = fake_v1_memory();
    let check = |ev: MemoryEvent, tail: &str| {
        let w = register_v1(t.path(), ev).unwrap();
        let line = t.read(V1_EVENT_CONTROL);
        let parts: Vec<&str> = line.splitn(3, ' ').collect();
        assert_eq!(parts[0], w.0.fd().as_raw_fd().to_string(), "{line}");
        assert!(parts[1].parse::<i32>().is_ok(), "{line}");
        assert_eq!(parts.get(2).copied().unwrap_or(""), tail, "{line}");
    };
    use std::os::fd::AsRawFd;
    check(MemoryEvent::oom(), "");
    check(MemoryEvent::threshold(50 << 20), "52428800");
    check(
        MemoryEvent::pressure(PressureLevel::Medium, PressureMode::Hierarchy),
        "medium,hierarchy",
    );
    check(
        MemoryEvent::pressure(PressureLevel::Critical, PressureMode::Default),
        "critical",
    );
    let err = register_v1(t.path(), MemoryEvent::psi(PressureLevel::Low.psi_trigger()));
    assert!(matches!(err, Err(Error::Unsupported { .. })));
}

#[test]
fn psi_trigger_lines() {
    assert_eq!(
        PressureLevel::Medium.psi_trigger().line(),
        "some 150000 1000000"
    );
    assert_eq!(
        PressureLevel::Critical.psi_trigger().line(),
        "full 300000 1000000"
    );
    let t = fake_v2_memory(0);
    assert!(matches!(
        register_v2(t.path(), MemoryEvent::threshold(1)),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn v2_oom_counts_oom_kill_increments() {
    let t = fake_v2_memory(5);
    let mut w = OomWatcher(register_v2(t.path(), MemoryEvent::oom()).unwrap().0);
    // Kills before the watch existed are not reported.
    assert_eq!(w.try_read().unwrap(), 0);
    write_events(&t, 7);
    assert_eq!(w.wait_timeout(Duration::from_secs(2)).unwrap(), 2);
    assert_eq!(w.try_read().unwrap(), 0);
    write_events(&t, 8);
    assert_eq!(w.wait().unwrap(), 1);
    assert!(!w.is_removed());
}

#[test]
fn monitor_reports_per_key_and_removal() {
    let a = fake_v2_memory(0);
    let b = fake_v2_memory(0);
    let mut m = EventMonitor::new().unwrap();
    let wa = OomWatcher(register_v2(a.path(), MemoryEvent::oom()).unwrap().0);
    let wb = OomWatcher(register_v2(b.path(), MemoryEvent::oom()).unwrap().0);
    m.add("a".to_string(), wa).unwrap();
    m.add("b".to_string(), wb).unwrap();
    assert!(m.wait(Some(Duration::from_millis(20))).unwrap().is_empty());
    write_events(&b, 3);
    let got = m.wait(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(got, vec![("b".to_string(), Event::Oom { count: 3 })]);
    // Removing the directory is reported once, then the watcher is gone.
    std::fs::remove_dir_all(a.path()).unwrap();
    let got = m.wait(Some(Duration::from_secs(2))).unwrap();
    assert_eq!(got, vec![("a".to_string(), Event::Removed)]);
    assert_eq!(m.len(), 1);
    assert_eq!(m.remove(&"b".to_string()).len(), 1);
    assert!(m.is_empty());
}
