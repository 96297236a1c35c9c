#!/usr/bin/env python3
"""rt vs runc vs crun, side by side on one machine (issue 7). Python 3 stdlib only.

Run through `make bench` (or bench/bench.sh), as root. This script:

* re-executes itself under `unshare -m --propagation private` and, inside that private mount
  namespace, mounts a tmpfs over /sys/fs/cgroup/unified, so that every runtime (rt, runc and
  crun alike) sees the same pure cgroup v1 layout: crun refuses the hybrid layout of hosts whose
  cgroup2 mount has controllers (here `hugetlb`). The host's mounts are untouched.
* gives each runtime its own --root under target/bench/, puts every container in its own
  cgroup under /rt-bench-<pid>/ (absolute cgroupsPath) and removes those cgroups afterwards, in
  every hierarchy, also on failure; every container it created is `delete --force`d.
* builds one bundle per container (config.json from `rt spec`, edited; the rootfs, shared and
  read-only, is the busybox one made by bundles/build-rootfs.sh), so that no two containers share
  a cgroup and bundle writes stay outside the timed part.
* times each runtime invocation with posix_spawn + wait4: wall time around the call, CPU time =
  ru_utime + ru_stime of the runtime and every descendant it waited for; peak RSS through GNU
  time (see peak_rss for why not our own wait4).
* interleaves the runtimes (rotating the order every round), prints one table and writes all
  samples as JSON to target/bench/bench-<timestamp>.json and target/bench/latest.json.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, "target", "bench")
CGROUP_ROOT = "/sys/fs/cgroup"
UNIFIED = "/sys/fs/cgroup/unified"
NS_ENV = "RT_BENCH_IN_NS"
ID_ENV = "RT_BENCH_ID"
PR_SET_CHILD_SUBREAPER = 36
UNSUPPORTED = re.compile(
    r"unknown command|unrecognized subcommand|unknown subcommand|invalid command|"
    r"no such command|not supported|unsupported",
    re.I,
)


def log(msg):
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Outer process: private mount namespace + cleanup safety net


def outer(args):
    bench_id = f"rt-bench-{os.getpid()}"
    env = dict(os.environ, **{NS_ENV: "1", ID_ENV: bench_id})
    cmd = ["unshare", "-m", "--propagation", "private", sys.executable,
           os.path.abspath(__file__)] + sys.argv[1:]
    # Ctrl-C reaches the inner process too (same process group); it cleans up and exits.
    # A no-op handler, not SIG_IGN: an ignored SIGINT would stay ignored in the child.
    old = signal.signal(signal.SIGINT, lambda *_: None)
    try:
        rc = subprocess.call(cmd, env=env)
    finally:
        signal.signal(signal.SIGINT, old)
        leftovers = remove_cgroups(bench_id)
        if leftovers:
            log(f"could not remove cgroups: {', '.join(leftovers)}")
            rc = rc or 1
        shutil.rmtree(os.path.join(OUT, bench_id), ignore_errors=True)
    return rc


def remove_cgroups(bench_id):
    """Removes /sys/fs/cgroup/*/<bench_id> (ours alone) bottom-up in every hierarchy.

    A cgroup that still holds processes holds containers this benchmark started: they are
    SIGKILLed first. Returns the directories that could not be removed."""
    failed = []
    for mnt in cgroup_mounts():
        top = os.path.join(mnt, bench_id)
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            for attempt in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    kill_cgroup(dirpath, bench_id)
                    time.sleep(0.02)
            else:
                failed.append(dirpath)
    return failed


def cgroup_mounts():
    """Mount points of real cgroup file systems (v1 and v2) in this mount namespace; the
    tmpfs that hides the cgroup2 mount in the private namespace is not one of them."""
    top = {}
    with open("/proc/self/mounts") as f:
        for line in f:
            _dev, mnt, fstype = line.split()[:3]
            top[mnt] = fstype  # a later mount on the same point hides the earlier one
    return sorted(m for m, t in top.items()
                  if t in ("cgroup", "cgroup2") and m.startswith(CGROUP_ROOT + "/"))


def kill_cgroup(path, bench_id):
    """SIGKILLs what runs in one of our cgroups; a pid is killed only when the kernel also
    says (/proc/PID/cgroup) that it lives under our /<bench_id> parent."""
    try:
        with open(os.path.join(path, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                if f"/{bench_id}/" not in f.read():
                    continue
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    reap_orphans()


# ---------------------------------------------------------------------------------------------
# Process helpers


def reap_orphans():
    """Reaps exited children that nobody waits for (containers reparented to us, the
    subreaper). Only called when no timed child is outstanding."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Proc:
    __slots__ = ("argv", "pid", "t0", "wall", "cpu", "maxrss", "rc", "err", "errpath", "outpath")


def spawn(argv, tag, stdout=None):
    p = Proc()
    p.argv = argv
    p.errpath = os.path.join(TMP, f"err-{tag}")
    p.outpath = stdout
    fa = [
        (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout or "/dev/null",
         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, p.errpath, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    p.t0 = time.perf_counter_ns()
    p.pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    return p


def finish(p, status, ru):
    p.wall = (time.perf_counter_ns() - p.t0) / 1e6
    p.cpu = (ru.ru_utime + ru.ru_stime) * 1e3
    p.maxrss = ru.ru_maxrss  # KiB
    p.rc = os.waitstatus_to_exitcode(status)
    p.err = ""
    if p.rc != 0:
        try:
            with open(p.errpath, errors="replace") as f:
                p.err = f.read().strip()[-600:]
        except OSError:
            pass
    return p


def timed(argv, tag="x", stdout=None):
    p = spawn(argv, tag, stdout)
    _, status, ru = os.wait4(p.pid, 0)
    return finish(p, status, ru)


def pool(argvs, jobs):
    """Runs argvs, `jobs` at a time; returns (procs in order, total wall ms)."""
    results = [None] * len(argvs)
    running = {}
    nxt = 0
    t0 = time.perf_counter_ns()
    while nxt < len(argvs) or running:
        while nxt < len(argvs) and len(running) < jobs:
            p = spawn(argvs[nxt], f"pool{len(running)}-{nxt}")
            running[p.pid] = (nxt, p)
            nxt += 1
        pid, status, ru = os.wait4(-1, 0)
        if pid in running:
            i, p = running.pop(pid)
            results[i] = finish(p, status, ru)
        # else: an orphaned container process we reaped as subreaper
    return results, (time.perf_counter_ns() - t0) / 1e6


# ---------------------------------------------------------------------------------------------
# Runtimes, bundles, containers


class Runtime:
    def __init__(self, name, binary, bench_id):
        self.name = name
        self.binary = binary
        self.root = os.path.join(OUT, bench_id, "root", name)
        os.makedirs(self.root, exist_ok=True)

    def cmd(self, *args):
        return [self.binary, "--root", self.root, *args]


class Bench:
    def __init__(self, args, bench_id):
        self.args = args
        self.bench_id = bench_id
        self.dir = os.path.join(OUT, bench_id)
        self.rootfs = os.path.abspath(args.rootfs)
        self.live = set()  # (runtime, id) that may exist
        self.errors = []
        self.base = self.base_config(args.rt)
        self.runtimes = {}
        for name in args.runtimes.split(","):
            binary = args.rt if name == "rt" else shutil.which(name)
            if not binary:
                sys.exit(f"bench: {name} not found")
            self.runtimes[name] = Runtime(name, os.path.realpath(binary), bench_id)
        self.counter = 0

    def base_config(self, rt):
        d = tempfile.mkdtemp(dir=TMP)
        subprocess.run([rt, "spec", "--bundle", d], check=True)
        with open(os.path.join(d, "config.json")) as f:
            cfg = json.load(f)
        shutil.rmtree(d)
        cfg["process"]["terminal"] = False
        # crun 1.8 rejects any ociVersion but 1.0.x ("unknown version specified"); nothing in
        # this config needs a later one.
        cfg["ociVersion"] = "1.0.2"
        cfg["root"] = {"path": self.rootfs, "readonly": True}
        return cfg

    def bundle(self, rt, kind, argv):
        """A fresh bundle + id for one container of runtime `rt`."""
        self.counter += 1
        cid = f"{rt.name}-{kind}-{self.counter}"
        b = os.path.join(self.dir, "bundles", cid)
        os.makedirs(b)
        cfg = json.loads(json.dumps(self.base))
        cfg["process"]["args"] = argv
        cfg["linux"]["cgroupsPath"] = f"/{self.bench_id}/{cid}"
        with open(os.path.join(b, "config.json"), "w") as f:
            json.dump(cfg, f)
        return cid, b

    def check(self, what, rt, p):
        if p.rc != 0:
            msg = f"{rt.name} {what}: exit {p.rc}: {p.err}"
            self.errors.append(msg)
            log(msg)
            return False
        return True

    def delete_force(self, rt, cid, tag="del"):
        p = timed(rt.cmd("delete", "--force", cid), tag)
        if p.rc == 0:
            self.live.discard((rt.name, cid))
        return p

    def cleanup(self):
        for name, cid in sorted(self.live):
            rt = self.runtimes[name]
            p = timed(rt.cmd("delete", "--force", cid), "cleanup")
            if p.rc != 0:
                log(f"cleanup: {name} delete --force {cid}: {p.err}")
        self.live.clear()
        reap_orphans()

    def order(self, round_):
        names = list(self.runtimes)
        k = round_ % len(names)
        return [self.runtimes[n] for n in names[k:] + names[:k]]

    # -- 1. lifecycle: run (foreground) + delete --------------------------------------------
    def lifecycle(self):
        a = self.args
        res = {n: {"wall": [], "cpu": [], "run_wall": [], "run_cpu": []}
               for n in self.runtimes}
        log(f"lifecycle: run + delete of /bin/true, {a.warmup} warm-up + {a.runs} runs each")
        for i in range(a.warmup + a.runs):
            for rt in self.order(i):
                cid, b = self.bundle(rt, "true", ["/bin/true"])
                self.live.add((rt.name, cid))
                r = timed(rt.cmd("run", "--bundle", b, cid), "run")
                d = self.delete_force(rt, cid)
                reap_orphans()
                ok = self.check("run", rt, r) and self.check("delete --force", rt, d)
                if ok and i >= a.warmup:
                    s = res[rt.name]
                    s["wall"].append(r.wall + d.wall)
                    s["cpu"].append(r.cpu + d.cpu)
                    s["run_wall"].append(r.wall)
                    s["run_cpu"].append(r.cpu)
            # The floor from issue 7: the same namespaces + chroot + exec, no runtime.
            f = timed([shutil.which("unshare"), "--pid", "--fork", "--net", "--ipc", "--uts", "--mount",
                       "--cgroup", shutil.which("chroot"), self.rootfs, "/bin/true"], "floor")
            if f.rc == 0 and i >= a.warmup:
                res.setdefault("_floor", {"wall": [], "cpu": []})
                res["_floor"]["wall"].append(f.wall)
                res["_floor"]["cpu"].append(f.cpu)
        return res

    # -- 2. create / start / delete --force of a sleep container --------------------------
    def create_start(self):
        a = self.args
        res = {n: {k: [] for k in ("create", "create_cpu", "start",
                                   "start_cpu", "delete", "delete_cpu")}
               for n in self.runtimes}
        log(f"create/start/delete -f of `sleep 1000`, {a.warmup} warm-up + {a.runs} runs each")
        for i in range(a.warmup + a.runs):
            for rt in self.order(i):
                cid, b = self.bundle(rt, "sleep", ["/bin/sleep", "1000"])
                self.live.add((rt.name, cid))
                c = timed(rt.cmd("create", "--bundle", b, cid), "create")
                if not self.check("create", rt, c):
                    self.delete_force(rt, cid)
                    continue
                s = timed(rt.cmd("start", cid), "start")
                d = self.delete_force(rt, cid)
                reap_orphans()
                if self.check("start", rt, s) and self.check("delete --force", rt, d) \
                        and i >= a.warmup:
                    r = res[rt.name]
                    r["create"].append(c.wall)
                    r["create_cpu"].append(c.cpu)
                    r["start"].append(s.wall)
                    r["start_cpu"].append(s.cpu)
                    r["delete"].append(d.wall)
                    r["delete_cpu"].append(d.cpu)
        return res

    # -- 3. N containers created, started, deleted; sequentially and `jobs` at a time ------
    def scale(self):
        a = self.args
        res = {n: {} for n in self.runtimes}
        for mode, jobs in (("seq", 1), (f"x{a.jobs}", a.jobs)):
            for rt in self.runtimes.values():
                log(f"scale: {a.scale} containers on {rt.name}, {mode}")
                ids = []
                for _ in range(a.scale):
                    cid, b = self.bundle(rt, "scale", ["/bin/sleep", "1000"])
                    ids.append((cid, b))
                    self.live.add((rt.name, cid))
                phases = {}
                total_cpu = 0.0
                ok = True
                for phase, mk in (
                    ("create", lambda cid, b: rt.cmd("create", "--bundle", b, cid)),
                    ("start", lambda cid, b: rt.cmd("start", cid)),
                    ("delete", lambda cid, b: rt.cmd("delete", "--force", cid)),
                ):
                    procs, wall = pool([mk(cid, b) for cid, b in ids], jobs)
                    phases[phase] = wall
                    total_cpu += sum(p.cpu for p in procs)
                    bad = [p for p in procs if p.rc != 0]
                    for p in bad[:3]:
                        self.check(f"scale {mode} {phase}", rt, p)
                    ok = ok and not bad
                if ok:
                    for cid, _ in ids:
                        self.live.discard((rt.name, cid))
                self.cleanup()
                total = sum(phases.values())
                res[rt.name][mode] = {
                    "ok": ok, "jobs": jobs, "n": a.scale, "total_ms": total,
                    "per_container_ms": total / a.scale, "cpu_ms": total_cpu,
                    "phases_ms": phases,
                }
        return res

    # -- 3b. growth: N containers running; what a node agent calls over and over --------
    def growth(self):
        """For N in --growth (10,100,300): with N `sleep` containers running, the wall of
        `create` (+ `delete -f`) of one more, `list` (table and json), `events --stats` of
        one, and (rt) a `rt monitor` scrape of all; then, at the largest N, --scrapes scrapes
        while containers come and go, with the monitor's fds and RSS before and after."""
        a = self.args
        levels = sorted({int(x) for x in a.growth.split(",") if x.strip()})
        res = {}
        for rt in self.runtimes.values():
            r = res[rt.name] = {"levels": {}}
            running = []
            mon = self.start_monitor(rt) if rt.name == "rt" else None
            try:
                for n in levels:
                    log(f"growth: {rt.name} with {n} containers running")
                    if not self.bring_up(rt, running, n):
                        r["levels"][str(n)] = {"ok": False}
                        break
                    r["levels"][str(n)] = self.growth_level(rt, running, mon)
                if mon and running and r["levels"].get(str(levels[-1]), {}).get("ok"):
                    r["monitor_soak"] = self.monitor_soak(rt, mon, len(running))
            finally:
                if mon:
                    mon[0].terminate()
                    mon[0].wait()
                procs, _ = pool([rt.cmd("delete", "--force", cid) for cid in running], a.jobs)
                for cid, p in zip(running, procs):
                    if p.rc == 0:
                        self.live.discard((rt.name, cid))
                self.cleanup()
        return res

    def bring_up(self, rt, running, n):
        """Creates and starts containers, `jobs` at a time, until `n` run."""
        new = []
        while len(running) + len(new) < n:
            cid, b = self.bundle(rt, "grow", ["/bin/sleep", "100000"])
            self.live.add((rt.name, cid))
            new.append((cid, b))
        for phase, mk in (("create", lambda c, b: rt.cmd("create", "--bundle", b, c)),
                          ("start", lambda c, b: rt.cmd("start", c))):
            procs, _ = pool([mk(c, b) for c, b in new], self.args.jobs)
            bad = [p for p in procs if p.rc != 0]
            for p in bad[:3]:
                self.check(f"growth {phase}", rt, p)
            if bad:
                running.extend(c for c, _ in new)
                return False
        running.extend(c for c, _ in new)
        return True

    def growth_level(self, rt, running, mon):
        a = self.args
        out = {"ok": True, "n": len(running)}
        samples = {k: [] for k in ("create", "delete", "list", "list_json", "events",
                                   "scrape")}
        for i in range(a.growth_runs + 1):
            keep = i > 0  # the first round warms the caches
            cid, b = self.bundle(rt, "probe", ["/bin/sleep", "100000"])
            self.live.add((rt.name, cid))
            c = timed(rt.cmd("create", "--bundle", b, cid), "gcreate")
            d = self.delete_force(rt, cid, "gdel")
            if self.check("growth create", rt, c) and self.check("growth delete", rt, d) \
                    and keep:
                samples["create"].append(c.wall)
                samples["delete"].append(d.wall)
            for key, argv in (("list", rt.cmd("list")),
                              ("list_json", rt.cmd("list", "--format", "json")),
                              ("events", rt.cmd("events", "--stats", running[0]))):
                p = timed(argv, "g" + key)
                if p.rc == 0:
                    if keep:
                        samples[key].append(p.wall)
                elif key != "events" or not (UNSUPPORTED.search(p.err) or is_unsupported(rt)):
                    self.check(f"growth {key}", rt, p)
            if mon:
                t, lines = scrape(mon[1])
                if keep:
                    samples["scrape"].append(t)
                out["scrape_lines"] = lines
        for k, v in samples.items():
            out[k] = summary(v)
        if mon:
            out["monitor"] = proc_usage(mon[0].pid)
        return out

    def start_monitor(self, rt):
        """`rt monitor` on a free local port; (Popen, url)."""
        import socket
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        err = open(os.path.join(TMP, "monitor.err"), "w")
        mon = subprocess.Popen(rt.cmd("monitor", "--listen", f"127.0.0.1:{port}"),
                               stdout=subprocess.DEVNULL, stderr=err)
        url = f"http://127.0.0.1:{port}/metrics"
        for _ in range(200):
            try:
                scrape(url)
                return mon, url
            except OSError:
                time.sleep(0.02)
        mon.terminate()
        self.errors.append("rt monitor did not answer")
        return None

    def monitor_soak(self, rt, mon, n):
        """--scrapes scrapes; every 10th, one container created, started and deleted."""
        a = self.args
        log(f"growth: {a.scrapes} scrapes of {n} containers, containers coming and going")
        for _ in range(20):
            scrape(mon[1])
        before = proc_usage(mon[0].pid)
        times = []
        for i in range(a.scrapes):
            if i % 10 == 0:
                cid, b = self.bundle(rt, "churn", ["/bin/sleep", "100000"])
                self.live.add((rt.name, cid))
                timed(rt.cmd("run", "-d", "--bundle", b, cid), "churn")
            t, _ = scrape(mon[1])
            times.append(t)
            if i % 10 == 5:
                self.delete_force(rt, cid, "churndel")
                reap_orphans()
        after = proc_usage(mon[0].pid)
        return {"scrapes": a.scrapes, "containers": n, "scrape": summary(times),
                "before": before, "after": after}

    # -- 5a. peak RSS ------------------------------------------------------------------
    def peak_rss(self):
        """ru_maxrss of `create` and of `run`, through GNU time (-f %M).

        Not from our own wait4: posix_spawn from Python (vfork + exec) makes the kernel fold
        the parent's mm high-water mark (the Python interpreter's ~13 MiB) into the child's
        ru_maxrss at exec. GNU time forks from a ~1 MiB process, so its floor is ~1 MiB
        (`/usr/bin/time -f %M /bin/true`: ~1.1 MiB), below every runtime here."""
        a = self.args
        gnu_time = "/usr/bin/time"
        res = {n: {"create": [], "run": []} for n in self.runtimes}
        log(f"peak RSS: {a.rss_runs} creates and runs each through {gnu_time}")
        for i in range(a.rss_runs):
            for rt in self.order(i):
                for what, argv in (("create", ["/bin/sleep", "1000"]), ("run", ["/bin/true"])):
                    cid, b = self.bundle(rt, f"rss{what}", argv)
                    self.live.add((rt.name, cid))
                    out = os.path.join(TMP, "maxrss")
                    p = timed([gnu_time, "-f", "%M", "-o", out,
                               *rt.cmd(what, "--bundle", b, cid)], "rss")
                    self.delete_force(rt, cid)
                    reap_orphans()
                    if self.check(f"{what} (rss)", rt, p):
                        with open(out) as f:
                            res[rt.name][what].append(int(f.read().split()[-1]))
        return res

    # -- 4. events --stats (one shot) on a running container ------------------------------
    def events(self):
        a = self.args
        res = {}
        started = {}
        for rt in self.runtimes.values():
            cid, b = self.bundle(rt, "events", ["/bin/sleep", "1000"])
            self.live.add((rt.name, cid))
            c = timed(rt.cmd("create", "--bundle", b, cid), "create")
            s = timed(rt.cmd("start", cid), "start") if c.rc == 0 else c
            if not (self.check("create (events)", rt, c) and self.check("start (events)", rt, s)):
                res[rt.name] = {"status": "n/a (container failed)", "wall": []}
                continue
            out = os.path.join(TMP, f"events-{rt.name}.json")
            p = timed(rt.cmd("events", "--stats", cid), "events", stdout=out)
            if p.rc != 0:
                if UNSUPPORTED.search(p.err) or is_unsupported(rt):
                    res[rt.name] = {"status": "n/a (unsupported)", "wall": []}
                else:
                    res[rt.name] = {"status": f"n/a (failed: {p.err[:120]})", "wall": []}
                continue
            with open(out) as f:
                sample = f.read(4000)
            res[rt.name] = {"status": "ok", "wall": [], "cpu": [], "sample": sample[:400]}
            started[rt.name] = cid
        log(f"events --stats on {', '.join(started) or 'no runtime'}, {a.events_runs} runs")
        for i in range(a.events_runs + 2):
            for rt in self.order(i):
                if rt.name not in started:
                    continue
                p = timed(rt.cmd("events", "--stats", started[rt.name]), "events")
                if self.check("events --stats", rt, p) and i >= 2:
                    res[rt.name]["wall"].append(p.wall)
                    res[rt.name]["cpu"].append(p.cpu)
        self.cleanup()
        return res

    # -- 5. binary, libraries, syscalls --------------------------------------------------
    def footprint(self):
        res = {}
        for rt in self.runtimes.values():
            tmp = os.path.join(TMP, f"strip-{rt.name}")
            shutil.copy(rt.binary, tmp)
            subprocess.run(["strip", tmp], check=True)
            libs = []
            ldd = subprocess.run(["ldd", rt.binary], capture_output=True, text=True)
            for line in ldd.stdout.splitlines():
                name = line.strip().split()[0] if line.strip() else ""
                if name and "vdso" not in name:
                    libs.append(os.path.basename(name))
            if "not a dynamic executable" in ldd.stdout + ldd.stderr or \
                    "statically linked" in ldd.stdout + ldd.stderr:
                libs = []
            res[rt.name] = {
                "binary": rt.binary,
                "installed_bytes": os.path.getsize(rt.binary),
                "stripped_bytes": os.path.getsize(tmp),
                "libs": libs,
                "version": first_line([rt.binary, "--version"]),
            }
            os.unlink(tmp)
        return res

    def syscalls(self):
        """strace -f -c of one `run` per runtime (+ -f -tt -T of rt's and crun's, kept for
        profiling in target/bench/)."""
        res = {}
        for rt in self.runtimes.values():
            for mode in ("c", "tt"):
                if mode == "tt" and rt.name not in ("rt", "crun"):
                    continue
                cid, b = self.bundle(rt, f"strace{mode}", ["/bin/true"])
                self.live.add((rt.name, cid))
                out = os.path.join(OUT, f"strace-{mode}-{rt.name}.txt")
                flags = ["-f", "-c"] if mode == "c" else ["-f", "-tt", "-T", "-s", "96"]
                strace = shutil.which("strace")
                p = timed([strace, *flags, "-o", out, *rt.cmd("run", "--bundle", b, cid)],
                          "strace")
                self.delete_force(rt, cid)
                reap_orphans()
                if not self.check(f"strace {mode} run", rt, p):
                    continue
                if mode == "c":
                    res[rt.name] = parse_strace_c(out)
        return res


def scrape(url):
    """GET url; (wall ms, lines)."""
    import urllib.request
    t0 = time.perf_counter_ns()
    with urllib.request.urlopen(url, timeout=10) as r:
        body = r.read()
    return (time.perf_counter_ns() - t0) / 1e6, body.count(b"\n")


def proc_usage(pid):
    """Open fds and resident memory (KiB) of a process."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return {"fds": fds, "rss_kib": rss}


def is_unsupported(rt):
    p = timed(rt.cmd("events", "--help"), "help")
    return p.rc != 0 or bool(UNSUPPORTED.search(p.err))


def parse_strace_c(path):
    calls, errors, top = None, None, []
    with open(path) as f:
        for line in f:
            t = line.split()
            if not t or not re.match(r"^[\d.]+$", t[0]):
                continue
            if t[-1] == "total":
                calls = int(t[3])
                errors = int(t[4]) if len(t) == 6 else 0
            elif len(t) >= 5:
                top.append((t[-1], int(t[3])))
    top.sort(key=lambda x: -x[1])
    return {"calls": calls, "errors": errors, "top": top[:12]}


def first_line(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


# ---------------------------------------------------------------------------------------------
# Statistics and the table


def summary(xs):
    if not xs:
        return None
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=20, method="inclusive") if len(xs) > 1 else [xs[0]] * 19
    return {"n": len(xs), "median": statistics.median(xs), "p10": q[1], "p25": q[4],
            "p75": q[14], "p90": q[17], "min": xs[0], "max": xs[-1]}


def fmt_ms(s):
    if s is None:
        return "n/a"
    return f"{s['median']:.1f} [{s['p10']:.1f}-{s['p90']:.1f}]"


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return f"{a / b:.2f}x"


def floor_line(L, names):
    w, c = summary(L.get("_floor", {}).get("wall", [])), summary(L.get("_floor", {}).get("cpu", []))
    if not w:
        return "floor: n/a"
    rel = ""
    if "crun" in names and summary(L["crun"]["wall"]):
        rel = f" = {w['median'] / summary(L['crun']['wall'])['median']:.2f}x crun's lifecycle wall"
    return (f"floor (unshare -pf -n -i -u -m -C + chroot + exec /bin/true, no runtime): "
            f"wall {fmt_ms(w)} ms, cpu {fmt_ms(c)} ms{rel}")


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu": model,
            "os": first_line(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"])}


def build_table(names, rows):
    """rows: list of (label, {name: cell}, rt_value, {name: value}) -> text."""
    head = ["metric"] + names
    others = [n for n in names if n != "rt"]
    if "rt" in names:
        head += [f"rt/{n}" for n in others]
    lines = []
    for label, cells, values in rows:
        row = [label] + [cells.get(n, "n/a") for n in names]
        if "rt" in names:
            row += [ratio(values.get("rt"), values.get(n)) for n in others]
        lines.append(row)
    widths = [max(len(str(r[i])) for r in [head] + lines) for i in range(len(head))]
    out = []
    fmt = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    out.append(fmt(head))
    out.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    out += [fmt(r) for r in lines]
    return "\n".join(out)


def report(result):
    names = list(result["runtimes"])
    L, C, S, E = (result["lifecycle"], result["create_start"], result["scale"],
                  result["events"])
    F, Y = result["footprint"], result["syscalls"]
    rows = []

    def timing(label, section, key):
        cells, values = {}, {}
        for n in names:
            s = summary(section.get(n, {}).get(key, []))
            result["summary"].setdefault(n, {})[label] = s
            cells[n] = fmt_ms(s)
            values[n] = s["median"] if s else None
        rows.append((label, cells, values))

    timing("lifecycle wall ms (run+delete)", L, "wall")
    timing("lifecycle cpu ms (run+delete)", L, "cpu")
    timing("create wall ms", C, "create")
    timing("create cpu ms", C, "create_cpu")
    timing("start wall ms", C, "start")
    timing("delete -f wall ms (running)", C, "delete")
    one = {}
    for n in names:
        parts = [summary(C.get(n, {}).get(k, [])) for k in ("create", "start", "delete")]
        one[n] = sum(p["median"] for p in parts) if all(parts) else None
    rows.append(("1 container create+start+delete ms", {n: f"{one[n]:.1f}" if one[n] else "n/a"
                                                       for n in names}, one))
    for mode in S.get(names[0], {}):
        cells, values = {}, {}
        for n in names:
            m = S.get(n, {}).get(mode)
            if m and m["ok"]:
                cells[n] = f"{m['per_container_ms']:.1f} ({m['total_ms'] / 1e3:.2f} s)"
                values[n] = m["per_container_ms"]
            else:
                cells[n], values[n] = "failed", None
        n_ = S[names[0]][mode]["n"]
        rows.append((f"{n_} containers {mode}: ms/container (total)", cells, values))
    cells, values = {}, {}
    for n in names:
        e = E.get(n, {})
        s = summary(e.get("wall", []))
        cells[n] = fmt_ms(s) if e.get("status") == "ok" and s else e.get("status", "n/a")
        values[n] = s["median"] if s else None
    rows.append(("events --stats wall ms", cells, values))
    for what in ("create", "run"):
        cells, values = {}, {}
        for n in names:
            s = summary(result["peak_rss"].get(n, {}).get(what, []))
            result["summary"].setdefault(n, {})[f"peak RSS {what} KiB"] = s
            cells[n] = f"{s['median'] / 1024:.1f}" if s else "n/a"
            values[n] = s["median"] if s else None
        rows.append((f"peak RSS of `{what}`, MiB", cells, values))
    cells, values = {}, {}
    for n in names:
        f = F.get(n)
        cells[n] = f"{f['stripped_bytes'] / 2**20:.2f}" if f else "n/a"
        values[n] = f["stripped_bytes"] if f else None
    rows.append(("binary size stripped, MiB", cells, values))
    cells, values = {}, {}
    for n in names:
        f = F.get(n)
        cells[n] = (str(len(f["libs"])) if f["libs"] else "0 (static)") if f else "n/a"
        values[n] = len(f["libs"]) if f else None
    rows.append(("linked libraries (ldd)", cells, values))
    cells, values = {}, {}
    for n in names:
        y = Y.get(n)
        cells[n] = str(y["calls"]) if y else "n/a"
        values[n] = y["calls"] if y else None
    rows.append(("syscalls of one `run` (strace -f -c)", cells, values))

    table = build_table(names, rows)
    gtable, gnotes = growth_report(result, names)
    m = result["machine"]
    text = [
        "",
        f"rt bench {result['timestamp']}  ({m['nproc']} cpus, {m['cpu']}, kernel {m['kernel']}, "
        f"{m['os']})",
        "versions: " + "; ".join(f"{n}: {F[n]['version']}" for n in names if n in F)
        + f" (rt from git {result['git'] or '?'})",
        "cgroups: " + result["cgroup_note"],
        f"times: median [p10-p90] of {result['params']['runs']} runs after "
        f"{result['params']['warmup']} warm-up, runtimes interleaved; cpu = user+sys of the "
        "runtime and the children it waited for (wait4); ratios are of medians.",
        f"load average (1/5/15 min) at start {result['loadavg_start']}, at end "
        f"{result['loadavg_end']}: wall times grow with other load on the machine, cpu times "
        "much less.",
        "",
        table,
        "",
        floor_line(L, names),
        "",
        "libraries: " + "; ".join(f"{n}: {' '.join(F[n]['libs']) or '(statically linked)'}" for n in names if n in F),
    ]
    if gtable:
        text += ["", "growth: with N `sleep` containers running (median [p10-p90] of "
                 f"{result['params']['growth_runs']} runs each)", "", gtable, ""] + gnotes
    if result["errors"]:
        text += ["", f"errors ({len(result['errors'])}, first 10):"]
        text += [f"  {e}" for e in result["errors"][:10]]
    return "\n".join(text), table + ("\n\n" + gtable if gtable else "")


GROWTH_METRICS = (
    ("create", "create wall ms"),
    ("delete", "delete -f wall ms"),
    ("list", "list ms"),
    ("list_json", "list --format json ms"),
    ("events", "events --stats ms"),
    ("scrape", "monitor scrape ms"),
)


def growth_levels(G):
    return sorted({int(k) for g in G.values() for k in g.get("levels", {})})


def growth_report(result, names):
    """The growth table (one row per metric and N) and notes on the monitor."""
    G = result.get("growth") or {}
    if not G:
        return "", []
    rows = []
    for key, label in GROWTH_METRICS:
        for n_running in growth_levels(G):
            cells, values = {}, {}
            for n in names:
                lv = G.get(n, {}).get("levels", {}).get(str(n_running)) or {}
                s = lv.get(key)
                cells[n] = fmt_ms(s) if s else ("failed" if lv.get("ok") is False else "n/a")
                values[n] = s["median"] if s else None
            if any(v is not None for v in values.values()):
                rows.append((f"{label}, {n_running} running", cells, values))
    notes = []
    rt = G.get("rt", {})
    lv = rt.get("levels", {})
    levels = [k for k in growth_levels(G) if lv.get(str(k), {}).get("monitor")]
    if levels:
        lo, hi = lv[str(levels[0])], lv[str(levels[-1])]
        per = ((hi["monitor"]["rss_kib"] - lo["monitor"]["rss_kib"]) /
               max(1, hi["n"] - lo["n"]))
        notes.append(f"rt monitor: {hi.get('scrape_lines', '?')} lines for {hi['n']} containers; "
                     f"RSS {lo['monitor']['rss_kib']} KiB at {lo['n']} containers, "
                     f"{hi['monitor']['rss_kib']} KiB at {hi['n']} ({per:.1f} KiB per container)")
    soak = rt.get("monitor_soak")
    if soak:
        b, a = soak["before"], soak["after"]
        notes.append(f"rt monitor soak: {soak['scrapes']} scrapes of {soak['containers']} "
                     f"containers, one created and deleted every 10: scrape {fmt_ms(soak['scrape'])} "
                     f"ms; fds {b['fds']} -> {a['fds']}, RSS {b['rss_kib']} -> {a['rss_kib']} KiB")
    return build_table(names, rows), notes


def growth_svg(result, path):
    """Small multiples: one panel per growth metric, ms (median) against N, a line per
    runtime. Plain SVG, no dependency."""
    G = result.get("growth") or {}
    levels = growth_levels(G)
    if not levels:
        return False
    colors = {"rt": "#d62728", "crun": "#1f77b4", "runc": "#2ca02c"}
    pw, ph, ml, mt, mb, mr = 300, 190, 48, 30, 34, 12
    cols = 3
    panels = [(k, l) for k, l in GROWTH_METRICS
              if any(G[n]["levels"].get(str(x), {}).get(k) for n in G for x in levels)]
    rows = (len(panels) + cols - 1) // cols
    W, H = cols * pw, rows * ph + 30
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="11">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    x_of = lambda x, x0: x0 + ml + (x - levels[0]) / max(1, levels[-1] - levels[0]) * (pw - ml - mr)
    for i, (key, label) in enumerate(panels):
        x0, y0 = (i % cols) * pw, (i // cols) * ph
        pts = {n: [(x, G[n]["levels"][str(x)][key]["median"]) for x in levels
                   if (G[n]["levels"].get(str(x)) or {}).get(key)] for n in G}
        ymax = max([y for p in pts.values() for _, y in p] + [0.001]) * 1.1
        y_of = lambda y: y0 + mt + (1 - y / ymax) * (ph - mt - mb)
        out.append(f'<text x="{x0 + ml}" y="{y0 + 18}" font-weight="bold">{label}</text>')
        out.append(f'<line x1="{x0 + ml}" y1="{y_of(0)}" x2="{x0 + pw - mr}" y2="{y_of(0)}" '
                   'stroke="#999"/>')
        out.append(f'<line x1="{x0 + ml}" y1="{y0 + mt}" x2="{x0 + ml}" y2="{y_of(0)}" '
                   'stroke="#999"/>')
        for t in (0, ymax / 2, ymax / 1.1):
            out.append(f'<text x="{x0 + ml - 4}" y="{y_of(t) + 4}" text-anchor="end">{t:.1f}</text>')
        for x in levels:
            out.append(f'<text x="{x_of(x, x0)}" y="{y_of(0) + 14}" text-anchor="middle">{x}</text>')
        for n, p in pts.items():
            if not p:
                continue
            c = colors.get(n, "#555")
            d = " ".join(f"{x_of(x, x0):.1f},{y_of(y):.1f}" for x, y in p)
            out.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"/>')
            for x, y in p:
                out.append(f'<circle cx="{x_of(x, x0):.1f}" cy="{y_of(y):.1f}" r="2.5" fill="{c}"/>')
    lx = 10
    for n in G:
        c = colors.get(n, "#555")
        out.append(f'<rect x="{lx}" y="{H - 20}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{lx + 16}" y="{H - 10}">{n}</text>')
        lx += 70
    out.append(f'<text x="{lx + 10}" y="{H - 10}">x: containers running; y: ms (median). '
               f'rt bench {result["timestamp"]}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    return True


# ---------------------------------------------------------------------------------------------
# Inner process (in the private mount namespace)


def hide_unified():
    mounts = []
    with open("/proc/self/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            mounts.append((mnt, fstype))
    if any(m == CGROUP_ROOT and t == "cgroup2" for m, t in mounts):
        return "pure cgroup v2 host; no hiding needed"
    if not any(m == UNIFIED and t == "cgroup2" for m, t in mounts):
        return "pure cgroup v1 host; no hiding needed"
    # Writable: crun (in v1 mode) still mirrors the `0::` line of /proc/self/cgroup and
    # creates its cgroup directories under unified/; here they are plain directories of this
    # private tmpfs, gone with the namespace. Cleanup ignores it (not a cgroup fs).
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0755", "rt-bench-hide",
                    UNIFIED], check=True)
    return ("all runtimes ran in one private mount namespace (unshare -m) with a tmpfs over "
            f"{UNIFIED}, i.e. a pure cgroup v1 view (crun refuses this host's hybrid layout)")


def inner(args):
    global TMP
    bench_id = os.environ[ID_ENV]
    os.makedirs(OUT, exist_ok=True)
    TMP = os.path.join(OUT, bench_id, "tmp")
    os.makedirs(TMP, exist_ok=True)
    def interrupt(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    note = hide_unified()
    log(note)
    if not args.state_on_disk:
        # The runtimes' --root dirs live on a tmpfs private to this namespace, as their
        # defaults (/run/rt, /run/runc, /run/crun) do on a normal host; on ext4 every create
        # pays journalled inode allocations for its state dir, fifo and state.json.
        state = os.path.join(OUT, bench_id, "root")
        os.makedirs(state, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "rt-bench-state",
                        state], check=True)
        note += f"; --root dirs on a tmpfs at {os.path.relpath(state, REPO)} (like /run)"
    bench = Bench(args, bench_id)
    ts = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    result = {
        "timestamp": ts, "bench_id": bench_id, "machine": machine(), "cgroup_note": note,
        "params": {"runs": args.runs, "warmup": args.warmup, "scale": args.scale,
                   "jobs": args.jobs, "events_runs": args.events_runs,
                   "rss_runs": args.rss_runs, "state_on_disk": args.state_on_disk,
                   "growth": args.growth, "growth_runs": args.growth_runs,
                   "scrapes": args.scrapes},
        "runtimes": {n: r.binary for n, r in bench.runtimes.items()},
        "git": first_line(["git", "-C", REPO, "describe", "--always", "--dirty"]),
        "summary": {},
    }
    result["loadavg_start"] = loadavg()
    t0 = time.monotonic()
    interrupted = False
    try:
        result["footprint"] = bench.footprint()
        result["lifecycle"] = bench.lifecycle()
        result["create_start"] = bench.create_start()
        result["scale"] = bench.scale() if args.scale else {}
        result["growth"] = bench.growth() if args.growth else {}
        result["events"] = bench.events()
        result["peak_rss"] = bench.peak_rss()
        result["syscalls"] = bench.syscalls()
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted; cleaning up")
    finally:
        bench.cleanup()
        left = remove_cgroups(bench_id)
        if left:
            log(f"could not remove cgroups: {', '.join(left)}")
    if interrupted:
        return 130
    result["loadavg_end"] = loadavg()
    result["errors"] = bench.errors
    result["elapsed_s"] = round(time.monotonic() - t0, 1)
    text, table = report(result)
    result["table"] = table
    print(text, flush=True)
    path = os.path.join(OUT, f"bench-{ts}.json")
    for p in (path, os.path.join(OUT, "latest.json")):
        with open(p, "w") as f:
            json.dump(result, f, indent=1)
    svg = os.path.join(OUT, f"growth-{ts}.svg")
    if growth_svg(result, svg):
        shutil.copy(svg, os.path.join(OUT, "growth-latest.svg"))
        print(f"\nplot: {svg} (and target/bench/growth-latest.svg)")
    print(f"\nwritten: {path} (and target/bench/latest.json); took {result['elapsed_s']} s")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rt", default=os.path.join(REPO, "target", "release", "rt"))
    ap.add_argument("--rootfs", default=os.path.join(OUT, "rootfs"))
    ap.add_argument("--runtimes", default="rt,runc,crun")
    ap.add_argument("--runs", type=int, default=100, help="timed runs per runtime")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--scale", type=int, default=100, help="containers in the scale test")
    ap.add_argument("--jobs", type=int, default=8, help="parallelism of the scale test")
    ap.add_argument("--growth", default="10,100,300",
                    help="containers running in the growth section (comma list; '' skips it)")
    ap.add_argument("--growth-runs", type=int, default=10,
                    help="samples of each command at each growth level")
    ap.add_argument("--scrapes", type=int, default=1000,
                    help="rt monitor scrapes at the largest growth level")
    ap.add_argument("--events-runs", type=int, default=20)
    ap.add_argument("--rss-runs", type=int, default=10)
    ap.add_argument("--state-on-disk", action="store_true",
                    help="keep the runtimes' --root dirs on target/'s file system, not a tmpfs")
    args = ap.parse_args()
    args.rt = os.path.abspath(args.rt)
    if os.geteuid() != 0:
        sys.exit("bench: must run as root")
    if os.environ.get(NS_ENV) != "1":
        return outer(args)
    return inner(args)


TMP = None

if __name__ == "__main__":
    sys.exit(main())
