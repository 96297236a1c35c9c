//! `rt features`: what this runtime supports, in the runtime-spec's features.json schema.

use serde_json::json;

use crate::container::OCI_VERSION;

pub fn features() -> serde_json::Value {
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": crate::hooks::KINDS.iter().map(|(_, name)| *name).collect::<Vec<_>>(),
        // The parser's own table: what is listed is what a config may use.
        "mountOptions": crate::init::mount_options::known(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
            "cgroup": { "v1": true, "v2": true, "systemd": true, "systemdUser": false, "rdma": true },
            "seccomp": {
                "enabled": true,
                "actions": crate::seccomp::ACTIONS,
                "operators": crate::seccomp::OPERATORS,
                "archs": crate::seccomp::archs(),
                "knownFlags": crate::seccomp::KNOWN_FLAGS,
                "supportedFlags": crate::seccomp::SUPPORTED_FLAGS
            },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": true } }
        },
        "annotations": {
            // Built in (as runc's annotation means); whether CRIU works on this host is
            // what `rt checkpoint --help` answers.
            "org.opencontainers.runc.checkpoint.enabled": "true",
            "io.github.rt.version": env!("CARGO_PKG_VERSION")
        }
    })
}

pub fn run() -> anyhow::Result<()> {
    crate::output::println(&serde_json::to_string_pretty(&features())?)?;
    Ok(())
}
