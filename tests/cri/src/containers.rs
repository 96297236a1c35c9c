//! The container scenarios, in a host-network pod: a long-running container (ExecSync,
//! streaming Exec and Attach, stats, UpdateContainerResources, its log, a graceful stop), one
//! that exits by itself, one OOM-killed, one with a restrictive securityContext, and one that
//! ignores SIGTERM (StopContainer kills it after the timeout).

use std::time::{Duration, Instant};

use k8s_cri::v1::security_profile::ProfileType;
use k8s_cri::v1::*;

use crate::flow::{cgroup_dir, state_name, status_text, unified, Flow, DEADLINE};
use crate::specs::Options;
use crate::stream;

const MIB: i64 = 1024 * 1024;

/// The main container: says it started, and exits 0 on SIGTERM.
const MAIN: &str = "trap 'echo got TERM; exit 0' TERM; echo started; while :; do sleep 0.1; done";

/// The container's own view of its memory limit and CPU quota (v1 or v2 files).
const READ_LIMITS: &str = "if [ -f /sys/fs/cgroup/cgroup.controllers ]; then \
    cat /sys/fs/cgroup/memory.max; cut -d ' ' -f 1 /sys/fs/cgroup/cpu.max; else \
    cat /sys/fs/cgroup/memory/memory.limit_in_bytes; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us; fi";

/// What the restricted container reports about itself.
const SECURITY: &str = "id -u; grep -E '^(Seccomp|NoNewPrivs|CapBnd|CapEff):' /proc/self/status; \
    if touch /tmp/probe 2>/dev/null; then echo rootfs-writable; else echo rootfs-read-only; fi; \
    if unshare -U true 2>/dev/null; then echo unshare-allowed; else echo unshare-denied; fi";

/// Capability bits (linux/capability.h).
const CAP_CHOWN: u32 = 0;
const CAP_KILL: u32 = 5;
const CAP_NET_RAW: u32 = 13;

