//! Real-kernel device rules (root): v1 devices.allow/deny, v2 the eBPF program. The same
//! shell probes run in the cgroup on both, and an update replaces the rules.

use std::io::Write;
use std::process::{Command, Stdio};

use cgroups::{Cgroup, DeviceKind, DeviceRule, Resources};

mod common;

use common::*;

const PROBE: &str = "read x
(echo hi > /dev/null) 2>/dev/null && echo null-w
(head -c1 /dev/zero > /dev/null) 2>/dev/null && echo zero-r
(echo hi > /dev/zero) 2>/dev/null || echo zero-w-denied
(head -c1 /dev/full > /dev/null) 2>/dev/null && echo full-r || echo full-r-denied
";

/// Run PROBE inside `cg`; its stdout.
fn probe(cg: &Cgroup) -> String {
    let mut child = Command::new("sh")
        .args(["-c", PROBE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    cg.add(cgroups::Pid(child.id() as i32)).unwrap();
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn rule(allow: bool, kind: DeviceKind, mm: Option<(i64, i64)>, access: &str) -> DeviceRule {
    DeviceRule {
        allow,
        kind,
        major: mm.map(|m| m.0),
        minor: mm.map(|m| m.1),
        access: access.into(),
    }
}

#[test]
fn device_rules_are_enforced_and_replaced() {
    let root = TestRoot::new("devices");
    let mut devices = vec![
        rule(false, DeviceKind::All, None, "rwm"),
        rule(true, DeviceKind::Char, Some((1, 3)), "rwm"),
        rule(true, DeviceKind::Char, Some((1, 5)), "r"),
    ];
    let r = Resources {
        devices: devices.clone(),
        ..Default::default()
    };
    let cg = Cgroup::new(root.path("c"), &r).unwrap();
    assert_eq!(probe(&cg), "null-w\nzero-r\nzero-w-denied\nfull-r-denied\n");
    // Update: /dev/full readable now. On v2 the old program must be gone, or it would
    // still deny.
    devices.push(rule(true, DeviceKind::Char, Some((1, 7)), "r"));
    cg.update(&Resources {
        devices,
        ..Default::default()
    })
    .unwrap();
    assert_eq!(probe(&cg), "null-w\nzero-r\nzero-w-denied\nfull-r\n");
    // An outsider (no rules) is unaffected.
    let free = Cgroup::new(root.path("free"), &Resources::default()).unwrap();
    assert!(probe(&free).ends_with("full-r\n"));
}
