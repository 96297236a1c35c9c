//! devices: allow/deny rules, written in order (the OCI list usually starts with "deny all").

use super::files::*;
use crate::plan::Setting;
use crate::resources::Resources;

pub(super) fn settings(r: &Resources, out: &mut Vec<Setting>) {
    for rule in &r.devices {
        let file = if rule.allow {
            DEVICES_ALLOW
        } else {
            DEVICES_DENY
        };
        out.push(Setting::new(file, rule.to_v1_line()));
    }
}
