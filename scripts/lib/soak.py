#!/usr/bin/env python3
"""soak.py: the engine of scripts/soak (Python 3 standard library only).

scripts/soak resolves the binaries and the Debian tools, then runs

    soak.py --minutes M --binary-dir DIR [--csv FILE] [--ci] [--keep]

which starts the backends and sluiced, drives the load and the chaos, samples the
gateway every 5 s and prints the verdict. What it checks, and why each rule is what it
is, is told in the header of scripts/soak.

Every process started here (sluice-demo x 6, sluiced, wrk, h2load) is a child of this
process, kept in Procs, and stopped by its own PID (SIGTERM, then SIGKILL) in a finally
block that SIGINT, SIGTERM and SIGHUP also reach; nothing is ever signalled by name. A
child that is signalled has not been reaped yet (Popen.poll() is None), so its PID
cannot have been reused. Only 127.0.0.1 is contacted; every load is bounded in time (the
soak's duration) and in rate or connections.
"""

import argparse
import csv
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter

HOST = "127.0.0.1"
# [server] admin_token must be 16 to 1024 characters: "soak-token" alone is refused by sluiced -t.
ADMIN_TOKEN = "soak-token-not-a-secret"
SAMPLE_EVERY = 5.0          # s between samples during the load
RELOAD_EVERY = 30.0         # s between SIGHUPs
KILL_FIRST, KILL_EVERY = 45.0, 60.0   # first backend kill 45 s in (between two reloads), then every 60 s
RESTART_AFTER = 5.0         # s a killed backend stays down
SETTLE_MAX = 15.0           # s to wait after the load for the gateway to come back to its baseline
RSS_LIMIT = 0.10            # RSS may grow by at most 10% from after the warm-up to the end of the load
ERROR_LIMIT = 0.01          # at most 1% unexpected failures per load source on the demo routes
CLIENT_SLACK = 2            # client connections after the load: baseline +- 2
FD_SLACK = 3                # fds that are not upstream sockets: baseline + 3
POOL_SLACK = 2              # upstream sockets / pooled connections after the load: baseline + 2
CLOSE_WAIT_LIMIT = 2        # sockets the peer closed but sluiced did not
KEEPALIVE = 8               # idle pooled connections per server per event loop
UPSTREAM_IDLE = "3s"        # upstream keepalive_timeout: idle pooled connections close 3 to 6 s after the load
WORKERS = 2
WRK_CONNS = 16
NEWCONN_RATE = 50.0         # req/s, a fresh connection each
NEWCONN_THREADS = 5
FLAKY_RATE = 40.0           # req/s over 2 keep-alive connections
SLOW_THREADS = 4            # keep-alive connections to the slow route (50 ms each: ~80 req/s)
COLD_KEYS = 5000            # distinct X-Key values that stay under the limit


def log(msg):
    print("soak: " + msg, file=sys.stderr, flush=True)


def out(msg=""):
    print(msg, flush=True)


