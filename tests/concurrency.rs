//! Concurrency: the state store locks per container and writes state.json atomically, so
//! racing commands on one container each either work or fail cleanly, and never see a
//! half-written state.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use rt_tests::*;

/// 10 concurrent `rt create` of one ID: one wins, nine fail with "container with id exists" and touch
/// nothing of the winner's; delete leaves nothing.
#[test]
fn ten_concurrent_creates_of_one_id() {
    let env = Env::new("samecreate");
    for _round in 0..3 {
        let id = env.id("c");
        let bundle = env.bundle(&id, &env.config(&id, &["sleep", "100"]));
        let b = bundle.to_str().unwrap();
        let outs: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..10)
                .map(|_| s.spawn(|| env.rt(&["create", "-b", b, &id])))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let ok = outs.iter().filter(|o| o.status.success()).count();
        assert_eq!(ok, 1, "{} creates succeeded", ok);
        for out in outs.iter().filter(|o| !o.status.success()) {
            assert_fails_with(out, "container with id exists");
        }
        assert_eq!(env.status(&id), "created");
        assert_eq!(procs_in_cgroup(&env.cgroup_path(&id)).len(), 1);
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
        env.assert_clean(&id, Some(&bundle));
    }
}

/// Many `rt state` (and `kill -0`, `list`) in parallel while one container goes through
/// create/start/kill/delete again and again, with racing `delete --force` and `kill` at the
/// end: state is always whole JSON or a clean one-line error, never a parse error.
#[test]
fn state_is_never_torn_under_concurrent_lifecycle() {
    let env = Env::new("hammer");
    let id = env.id("c");
    let config = env.config(&id, &["sleep", "100"]);
    let bundle = env.bundle(&id, &config);
    let b = bundle.to_str().unwrap();
    let done = AtomicBool::new(false);
    let reads = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for n in 0..4 {
            let (env, id, done, reads) = (&env, &id, &done, &reads);
            s.spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    let out = match n {
                        0 | 1 => env.rt(&["state", id]),
                        2 => env.rt(&["kill", id, "0"]),
                        _ => env.rt(&["list", "-f", "json"]),
                    };
                    let err = stderr(&out);
                    assert!(
                        !err.contains("corrupt") && !err.contains("EOF") && !err.contains("line "),
                        "torn state seen: {err}"
                    );
                    if out.status.success() && n != 2 {
                        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(&out)));
                        if n < 2 {
                            assert_eq!(v["id"], id.as_str());
                        }
                    } else if !out.status.success() {
                        // One line, rt's format.
                        assert_eq!(err.lines().count(), 1, "{err}");
                        assert!(err.starts_with("rt: "), "{err}");
                    }
                    reads.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for round in 0..15 {
            assert_ok(&env.rt(&["create", "-b", b, &id]), "create");
            assert_ok(&env.rt(&["start", &id]), "start");
            if round % 3 == 0 {
                assert_ok(&env.rt(&["pause", &id]), "pause");
            }
            // Racing killers and deleters: each works or fails cleanly.
            let outs: Vec<_> = std::thread::scope(|s2| {
                let hs: Vec<_> = [
                    vec!["kill", &id, "KILL"],
                    vec!["delete", "--force", &id],
                    vec!["delete", "--force", &id],
                    vec!["kill", "--all", &id, "TERM"],
                ]
                .into_iter()
                .map(|args| {
                    let env = &env;
                    s2.spawn(move || {
                        let out = env.rt(&args);
                        (args, out)
                    })
                })
                .collect();
                hs.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for (args, out) in outs {
                if !out.status.success() {
                    let err = stderr(&out);
                    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
                    assert!(
                        err.contains("does not exist")
                            || err.contains("not running")
                            || err.contains("stopped"),
                        "{args:?}: {err}"
                    );
                }
            }
            assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
            env.assert_clean(&id, Some(&bundle));
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(reads.load(Ordering::Relaxed) > 20);
    std::thread::sleep(Duration::from_millis(10));
    env.assert_clean(&id, Some(&bundle));
}
