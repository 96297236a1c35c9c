//! The pod and container configurations, filled in as the kubelet fills them.

use std::collections::HashMap;
use std::path::PathBuf;

use k8s_cri::v1::security_profile::ProfileType;
use k8s_cri::v1::*;

/// One handler's run: where its pods live and what they run.
pub struct Ctx {
    pub handler: String,
    /// Which of the handler's runs this is (each run's pods have their own uid and logs).
    pub round: usize,
    /// The tier's temporary directory (containerd's root, state, logs).
    pub dir: PathBuf,
    /// The run's own cgroup parent (absolute, cgroupfs): each pod's cgroup is below it.
    pub cgroup_parent: String,
    pub image: String,
    /// The CNI bridge on the host (the pods' veths are its ports).
    pub bridge: String,
    /// The CNI network's address prefix ("10.250.250.").
    pub subnet: String,
    /// Where each sandbox id is appended (the cleanup computes the shims' sockets from it).
    pub sandbox_ids: PathBuf,
}

impl Ctx {
    /// The cgroup parent of pod NAME (the kubelet's pod-level cgroup).
    pub fn pod_cgroup(&self, name: &str) -> String {
        format!("{}/{}-{name}", self.cgroup_parent, self.handler)
    }

    pub fn log_dir(&self, name: &str) -> PathBuf {
        self.dir
            .join("logs")
            .join(format!("{}-{name}-{}", self.handler, self.round))
    }
}

pub fn profile(kind: ProfileType) -> Option<SecurityProfile> {
    Some(SecurityProfile {
        profile_type: kind as i32,
        localhost_ref: String::new(),
    })
}

fn namespaces(host_network: bool) -> Option<NamespaceOption> {
    let network = if host_network {
        NamespaceMode::Node
    } else {
        NamespaceMode::Pod
    };
    Some(NamespaceOption {
        network: network as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        ..Default::default()
    })
}

/// Pod NAME: the host's network (`host_network`) or its own through CNI.
pub fn pod(ctx: &Ctx, name: &str, host_network: bool) -> PodSandboxConfig {
    let full = format!("{}-{name}", ctx.handler);
    PodSandboxConfig {
        metadata: Some(PodSandboxMetadata {
            name: full.clone(),
            uid: format!("uid-{full}-{}-{}", std::process::id(), ctx.round),
            namespace: "rt-cri".into(),
            attempt: 0,
        }),
        hostname: if host_network {
            String::new()
        } else {
            full.clone()
        },
        log_directory: ctx.log_dir(name).display().to_string(),
        dns_config: Some(DnsConfig {
            servers: vec!["127.0.0.1".into()],
            searches: vec!["rt-cri.test".into()],
            options: vec!["ndots:5".into()],
        }),
        labels: HashMap::from([("rt-cri/handler".to_string(), ctx.handler.clone())]),
        linux: Some(LinuxPodSandboxConfig {
            cgroup_parent: ctx.pod_cgroup(name),
            security_context: Some(LinuxSandboxSecurityContext {
                namespace_options: namespaces(host_network),
                seccomp: profile(ProfileType::RuntimeDefault),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// What a container differs in from the plain one.
#[derive(Default, Clone)]
pub struct Options {
    pub memory_limit: i64,
    pub run_as_user: Option<i64>,
    pub readonly_rootfs: bool,
    pub drop_caps: Vec<String>,
    pub seccomp: Option<ProfileType>,
}

/// Container NAME running `sh -c SCRIPT` in a pod with POD's host_network.
pub fn container(
    ctx: &Ctx,
    name: &str,
    script: &str,
    host_network: bool,
    opts: &Options,
) -> ContainerConfig {
    ContainerConfig {
        metadata: Some(ContainerMetadata {
            name: name.into(),
            attempt: 0,
        }),
        image: Some(ImageSpec {
            image: ctx.image.clone(),
            ..Default::default()
        }),
        command: vec!["/bin/sh".into(), "-c".into(), script.into()],
        envs: vec![KeyValue {
            key: "RT_CRI_HANDLER".into(),
            value: ctx.handler.clone(),
        }],
        labels: HashMap::from([("rt-cri/container".to_string(), name.to_string())]),
        log_path: format!("{name}.log"),
        linux: Some(LinuxContainerConfig {
            resources: Some(LinuxContainerResources {
                cpu_period: 100_000,
                cpu_shares: 256,
                memory_limit_in_bytes: opts.memory_limit,
                oom_score_adj: 1000,
                ..Default::default()
            }),
            security_context: Some(LinuxContainerSecurityContext {
                namespace_options: namespaces(host_network),
                run_as_user: opts.run_as_user.map(|value| Int64Value { value }),
                readonly_rootfs: opts.readonly_rootfs,
                capabilities: Some(Capability {
                    drop_capabilities: opts.drop_caps.clone(),
                    ..Default::default()
                }),
                seccomp: profile(opts.seccomp.unwrap_or(ProfileType::Unconfined)),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}
