//! Capabilities of the container process: bounding, effective, permitted, inheritable and
//! ambient, from `process.capabilities` (absent means none, as the OCI spec says).

use std::str::FromStr;

use anyhow::{anyhow, Context};
use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// The five sets, converted to the caps crate's type.
#[derive(Debug, Default, Clone)]
pub struct CapSets {
    pub bounding: CapsHashSet,
    pub effective: CapsHashSet,
    pub permitted: CapsHashSet,
    pub inheritable: CapsHashSet,
    pub ambient: CapsHashSet,
}

fn convert(set: &Option<Capabilities>, field: &str) -> anyhow::Result<CapsHashSet> {
    let mut out = CapsHashSet::new();
    for cap in set.iter().flatten() {
        let name = format!("CAP_{cap}");
        let c = Capability::from_str(&name)
            .map_err(|e| anyhow!("process.capabilities.{field}: {name}: {e}"))?;
        out.insert(c);
    }
    Ok(out)
}

impl CapSets {
    pub fn from_spec(caps: Option<&LinuxCapabilities>) -> anyhow::Result<CapSets> {
        let Some(c) = caps else {
            return Ok(CapSets::default());
        };
        Ok(CapSets {
            bounding: convert(c.bounding(), "bounding")?,
            effective: convert(c.effective(), "effective")?,
            permitted: convert(c.permitted(), "permitted")?,
            inheritable: convert(c.inheritable(), "inheritable")?,
            ambient: convert(c.ambient(), "ambient")?,
        })
    }

    /// Drops what is not in the bounding set. Needs CAP_SETPCAP: call before changing user.
    pub fn apply_bounding(&self) -> anyhow::Result<()> {
        for cap in caps::all() {
            if self.bounding.contains(&cap) {
                continue;
            }
            // Capabilities the running kernel does not know read as an error: skip them.
            if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                caps::drop(None, CapSet::Bounding, cap)
                    .with_context(|| format!("process.capabilities.bounding: drop {cap}"))?;
            }
        }
        Ok(())
    }

    /// Sets the effective, permitted and inheritable sets (in the order the kernel accepts:
    /// effective must stay within permitted), then raises the ambient ones.
    pub fn apply(&self) -> anyhow::Result<()> {
        caps::set(None, CapSet::Effective, &self.effective).map_err(|e| {
            anyhow!(
                "process.capabilities.effective {:?}: {e}",
                names(&self.effective)
            )
        })?;
        caps::set(None, CapSet::Permitted, &self.permitted).map_err(|e| {
            anyhow!(
                "process.capabilities.permitted {:?}: {e}",
                names(&self.permitted)
            )
        })?;
        caps::set(None, CapSet::Inheritable, &self.inheritable).map_err(|e| {
            anyhow!(
                "process.capabilities.inheritable {:?}: {e}",
                names(&self.inheritable)
            )
        })?;
        // As runc: an ambient capability that is not also permitted and inheritable cannot
        // be raised; that is not an error.
        for cap in &self.ambient {
            let _ = caps::raise(None, CapSet::Ambient, *cap);
        }
        Ok(())
    }
}

fn names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}
