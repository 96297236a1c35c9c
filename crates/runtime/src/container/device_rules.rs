//! The device cgroup rules a container gets: the spec's `linux.resources.devices`, then an
//! allow rule for each `linux.devices` node and runc's default allow list (mknod of any
//! node, and the standard nodes every container has: null, zero, full, random, urandom,
//! tty, console, ptmx and the pts slaves).

use cgroups::{DeviceKind, DeviceRule};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

fn rule(kind: DeviceKind, major: Option<i64>, minor: Option<i64>, access: &str) -> DeviceRule {
    DeviceRule {
        allow: true,
        kind,
        major,
        minor,
        access: access.to_string(),
    }
}

/// runc's `AllowedDevices`.
fn defaults() -> Vec<DeviceRule> {
    use DeviceKind::{Block, Char};
    vec![
        rule(Char, None, None, "m"),
        rule(Block, None, None, "m"),
        rule(Char, Some(1), Some(3), "rwm"),
        rule(Char, Some(1), Some(8), "rwm"),
        rule(Char, Some(1), Some(7), "rwm"),
        rule(Char, Some(5), Some(0), "rwm"),
        rule(Char, Some(1), Some(5), "rwm"),
        rule(Char, Some(1), Some(9), "rwm"),
        rule(Char, Some(5), Some(1), "rwm"),
        rule(Char, Some(136), None, "rwm"),
        rule(Char, Some(5), Some(2), "rwm"),
    ]
}

/// Appends the allow rules for the spec's device nodes and the defaults.
pub fn add_default_rules(rules: &mut Vec<DeviceRule>, devices: &[LinuxDevice]) {
    for dev in devices {
        let kind = match dev.typ() {
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            // FIFOs and "all" need no device cgroup rule.
            LinuxDeviceType::P | LinuxDeviceType::A => continue,
        };
        rules.push(rule(kind, Some(dev.major()), Some(dev.minor()), "rwm"));
    }
    rules.extend(defaults());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_rules_come_first_then_devices_then_defaults() {
        let mut rules = vec![DeviceRule {
            allow: false,
            kind: DeviceKind::All,
            major: None,
            minor: None,
            access: "rwm".into(),
        }];
        let dev: LinuxDevice = serde_json::from_value(serde_json::json!({
            "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229
        }))
        .unwrap();
        add_default_rules(&mut rules, &[dev]);
        let lines: Vec<String> = rules.iter().map(|r| r.to_v1_line()).collect();
        assert_eq!(lines[0], "a *:* rwm");
        assert_eq!(lines[1], "c 10:229 rwm");
        assert!(lines.contains(&"c *:* m".to_string()));
        assert!(lines.contains(&"c 136:* rwm".to_string()));
        assert!(rules[1..].iter().all(|r| r.allow));
    }
}
