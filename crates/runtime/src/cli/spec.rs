//! `rt spec [--bundle DIR]`: write a default config.json, as `runc spec` does.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::container::OCI_VERSION;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write config.json into.
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Make a spec for a rootless container: a user namespace mapping the caller's uid/gid
    /// to root, the host's network, /sys bound from the host, no cgroup limits.
    #[arg(long)]
    pub rootless: bool,
}

/// runc's default spec, except `terminal: false` (rt has no terminal support yet).
pub fn default_spec() -> serde_json::Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": OCI_VERSION,
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": true },
        "hostname": "rt",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// runc's `specconv.ToRootless`: no network namespace (a new one would have no network an
/// unprivileged user can configure) and a new user namespace mapping `uid`/`gid` to root;
/// /sys bound from the host (sysfs needs a network namespace of the user namespace); no
/// `uid=`/`gid=` mount options (those ids are not mapped); no `linux.resources` (an
/// unprivileged user gets no cgroup on v1). As runc's example, a cgroup namespace only on
/// cgroup v2.
pub fn to_rootless(spec: &mut serde_json::Value, uid: u32, gid: u32, unified: bool) {
    let linux = &mut spec["linux"];
    if let Some(namespaces) = linux["namespaces"].as_array_mut() {
        namespaces.retain(|ns| match ns["type"].as_str() {
            Some("network") | Some("user") => false,
            Some("cgroup") => unified,
            _ => true,
        });
        namespaces.push(json!({ "type": "user" }));
    }
    linux["uidMappings"] = json!([{ "containerID": 0, "hostID": uid, "size": 1 }]);
    linux["gidMappings"] = json!([{ "containerID": 0, "hostID": gid, "size": 1 }]);
    if let Some(obj) = linux.as_object_mut() {
        obj.remove("resources");
    }
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        for m in mounts.iter_mut() {
            if m["destination"].as_str().map(|d| d.trim_end_matches('/')) == Some("/sys") {
                *m = json!({
                    "destination": "/sys", "type": "none", "source": "/sys",
                    "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]
                });
                continue;
            }
            if let Some(options) = m["options"].as_array_mut() {
                options.retain(|o| {
                    o.as_str()
                        .is_some_and(|o| !o.starts_with("uid=") && !o.starts_with("gid="))
                });
            }
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let mut spec = default_spec();
    if args.rootless {
        let unified = cgroups::mode() == cgroups::Mode::Unified;
        to_rootless(
            &mut spec,
            nix::unistd::geteuid().as_raw(),
            nix::unistd::getegid().as_raw(),
            unified,
        );
    }
    let path = args.bundle.join(crate::bundle::CONFIG_FILE);
    let mut file = fs::File::options()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("{} (remove it first to write a new one)", path.display()))?;
    let text = serde_json::to_string_pretty(&spec)?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_spec_parses_as_an_oci_spec() {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(default_spec()).unwrap();
        assert_eq!(
            spec.process().as_ref().unwrap().args().as_ref().unwrap()[0],
            "sh"
        );
        assert_eq!(
            spec.linux()
                .as_ref()
                .unwrap()
                .namespaces()
                .as_ref()
                .unwrap()
                .len(),
            6
        );
    }

    #[test]
    fn rootless_spec_is_runcs_to_rootless() {
        let mut v = default_spec();
        to_rootless(&mut v, 1000, 1001, false);
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v.clone()).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let types: Vec<String> = linux
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| n.typ().to_string())
            .collect();
        assert_eq!(types, ["pid", "ipc", "uts", "mnt", "user"]);
        let uid = &linux.uid_mappings().as_ref().unwrap()[0];
        assert_eq!(
            (uid.container_id(), uid.host_id(), uid.size()),
            (0, 1000, 1)
        );
        let gid = &linux.gid_mappings().as_ref().unwrap()[0];
        assert_eq!(
            (gid.container_id(), gid.host_id(), gid.size()),
            (0, 1001, 1)
        );
        assert!(linux.resources().is_none());
        let sys = &v["mounts"][5];
        assert_eq!(sys["destination"], "/sys");
        assert_eq!(sys["source"], "/sys");
        assert_eq!(sys["options"][0], "rbind");
        let devpts = v["mounts"][2]["options"].as_array().unwrap();
        assert!(!devpts.iter().any(|o| o == "gid=5"));
        assert!(devpts.iter().any(|o| o == "newinstance"));
        assert_eq!(v["mounts"][4]["type"], "mqueue");
        assert_eq!(v["mounts"][6]["destination"], "/sys/fs/cgroup");

        let mut v2 = default_spec();
        to_rootless(&mut v2, 1000, 1000, true);
        let n = v2["linux"]["namespaces"].as_array().unwrap();
        assert!(n.iter().any(|ns| ns["type"] == "cgroup"));
        assert!(!n.iter().any(|ns| ns["type"] == "network"));
    }
}
