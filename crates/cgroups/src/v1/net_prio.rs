//! net_prio: per interface priorities.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;

pub(crate) struct NetPrio;

impl Subsystem for NetPrio {
    fn name(&self) -> &'static str {
        "net_prio"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        let n = r.network.as_ref()?;
        (!n.priorities.is_empty()).then_some("network.priorities")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        let Some(n) = &r.network else { return Ok(()) };
        for p in &n.priorities {
            let v = format!("{} {}", p.name, p.priority);
            fs::write(&dir.join(NET_PRIO_IFPRIOMAP), &v)?;
        }
        Ok(())
    }
}