impl Flow<'_> {
    pub async fn host_network_pod(&mut self) -> Result<(), String> {
        let pod = self
            .start_pod("RunPodSandbox (host network)", "host", true)
            .await?;
        let listed = self
            .cri
            .list_pod_sandbox(
                "ListPodSandbox",
                DEADLINE,
                ListPodSandboxRequest {
                    filter: Some(PodSandboxFilter {
                        id: pod.0.clone(),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| format!("ListPodSandbox: {}", status_text(&e)))?;
        self.checks
            .expect_eq("pod-host.listed", 1, listed.items.len());

        let result = self.main_container(&pod).await;
        self.scenario("main", result);
        let result = self.exits_by_itself(&pod).await;
        self.scenario("exit", result);
        let result = self.oom_killed(&pod).await;
        self.scenario("oom", result);
        let result = self.restricted(&pod).await;
        self.scenario("secure", result);
        let result = self.ignores_sigterm(&pod).await;
        self.scenario("stubborn", result);
        self.end_pod(&pod.0, "host").await
    }

    fn scenario(&mut self, name: &str, result: Result<(), String>) {
        if let Err(why) = result {
            self.checks.fail(&format!("{name}.broke-off"), why);
        }
    }

    async fn main_container(&mut self, pod: &(String, PodSandboxConfig)) -> Result<(), String> {
        let opts = Options {
            memory_limit: 64 * MIB,
            ..Default::default()
        };
        let id = self.start_container(pod, "main", MAIN, &opts).await?;
        let status = self.container_status(&id).await?;
        self.checks
            .expect_eq("main.state", "CONTAINER_RUNNING", state_name(status.state));
        let host_cgroup = format!("{}/{id}", self.ctx.pod_cgroup("host"));
        let limit_file = if unified() {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        let host_limit = || {
            std::fs::read_to_string(cgroup_dir("memory", &host_cgroup).join(limit_file))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|e| format!("({e})"))
        };
        self.checks
            .expect_eq("main.memory-limit-on-host", 64 * MIB, host_limit());
        self.exec_sync_checks(&id).await?;
        self.streaming(&id).await;
        self.stats(pod, &id).await?;

        let request = UpdateContainerResourcesRequest {
            container_id: id.clone(),
            linux: Some(LinuxContainerResources {
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpu_shares: 512,
                memory_limit_in_bytes: 128 * MIB,
                ..Default::default()
            }),
            ..Default::default()
        };
        self.cri
            .update_container_resources("UpdateContainerResources", DEADLINE, request)
            .await
            .map_err(|e| format!("UpdateContainerResources: {}", status_text(&e)))?;
        let seen = self.exec_out("ExecSync", &id, READ_LIMITS).await;
        self.checks.expect_eq(
            "main.updated-limits-inside",
            format!("{}\n50000", 128 * MIB),
            seen,
        );
        self.checks
            .expect_eq("main.updated-memory-on-host", 128 * MIB, host_limit());

        let start = Instant::now();
        self.cri
            .stop_container(
                "StopContainer (graceful)",
                Duration::from_secs(40),
                StopContainerRequest {
                    container_id: id.clone(),
                    timeout: 10,
                },
            )
            .await
            .map_err(|e| format!("StopContainer: {}", status_text(&e)))?;
        let took = start.elapsed();
        // Within the grace period (10 s): the container ended on SIGTERM, not on the SIGKILL
        // that follows it (exit code 0 below says the same).
        self.checks.check(
            "main.stop-within-grace-period",
            took < Duration::from_secs(10),
            || format!("StopContainer took {took:?}: SIGTERM was not delivered?"),
        );
        let status = self.container_status(&id).await?;
        self.checks.expect_eq(
            "main.state-after-stop",
            "CONTAINER_EXITED",
            state_name(status.state),
        );
        self.checks
            .expect_eq("main.exit-code-after-stop", 0, status.exit_code);
        self.checks
            .expect_eq("main.reason-after-stop", "Completed", &status.reason);
        self.log_file(&status.log_path);
        self.remove_container(&id, "main").await
    }

    async fn exec_sync_checks(&mut self, id: &str) -> Result<(), String> {
        let r = self
            .exec_sync("ExecSync (output)", id, "echo out; echo err >&2", 10)
            .await
            .map_err(|e| format!("ExecSync: {}", status_text(&e)))?;
        self.checks.expect_eq(
            "exec-sync.stdout",
            "out\n",
            String::from_utf8_lossy(&r.stdout),
        );
        self.checks.expect_eq(
            "exec-sync.stderr",
            "err\n",
            String::from_utf8_lossy(&r.stderr),
        );
        self.checks.expect_eq("exec-sync.exit-code", 0, r.exit_code);
        let r = self
            .exec_sync("ExecSync (exit 3)", id, "exit 3", 10)
            .await
            .map_err(|e| format!("ExecSync: {}", status_text(&e)))?;
        self.checks
            .expect_eq("exec-sync.non-zero-exit", 3, r.exit_code);
        let env = self
            .exec_out(
                "ExecSync",
                id,
                "echo $RT_CRI_HANDLER; cat /proc/1/oom_score_adj",
            )
            .await;
        self.checks.expect_eq(
            "exec-sync.env-and-oom-score",
            format!("{}\n1000", self.ctx.handler),
            env,
        );

        // The probe timeout: containerd gives up after `timeout` seconds.
        let start = Instant::now();
        let r = self
            .exec_sync("ExecSync (timeout 1 s)", id, "exec sleep 30", 1)
            .await;
        let took = start.elapsed();
        let outcome = match &r {
            Ok(r) => format!("exit {}", r.exit_code),
            Err(e) => format!("{:?}", e.code()),
        };
        self.checks.observe("exec-sync.timeout-outcome", &outcome);
        self.checks.check(
            "exec-sync.timeout",
            r.is_err() && took < Duration::from_secs(10),
            || format!("{outcome} after {took:?} (want an error after about 1 s)"),
        );
        // The timed-out process does not linger.
        let mut left = String::new();
        for _ in 0..50 {
            left = self
                .exec_out(
                    "ExecSync (ps)",
                    id,
                    "ps -o args | grep -c '^sleep 30' || true",
                )
                .await;
            if left == "0" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.checks
            .expect_eq("exec-sync.timeout-process-gone", "0", left);
        Ok(())
    }

    /// Exec and Attach through containerd's streaming server (WebSocket).
    async fn streaming(&mut self, id: &str) {
        let request = ExecRequest {
            container_id: id.to_string(),
            cmd: vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo streamed; echo to-stderr >&2; exit 5".into(),
            ],
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        match self.cri.exec("Exec", DEADLINE, request).await {
            Err(e) => self.checks.fail("exec.rpc", status_text(&e)),
            Ok(r) => {
                let start = Instant::now();
                let session = match stream::open(&r.url).await {
                    Ok(mut s) => s.read_session(Duration::from_secs(20), |_| false).await,
                    Err(e) => Err(e),
                };
                self.cri.record("Exec (WebSocket session)", start.elapsed());
                match session {
                    Err(e) => self.checks.fail("exec.stream", e),
                    Ok(s) => {
                        let out = String::from_utf8_lossy(&s.stdout).into_owned();
                        let err = String::from_utf8_lossy(&s.stderr).into_owned();
                        self.checks.expect_eq("exec.stdout", "streamed\n", out);
                        self.checks.expect_eq("exec.stderr", "to-stderr\n", err);
                        let code = s
                            .exit_code()
                            .map_or(format!("{:?}", s.status), |c| c.to_string());
                        self.checks.expect_eq("exec.exit-code", 5, code);
                    }
                }
            }
        }

        let request = AttachRequest {
            container_id: id.to_string(),
            stdout: true,
            stderr: true,
            ..Default::default()
        };
        let url = match self.cri.attach("Attach", DEADLINE, request).await {
            Ok(r) => r.url,
            Err(e) => return self.checks.fail("attach.rpc", status_text(&e)),
        };
        let mut attached = match stream::open(&url).await {
            Ok(s) => s,
            Err(e) => return self.checks.fail("attach.stream", e),
        };
        // Whatever the container's PID 1 writes from now on reaches the attached client.
        let line = format!("attached-{}", self.ctx.handler);
        let written = self
            .exec_out("ExecSync", id, &format!("echo {line} >/proc/1/fd/1"))
            .await;
        self.checks.expect_eq("attach.write-to-pid-1", "", written);
        let needle = line.clone();
        let session = attached
            .read_session(Duration::from_secs(10), move |s| {
                String::from_utf8_lossy(&s.stdout).contains(&needle)
            })
            .await;
        attached.close().await;
        match session {
            Err(e) => self.checks.fail("attach.stdout", e),
            Ok(s) => self.checks.expect_contains(
                "attach.stdout",
                &line,
                &String::from_utf8_lossy(&s.stdout),
            ),
        }
    }

    async fn stats(&mut self, pod: &(String, PodSandboxConfig), id: &str) -> Result<(), String> {
        let stats = self
            .cri
            .container_stats(
                "ContainerStats",
                DEADLINE,
                ContainerStatsRequest {
                    container_id: id.to_string(),
                },
            )
            .await
            .map_err(|e| format!("ContainerStats: {}", status_text(&e)))?
            .stats
            .unwrap_or_default();
        let cpu = stats
            .cpu
            .as_ref()
            .and_then(|c| c.usage_core_nano_seconds.as_ref())
            .map_or(0, |v| v.value);
        self.checks
            .expect_eq("stats.cpu-usage-present", true, cpu > 0);
        let memory = stats
            .memory
            .as_ref()
            .and_then(|m| m.working_set_bytes.as_ref())
            .map_or(0, |v| v.value);
        self.checks
            .expect_eq("stats.memory-working-set-present", true, memory > 0);
        let usage = stats
            .memory
            .as_ref()
            .and_then(|m| m.usage_bytes.as_ref())
            .map_or(0, |v| v.value);
        self.checks
            .expect_eq("stats.memory-usage-present", true, usage > 0);
        self.checks.expect_eq(
            "stats.writable-layer-present",
            true,
            stats.writable_layer.is_some(),
        );
        let listed = self
            .cri
            .list_container_stats(
                "ListContainerStats",
                DEADLINE,
                ListContainerStatsRequest {
                    filter: Some(ContainerStatsFilter {
                        pod_sandbox_id: pod.0.clone(),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(|e| format!("ListContainerStats: {}", status_text(&e)))?;
        let ours = listed
            .stats
            .iter()
            .filter(|s| s.attributes.as_ref().is_some_and(|a| a.id == id))
            .filter(|s| {
                s.memory
                    .as_ref()
                    .is_some_and(|m| m.working_set_bytes.is_some())
            })
            .count();
        self.checks.expect_eq("stats.listed-with-memory", 1, ours);
        Ok(())
    }

    /// The CRI log (`<RFC 3339 time> <stream> <F|P> <line>`) of the main container.
    fn log_file(&mut self, log_path: &str) {
        let text =
            std::fs::read_to_string(log_path).unwrap_or_else(|e| format!("({log_path}: {e})"));
        let lines: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(4, ' ');
                let time = parts.next()?;
                let stream = parts.next()?;
                let tag = parts.next()?;
                let line = parts.next().unwrap_or_default();
                time.contains('T').then(|| format!("{stream} {tag} {line}"))
            })
            .collect();
        let want = [
            "stdout F started".to_string(),
            format!("stdout F attached-{}", self.ctx.handler),
            "stdout F got TERM".to_string(),
        ];
        self.checks
            .expect_eq("main.log-file", want.join("|"), lines.join("|"));
    }

    async fn exits_by_itself(&mut self, pod: &(String, PodSandboxConfig)) -> Result<(), String> {
        let id = self
            .start_container(pod, "exit", "echo bye; exit 7", &Options::default())
            .await?;
        let status = self
            .wait_state(
                &id,
                ContainerState::ContainerExited,
                Duration::from_secs(10),
            )
            .await?;
        self.checks.expect_eq("exit.exit-code", 7, status.exit_code);
        self.checks
            .expect_eq("exit.reason", "Error", &status.reason);
        // (finished_at may precede started_at by a little: containerd notes the start when
        // StartContainer returns, after a process this short has exited.)
        self.checks.check(
            "exit.times",
            status.started_at > 0 && status.finished_at >= status.created_at,
            || {
                format!(
                    "created {} started {} finished {}",
                    status.created_at, status.started_at, status.finished_at
                )
            },
        );
        let log = std::fs::read_to_string(&status.log_path).unwrap_or_default();
        self.checks
            .expect_contains("exit.log", "stdout F bye", &log);
        self.remove_container(&id, "exit").await
    }

    async fn oom_killed(&mut self, pod: &(String, PodSandboxConfig)) -> Result<(), String> {
        let opts = Options {
            memory_limit: 32 * MIB,
            ..Default::default()
        };
        // dd's 256 MiB buffer is touched at once: over the limit in one go.
        let id = self
            .start_container(
                pod,
                "oom",
                "exec dd if=/dev/zero of=/dev/null bs=256M count=1",
                &opts,
            )
            .await?;
        let status = self
            .wait_state(
                &id,
                ContainerState::ContainerExited,
                Duration::from_secs(20),
            )
            .await?;
        self.checks
            .expect_eq("oom.exit-code", 137, status.exit_code);
        self.checks
            .expect_eq("oom.reason", "OOMKilled", &status.reason);
        self.remove_container(&id, "oom").await
    }

    async fn restricted(&mut self, pod: &(String, PodSandboxConfig)) -> Result<(), String> {
        let opts = Options {
            run_as_user: Some(1000),
            readonly_rootfs: true,
            drop_caps: vec!["NET_RAW".into(), "CHOWN".into()],
            seccomp: Some(ProfileType::RuntimeDefault),
            ..Default::default()
        };
        let script = format!("{SECURITY}; while :; do sleep 0.1; done");
        let id = self.start_container(pod, "secure", &script, &opts).await?;
        self.wait_state(
            &id,
            ContainerState::ContainerRunning,
            Duration::from_secs(10),
        )
        .await?;
        // What the container's own process saw (its log), and what an exec in it sees: exec
        // is bound by the container's user, capabilities and seccomp.
        let exec = self.exec_out("ExecSync", &id, SECURITY).await;
        let mut log = String::new();
        for _ in 0..50 {
            let status = self.container_status(&id).await?;
            log = std::fs::read_to_string(&status.log_path).unwrap_or_default();
            if log.contains("unshare-") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let own: Vec<&str> = log
            .lines()
            .filter_map(|l| l.splitn(4, ' ').nth(3))
            .collect();
        for (who, text) in [("process", own.join("\n")), ("exec", exec)] {
            let field = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| format!("(no {name} in [{text}])"))
            };
            self.checks.expect_eq(
                &format!("secure.{who}.uid"),
                "1000",
                text.lines().next().unwrap_or_default(),
            );
            self.checks
                .expect_eq(&format!("secure.{who}.seccomp"), "2", field("Seccomp:"));
            self.checks.expect_eq(
                &format!("secure.{who}.cap-eff"),
                "0000000000000000",
                field("CapEff:"),
            );
            let bounding = u64::from_str_radix(&field("CapBnd:"), 16).unwrap_or(u64::MAX);
            let has = |cap: u32| bounding & (1 << cap) != 0;
            self.checks.expect_eq(
                &format!("secure.{who}.bounding-chown-net-raw-kill"),
                "false false true",
                format!("{} {} {}", has(CAP_CHOWN), has(CAP_NET_RAW), has(CAP_KILL)),
            );
            self.checks
                .observe(&format!("secure.{who}.cap-bnd"), field("CapBnd:"));
            self.checks.expect_contains(
                &format!("secure.{who}.read-only-rootfs"),
                "rootfs-read-only",
                &text,
            );
            // RuntimeDefault refuses unshare(CLONE_NEWUSER) without CAP_SYS_ADMIN.
            self.checks.expect_contains(
                &format!("secure.{who}.seccomp-denies-unshare"),
                "unshare-denied",
                &text,
            );
        }
        self.remove_container(&id, "secure").await
    }

    async fn ignores_sigterm(&mut self, pod: &(String, PodSandboxConfig)) -> Result<(), String> {
        let id = self
            .start_container(
                pod,
                "stubborn",
                "trap '' TERM; while :; do sleep 0.1; done",
                &Options::default(),
            )
            .await?;
        self.wait_state(
            &id,
            ContainerState::ContainerRunning,
            Duration::from_secs(10),
        )
        .await?;
        let start = Instant::now();
        self.cri
            .stop_container(
                "StopContainer (SIGKILL after 2 s)",
                Duration::from_secs(40),
                StopContainerRequest {
                    container_id: id.clone(),
                    timeout: 2,
                },
            )
            .await
            .map_err(|e| format!("StopContainer: {}", status_text(&e)))?;
        let took = start.elapsed();
        self.checks.check(
            "stubborn.stop-waited-the-timeout",
            took >= Duration::from_secs(2) && took < Duration::from_secs(12),
            || format!("StopContainer took {took:?}"),
        );
        let status = self.container_status(&id).await?;
        self.checks.expect_eq(
            "stubborn.state",
            "CONTAINER_EXITED",
            state_name(status.state),
        );
        self.checks
            .expect_eq("stubborn.exit-code", 137, status.exit_code);
        self.checks
            .expect_eq("stubborn.reason", "Error", &status.reason);
        self.remove_container(&id, "stubborn").await
    }
}
