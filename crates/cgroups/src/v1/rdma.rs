//! rdma: HCA handle/object limits per device.

use std::path::Path;

use super::files::*;
use super::Subsystem;
use crate::error::Result;
use crate::fs;
use crate::resources::{Rdma as RdmaLimit, Resources};

pub(crate) struct Rdma;

/// "mlx4_0 hca_handle=2 hca_object=2000"; `None` when nothing is limited. Same on v1 and v2.
pub(crate) fn rdma_line(l: &RdmaLimit) -> Option<String> {
    let mut line = l.device.clone();
    if let Some(h) = l.hca_handles {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = l.hca_objects {
        line.push_str(&format!(" hca_object={o}"));
    }
    (l.hca_handles.is_some() || l.hca_objects.is_some()).then_some(line)
}

impl Subsystem for Rdma {
    fn name(&self) -> &'static str {
        "rdma"
    }

    fn wants(&self, r: &Resources) -> Option<&'static str> {
        r.rdma
            .iter()
            .any(|l| rdma_line(l).is_some())
            .then_some("rdma")
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<()> {
        for line in r.rdma.iter().filter_map(rdma_line) {
            fs::write(&dir.join(RDMA_MAX), &line)?;
        }
        Ok(())
    }
}
