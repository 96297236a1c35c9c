//! `rt monitor`: a Prometheus endpoint (`GET /metrics`) for every container under `--root`,
//! as containerd's cgroups monitor did: cpu, memory, pids and blkio of each container's
//! cgroup with an `id` label, and `container_memory_oom_total`, fed by OOM watchers.
//!
//! Threads (this command never forks, so rt's "no threads before fork" rule is untouched):
//! - the main thread answers HTTP requests (tiny_http accepts connections on its own
//!   threads and hands requests over); each scrape reads the cgroups' statistics then
//!   ([`Scraper`]: each container's cgroup is loaded once per placement its state.json
//!   records, and only the counters exported are read, [`Detail::Summary`], in parallel,
//!   from files kept open between scrapes, [`StatsSampler`]);
//! - one `rt-oom` thread owns a single [`EventMonitor`] (one epoll) holding the OOM
//!   watcher of every container, and rescans `--root` every [`RESCAN`] for containers
//!   created or deleted meanwhile. It must not wait for a scrape: an OOM-killed container
//!   is often deleted within milliseconds (`rt run`), and on cgroup v2 the kill count is
//!   read from `memory.events`, which goes with the cgroup.
//!
//! Counters of deleted containers that saw OOM kills are kept (a counter must not go back),
//! the others are dropped with their container.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::{anyhow, Context};
use cgroups::{Cgroup, Detail, Event, EventMonitor, Placement, StatOptions, Stats, StatsSampler};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::container;
use crate::logging;
use crate::state::Store;

/// How often the OOM thread looks for new and deleted containers.
const RESCAN: Duration = Duration::from_millis(250);

type Labels = Vec<(String, String)>;
type OomFamily = Family<Labels, Counter>;

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT_004: &str = "text/plain; version=0.0.4; charset=utf-8";

fn id_label(id: &str) -> Labels {
    vec![("id".to_string(), id.to_string())]
}

/// The samplers keep ~14 files open per container (v1): the soft RLIMIT_NOFILE (often
/// 1024) goes up to the hard one, as long-running daemons do. Samplers stop keeping files
/// open near the limit, so a low hard limit costs speed, not correctness.
fn raise_fd_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            if let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                logging::debug(&format!("monitor: raise RLIMIT_NOFILE to {hard}: {e}"));
            }
        }
    }
}

/// Each scrape samples on short-lived worker threads; glibc gives threads arenas of their
/// own, which filled up over the first few hundred scrapes (RSS +12% before it levelled
/// off). Two workers share one arena without measurable contention.
fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; called before any worker exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Serves metrics on `listen` until killed.
pub fn serve(root: &Path, listen: &str) -> anyhow::Result<()> {
    raise_fd_limit();
    one_malloc_arena();
    let server = tiny_http::Server::http(listen).map_err(|e| anyhow!("--listen {listen}: {e}"))?;
    logging::debug(&format!("monitor: listening on {listen}"));
    let oom = OomFamily::default();
    let oom_thread = {
        let (root, oom) = (root.to_path_buf(), oom.clone());
        std::thread::Builder::new()
            .name("rt-oom".into())
            .spawn(move || watch_ooms(&root, &oom))
            .context("start the OOM watcher thread")?
    };
    let mut scraper = Scraper::new(root);
    loop {
        if oom_thread.is_finished() {
            return match oom_thread.join() {
                Ok(Err(e)) => Err(e.context("OOM watcher")),
                _ => Err(anyhow!("the OOM watcher thread ended")),
            };
        }
        let request = match server.recv_timeout(Duration::from_secs(1)) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(e) => return Err(e).context("accept an HTTP request"),
        };
        let path = request.url().split('?').next().unwrap_or_default();
        // Prometheus asks for OpenMetrics; other clients (curl, promtool) get the classic
        // text format.
        let openmetrics = request.headers().iter().any(|h| {
            h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
        });
        let response = match (request.method(), path) {
            (tiny_http::Method::Get, "/metrics") => match scraper.render(&oom) {
                Ok(text) if openmetrics => {
                    tiny_http::Response::from_string(text).with_header(header(OPENMETRICS))
                }
                Ok(text) => tiny_http::Response::from_string(to_text_004(&text))
                    .with_header(header(TEXT_004)),
                Err(e) => {
                    tiny_http::Response::from_string(format!("{e:#}\n")).with_status_code(500)
                }
            },
            (tiny_http::Method::Get, "/") => {
                tiny_http::Response::from_string("rt monitor: metrics at /metrics\n")
            }
            _ => tiny_http::Response::from_string("not found\n").with_status_code(404),
        };
        if let Err(e) = request.respond(response) {
            logging::debug(&format!("monitor: respond: {e}"));
        }
    }
}

