//! The README's examples in order, on the real kernel (run as root):
//! `cargo run -p cgroups --example tour`. Works under /rt-tour-<pid>, removed at the end.

use std::time::Duration;

use cgroups::{
    Cgroup, CgroupPath, DeleteOptions, Event, EventMonitor, MemoryEvent, Mode, Pid, Pids,
    PressureLevel, PressureMode, Recursive, Resources, StatOptions,
};

fn main() -> Result<(), cgroups::Error> {
    let mode = cgroups::mode();
    println!("mode: {mode:?}");
    let base = format!("/rt-tour-{}", std::process::id());
    let r = Resources {
        pids: Some(Pids { limit: 100 }),
        ..Default::default()
    };
    let cg = Cgroup::new(CgroupPath::static_path(format!("{base}/example")), &r)?;
    let res = tour(&cg, &base, mode);
    let top = Cgroup::load(CgroupPath::static_path(&base))?;
    top.delete_with(DeleteOptions { kill: true })?;
    res
}

fn tour(cg: &Cgroup, base: &str, mode: Mode) -> Result<(), cgroups::Error> {
    let mut sleeper = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .map_err(|e| cgroups::Error::Mounts(format!("spawn sleep: {e}")))?;
    cg.add(Pid(sleeper.id() as i32))?;
    cg.update(&Resources {
        pids: Some(Pids { limit: 200 }),
        ..Default::default()
    })?;
    cg.freeze()?;
    println!("state: {:?}", cg.state()?);
    cg.thaw()?;
    println!("processes: {:?}", cg.processes(Recursive::Yes)?);
    let stats = cg.stats(StatOptions {
        ignore_not_exist: true,
        ..Default::default()
    })?;
    println!(
        "pids.current {} memory {}",
        stats.pids.current, stats.memory.usage.usage
    );

    let child = cg.child("worker", &Resources::default())?;
    let other = Cgroup::new(
        CgroupPath::static_path(format!("{base}/other")),
        &Resources::default(),
    )?;
    child.move_to(&other)?;

    let mut monitor = EventMonitor::new()?;
    monitor.add("example", cg.oom_events()?)?;
    monitor.add(
        "example",
        cg.register_memory_event(MemoryEvent::pressure(
            PressureLevel::Medium,
            PressureMode::Default,
        ))?,
    )?;
    if mode != Mode::Unified {
        monitor.add(
            "example",
            cg.register_memory_event(MemoryEvent::threshold(50 << 20))?,
        )?;
    }
    for (key, event) in monitor.wait(Some(Duration::from_millis(200)))? {
        if event != Event::Removed {
            println!("{key}: {event:?}");
        }
    }
    cg.kill()?;
    let _ = sleeper.wait();
    println!("killed; deleting");
    Ok(())
}
