"""hostile_proxies.py: start and stop Sluice, nginx and HAProxy for scripts/hostile, each configured like
the test gateway of Tests/Hostile/cases.json, on free 127.0.0.1 ports; processes are stopped by their PID."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

HOST = "127.0.0.1"
IDLE = 2.0          # nothing for this long: the peer has said all it will say
SHORT_IDLE = 0.5    # once the expected responses are in: how long to wait for a close
CASE_LIMIT = 8.0    # one case, at most
SETTLE = 0.15       # after a case, time for stragglers to reach the recorder
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, seconds=20.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def stop_process(proc):
    """Stop one process we started, by its PID: TERM, then KILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        try:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
    except OSError:
        pass


def tail(path, n=15):
    try:
        with open(path, "r", errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


# ------------------------------------------------------------------------------------
# Response stream parsing (lenient: it is only measuring)
# ------------------------------------------------------------------------------------


class Proxy:
    name = "?"

    def __init__(self, tmp, upstream_port):
        self.tmp = os.path.join(tmp, self.name)
        os.makedirs(self.tmp, exist_ok=True)
        self.upstream_port = upstream_port
        self.port = free_port()
        self.proc = None
        self.log = os.path.join(self.tmp, "output.log")

    def command(self):
        raise NotImplementedError

    def start(self):
        cmd = self.command()
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, cwd=self.tmp)
        if not wait_port(self.port, self.proc):
            msg = "%s did not start listening on %d:\n%s" % (self.name, self.port, tail(self.log))
            stop_process(self.proc)
            raise RuntimeError(msg)

    def stop(self):
        stop_process(self.proc)


class Sluice(Proxy):
    name = "sluice"

    def __init__(self, tmp, upstream_port, binary):
        self.binary = binary
        super().__init__(tmp, upstream_port)

    def command(self):
        conf = os.path.join(self.tmp, "sluice.ini")
        with open(conf, "w") as f:
            f.write(SLUICE_INI.format(port=self.port, up=self.upstream_port))
        return [self.binary, "-c", conf]


SLUICE_INI = """\
; Written by scripts/hostile: the test gateway of Tests/Hostile/cases.json.
[server]
listen = 127.0.0.1:{port}
max_header_size = 16k
max_body_size = 1m
client_header_timeout = 5s
keepalive_timeout = 30s
access_log = off
log_level = warning

[upstream rec]
server = 127.0.0.1:{up}
keepalive = 8

[route internal]
match = /internal/*
upstream = rec
rate_limit = 1000/s burst=1000 key=client_ip

[route all]
match = /*
upstream = rec
websocket = off
"""


class Nginx(Proxy):
    name = "nginx"

    def command(self):
        conf = os.path.join(self.tmp, "nginx.conf")
        for d in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(self.tmp, d), exist_ok=True)
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(port=self.port, up=self.upstream_port, tmp=self.tmp))
        return [find_tool("nginx"), "-p", self.tmp + "/", "-c", conf, "-e", os.path.join(self.tmp, "error.log")]


NGINX_CONF = """\
# Written by scripts/hostile.
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    large_client_header_buffers 4 16k;
    client_max_body_size 1m;
    keepalive_timeout 30s;
    upstream rec {{
        server 127.0.0.1:{up};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        location / {{
            proxy_pass http://rec;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header Forwarded "";
        }}
    }}
}}
"""


class HAProxy(Proxy):
    name = "haproxy"

    def command(self):
        conf = os.path.join(self.tmp, "haproxy.cfg")
        with open(conf, "w") as f:
            f.write(HAPROXY_CFG.format(port=self.port, up=self.upstream_port))
        return [find_tool("haproxy"), "-db", "-f", conf]


HAPROXY_CFG = """\
# Written by scripts/hostile.
global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout http-request 5s
    timeout http-keep-alive 10s
frontend fe
    bind 127.0.0.1:{port}
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request del-header Forwarded
    default_backend rec
backend rec
    server s1 127.0.0.1:{up}
"""


def find_tool(name):
    """A program on PATH, or in /usr/sbin or /sbin (where Debian puts nginx and haproxy)."""
    path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin" + os.pathsep + "/sbin"
    return shutil.which(name, path=path)


def find_swift():
    s = shutil.which("swift")
    if s:
        return s
    for p in ("/opt/swift/usr/bin/swift", "/opt/swift/bin/swift"):
        if os.access(p, os.X_OK):
            return p
    return None


def find_sluiced(args):
    if args.sluiced:
        if not os.access(args.sluiced, os.X_OK):
            sys.exit("hostile: --sluiced %s is not an executable" % args.sluiced)
        return os.path.abspath(args.sluiced), None
    for kind in ("release", "debug"):
        p = os.path.join(ROOT, ".build", kind, "sluiced")
        if os.access(p, os.X_OK):
            return p, None
    if args.no_build:
        return None, "no .build/release/sluiced or .build/debug/sluiced (and --no-build)"
    swift = find_swift()
    if not swift:
        return None, "no sluiced binary and no swift to build one"
    print("hostile: no sluiced binary; building: swift build -c release --product sluiced "
          "(this takes a while)", flush=True)
    r = subprocess.run([swift, "build", "-c", "release", "--product", "sluiced"], cwd=ROOT)
    p = os.path.join(ROOT, ".build", "release", "sluiced")
    if r.returncode != 0 or not os.access(p, os.X_OK):
        return None, "swift build failed (exit %d)" % r.returncode
    return p, None


# ------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------
