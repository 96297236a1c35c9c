//! devices: allow/deny rules, written in order (the OCI list usually starts with "deny all").

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;

pub(crate) struct Devices;

impl Subsystem for Devices {
    fn name(&self) -> &'static str {
        "devices"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        (!r.devices.is_empty()).then_some("devices")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        for rule in &r.devices {
            let file = if rule.allow {
                DEVICES_ALLOW
            } else {
                DEVICES_DENY
            };
            fs::write(&dir.join(file), &rule.to_v1_line())?;
        }
        Ok(())
    }
}
