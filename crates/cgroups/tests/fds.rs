//! Watchers and monitors close their fds: 1000 watchers on a real cgroup, opened and dropped,
//! leave /proc/self/fd as it was. Alone in its binary so no other test opens fds meanwhile.

use cgroups::{mode, Cgroup, EventMonitor, MemoryEvent, Mode, PressureLevel, PressureMode};

mod common;

use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn dropping_watchers_and_monitors_closes_every_fd() {
    let root = TestRoot::new("fds");
    let cg = Cgroup::new(root.path("c"), &Default::default()).unwrap();
    let before = open_fds();
    for _ in 0..1000 {
        drop(cg.oom_events().unwrap());
    }
    let pressure = MemoryEvent::pressure(PressureLevel::Medium, PressureMode::Default);
    for i in 0..10 {
        let mut mon = EventMonitor::new().unwrap();
        for _ in 0..10 {
            mon.add(i, cg.oom_events().unwrap()).unwrap();
            mon.add(i, cg.register_memory_event(pressure).unwrap())
                .unwrap();
            if mode() != Mode::Unified {
                let t = cg.register_memory_event(MemoryEvent::threshold(1 << 30));
                mon.add(i, t.unwrap()).unwrap();
            }
        }
        if i % 2 == 0 {
            drop(mon.remove(&i));
        }
    }
    assert_eq!(open_fds(), before, "fds leaked");
}
