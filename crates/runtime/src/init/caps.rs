//! Capabilities of the container process: bounding, effective, permitted, inheritable and
//! ambient, from `process.capabilities` (absent means none, as the OCI spec says).

use std::str::FromStr;

use anyhow::{anyhow, bail};
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
            // One system call per capability; only when the drop fails is the set read:
            // a capability the running kernel does not know (it reads as an error) or one
            // that is gone already is not a failure.
            if let Err(e) = caps::drop(None, CapSet::Bounding, cap) {
                if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                    return Err(anyhow!("process.capabilities.bounding: drop {cap}: {e}"));
                }
            }
        }
        Ok(())
    }

    /// Sets the effective, permitted and inheritable sets (in the order the kernel accepts:
    /// effective must stay within permitted), then raises the ambient ones. With
    /// `keep_sys_admin`, CAP_SYS_ADMIN stays effective and permitted until
    /// [`Staged::finish`] (a seccomp filter without no_new_privs needs it to be loaded).
    /// A capability rt itself does not hold (not in this host's bounding set, say) is an
    /// error naming it.
    pub fn apply_staged(&self, keep_sys_admin: bool) -> anyhow::Result<Staged> {
        let (mut effective, mut permitted) = (self.effective.clone(), self.permitted.clone());
        let mut staged = Staged::default();
        if keep_sys_admin
            && (!effective.contains(&Capability::CAP_SYS_ADMIN)
                || !permitted.contains(&Capability::CAP_SYS_ADMIN))
        {
            effective.insert(Capability::CAP_SYS_ADMIN);
            permitted.insert(Capability::CAP_SYS_ADMIN);
            staged.finally = Some((self.effective.clone(), self.permitted.clone()));
        }
        let held = caps::read(None, CapSet::Permitted).unwrap_or_default();
        for (field, set) in [
            ("effective", &self.effective),
            ("permitted", &self.permitted),
        ] {
            let mut missing: Vec<String> = set.difference(&held).map(|c| c.to_string()).collect();
            if !missing.is_empty() {
                missing.sort();
                bail!(
                    "process.capabilities.{field}: {} cannot be granted: rt does not hold it \
                     (not in this host's bounding set?)",
                    missing.join(", ")
                );
            }
        }
        caps::set(None, CapSet::Effective, &effective).map_err(|e| {
            anyhow!(
                "process.capabilities.effective {:?}: {e}",
                names(&effective)
            )
        })?;
        caps::set(None, CapSet::Permitted, &permitted).map_err(|e| {
            anyhow!(
                "process.capabilities.permitted {:?}: {e}",
                names(&permitted)
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
        Ok(staged)
    }
}

/// Capabilities still to drop after the seccomp filter is loaded (only without
/// no_new_privs, and only CAP_SYS_ADMIN): dropping cannot fail but for a profile that
/// denies capset(2), which rt's compiled filters never do (see seccomp::compile).
#[derive(Debug, Default)]
pub struct Staged {
    finally: Option<(CapsHashSet, CapsHashSet)>,
}

impl Staged {
    pub fn finish(self) -> anyhow::Result<()> {
        if let Some((effective, permitted)) = self.finally {
            caps::set(None, CapSet::Effective, &effective)
                .map_err(|e| anyhow!("drop CAP_SYS_ADMIN after loading the seccomp filter: {e}"))?;
            caps::set(None, CapSet::Permitted, &permitted)
                .map_err(|e| anyhow!("drop CAP_SYS_ADMIN after loading the seccomp filter: {e}"))?;
        }
        Ok(())
    }
}

fn names(set: &CapsHashSet) -> Vec<String> {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    v.sort();
    v
}
