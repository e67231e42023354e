"""soak_common.py: settings, process keeping, HTTP and /proc helpers of scripts/soak (see soak.py)."""

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


class GatewayDied(Exception):
    pass


class SetupError(Exception):
    pass
