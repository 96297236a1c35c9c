//! One handler's flow, the kubelet's calls in its order: the runtime's version and status, a
//! host-network pod with the container scenarios (containers.rs), a pod in its own network
//! namespace (CNI), a pod with no containers, and what must be gone afterwards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_cri::v1::*;
use tonic::{Code, Status};

use crate::checks::Checks;
use crate::cri::Cri;
use crate::specs::{self, Ctx, Options};

/// The deadline of an ordinary call (the kubelet's default runtime-request-timeout is 2 min;
/// nothing here should take more than a few seconds).
pub const DEADLINE: Duration = Duration::from_secs(30);

pub struct Flow<'a> {
    pub ctx: &'a Ctx,
    pub cri: &'a mut Cri,
    pub checks: &'a mut Checks,
    /// Pods still to stop and remove if a scenario breaks off.
    pods: Vec<String>,
}

pub fn state_name(state: i32) -> &'static str {
    ContainerState::try_from(state).map_or("?", |s| s.as_str_name())
}

pub fn pod_state_name(state: i32) -> &'static str {
    PodSandboxState::try_from(state).map_or("?", |s| s.as_str_name())
}

pub fn status_text(status: &Status) -> String {
    format!("{:?}: {}", status.code(), status.message())
}

/// Whether the host (and so the containers) has cgroup v2 alone.
pub fn unified() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The real uid of process PID (from /proc), or why not.
fn uid_of(pid: u64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| format!("(no pid {pid})"))
}

/// The command name of process PID.
fn comm_of(pid: u64) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A cgroup directory on the host, of CONTROLLER on v1.
pub fn cgroup_dir(controller: &str, path: &str) -> PathBuf {
    if unified() {
        PathBuf::from(format!("/sys/fs/cgroup{path}"))
    } else {
        PathBuf::from(format!("/sys/fs/cgroup/{controller}{path}"))
    }
}

impl<'a> Flow<'a> {
    pub fn new(ctx: &'a Ctx, cri: &'a mut Cri, checks: &'a mut Checks) -> Self {
        Flow {
            ctx,
            cri,
            checks,
            pods: Vec::new(),
        }
    }

    /// Runs every scenario; one that breaks off is a FAIL and the next one still runs.
    pub async fn run(&mut self) {
        let result = self.runtime().await;
        self.outcome("runtime", result);
        let result = self.host_network_pod().await;
        self.outcome("pod-host", result);
        let result = self.cni_pod().await;
        self.outcome("pod-cni", result);
        let result = self.empty_pod().await;
        self.outcome("pod-empty", result);
        for id in std::mem::take(&mut self.pods) {
            self.remove_pod_quietly(&id).await;
        }
        self.leftovers();
    }

    fn outcome(&mut self, scenario: &str, result: Result<(), String>) {
        if let Err(why) = result {
            self.checks.fail(&format!("{scenario}.broke-off"), why);
        }
    }

