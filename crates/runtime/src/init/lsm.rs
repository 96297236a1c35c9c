//! AppArmor and SELinux labels for the container process, as runc treats them: an AppArmor
//! profile is applied on exec when AppArmor is enabled and ignored when it is not; an
//! SELinux label is applied on exec when SELinux is enabled and is an error when it is not
//! (checked when config.json is loaded, see `check`).

use std::fs;
use std::path::Path;

use anyhow::{bail, Context};
use oci_spec::runtime::Spec;

const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_FS: &str = "/sys/kernel/security/apparmor";
const SELINUX_FS: &str = "/sys/fs/selinux";

/// As runc: AppArmor counts as enabled when its securityfs directory exists and the module
/// says so (a kernel with AppArmor built in but no securityfs has no profiles to apply).
pub fn apparmor_enabled() -> bool {
    Path::new(APPARMOR_FS).exists()
        && fs::read_to_string(APPARMOR_ENABLED).is_ok_and(|s| s.trim() == "Y")
}

fn selinux_enabled() -> bool {
    Path::new(SELINUX_FS).join("enforce").exists()
}

/// Load-time check: an SELinux label on a host without SELinux is an error (as runc).
pub fn check(spec: &Spec) -> anyhow::Result<()> {
    let label = spec
        .process()
        .as_ref()
        .and_then(|p| p.selinux_label().as_deref());
    let mount_label = spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref());
    for (field, value) in [
        ("process.selinuxLabel", label),
        ("linux.mountLabel", mount_label),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            if !selinux_enabled() {
                bail!("{field} {v:?}: SELinux is disabled or not supported on this host");
            }
        }
    }
    Ok(())
}

/// The same check for the process `rt exec` runs (its --process-label, or --process file).
pub fn check_process(process: &oci_spec::runtime::Process) -> anyhow::Result<()> {
    if let Some(v) = process.selinux_label().as_deref().filter(|v| !v.is_empty()) {
        if !selinux_enabled() {
            bail!("process label {v:?}: SELinux is disabled or not supported on this host");
        }
    }
    Ok(())
}

/// Sets the labels the next execve takes: the AppArmor profile when `apparmor` (the host
/// enforces AppArmor, as `rt create` judged from the host's /sys), the SELinux label. Both
/// are written to /proc/thread-self/attr through the verified procfs handle.
pub fn apply_on_exec(process: &oci_spec::runtime::Process, apparmor: bool) -> anyhow::Result<()> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        if apparmor {
            let value = format!("exec {profile}");
            super::procfs::write_thread_self("attr/apparmor/exec", &value)
                .or_else(|_| super::procfs::write_thread_self("attr/exec", &value))
                .with_context(|| format!("process.apparmorProfile {profile:?}"))?;
        }
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        super::procfs::write_thread_self("attr/exec", label)
            .with_context(|| format!("process.selinuxLabel {label:?}"))?;
    }
    Ok(())
}