# --- processes ------------------------------------------------------------------------------
class Procs:
    """Every child process, by name; stopped by PID only."""

    def __init__(self):
        self.items = []  # (name, Popen, log file object)

    def spawn(self, name, argv, log_path):
        f = open(log_path, "ab")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        self.items.append((name, p, f))
        return p

    def kill_now(self, p, sig=signal.SIGKILL):
        """Signal one child by its PID (only while it is unreaped, so the PID is still ours), then reap it."""
        if p.poll() is None:
            os.kill(p.pid, sig)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
            p.wait()

    def stop_all(self, grace=5.0):
        """SIGTERM to every live child (newest first), up to `grace` s, then SIGKILL; by PID."""
        live = [(n, p) for n, p, _ in reversed(self.items) if p.poll() is None]
        for _, p in live:
            try:
                os.kill(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        for name, p in live:
            try:
                p.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{name} (PID {p.pid}) did not stop on SIGTERM: SIGKILL")
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                p.wait()
        for _, _, f in self.items:
            f.close()


class Interrupted(Exception):
    pass


def on_signal(signum, _frame):
    raise Interrupted(signum)


# --- small HTTP helpers ---------------------------------------------------------------------
def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def raw_get(port, path, host="soak", timeout=2.0):
    """One GET on a fresh connection (Connection: close): (status, body) or (None, error)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while len(data) < 1 << 20:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as e:
        return None, f"{type(e).__name__}: {e}"
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return None, "no HTTP answer"
    return int(parts[1]), body


def get_status(port, timeout=3.0):
    """GET /status from the admin API: (dict, None) or (None, error)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", "/status", headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Connection": "close"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            return None, f"HTTP {r.status}"
        return json.loads(body), None
    except (OSError, http.client.HTTPException, ValueError) as e:
        return None, f"{type(e).__name__}: {e}"
    finally:
        conn.close()


# --- /proc ----------------------------------------------------------------------------------
def proc_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def tcp_table(pid):
    """inode -> (local port, remote port, state hex) for the TCP sockets of PID's network namespace."""
    table = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{name}") as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) < 10:
                        continue
                    lport = int(parts[1].rsplit(":", 1)[1], 16)
                    rport = int(parts[2].rsplit(":", 1)[1], 16)
                    table[parts[9]] = (lport, rport, parts[3])
        except OSError:
            pass
    return table


def proc_fds(pid, listen_ports, admin_port, backend_ports):
    """fd count and the gateway's TCP sockets by kind (upstream, client, admin, CLOSE_WAIT).

    listen_ports maps each listener's port to a label (used for the CLOSE_WAIT breakdown)."""
    fd_dir = f"/proc/{pid}/fd"
    inodes = []
    names = os.listdir(fd_dir)
    for fd in names:
        try:
            target = os.readlink(f"{fd_dir}/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.append(target[8:-1])
    table = tcp_table(pid)
    up = client = admin = close_wait = 0
    cw_kinds = Counter()
    for inode in inodes:
        entry = table.get(inode)
        if entry is None:
            continue
        lport, rport, state = entry
        if state == "0A":  # LISTEN
            continue
        if state == "08":
            close_wait += 1
            cw_kinds["upstream" if rport in backend_ports else listen_ports[lport] if lport in listen_ports
                     else "admin" if lport == admin_port else "other"] += 1
        if rport in backend_ports:
            up += 1
        elif lport in listen_ports:
            client += 1
        elif lport == admin_port:
            admin += 1
    return {"fds": len(names), "up_socks": up, "client_socks": client, "admin_socks": admin,
            "close_wait": close_wait, "close_wait_kinds": dict(cw_kinds)}


# --- load -----------------------------------------------------------------------------------
class Tally:
    """Thread-safe counts of outcomes (HTTP statuses or error kinds) and latencies of one load source."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.counts = Counter()
        self.latencies = []

    def add(self, outcome, latency=None):
        with self.lock:
            self.counts[outcome] += 1
            if latency is not None and len(self.latencies) < 200_000:
                self.latencies.append(latency)

    def total(self):
        return sum(self.counts.values())

    def describe(self):
        parts = [f"{k} {v}" for k, v in sorted(self.counts.items(), key=lambda kv: str(kv[0]))]
        return ", ".join(parts) if parts else "none"

    def p50_ms(self):
        return statistics.median(self.latencies) * 1000 if self.latencies else None


def paced(stop, deadline, interval, fn):
    """Call fn() every `interval` s until the deadline; a thread more than 1 s late restarts its schedule."""
    nxt = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now >= deadline:
            return
        if nxt > now:
            stop.wait(min(nxt - now, deadline - now))
            continue
        fn()
        nxt += interval
        if time.monotonic() - nxt > 1.0:
            nxt = time.monotonic()


def newconn_worker(index, port, stop, deadline, tally, aborts):
    """A fresh connection per request, Connection: close; one request in 25 is a client that gives up early."""
    n = [index]

    def one():
        n[0] += NEWCONN_THREADS
        i = n[0]
        if i % 25 == 0:
            # The client goes away before the (300 ms late) answer: the gateway must cancel and free everything.
            try:
                with socket.create_connection((HOST, port), timeout=2) as s:
                    s.sendall(b"GET /ping?delay=300ms HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
                    time.sleep(0.05)
                aborts.add("sent-then-closed")
            except OSError as e:
                aborts.add(type(e).__name__)
            return
        kind = i % 4
        if kind == 0:
            path, extra = "/ping", ""
        elif kind == 1:
            path, extra = f"/api/v1/users/{i % 1000}", f"X-Key: c{i % COLD_KEYS}\r\n"
        elif kind == 2:
            path, extra = f"/api/v1/search?q={i}", ""
        else:
            path, extra = "/bytes/4k", ""
        t0 = time.monotonic()
        try:
            with socket.create_connection((HOST, port), timeout=5) as s:
                s.settimeout(5)
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: soak\r\n{extra}Connection: close\r\n\r\n".encode())
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
            parts = data.split(b" ", 2)
            if len(parts) >= 2 and parts[1].isdigit():
                tally.add(int(parts[1]), time.monotonic() - t0)
            else:
                tally.add("no-answer")
        except OSError as e:
            tally.add(type(e).__name__)

    paced(stop, deadline, NEWCONN_THREADS / NEWCONN_RATE, one)


def keepalive_worker(index, port, host, path_fn, stop, deadline, tally, interval=None):
    """One keep-alive connection (reopened after an error) sending GET path_fn(i) with Host: host."""
    conn = [None]
    n = [index * 1_000_000]

    def one():
        n[0] += 1
        if conn[0] is None:
            conn[0] = http.client.HTTPConnection(HOST, port, timeout=10)
        t0 = time.monotonic()
        try:
            conn[0].request("GET", path_fn(n[0]), headers={"Host": host})
            r = conn[0].getresponse()
            r.read()
            tally.add(r.status, time.monotonic() - t0)
            if r.will_close:
                conn[0].close()
                conn[0] = None
        except (OSError, http.client.HTTPException) as e:
            tally.add(type(e).__name__)
            conn[0].close()
            conn[0] = None

    try:
        if interval:
            paced(stop, deadline, interval, one)
        else:
            while not stop.is_set() and time.monotonic() < deadline:
                one()
    finally:
        if conn[0] is not None:
            conn[0].close()


WRK_LUA = r"""-- generated by scripts/soak: rotate paths and X-Key values; count the answers by status.
-- Users route (rate_limit 200/s burst=50 key=header:X-Key): 3 in 20 requests carry the hot key "hot" (rate
-- limited: 429), 6 in 20 one of %(cold)d cold keys (never limited); the rest rotate over the other demo paths.
local n, cold = 0, 0
local body = string.rep("x", 1024)
counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  n = n + 1
  local i = n %% 20
  if i < 3 then
    return wrk.format("GET", "/api/v1/users/" .. (n %% 1000), {["X-Key"] = "hot"})
  elseif i < 9 then
    cold = cold + 1
    return wrk.format("GET", "/api/v1/users/" .. (n %% 1000), {["X-Key"] = "k" .. (cold %% %(cold)d)})
  elseif i < 13 then
    return wrk.format("GET", "/ping")
  elseif i == 13 then
    return wrk.format("GET", "/api/v1/search?q=" .. n)
  elseif i == 14 then
    return wrk.format("GET", "/api/v1/feed")
  elseif i == 15 then
    return wrk.format("GET", "/headers", {["X-Soak"] = "r" .. n})
  elseif i == 16 then
    return wrk.format("GET", "/bytes/16k")
  elseif i == 17 then
    return wrk.format("POST", "/echo", {["Content-Type"] = "application/octet-stream"}, body)
  elseif i == 18 then
    return wrk.format("GET", "/ping?delay=2ms")
  else
    return wrk.format("GET", "/ping?n=" .. n)
  end
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

function done(summary, latency, requests)
  local f = io.open("%(out)s", "w")
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for status, k in pairs(c) do
      f:write(status, " ", k, "\n")
    end
  end
  f:close()
end
"""


def parse_wrk(report_path, counts_path):
    res = {"requests": None, "socket_errors": {}, "statuses": Counter(), "text": ""}
    try:
        with open(report_path) as f:
            text = f.read()
    except OSError:
        return res
    res["text"] = text
    for line in text.splitlines():
        w = line.split()
        if len(w) >= 3 and w[1] == "requests" and w[2] == "in":
            res["requests"] = int(w[0])
        if line.strip().startswith("Socket errors:"):
            for part in line.split(":", 1)[1].split(","):
                k, v = part.split()
                res["socket_errors"][k] = int(v)
    try:
        with open(counts_path) as f:
            for line in f:
                status, k = line.split()
                res["statuses"][int(status)] += int(k)
    except (OSError, ValueError):
        pass
    return res


def parse_h2load(path):
    res = {"total": None, "succeeded": 0, "failed": 0, "errored": 0, "timeout": 0, "codes": {}, "text": ""}
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return res
    res["text"] = text
    for line in text.splitlines():
        if line.startswith("requests:"):
            for part in line.split(":", 1)[1].split(","):
                v, k = part.split()
                if k in ("total", "succeeded", "failed", "errored", "timeout"):
                    res[k] = int(v)
        elif line.startswith("status codes:"):
            for part in line.split(":", 1)[1].split(","):
                v, k = part.split()
                res["codes"][k] = int(v)
    return res


# --- the soak -------------------------------------------------------------------------------
class Soak:
    def __init__(self, args):
        self.args = args
        self.duration = args.minutes * 60.0
        self.procs = Procs()
        self.tmp = tempfile.mkdtemp(prefix="soak.")
        self.bin = args.binary_dir
        self.samples = []          # every sample (dict), baseline, load and settle
        self.missing = []          # /status fields the gateway does not give
        self.reloads = 0
        self.kills = []            # (t, name)
        self.restarts = []         # (t, name, ok)
        self.events = []           # (t, text) of anything odd
        self.gw_died = None        # (t, how)
        self.reasons = []
        self.t0 = None

    # --- setup -------------------------------------------------------------------------------
    def plan_ports(self):
        ports = free_ports(9)
        self.port, self.h2_port, self.admin_port = ports[:3]
        self.backends = [  # name, zone, port, extra args, upstream
            ("a1", "az1", ports[3], [], "demo"),
            ("a2", "az1", ports[4], [], "demo"),
            ("b1", "az2", ports[5], [], "demo"),
            ("b2", "az2", ports[6], [], "demo"),
            ("flaky", "az1", ports[7], ["--fail-rate", "0.3"], "flaky"),
            ("slow", "az1", ports[8], ["--delay", "50ms"], "slow"),
        ]
        self.backend_ports = {b[2] for b in self.backends}
        self.listen_ports = {self.port: "http listener", self.h2_port: "h2c listener"}
        self.demo_servers = [b for b in self.backends if b[4] == "demo"]

    def config_text(self, reload_no):
        servers = "\n".join(f"server = {HOST}:{p} zone={z}" for n, z, p, _, u in self.demo_servers)
        flaky = next(b for b in self.backends if b[0] == "flaky")
        slow = next(b for b in self.backends if b[0] == "slow")
        return f"""; generated by scripts/soak; rewritten before every SIGHUP with only this line changed: reload {reload_no}
[server]
listen = {HOST}:{self.port}
listen = {HOST}:{self.h2_port} h2c
admin = {HOST}:{self.admin_port}
admin_token = {ADMIN_TOKEN}
access_log = off
log_level = info
workers = {WORKERS}
drain_timeout = 5s

; Pooled keep-alive: at most {KEEPALIVE} idle connections per server per event loop, closed after {UPSTREAM_IDLE} idle, so
; that after the load the pools shrink back to their baseline (the leak check waits for it).
[upstream demo]
{servers}
keepalive = {KEEPALIVE}
keepalive_timeout = {UPSTREAM_IDLE}
health_check = GET /healthz interval=500ms timeout=300ms rise=2 fall=2

[upstream flaky]
server = {HOST}:{flaky[2]} zone={flaky[1]}
keepalive = {KEEPALIVE}
keepalive_timeout = {UPSTREAM_IDLE}

[upstream slow]
server = {HOST}:{slow[2]} zone={slow[1]}
keepalive = {KEEPALIVE}
keepalive_timeout = {UPSTREAM_IDLE}

[route users]
match = /api/v1/users/:id
upstream = demo
rate_limit = 200/s burst=50 key=header:X-Key

; The demo backend serves fixed paths (/ping, /api/v1/..., /bytes/N) and routes cannot rewrite paths, so the slow
; and flaky routes are chosen by Host and keep the backend's own paths.
[route slow]
host = slow.soak
match = /*
upstream = slow

[route flaky]
host = flaky.soak
match = /*
upstream = flaky

[route all]
match = /*
upstream = demo
"""

    def write_config(self, reload_no):
        tmp = self.config + ".new"
        with open(tmp, "w") as f:
            f.write(self.config_text(reload_no))
        os.replace(tmp, self.config)

    def start_backend(self, b):
        name, zone, port, extra, _ = b
        argv = [os.path.join(self.bin, "sluice-demo"), "--port", str(port), "--zone", zone, "--name", name,
                "--quiet", "--threads", "1"] + extra
        p = self.procs.spawn(f"backend {name}", argv, os.path.join(self.tmp, f"backend-{name}.log"))
        self.backend_procs[name] = p
        return p

    def wait_backend(self, b, limit=10.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.backend_procs[b[0]].poll() is not None:
                return False
            status, _ = raw_get(b[2], "/healthz", timeout=1)
            if status == 200:
                return True
            time.sleep(0.1)
        return False

    def setup(self):
        self.plan_ports()
        self.config = os.path.join(self.tmp, "sluice.ini")
        self.gw_log = os.path.join(self.tmp, "sluiced.log")
        self.write_config(0)
        sluiced = os.path.join(self.bin, "sluiced")
        chk = subprocess.run([sluiced, "-t", "-c", self.config], capture_output=True, text=True)
        if chk.returncode != 0:
            raise SetupError(f"sluiced -t rejects the generated config:\n{chk.stdout}{chk.stderr}")
        ver = subprocess.run([sluiced, "--version"], capture_output=True, text=True)
        self.version = (ver.stdout or ver.stderr).strip().splitlines()[0] if (ver.stdout or ver.stderr) else "?"
        self.backend_procs = {}
        for b in self.backends:
            self.start_backend(b)
        for b in self.backends:
            if not self.wait_backend(b):
                raise SetupError(f"backend {b[0]} did not answer /healthz on {HOST}:{b[2]} "
                                 f"(see {self.tmp}/backend-{b[0]}.log)")
        self.gw = self.procs.spawn("sluiced", [sluiced, "-c", self.config], self.gw_log)
        deadline = time.monotonic() + 20
        ready = False
        while time.monotonic() < deadline and self.gw.poll() is None:
            st, _ = get_status(self.admin_port, timeout=1)
            if st is not None and all(s.get("healthy") for u in st.get("upstreams", []) for s in u.get("servers", [])):
                checks = [raw_get(self.port, "/ping"), raw_get(self.port, "/ping", host="slow.soak"),
                          raw_get(self.h2_port, "/ping")]
                if all(c[0] == 200 for c in checks):
                    ready = True
                    break
            time.sleep(0.2)
        if not ready:
            tail = open(self.gw_log, errors="replace").read()[-2000:]
            raise SetupError(f"sluiced did not become ready (every server healthy, /ping answered) within "
                             f"20 s:\n{tail}")
        log(f"{len(self.backends)} backends and sluiced (PID {self.gw.pid}) up: gateway {HOST}:{self.port}, "
            f"h2c {HOST}:{self.h2_port}, admin {HOST}:{self.admin_port}; work dir {self.tmp}")

    # --- sampling ----------------------------------------------------------------------------
    def sample(self, phase, t):
        row = {"phase": phase, "t": round(t, 1), "ok": 1, "error": ""}
        errors = []
        pid = self.gw.pid
        try:
            row["rss_kib"] = proc_rss_kib(pid)
            row.update(proc_fds(pid, self.listen_ports, self.admin_port, self.backend_ports))
        except OSError as e:
            errors.append(f"/proc: {e}")
        st, err = get_status(self.admin_port)
        if st is None:
            errors.append(f"/status: {err}")
        else:
            if os.environ.get("SOAK_LEGACY_STATUS") == "1":
                # Test knob: act as if the gateway were a build whose /status predates these fields.
                st.pop("runtime", None)
                for u in st.get("upstreams") or []:
                    u.pop("connections", None)
            self.apply_status(row, st, phase)
        if errors:
            row["ok"], row["error"] = 0, "; ".join(errors)
        prev = next((s for s in reversed(self.samples) if s.get("requests") is not None), None)
        if prev is not None and row.get("requests") is not None and t - prev["t"] >= 0.5:
            row["rps"] = round((row["requests"] - prev["requests"]) / (t - prev["t"]), 1)
        self.samples.append(row)
        return row

    def apply_status(self, row, st, phase):
        """Reads what /status gives into the sample; a field it lacks is None (or a /proc stand-in)."""
        rt = st.get("runtime")
        if not isinstance(rt, dict):
            rt = {}
        row["requests"] = (st.get("counters") or {}).get("requests")
        row["generation"] = st.get("generation")
        row["rss_status"] = rt.get("rss_bytes")
        row["fds_status"] = rt.get("open_fds")
        ups = st.get("upstreams") or []
        if "inflight_requests" in rt:
            row["inflight"], row["inflight_src"] = rt["inflight_requests"], "runtime"
        elif ups and all("active_requests" in u for u in ups):
            row["inflight"], row["inflight_src"] = sum(u["active_requests"] for u in ups), "upstreams"
        if "client_connections" in rt:
            row["clients"], row["clients_src"] = rt["client_connections"], "runtime"
        elif "client_socks" in row:
            row["clients"], row["clients_src"] = row["client_socks"], "proc"
        conns = [u.get("connections") for u in ups]
        if ups and all(isinstance(c, dict) and "open" in c for c in conns):
            row["pooled"] = sum(c["open"] for c in conns)
            row["pooled_idle"] = sum(c.get("idle", 0) for c in conns)
            row["pooled_pending"] = sum(c.get("pending", 0) for c in conns)
        if phase == "baseline":
            wanted = [("runtime.rss_bytes", row["rss_status"]), ("runtime.open_fds", row["fds_status"]),
                      ("runtime.inflight_requests", rt.get("inflight_requests")),
                      ("runtime.client_connections", rt.get("client_connections")),
                      ("upstreams[].connections.open/idle/pending", row.get("pooled"))]
            self.missing = [name for name, v in wanted if v is None]

    @staticmethod
    def fmt(v, spec="", none="?"):
        return none if v is None else format(v, spec)

    def print_header(self):
        out(f"{'t(s)':>6} {'phase':>8} {'rss MiB':>8} {'fds':>5} {'up-sock':>7} {'pooled(idle)':>12} "
            f"{'inflight':>8} {'clients':>7} {'req/s':>8}")

    def print_row(self, r):
        rss = r.get("rss_kib")
        pooled = "?" if r.get("pooled") is None else f"{r['pooled']}({r.get('pooled_idle', 0)})"
        line = (f"{int(round(r['t'])):6d} {r['phase']:>8} {self.fmt(rss and rss / 1024, '.1f'):>8} "
                f"{self.fmt(r.get('fds')):>5} {self.fmt(r.get('up_socks')):>7} {pooled:>12} "
                f"{self.fmt(r.get('inflight')):>8} {self.fmt(r.get('clients')):>7} {self.fmt(r.get('rps'), '.0f'):>8}")
        if not r["ok"]:
            line += "  SAMPLE FAILED: " + r["error"]
        out(line)

    # --- chaos -------------------------------------------------------------------------------
    def do_reload(self, t):
        self.reloads += 1
        self.write_config(self.reloads)
        os.kill(self.gw.pid, signal.SIGHUP)
        log(f"{t:5.0f}s  SIGHUP #{self.reloads} to sluiced (PID {self.gw.pid})")

    def do_kill(self, t, b):
        p = self.backend_procs[b[0]]
        if p.poll() is not None:
            self.events.append((t, f"backend {b[0]} was already dead before its kill"))
        self.procs.kill_now(p, signal.SIGKILL)
        self.kills.append((round(t), b[0]))
        log(f"{t:5.0f}s  SIGKILL backend {b[0]} (PID {p.pid}, {HOST}:{b[2]}); restart in {RESTART_AFTER:.0f}s")

    def do_restart(self, t, b):
        p = self.start_backend(b)
        ok = self.wait_backend(b, limit=3.0)
        if not ok and p.poll() is not None:  # e.g. the port not free yet: one more try
            time.sleep(0.5)
            p = self.start_backend(b)
            ok = self.wait_backend(b, limit=3.0)
        self.restarts.append((round(t), b[0], ok))
        log(f"{t:5.0f}s  restarted backend {b[0]} (PID {p.pid}): {'answering' if ok else 'NOT answering'}")

    # --- the run -----------------------------------------------------------------------------
    def run(self):
        D = self.duration
        hard_deadline = time.monotonic() + D + 60.0 - 2.0  # MINUTES + 1 minute in all (started after setup)
        self.setup()
        time.sleep(1.0)
        self.print_header()
        base_at = time.monotonic()
        base = self.sample("baseline", 0.0)
        if not base["ok"]:
            self.reasons.append(f"the baseline sample failed ({base['error']})")
        self.baseline = base
        if self.missing:
            log("note: /status has no " + ", ".join(self.missing) + ": RSS and fds come from /proc, inflight from "
                "the sum of upstreams[].active_requests, client connections and the pool from the gateway's sockets "
                "in /proc/PID/fd + /proc/net/tcp; pooled is reported as unknown ('?')")

        # Load.
        wrk_out = os.path.join(self.tmp, "wrk.txt")
        wrk_counts = os.path.join(self.tmp, "wrk-counts.txt")
        lua = os.path.join(self.tmp, "soak.lua")
        with open(lua, "w") as f:
            f.write(WRK_LUA % {"cold": COLD_KEYS, "out": wrk_counts})
        secs = max(1, int(round(D)))
        self.t0 = time.monotonic()
        base["t"] = round(base_at - self.t0, 1)
        self.print_row(base)
        load_end = self.t0 + secs
        self.wrk = self.procs.spawn("wrk", ["wrk", "-t1", f"-c{WRK_CONNS}", f"-d{secs}s", "--timeout", "5s",
                                            "-s", lua, f"http://{HOST}:{self.port}/"], wrk_out)
        h2_out = os.path.join(self.tmp, "h2load.txt")
        self.h2 = self.procs.spawn("h2load", ["h2load", "-c4", "-m4", "-D", str(secs),
                                              f"http://{HOST}:{self.h2_port}/ping"], h2_out)
        stop = threading.Event()
        self.tallies = {k: Tally(k) for k in ("newconn", "aborts", "slow", "flaky")}
        threads = []
        for i in range(NEWCONN_THREADS):
            threads.append(threading.Thread(target=newconn_worker, daemon=True, args=(
                i, self.port, stop, load_end, self.tallies["newconn"], self.tallies["aborts"])))
        for i in range(SLOW_THREADS):
            threads.append(threading.Thread(target=keepalive_worker, daemon=True, args=(
                i, self.port, "slow.soak", lambda n: f"/ping?n={n}", stop, load_end, self.tallies["slow"])))
        for i in range(2):
            threads.append(threading.Thread(target=keepalive_worker, daemon=True, args=(
                i, self.port, "flaky.soak", lambda n: f"/api/v1/users/{n % 1000}", stop, load_end,
                self.tallies["flaky"], 2 / FLAKY_RATE)))
        for th in threads:
            th.start()
        held = []
        leak = int(os.environ.get("SOAK_TEST_LEAK", "0") or 0)
        for _ in range(min(leak, 100)):
            # Test knob: client connections that stay open (idle, after one request) past the end, as a leak would.
            c = http.client.HTTPConnection(HOST, self.port, timeout=5)
            c.request("GET", "/ping")
            c.getresponse().read()
            held.append(c)
        if held:
            log(f"SOAK_TEST_LEAK: holding {len(held)} idle client connections open to the end (the verdict must fail)")
        # The schedule: (time, order, action, arg). Chaos stops 10 s before the end of the load so that the
        # last samples under load are not in the middle of a restart.
        events = []
        k = 0
        t = 0.0
        while t < secs - 1e-6:
            events.append((t, 2, "sample", None))
            t += SAMPLE_EVERY
        t = RELOAD_EVERY
        while t <= secs - 5:
            events.append((t, 0, "reload", None))
            t += RELOAD_EVERY
        t = KILL_FIRST
        while t + RESTART_AFTER <= secs - 10:
            b = self.demo_servers[k % len(self.demo_servers)]
            events.append((t, 1, "kill", b))
            events.append((t + RESTART_AFTER, 1, "restart", b))
            k += 1
            t += KILL_EVERY
        events.sort(key=lambda e: (e[0], e[1]))
        n_reloads = sum(1 for e in events if e[2] == "reload")
        kill_plan = ", ".join(f"{e[3][0]} at {e[0]:.0f}s" for e in events if e[2] == "kill") or "none"
        log(f"load for {secs}s: wrk -t1 -c{WRK_CONNS} (mixed paths, X-Key rotation), h2load -c4 -m4 on h2c, "
            f"{NEWCONN_RATE:.0f} req/s on new connections, {SLOW_THREADS} keep-alive clients on the slow route, "
            f"{FLAKY_RATE:.0f} req/s on the flaky route; {n_reloads} SIGHUPs (every {RELOAD_EVERY:.0f}s); backend "
            f"kills: {kill_plan}")

        try:
            for when, _, action, arg in events:
                while True:
                    now = time.monotonic() - self.t0
                    if self.gw.poll() is not None:
                        raise GatewayDied()
                    if now >= when:
                        break
                    time.sleep(min(0.2, when - now))
                now = time.monotonic() - self.t0
                if action == "sample":
                    self.print_row(self.sample("load", now))
                elif action == "reload":
                    self.do_reload(now)
                elif action == "kill":
                    self.do_kill(now, arg)
                elif action == "restart":
                    self.do_restart(now, arg)
            while time.monotonic() < load_end:
                if self.gw.poll() is not None:
                    raise GatewayDied()
                time.sleep(0.2)
        except GatewayDied:
            pass
        stop.set()
        if self.gw.poll() is not None:
            self.note_gateway_death()
            # No gateway, no point: wrk reports what it has on SIGINT; h2load is just stopped.
            log("sluiced is gone: stopping the load")
            for p, sig in ((self.wrk, signal.SIGINT), (self.h2, signal.SIGTERM)):
                if p.poll() is None:
                    os.kill(p.pid, sig)

        # Wait for the load to finish (wrk and h2load end by themselves at the same time; 10 s at most).
        for name, p in (("wrk", self.wrk), ("h2load", self.h2)):
            try:
                p.wait(timeout=max(0.5, load_end + 10 - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.events.append((round(time.monotonic() - self.t0), f"{name} did not end by itself: stopped"))
                self.procs.kill_now(p, signal.SIGTERM)
        for th in threads:
            th.join(timeout=10)
        self.load_seconds = time.monotonic() - self.t0

        # Settle: poll every second (up to 15 s) until every after-load rule holds.
        self.after = None
        self.after_failures = ["not measured (sluiced died)"]
        if self.gw.poll() is None:
            settle0 = time.monotonic()
            budget = min(SETTLE_MAX, hard_deadline - 8 - settle0)
            while True:
                r = self.sample("settle", time.monotonic() - self.t0)
                self.print_row(r)
                self.after = r
                self.after_failures = self.check_after(r)
                if not self.after_failures or time.monotonic() - settle0 + 1 > budget:
                    break
                if self.gw.poll() is not None:
                    self.note_gateway_death()
                    break
                time.sleep(1.0)
            self.settle_seconds = time.monotonic() - settle0
        self.answered_at_end = {b[0] for b in self.backends
                                if self.backend_procs[b[0]].poll() is None and raw_get(b[2], "/healthz")[0] == 200}
        # Stop sluiced first (SIGTERM: it drains and must exit 0), while it is still ours.
        self.gw_exit = None
        if self.gw.poll() is None:
            try:
                os.kill(self.gw.pid, signal.SIGTERM)
                self.gw_exit = self.gw.wait(timeout=8)
            except subprocess.TimeoutExpired:
                self.procs.kill_now(self.gw)
                self.gw_exit = "killed (did not stop within 8 s of SIGTERM)"
        self.wrk_res = parse_wrk(wrk_out, wrk_counts)
        self.h2_res = parse_h2load(h2_out)

    def note_gateway_death(self):
        if self.gw_died is None:
            rc = self.gw.poll()
            how = f"exit status {rc}" if rc is None or rc >= 0 else f"killed by {signal.Signals(-rc).name}"
            self.gw_died = (round(time.monotonic() - self.t0), how)

    # --- the rules ---------------------------------------------------------------------------
    def check_after(self, r):
        """The after-load rules (see scripts/soak); returns the ones that do not hold."""
        b = self.baseline
        bad = []
        if not r["ok"]:
            bad.append(f"sample failed: {r['error']}")
        if r.get("inflight") is not None and r["inflight"] != 0:
            bad.append(f"inflight {r['inflight']} (want 0)")
        if r.get("clients") is not None and b.get("clients") is not None and abs(r["clients"] - b["clients"]) > CLIENT_SLACK:
            bad.append(f"client connections {r['clients']} (baseline {b['clients']} +- {CLIENT_SLACK})")
        if r.get("fds") is not None and b.get("fds") is not None:
            other, other_base = r["fds"] - r["up_socks"], b["fds"] - b["up_socks"]
            if other > other_base + FD_SLACK:
                bad.append(f"fds other than upstream sockets {other} (baseline {other_base} + {FD_SLACK})")
        if r.get("up_socks") is not None and r["up_socks"] > b["up_socks"] + POOL_SLACK:
            bad.append(f"upstream sockets {r['up_socks']} (baseline {b['up_socks']} + {POOL_SLACK})")
        if r.get("pooled") is not None and b.get("pooled") is not None:
            if r["pooled"] > b["pooled"] + POOL_SLACK:
                bad.append(f"pooled connections {r['pooled']} (baseline {b['pooled']} + {POOL_SLACK})")
            busy = r["pooled"] - r.get("pooled_idle", 0)
            if busy > 0:
                bad.append(f"{busy} pooled connections checked out with no request in flight")
            if r.get("pooled_pending"):
                bad.append(f"{r['pooled_pending']} requests still waiting for a pooled connection")
        if r.get("close_wait") is not None and r["close_wait"] > CLOSE_WAIT_LIMIT:
            bad.append(f"{r['close_wait']} sockets in CLOSE_WAIT (at most {CLOSE_WAIT_LIMIT})")
        return bad

    def verdict(self):
        D = self.duration
        load = [s for s in self.samples if s["phase"] == "load"]
        failed = [s for s in self.samples if not s["ok"]]
        if failed:
            self.reasons.append(f"{len(failed)} samples failed (first: t={failed[0]['t']}s {failed[0]['error']})")
        if self.gw_died:
            self.reasons.append(f"sluiced died ~{self.gw_died[0]}s into the load ({self.gw_died[1]})")
        elif self.gw_exit != 0:
            self.reasons.append(f"sluiced's exit status on SIGTERM: {self.gw_exit} (want 0)")
        # RSS growth.
        self.warmup = 30.0 if D < 120 else max(0.2 * D, 20.0)
        rss = [(s["t"], s["rss_kib"]) for s in load if s.get("rss_kib")]
        after_warm = [v for t, v in rss if t >= self.warmup]
        self.rss = {"base": self.baseline.get("rss_kib"), "max": max([v for _, v in rss], default=None)}
        if len(after_warm) >= 6:
            self.rss["start"] = sum(after_warm[:3]) / 3
            self.rss["end"] = sum(after_warm[-3:]) / 3
            self.rss["growth"] = self.rss["end"] / self.rss["start"] - 1
            if self.rss["growth"] > RSS_LIMIT:
                self.reasons.append(f"RSS grew {self.rss['growth'] * 100:.1f}% after the warm-up "
                                    f"(limit {RSS_LIMIT * 100:.0f}%)")
        else:
            self.rss["note"] = f"only {len(after_warm)} samples after the {self.warmup:.0f}s warm-up: RSS growth not judged"
            self.events.append((None, self.rss["note"]))
        # After the load.
        for f in self.after_failures:
            self.reasons.append(f"{SETTLE_MAX:.0f}s after the load: {f}")
        # Errors on the demo routes.
        w = self.wrk_res
        st = w["statuses"]
        wrk_total = (sum(st.values()) or (w["requests"] or 0)) + sum(w["socket_errors"].values())
        wrk_bad = sum(v for k, v in st.items() if not (200 <= k < 300 or k == 429)) + sum(w["socket_errors"].values())
        self.err = {}
        if wrk_total == 0:
            self.reasons.append("wrk completed no request")
        else:
            self.err["wrk"] = wrk_bad / wrk_total
        if not st:
            self.events.append((None, "wrk's per-status counts are missing (its Lua done() did not run?)"))
        elif not st.get(429) and wrk_total * 3 / 20 / max(1.0, self.load_seconds) > 250:
            # 3 in 20 wrk requests carry the hot key; above 250/s it must meet its 200/s limit.
            self.events.append((None, "no 429 although the hot key ran above its 200/s limit: is rate_limit working?"))
        elif not st.get(429):
            self.events.append((None, "the hot key stayed under its 200/s limit (a slow build?): rate limiting "
                                      "was not exercised"))
        h = self.h2_res
        if not h["total"]:
            if not self.gw_died:
                self.reasons.append("h2load completed no request")
        else:
            h2_ok = h["codes"].get("2xx", 0) + h["codes"].get("3xx", 0) if h["codes"] else h["succeeded"]
            h2_bad = h["total"] - h2_ok
            self.err["h2load"] = h2_bad / h["total"]
        nc = self.tallies["newconn"]
        if nc.total():
            self.err["new-conn"] = sum(v for k, v in nc.counts.items()
                                       if not (isinstance(k, int) and (200 <= k < 300 or k == 429))) / nc.total()
        for name, rate in self.err.items():
            if rate > ERROR_LIMIT:
                self.reasons.append(f"{name}: {rate * 100:.2f}% of the requests to the demo routes failed "
                                    f"(limit {ERROR_LIMIT * 100:.0f}%)")
        for name in ("slow", "flaky"):
            t = self.tallies[name]
            if t.total() == 0:
                self.reasons.append(f"the {name} route got no answer at all")
        bad_restarts = [n for _, n, ok in self.restarts if not ok]
        # A backend slow to come back (more than 3 s) still counts as restarted if it answered by the end.
        bad_restarts = [n for n in bad_restarts if n not in self.answered_at_end]
        if bad_restarts:
            self.reasons.append("backends that could not be restarted: " + ", ".join(bad_restarts))

    # --- report ------------------------------------------------------------------------------
    def write_csv(self):
        path = self.args.csv
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        cols = ["phase", "t", "ok", "rss_kib", "rss_status", "fds", "fds_status", "up_socks", "client_socks",
                "admin_socks", "close_wait", "pooled", "pooled_idle", "pooled_pending", "inflight", "inflight_src",
                "clients", "clients_src", "requests", "rps", "generation", "error"]
        with open(path, "w", newline="") as f:
            wr = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
            wr.writeheader()
            for s in self.samples:
                wr.writerow({c: ("" if s.get(c) is None else s.get(c)) for c in cols})

    def count_log(self, needle):
        try:
            with open(self.gw_log, errors="replace") as f:
                return sum(1 for line in f if needle in line)
        except OSError:
            return 0

    def summary(self):
        mib = lambda kib: "?" if kib is None else f"{kib / 1024:.1f} MiB"
        load = [s for s in self.samples if s["phase"] == "load"]
        total = span = None
        end = self.after if self.after is not None and self.after.get("requests") is not None else \
            next((s for s in reversed(load) if s.get("requests") is not None), None)
        if end is not None and self.baseline.get("requests") is not None:
            total = end["requests"] - self.baseline["requests"]
            span = self.load_seconds
        applied = self.count_log("configuration applied")
        gens = [s.get("generation") for s in self.samples if s.get("generation") is not None]
        applied_gen = gens[-1] - gens[0] if len(gens) >= 2 else None
        failed_reloads = self.count_log("reload failed")
        b, a = self.baseline, self.after or {}
        out()
        out("=" * 78)
        out("soak summary")
        out("=" * 78)
        out(f"binaries        {self.bin} ({self.version})")
        out(f"duration        {self.load_seconds:.0f} s of load (asked {self.duration:.0f} s), warm-up {self.warmup:.0f} s, "
            f"{len(self.samples)} samples ({len(load)} under load), {sum(1 for s in self.samples if not s['ok'])} failed")
        if total is not None and span:
            out(f"requests        {total} through the gateway (counters.requests), {total / span:.0f} req/s")
        w = self.wrk_res
        st = w["statuses"]
        out(f"  wrk           {sum(st.values()) or w['requests']} answers: "
            + (", ".join(f"{k} x{v}" for k, v in sorted(st.items())) or "no per-status counts")
            + f"; socket errors {sum(w['socket_errors'].values())}"
            + (f" ({', '.join(f'{k} {v}' for k, v in w['socket_errors'].items())})" if w["socket_errors"] else ""))
        h = self.h2_res
        out(f"  h2load (h2c)  {h['total']} requests, {h['succeeded']} succeeded, {h['failed']} failed, "
            f"{h['errored']} errored, {h['timeout']} timeout; codes {h['codes'] or '?'}")
        nc = self.tallies["newconn"]
        out(f"  new-conn      {nc.total()} requests: {nc.describe()}; early client aborts: {self.tallies['aborts'].describe()}")
        for name in ("slow", "flaky"):
            t = self.tallies[name]
            p50 = t.p50_ms()
            out(f"  {name:<13} {t.total()} requests: {t.describe()}" + (f"; p50 {p50:.0f} ms" if p50 else ""))
        out("  error rates   " + ", ".join(f"{k} {v * 100:.2f}%" for k, v in self.err.items())
            + f" (limit {ERROR_LIMIT * 100:.0f}% each; 429 and the flaky route's 503s are deliberate)")
        growth = self.rss.get("growth")
        out(f"RSS             before load {mib(self.rss['base'])}, start {mib(self.rss.get('start'))} (3 samples "
            f"after warm-up), end {mib(self.rss.get('end'))} (last 3 under load), max {mib(self.rss['max'])}, growth "
            + ("?" if growth is None else f"{growth * 100:+.1f}%") + f" (limit +{RSS_LIMIT * 100:.0f}%)")
        fd_line = f"fds             baseline {b.get('fds', '?')}, after {a.get('fds', '?')}"
        if b.get("fds") is not None and a.get("fds") is not None:
            fd_line += (f"; without upstream sockets: {b['fds'] - b['up_socks']} -> {a['fds'] - a['up_socks']} "
                        f"(limit +{FD_SLACK})")
        if a.get("fds_status") is not None:
            fd_line += f"; /status open_fds after {a['fds_status']}"
        out(fd_line)
        pooled = "not measured" if self.after is None else \
            "unknown (/status has no upstreams[].connections)" if a.get("pooled") is None else \
            f"{a['pooled']} open, {a.get('pooled_idle')} idle, {a.get('pooled_pending')} pending (baseline {b.get('pooled')})"
        out(f"pooled after    {pooled}; upstream sockets (/proc) {b.get('up_socks', '?')} -> {a.get('up_socks', '?')} "
            f"(limit baseline + {POOL_SLACK})")
        out(f"after the load  inflight {a.get('inflight', '?')} (from {a.get('inflight_src', '?')}), client connections "
            f"{b.get('clients', '?')} -> {a.get('clients', '?')} (from {a.get('clients_src', '?')}), CLOSE_WAIT "
            f"{a.get('close_wait', '?')}; " + ("not measured" if self.after is None else
                                               f"settled in {self.settle_seconds:.0f} s"))
        if a.get("close_wait"):
            kinds = ", ".join(f"{k} x{v}" for k, v in sorted(a.get("close_wait_kinds", {}).items()))
            self.events.append((None, f"{a['close_wait']} of sluiced's sockets still in CLOSE_WAIT after the load "
                                      f"({kinds}): their peer closed, sluiced has not (limit {CLOSE_WAIT_LIMIT})"))
        out(f"reloads         {self.reloads} SIGHUPs, {applied} 'configuration applied' in the log, {failed_reloads} "
            f"'reload failed'" + ("" if applied_gen is None else f", /status generation +{applied_gen}"))
        out(f"kills           {len(self.kills)}: " + (", ".join(f"{n} at {t}s" for t, n in self.kills) or "none")
            + f"; restarts: " + (", ".join(f"{n} at {t}s{'' if ok else ' FAILED'}" for t, n, ok in self.restarts) or "none"))
        out(f"sluiced         " + (f"died: {self.gw_died[1]} at ~{self.gw_died[0]}s" if self.gw_died else
                                   f"alive to the end; exit status on SIGTERM {self.gw_exit}"))
        if self.missing:
            out("note            /status lacks " + ", ".join(self.missing) + " (used /proc and upstreams[].active_requests)")
        for t, text in self.events:
            out("note            " + (f"{t}s: " if t is not None else "") + text)
        out(f"samples         {self.args.csv}")
        if self.reasons:
            warn = [l for l in open(self.gw_log, errors="replace") if " warning " in l or " error " in l
                    or " critical " in l]
            if warn:
                out("sluiced warnings/errors (last 10):")
                for line in warn[-10:]:
                    out("  " + line.rstrip()[:200])
            if self.gw_died:
                out("end of sluiced's log:")
                for line in open(self.gw_log, errors="replace").read().splitlines()[-30:]:
                    out("  " + line[:200])
            out("RESULT: FAIL")
            for r in self.reasons:
                out(f"  - {r}")
        else:
            out("RESULT: PASS")


class GatewayDied(Exception):
    pass


class SetupError(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description="The engine of scripts/soak.")
    ap.add_argument("--minutes", type=float, required=True)
    ap.add_argument("--binary-dir", required=True)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--ci", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (config, logs, wrk/h2load output)")
    args = ap.parse_args()
    if not (0.25 <= args.minutes <= 24 * 60):
        sys.exit("soak: MINUTES must be between 0.25 and 1440")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    soak = Soak(args)
    started = time.monotonic()
    code = 1
    try:
        soak.run()
        soak.verdict()
        soak.write_csv()
        soak.summary()
        code = 1 if soak.reasons else 0
    except Interrupted as e:
        signum = e.args[0]
        log(f"interrupted ({signal.Signals(signum).name}): stopping everything")
        code = 128 + signum
    except SetupError as e:
        log(f"error: {e}")
        args.keep = True
        code = 2
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        soak.procs.stop_all()
        if args.keep:
            log(f"kept the work folder {soak.tmp}")
        else:
            shutil.rmtree(soak.tmp, ignore_errors=True)
    log(f"done in {time.monotonic() - started:.0f} s")
    sys.exit(code)


if __name__ == "__main__":
    main()
