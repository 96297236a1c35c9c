//! `rt monitor`: Prometheus metrics of every container, an OOM counter fed by the OOM
//! watchers, and output that `promtool check metrics` accepts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rt_tests::*;
use serde_json::json;

fn slow() -> u32 {
    if std::env::var_os("RT_GUEST").is_some() {
        4
    } else {
        1
    }
}

/// `rt monitor` on a free loopback port; killed when dropped.
struct Monitor {
    child: Child,
    addr: String,
}

impl Monitor {
    fn start(env: &Env) -> Monitor {
        Self::start_with_nofile(env, None)
    }

    /// The monitor with RLIMIT_NOFILE (soft and hard) set to `nofile`, when given.
    fn start_with_nofile(env: &Env, nofile: Option<u64>) -> Monitor {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = env.rt_cmd(&["monitor", "--listen", &addr]);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(n) = nofile {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit in the forked child before exec (async-signal-safe).
            unsafe {
                cmd.pre_exec(move || {
                    let lim = libc::rlimit {
                        rlim_cur: n,
                        rlim_max: n,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().expect("spawn rt monitor");
        let monitor = Monitor { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10) * slow();
        while monitor.try_get("/metrics").is_none() {
            assert!(Instant::now() < deadline, "rt monitor does not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
        monitor
    }

    /// (status line, body) of `GET path`.
    fn try_get(&self, path: &str) -> Option<(String, String)> {
        let mut stream = TcpStream::connect(&self.addr).ok()?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .ok()?;
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr).ok()?;
        let mut text = String::new();
        stream.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        Some((head.lines().next()?.to_string(), body.to_string()))
    }

    /// How many fds the monitor has open.
    fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .expect("the monitor's fds")
            .count()
    }

    fn metrics(&self) -> String {
        let (status, body) = self.try_get("/metrics").expect("GET /metrics");
        assert!(status.contains("200"), "{status}: {body}");
        body
    }

    /// Scrapes until `pred` holds for the metrics.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20) * slow();
        loop {
            let body = self.metrics();
            if pred(&body) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{what} never appeared in:\n{body}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the sample `name{id="ID"}` (label sets with only `id`).
fn sample(body: &str, name: &str, id: &str) -> Option<f64> {
    let prefix = format!("{name}{{id=\"{id}\"}} ");
    body.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
}

#[test]
fn metrics_per_container_and_oom_counter() {
    let env = Env::new("monitor");
    let monitor = Monitor::start(&env);
    let (status, _) = monitor.try_get("/nothing").unwrap();
    assert!(status.contains("404"), "{status}");

    let busy = env.id("busy");
    let mut config = env.config(&busy, &["sh", "-c", "while :; do :; done"]);
    set(&mut config, "/linux/resources/pids", json!({ "limit": 42 }));
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 100 << 20 }),
    );
    env.create(&busy, &config);
    assert_ok(&env.rt(&["start", &busy]), "start");
    let body = monitor.wait_for("cpu use and the OOM counter", |b| {
        sample(b, "container_cpu_usage_seconds_total", &busy).is_some_and(|v| v > 0.0)
            && sample(b, "container_memory_oom_total", &busy) == Some(0.0)
    });
    assert!(sample(&body, "container_memory_usage_bytes", &busy).unwrap() > 0.0);
    assert_eq!(
        sample(&body, "container_memory_limit_bytes", &busy),
        Some((100 << 20) as f64)
    );
    assert_eq!(sample(&body, "container_pids_current", &busy), Some(1.0));
    assert_eq!(sample(&body, "container_pids_limit", &busy), Some(42.0));
    assert!(
        body.contains("# TYPE container_memory_oom_total counter"),
        "{body}"
    );

    // The OOM counter: watched from create (0), one kill after start.
    let oom = env.id("oom");
    let mut config = env.config(&oom, &["sh", "-c", "a=x; while :; do a=$a$a; done"]);
    set(
        &mut config,
        "/linux/resources/memory",
        json!({ "limit": 32 << 20, "swap": 32 << 20 }),
    );
    env.create(&oom, &config);
    monitor.wait_for("the OOM counter at 0", |b| {
        sample(b, "container_memory_oom_total", &oom) == Some(0.0)
    });
    assert_ok(&env.rt(&["start", &oom]), "start");
    env.wait_status(&oom, "stopped");
    monitor.wait_for("an OOM kill", |b| {
        sample(b, "container_memory_oom_total", &oom).is_some_and(|v| v >= 1.0)
    });
    // The counter outlives the container.
    assert_ok(&env.rt(&["delete", &oom]), "delete");
    std::thread::sleep(Duration::from_millis(600));
    let body = monitor.metrics();
    assert!(sample(&body, "container_memory_oom_total", &oom).is_some_and(|v| v >= 1.0));
    assert!(sample(&body, "container_memory_usage_bytes", &oom).is_none());

    // OpenMetrics when Prometheus asks for it.
    let mut stream = TcpStream::connect(&monitor.addr).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.0\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    assert!(text.contains("application/openmetrics-text"), "{text}");
    assert!(text.trim_end().ends_with("# EOF"), "{text}");

    assert_ok(&env.rt(&["delete", "--force", &busy]), "delete");
}

/// Creates `id` (a `sleep`) in `cgroup` with a pids limit, and scrapes until the limit shows.
fn create_and_see_pids_limit(env: &Env, monitor: &Monitor, id: &str, cgroup: &str, limit: u32) {
    let mut config = env.config(id, &["sleep", "1000"]);
    set(
        &mut config,
        "/linux/resources/pids",
        json!({ "limit": limit }),
    );
    set(&mut config, "/linux/cgroupsPath", json!(cgroup));
    env.create(id, &config);
    monitor.wait_for(&format!("pids limit {limit}"), |b| {
        sample(b, "container_pids_limit", id) == Some(f64::from(limit))
    });
}

/// The monitor loads a container's cgroup once and keeps it between scrapes: a container
/// deleted and created again under the same ID, in another cgroup, must be read anew.
#[test]
fn a_container_created_again_under_its_id_is_read_from_its_new_cgroup() {
    let env = Env::new("monitor-again");
    let monitor = Monitor::start(&env);
    let id = env.id("again");
    for (limit, cgroup) in [
        (42, env.cgroup_path("first")),
        (7, env.cgroup_path("second")),
    ] {
        create_and_see_pids_limit(&env, &monitor, &id, &cgroup, limit);
        // Deleted and created again at once: likely between two scrapes.
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    }
}

/// The monitor keeps each container's statistics files open between scrapes: a container
/// deleted and made again under the same ID *in the same cgroup* must be read from the new
/// cgroup (the files kept are those of the removed one), and a deleted container's files
/// must be closed.
#[test]
fn files_kept_open_follow_a_cgroup_made_again_and_close_with_their_container() {
    let env = Env::new("monitor-same");
    let monitor = Monitor::start(&env);
    let fds = || monitor.open_fds();
    monitor.metrics();
    let baseline = fds();
    let id = env.id("same");
    let cgroup = env.cgroup_path("same");
    for limit in [42, 7, 9] {
        create_and_see_pids_limit(&env, &monitor, &id, &cgroup, limit);
        // Scraped twice: the second from the files kept.
        let body = monitor.metrics();
        assert_eq!(
            sample(&body, "container_pids_limit", &id),
            Some(f64::from(limit))
        );
        assert!(fds() > baseline, "no statistics file kept open");
        assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
    }
    // Gone from the metrics, and its files (and OOM watcher) closed.
    let deadline = Instant::now() + Duration::from_secs(10) * slow();
    loop {
        let body = monitor.metrics();
        let open = fds();
        if sample(&body, "container_pids_limit", &id).is_none() && open <= baseline {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{open} fds open after the container went, {baseline} before it came"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// With a hard RLIMIT_NOFILE too low to keep every container's statistics files open (~14
/// each), the monitor keeps what fits and opens the rest per scrape: every container is
/// still reported, right, scrape after scrape, and the OOM watchers and HTTP server still
/// get their fds.
#[test]
fn a_low_fd_limit_costs_speed_not_metrics() {
    const NOFILE: u64 = 160;
    const CONTAINERS: u32 = 12;
    let env = Env::new("monitor-fds");
    let monitor = Monitor::start_with_nofile(&env, Some(NOFILE));
    let ids: Vec<String> = (0..CONTAINERS).map(|i| env.id(&format!("f{i}"))).collect();
    for (i, id) in (0..CONTAINERS).zip(&ids) {
        create_and_see_pids_limit(&env, &monitor, id, &env.cgroup_path(id), 20 + i);
    }
    // The OOM thread picks containers up on its own rescan (every 250 ms).
    monitor.wait_for("every container's OOM counter", |b| {
        ids.iter()
            .all(|id| sample(b, "container_memory_oom_total", id).is_some())
    });
    for _ in 0..5 {
        let body = monitor.metrics();
        for (i, id) in (0..CONTAINERS).zip(&ids) {
            assert_eq!(
                sample(&body, "container_pids_limit", id),
                Some(f64::from(20 + i)),
                "{id} in a scrape with RLIMIT_NOFILE {NOFILE}"
            );
            assert_eq!(
                sample(&body, "container_memory_oom_total", id),
                Some(0.0),
                "{id}'s OOM watcher"
            );
        }
    }
    let open = monitor.open_fds();
    assert!(
        open < NOFILE as usize - 64,
        "{open} fds open of {NOFILE}: no room kept for the server"
    );
    for id in &ids {
        assert_ok(&env.rt(&["delete", "--force", id]), "delete");
    }
}

/// promtool, installed from Debian's `prometheus` package when missing. `None`: skip
/// (loudly); under CI=true a missing promtool fails the test.
fn promtool() -> Option<String> {
    let found = |p: &str| {
        Command::new(p)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if found("promtool") {
        return Some("promtool".into());
    }
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(["-o", "DPkg::Lock::Timeout=600"])
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let install = ["install", "-y", "--no-install-recommends", "prometheus"];
    let _ = apt(&install) || (apt(&["update"]) && apt(&install));
    if found("promtool") {
        return Some("promtool".into());
    }
    let msg = "promtool is missing and `apt-get install prometheus` failed";
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("\n*** SKIPPED: {msg} ***\n");
    None
}

#[test]
fn promtool_accepts_the_metrics() {
    let Some(promtool) = promtool() else { return };
    let env = Env::new("promtool");
    let monitor = Monitor::start(&env);
    let id = env.id("c");
    env.create(&id, &env.config(&id, &["sleep", "1000"]));
    assert_ok(&env.rt(&["start", &id]), "start");
    let body = monitor.wait_for("the container", |b| {
        sample(b, "container_memory_usage_bytes", &id).is_some()
            && sample(b, "container_memory_oom_total", &id).is_some()
    });
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ok(&env.rt(&["delete", "--force", &id]), "delete");
}
