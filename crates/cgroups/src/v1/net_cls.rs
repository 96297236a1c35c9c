//! net_cls: class id for traffic control.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::Resources;

pub(crate) struct NetCls;

impl Subsystem for NetCls {
    fn name(&self) -> &'static str {
        "net_cls"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        r.network.as_ref()?.class_id.map(|_| "network.classID")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        if let Some(id) = r.network.as_ref().and_then(|n| n.class_id) {
            fs::write(&dir.join(NET_CLS_CLASSID), &id.to_string())?;
        }
        Ok(())
    }
}