    async fn runtime(&mut self) -> Result<(), String> {
        let version = self
            .cri
            .version(
                "Version",
                DEADLINE,
                VersionRequest {
                    version: "v1".into(),
                },
            )
            .await
            .map_err(|e| format!("Version: {}", status_text(&e)))?;
        self.checks
            .expect_eq("version.runtime-name", "containerd", &version.runtime_name);
        self.checks
            .expect_eq("version.api", "v1", &version.runtime_api_version);
        let status = self
            .cri
            .status("Status", DEADLINE, StatusRequest { verbose: false })
            .await
            .map_err(|e| format!("Status: {}", status_text(&e)))?;
        let conditions = status.status.map(|s| s.conditions).unwrap_or_default();
        for kind in ["RuntimeReady", "NetworkReady"] {
            let cond = conditions.iter().find(|c| c.r#type == kind);
            let ready = cond.is_some_and(|c| c.status);
            self.checks.expect_eq(
                &format!("status.{kind}"),
                true,
                format!(
                    "{ready}{}",
                    if ready {
                        String::new()
                    } else {
                        format!(" {cond:?}")
                    }
                ),
            );
        }
        Ok(())
    }

    /// RunPodSandbox and the checks every pod gets; returns its id and config.
    pub async fn start_pod(
        &mut self,
        label: &'static str,
        name: &str,
        host_network: bool,
    ) -> Result<(String, PodSandboxConfig), String> {
        let config = specs::pod(self.ctx, name, host_network);
        std::fs::create_dir_all(self.ctx.log_dir(name)).map_err(|e| e.to_string())?;
        let request = RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: self.ctx.handler.clone(),
        };
        let id = self
            .cri
            .run_pod_sandbox(label, Duration::from_secs(60), request)
            .await
            .map_err(|e| format!("RunPodSandbox {name}: {}", status_text(&e)))?
            .pod_sandbox_id;
        self.pods.push(id.clone());
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.ctx.sandbox_ids)
        {
            let _ = writeln!(f, "{id}");
        }
        let status = self.pod_status(&id).await?;
        let prefix = format!("pod-{name}");
        let state = status.status.as_ref().map_or(-1, |s| s.state);
        self.checks.expect_eq(
            &format!("{prefix}.state"),
            "SANDBOX_READY",
            pod_state_name(state),
        );
        // The verbose info says which handler and binary run the pod.
        let info: serde_json::Value = status
            .info
            .get("info")
            .and_then(|i| serde_json::from_str(i).ok())
            .unwrap_or_default();
        self.checks.expect_eq(
            &format!("{prefix}.runtime-handler"),
            &self.ctx.handler,
            info["runtimeHandler"].as_str().unwrap_or("(none)"),
        );
        let state_dir = self
            .ctx
            .dir
            .join("runtime-root")
            .join(&self.ctx.handler)
            .join("k8s.io")
            .join(&id);
        self.checks.check(
            &format!("{prefix}.runtime-state"),
            state_dir.is_dir(),
            || {
                format!(
                    "no {} (the handler's runtime did not create it)",
                    state_dir.display()
                )
            },
        );
        let pid = info["pid"].as_u64().unwrap_or(0);
        // The pause image's USER 65535:65535. rt's init changes user after `rt start` has
        // returned (runc's before it waits for start), so right after RunPodSandbox the
        // pause process may still be rt's code as root for a moment: wait a little.
        let mut uid = uid_of(pid);
        let first = (uid.clone(), comm_of(pid), Instant::now());
        let end = first.2 + Duration::from_secs(2);
        while uid != "65535" && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(1)).await;
            uid = uid_of(pid);
        }
        if first.0 != "65535" {
            eprintln!(
                "--- {prefix}: right after RunPodSandbox the pause process ({}) was uid {} \
                 for {:?} more",
                first.1,
                first.0,
                first.2.elapsed()
            );
        }
        self.checks
            .expect_eq(&format!("{prefix}.pause-uid"), 65535, uid);
        Ok((id, config))
    }

    async fn pod_status(&mut self, id: &str) -> Result<PodSandboxStatusResponse, String> {
        let request = PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: true,
        };
        self.cri
            .pod_sandbox_status("PodSandboxStatus", DEADLINE, request)
            .await
            .map_err(|e| format!("PodSandboxStatus: {}", status_text(&e)))
    }

    /// StopPodSandbox and RemovePodSandbox with their checks, and the pod's cgroups gone.
    pub async fn end_pod(&mut self, id: &str, name: &str) -> Result<(), String> {
        let prefix = format!("pod-{name}");
        let request = StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.cri
            .stop_pod_sandbox("StopPodSandbox", DEADLINE, request)
            .await
            .map_err(|e| format!("StopPodSandbox: {}", status_text(&e)))?;
        let status = self.pod_status(id).await?;
        let state = status.status.as_ref().map_or(-1, |s| s.state);
        self.checks.expect_eq(
            &format!("{prefix}.state-after-stop"),
            "SANDBOX_NOTREADY",
            pod_state_name(state),
        );
        let request = RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        };
        self.cri
            .remove_pod_sandbox("RemovePodSandbox", DEADLINE, request)
            .await
            .map_err(|e| format!("RemovePodSandbox: {}", status_text(&e)))?;
        self.pods.retain(|p| p != id);
        let request = PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: false,
        };
        let gone = self
            .cri
            .pod_sandbox_status("PodSandboxStatus", DEADLINE, request)
            .await;
        self.checks.expect_eq(
            &format!("{prefix}.status-after-remove"),
            "NotFound",
            match gone {
                Ok(_) => "found".to_string(),
                Err(e) => format!("{:?}", e.code()),
            },
        );
        let pod_cgroup = self.ctx.pod_cgroup(name);
        for controller in ["memory", "cpu", "pids"] {
            let dir = cgroup_dir(controller, &pod_cgroup);
            let children: Vec<String> = std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|e| e.path().is_dir())
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect()
                })
                .unwrap_or_default();
            self.checks.check(
                &format!("{prefix}.{controller}-cgroups-removed"),
                children.is_empty(),
                || format!("left in {}: {children:?}", dir.display()),
            );
            if unified() {
                break;
            }
        }
        Ok(())
    }

    async fn remove_pod_quietly(&mut self, id: &str) {
        let _ = self
            .cri
            .stop_pod_sandbox(
                "StopPodSandbox (cleanup)",
                DEADLINE,
                StopPodSandboxRequest {
                    pod_sandbox_id: id.to_string(),
                },
            )
            .await;
        let _ = self
            .cri
            .remove_pod_sandbox(
                "RemovePodSandbox (cleanup)",
                DEADLINE,
                RemovePodSandboxRequest {
                    pod_sandbox_id: id.to_string(),
                },
            )
            .await;
    }

    /// CreateContainer + StartContainer + ContainerStatus RUNNING; returns the id.
    pub async fn start_container(
        &mut self,
        pod: &(String, PodSandboxConfig),
        name: &str,
        script: &str,
        opts: &Options,
    ) -> Result<String, String> {
        let host_network = pod
            .1
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.as_ref())
            .is_some_and(|n| n.network == NamespaceMode::Node as i32);
        let request = CreateContainerRequest {
            pod_sandbox_id: pod.0.clone(),
            config: Some(specs::container(self.ctx, name, script, host_network, opts)),
            sandbox_config: Some(pod.1.clone()),
        };
        let id = self
            .cri
            .create_container("CreateContainer", DEADLINE, request)
            .await
            .map_err(|e| format!("CreateContainer {name}: {}", status_text(&e)))?
            .container_id;
        let status = self
            .cri
            .container_status_quiet(&id)
            .await
            .map_err(|e| status_text(&e))?;
        self.checks.expect_eq(
            &format!("{name}.state-after-create"),
            "CONTAINER_CREATED",
            state_name(status.state),
        );
        self.cri
            .start_container(
                "StartContainer",
                DEADLINE,
                StartContainerRequest {
                    container_id: id.clone(),
                },
            )
            .await
            .map_err(|e| format!("StartContainer {name}: {}", status_text(&e)))?;
        Ok(id)
    }

    /// ContainerStatus (a timed call) of a container.
    pub async fn container_status(&mut self, id: &str) -> Result<ContainerStatus, String> {
        let request = ContainerStatusRequest {
            container_id: id.to_string(),
            verbose: false,
        };
        self.cri
            .container_status("ContainerStatus", DEADLINE, request)
            .await
            .map_err(|e| format!("ContainerStatus: {}", status_text(&e)))?
            .status
            .ok_or_else(|| "ContainerStatus without a status".to_string())
    }

    /// Polls ContainerStatus (not timed) until the container is in state WANT.
    pub async fn wait_state(
        &mut self,
        id: &str,
        want: ContainerState,
        within: Duration,
    ) -> Result<ContainerStatus, String> {
        let end = Instant::now() + within;
        loop {
            let status = self
                .cri
                .container_status_quiet(id)
                .await
                .map_err(|e| status_text(&e))?;
            if status.state == want as i32 {
                return Ok(status);
            }
            if Instant::now() > end {
                return Err(format!(
                    "not {} within {within:?}: {} {} {}",
                    want.as_str_name(),
                    state_name(status.state),
                    status.reason,
                    status.message
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn exec_sync(
        &mut self,
        label: &'static str,
        id: &str,
        script: &str,
        timeout: i64,
    ) -> Result<ExecSyncResponse, Status> {
        let request = ExecSyncRequest {
            container_id: id.to_string(),
            cmd: vec!["/bin/sh".into(), "-c".into(), script.into()],
            timeout,
        };
        let deadline = Duration::from_secs(timeout.unsigned_abs() + 10);
        self.cri.exec_sync(label, deadline, request).await
    }

    /// ExecSync's stdout, or a description of what went wrong.
    pub async fn exec_out(&mut self, label: &'static str, id: &str, script: &str) -> String {
        match self.exec_sync(label, id, script, 10).await {
            Ok(r) if r.exit_code == 0 => String::from_utf8_lossy(&r.stdout).trim_end().to_string(),
            Ok(r) => format!(
                "(exit {}: {}{})",
                r.exit_code,
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr)
            ),
            Err(e) => format!("(ExecSync: {})", status_text(&e)),
        }
    }

    /// StopContainer + RemoveContainer, with the checks that it is gone.
    pub async fn remove_container(&mut self, id: &str, name: &str) -> Result<(), String> {
        self.cri
            .remove_container(
                "RemoveContainer",
                DEADLINE,
                RemoveContainerRequest {
                    container_id: id.to_string(),
                },
            )
            .await
            .map_err(|e| format!("RemoveContainer {name}: {}", status_text(&e)))?;
        let gone = self.cri.container_status_quiet(id).await;
        self.checks.expect_eq(
            &format!("{name}.status-after-remove"),
            "NotFound",
            match gone {
                Ok(s) => format!("found {}", state_name(s.state)),
                Err(e) if e.code() == Code::NotFound => "NotFound".to_string(),
                Err(e) => status_text(&e),
            },
        );
        Ok(())
    }

    /// A pod in its own network namespace (the tier's CNI bridge network).
    async fn cni_pod(&mut self) -> Result<(), String> {
        let pod = self.start_pod("RunPodSandbox (CNI)", "cni", false).await?;
        let status = self.pod_status(&pod.0).await?;
        let ip = status
            .status
            .and_then(|s| s.network)
            .map(|n| n.ip)
            .unwrap_or_default();
        self.checks.check(
            "pod-cni.ip-from-cni",
            ip.starts_with(&self.ctx.subnet),
            || format!("pod IP [{ip}] not in {}0/24", self.ctx.subnet),
        );
        self.checks
            .observe("pod-cni.ip-in-subnet", ip.starts_with(&self.ctx.subnet));
        let id = self
            .start_container(
                &pod,
                "net",
                "while :; do sleep 0.1; done",
                &Options::default(),
            )
            .await?;
        self.wait_state(
            &id,
            ContainerState::ContainerRunning,
            Duration::from_secs(10),
        )
        .await?;
        let out = self
            .exec_out(
                "ExecSync",
                &id,
                "hostname; ip -4 -o addr show eth0; ip -o link show lo",
            )
            .await;
        let hostname = out.lines().next().unwrap_or_default().to_string();
        self.checks.expect_eq(
            "pod-cni.hostname",
            format!("{}-cni", self.ctx.handler),
            hostname,
        );
        self.checks
            .expect_contains("pod-cni.eth0-has-pod-ip", &format!("inet {ip}/24"), &out);
        self.checks
            .expect_contains("pod-cni.lo-up", "UP", out.lines().last().unwrap_or(""));
        let resolv = self.exec_out("ExecSync", &id, "cat /etc/resolv.conf").await;
        self.checks
            .expect_contains("pod-cni.resolv-conf", "search rt-cri.test", &resolv);
        let host_links = std::process::Command::new("ip")
            .args(["-o", "link", "show", "master", &self.ctx.bridge])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).lines().count())
            .unwrap_or(0);
        self.checks
            .check("pod-cni.veth-on-bridge", host_links == 1, || {
                format!("{host_links} links on the bridge, not 1")
            });
        self.end_pod(&pod.0, "cni").await
    }

    /// A pod with no containers: up and down again.
    async fn empty_pod(&mut self) -> Result<(), String> {
        let pod = self
            .start_pod("RunPodSandbox (no containers)", "empty", true)
            .await?;
        let request = ListContainersRequest {
            filter: Some(ContainerFilter {
                pod_sandbox_id: pod.0.clone(),
                ..Default::default()
            }),
        };
        let listed = self
            .cri
            .list_containers("ListContainers", DEADLINE, request)
            .await
            .map_err(|e| format!("ListContainers: {}", status_text(&e)))?;
        self.checks
            .expect_eq("pod-empty.containers", 0, listed.containers.len());
        self.end_pod(&pod.0, "empty").await
    }

    /// Nothing of this handler's left in its runtime's state directory.
    fn leftovers(&mut self) {
        let root = self
            .ctx
            .dir
            .join("runtime-root")
            .join(&self.ctx.handler)
            .join("k8s.io");
        let left: Vec<String> = std::fs::read_dir(&root)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        self.checks
            .check("runtime-state-empty", left.is_empty(), || {
                format!("left in {}: {left:?}", root.display())
            });
    }
}