fn header(content_type: &'static str) -> tiny_http::Header {
    tiny_http::Header {
        field: "Content-Type"
            .parse()
            .unwrap_or_else(|_| unreachable!("a valid header name")),
        value: content_type
            .parse()
            .unwrap_or_else(|_| unreachable!("ASCII header value")),
    }
}

/// OpenMetrics text (what prometheus-client encodes) to Prometheus text format 0.0.4: a
/// counter family is named with its `_total` suffix there, and there is no `# EOF`.
fn to_text_004(openmetrics: &str) -> String {
    let counters: BTreeSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                if counters.contains(name) {
                    out.push_str(&format!("{prefix}{name}_total {tail}"));
                } else {
                    out.push_str(line);
                }
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The cgroup of container `id`, from its state.json read without the container's lock.
/// None for a container being created or deleted (no state: next round) or without a
/// cgroup; a cgroup that cannot be read is logged.
fn cgroup_of(store: &Store, id: &str) -> Option<Cgroup> {
    let state = store.peek(id).ok()?;
    match container::load_cgroup(&state.placement) {
        Ok(cg) => cg,
        Err(e) => {
            crate::logging::warn(&format!("container {id}: its cgroup: {e}"));
            None
        }
    }
}

/// The OOM thread: one EventMonitor for every container's OOM watcher.
fn watch_ooms(root: &Path, oom: &OomFamily) -> anyhow::Result<()> {
    let store = Store::new(root);
    let mut monitor: EventMonitor<String> = EventMonitor::new().context("create the epoll")?;
    let mut watched: BTreeSet<String> = BTreeSet::new();
    loop {
        let ids: BTreeSet<String> = store.list()?.into_iter().collect();
        for gone in watched.difference(&ids).cloned().collect::<Vec<_>>() {
            drop(monitor.remove(&gone));
            watched.remove(&gone);
            forget_if_zero(oom, &gone);
        }
        for id in ids.difference(&watched).cloned().collect::<Vec<_>>() {
            let Some(cg) = cgroup_of(&store, &id) else {
                continue; // being created or deleted: next round
            };
            // Kills from before the watcher existed (read first: never counted twice).
            let before = container::oom_kills(&cg).unwrap_or(0);
            match cg.oom_events() {
                Ok(watcher) => {
                    monitor
                        .add(id.clone(), watcher)
                        .with_context(|| format!("watch container {id}"))?;
                    let counter = oom.get_or_create(&id_label(&id));
                    if counter.get() == 0 {
                        counter.inc_by(before);
                    }
                    drop(counter);
                    watched.insert(id);
                }
                Err(e) => logging::debug(&format!("monitor: {id}: no OOM watcher: {e}")),
            }
        }
        for (id, event) in monitor.wait(Some(RESCAN)).context("wait for OOM events")? {
            match event {
                Event::Oom { count } => {
                    oom.get_or_create(&id_label(&id)).inc_by(count);
                }
                Event::Removed => {
                    drop(monitor.remove(&id));
                    watched.remove(&id);
                }
                _ => {}
            }
        }
    }
}

fn forget_if_zero(oom: &OomFamily, id: &str) {
    let labels = id_label(id);
    if oom.get_or_create(&labels).get() == 0 {
        oom.remove(&labels);
    }
}

/// The metric families of one scrape.
#[derive(Default)]
struct Families {
    cpu_total: Family<Labels, Counter<f64, AtomicU64>>,
    cpu_user: Family<Labels, Counter<f64, AtomicU64>>,
    cpu_kernel: Family<Labels, Counter<f64, AtomicU64>>,
    cpu_periods: Family<Labels, Counter>,
    cpu_throttled_periods: Family<Labels, Counter>,
    cpu_throttled_time: Family<Labels, Counter<f64, AtomicU64>>,
    mem_usage: Family<Labels, Gauge>,
    mem_max: Family<Labels, Gauge>,
    mem_limit: Family<Labels, Gauge>,
    mem_failcnt: Family<Labels, Counter>,
    mem_cache: Family<Labels, Gauge>,
    mem_rss: Family<Labels, Gauge>,
    mem_swap: Family<Labels, Gauge>,
    mem_kernel: Family<Labels, Gauge>,
    pids_current: Family<Labels, Gauge>,
    pids_limit: Family<Labels, Gauge>,
    blkio_bytes: Family<Labels, Counter>,
    blkio_ios: Family<Labels, Counter>,
}

const NS: f64 = 1e-9;

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A limit, or None when it is "unlimited" (the kernel's huge page-rounded maximum).
fn limit(v: u64) -> Option<i64> {
    (v > 0 && v < (1 << 62)).then_some(v as i64)
}

impl Families {
    fn add(&self, id: &str, s: &Stats) {
        let l = id_label(id);
        self.cpu_total
            .get_or_create(&l)
            .inc_by(s.cpu.usage.total as f64 * NS);
        self.cpu_user
            .get_or_create(&l)
            .inc_by(s.cpu.usage.user as f64 * NS);
        self.cpu_kernel
            .get_or_create(&l)
            .inc_by(s.cpu.usage.kernel as f64 * NS);
        let t = &s.cpu.throttling;
        self.cpu_periods.get_or_create(&l).inc_by(t.periods);
        self.cpu_throttled_periods
            .get_or_create(&l)
            .inc_by(t.throttled_periods);
        self.cpu_throttled_time
            .get_or_create(&l)
            .inc_by(t.throttled_time as f64 * NS);
        let m = &s.memory;
        self.mem_usage.get_or_create(&l).set(gauge(m.usage.usage));
        self.mem_max.get_or_create(&l).set(gauge(m.usage.max));
        if let Some(v) = limit(m.usage.limit) {
            self.mem_limit.get_or_create(&l).set(v);
        }
        self.mem_failcnt.get_or_create(&l).inc_by(m.usage.failcnt);
        self.mem_cache.get_or_create(&l).set(gauge(m.cache));
        let rss = m.raw.get("rss").or_else(|| m.raw.get("anon")).copied();
        self.mem_rss.get_or_create(&l).set(gauge(rss.unwrap_or(0)));
        self.mem_swap.get_or_create(&l).set(gauge(m.swap.usage));
        self.mem_kernel.get_or_create(&l).set(gauge(m.kernel.usage));
        self.pids_current
            .get_or_create(&l)
            .set(gauge(s.pids.current));
        if let Some(v) = limit(s.pids.limit) {
            self.pids_limit.get_or_create(&l).set(v);
        }
        let blk = |family: &Family<Labels, Counter>, entries: &[cgroups::BlkioEntry]| {
            for e in entries {
                let op = if e.op.is_empty() { "total" } else { &e.op };
                let labels = vec![
                    ("id".to_string(), id.to_string()),
                    ("major".to_string(), e.major.to_string()),
                    ("minor".to_string(), e.minor.to_string()),
                    ("op".to_string(), op.to_ascii_lowercase()),
                ];
                family.get_or_create(&labels).inc_by(e.value);
            }
        };
        blk(&self.blkio_bytes, &s.blkio.io_service_bytes_recursive);
        blk(&self.blkio_ios, &s.blkio.io_serviced_recursive);
    }

    fn register(self, r: &mut Registry) {
        r.register(
            "container_cpu_usage_seconds",
            "CPU time used by the container",
            self.cpu_total,
        );
        r.register(
            "container_cpu_user_seconds",
            "CPU time used in user mode",
            self.cpu_user,
        );
        r.register(
            "container_cpu_kernel_seconds",
            "CPU time used in kernel mode",
            self.cpu_kernel,
        );
        r.register(
            "container_cpu_throttle_periods",
            "CFS periods with throttling active",
            self.cpu_periods,
        );
        r.register(
            "container_cpu_throttled_periods",
            "CFS periods in which the container was throttled",
            self.cpu_throttled_periods,
        );
        r.register(
            "container_cpu_throttled_seconds",
            "Time the container was throttled",
            self.cpu_throttled_time,
        );
        r.register(
            "container_memory_usage_bytes",
            "Memory in use",
            self.mem_usage,
        );
        r.register(
            "container_memory_max_usage_bytes",
            "Highest memory use recorded (cgroup v1; v2 kernels from 5.19)",
            self.mem_max,
        );
        r.register(
            "container_memory_limit_bytes",
            "Memory limit (absent when unlimited)",
            self.mem_limit,
        );
        r.register(
            "container_memory_failcnt",
            "Times the memory limit was hit",
            self.mem_failcnt,
        );
        r.register(
            "container_memory_cache_bytes",
            "Page cache memory",
            self.mem_cache,
        );
        r.register(
            "container_memory_rss_bytes",
            "Anonymous memory (rss on v1, anon on v2)",
            self.mem_rss,
        );
        r.register(
            "container_memory_swap_usage_bytes",
            "Memory plus swap in use (v1 memsw) or swap in use (v2)",
            self.mem_swap,
        );
        r.register(
            "container_memory_kernel_usage_bytes",
            "Kernel memory in use",
            self.mem_kernel,
        );
        r.register(
            "container_pids_current",
            "Number of tasks in the container",
            self.pids_current,
        );
        r.register(
            "container_pids_limit",
            "Maximum number of tasks (absent when unlimited)",
            self.pids_limit,
        );
        r.register(
            "container_blkio_io_service_bytes",
            "Bytes transferred to and from block devices",
            self.blkio_bytes,
        );
        r.register(
            "container_blkio_io_serviced",
            "IO operations on block devices",
            self.blkio_ios,
        );
    }
}

/// What a scrape reads of each cgroup.
const SAMPLED: StatOptions = StatOptions {
    ignore_not_exist: true,
    detail: Detail::Summary,
};

/// What the scrapes know of each container: its cgroup's sampler, made once per placement.
struct Scraper {
    store: Store,
    /// By container ID: the placement its state.json recorded and the sampler of the cgroup
    /// loaded from it (`None`: it has none). A container deleted and created again under
    /// the same ID in another cgroup records another placement, and is loaded again; in
    /// the same cgroup, the sampler finds its files gone and opens them afresh. A deleted
    /// container's sampler (and its files) goes at the next scrape.
    known: HashMap<String, (Placement, Option<StatsSampler>)>,
}

impl Scraper {
    fn new(root: &Path) -> Self {
        Self {
            store: Store::new(root),
            known: HashMap::new(),
        }
    }

    /// The cgroups of the containers under the root now: their state.json files read (in
    /// parallel) for the placement, a cgroup loaded only for a placement not seen before.
    fn cgroups(&mut self) -> anyhow::Result<Vec<(String, &StatsSampler)>> {
        let ids = self.store.list()?;
        let store = &self.store;
        // No state yet (being created) or gone meanwhile: skipped this scrape.
        let placed = crate::parallel::filter_map(&ids, |id| {
            store.peek(id).ok().map(|st| (id.clone(), st.placement))
        })
        .context("read the containers' state")?;
        let now: HashSet<&str> = placed.iter().map(|(id, _)| id.as_str()).collect();
        self.known.retain(|id, _| now.contains(id.as_str()));
        for (id, placement) in &placed {
            if self.known.get(id).is_some_and(|(p, _)| p == placement) {
                continue;
            }
            self.known.remove(id);
            match placement.load() {
                Ok(cgroup) => {
                    let sampler = cgroup.map(|cg| cg.sampler(SAMPLED));
                    self.known.insert(id.clone(), (placement.clone(), sampler));
                }
                // Not made yet: asked again next scrape.
                Err(e) if e.is_not_found() => {}
                Err(e) => logging::warn(&format!("container {id}: its cgroup: {e}")),
            }
        }
        Ok(placed
            .into_iter()
            .filter_map(|(id, _)| match self.known.get(&id) {
                Some((_, Some(cg))) => Some((id, cg)),
                _ => None,
            })
            .collect())
    }

    /// One scrape: the exported statistics of every container's cgroup, and the OOM
    /// counters.
    fn render(&mut self, oom: &OomFamily) -> anyhow::Result<String> {
        let cgroups = self.cgroups()?;
        let sampled = crate::parallel::filter_map(&cgroups, |(id, s)| match s.sample() {
            Ok(stats) => Some((id.clone(), stats)),
            // Deleted meanwhile.
            Err(e) => {
                logging::debug(&format!("monitor: {id}: {e}"));
                None
            }
        })
        .context("read the statistics")?;
        let families = Families::default();
        for (id, stats) in &sampled {
            families.add(id, stats);
        }
        let mut registry = Registry::default();
        families.register(&mut registry);
        registry.register(
            "container_memory_oom",
            "Processes the kernel's OOM killer killed in the container",
            oom.clone(),
        );
        let mut text = String::new();
        encode(&mut text, &registry).context("encode the metrics")?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_to_text_004() {
        let om = "# HELP a_seconds Time.\n# TYPE a_seconds counter\na_seconds_total{id=\"x\"} 1\n\
                  # HELP b_bytes Size.\n# TYPE b_bytes gauge\nb_bytes{id=\"x\"} 2\n# EOF\n";
        assert_eq!(
            to_text_004(om),
            "# HELP a_seconds_total Time.\n# TYPE a_seconds_total counter\n\
             a_seconds_total{id=\"x\"} 1\n# HELP b_bytes Size.\n# TYPE b_bytes gauge\n\
             b_bytes{id=\"x\"} 2\n"
        );
    }
}
