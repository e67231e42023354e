#!/usr/bin/env python3
"""Manual-test server for the admin status page (Sources/SluiceGateway/Admin/StatusPage.swift).

    python3 Tests/Scripts/status_mock.py [PORT] [--token TOKEN]     (PORT 0 or absent: any free port)

Serves the page extracted from StatusPage.swift at `/` (with the headers the admin listener should send) and a fake,
slowly changing `/status`: three upstreams over zones az1/az2/none with every server state, breakers closed/open/
half_open, a panicking upstream, degraded and manually degraded routes, optional fields missing, and names that
try to inject markup. POST /drain, /degrade and /reload need `Authorization: Bearer TOKEN` (default "secret") and
change the fake state like the gateway would. POST /_mock/outage toggles /status answering 503 (the page's
"unreachable" banner).
"""
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

SWIFT = Path(__file__).resolve().parents[2] / "Sources/SluiceGateway/Admin/StatusPage.swift"
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def page() -> bytes:
    text = SWIFT.read_text()
    match = re.search(r'static let html = #"""\n(.*?)\n"""#', text, re.S)
    if not match:
        raise SystemExit(f"no html literal in {SWIFT}")
    return match.group(1).encode()


def server(address, zone, state="up", backup=False, weight=1, requests=0, error_rate=0.0):
    return {"address": address, "zone": zone, "state": state, "healthy": state in ("up", "drained"),
            "ejected": state == "ejected", "unreachable": state == "unreachable", "drained": state == "drained",
            "backup": backup, "weight": weight, "in_flight": 0, "requests": requests, "error_rate": error_rate,
            "connections": {"open": 2, "idle": 1}}


def breaker(state, failure=0):
    return {"state": state, "calls": 20, "failure_rate": failure, "slow_rate": 0}


STARTED = time.time()
LOCK = threading.Lock()
STATE = {
    "generation": 3,
    "outage": False,
    "upstreams": [
        {"name": "demo", "active_requests": 2, "panic": False, "circuit_breaker": breaker("closed"),
         "connections": {"open": 4, "idle": 3, "pending": 0},
         "servers": [server("127.0.0.1:8081", "az1", requests=120, error_rate=0.05),
                     server("127.0.0.1:8082", "az1", "ejected", requests=80, error_rate=0.4),
                     server("10.0.2.11:8081", "az2", weight=3, requests=300),
                     server("10.0.2.12:8081", "az2", "drained", requests=7),
                     server("[::1]:8083", None, "up", backup=True)]},
        {"name": "payments", "active_requests": 0, "panic": True, "circuit_breaker": breaker("open", 75),
         "connections": {"open": 0, "idle": 0, "pending": 3},
         "servers": [server("10.0.1.5:9000", "az1", "down", requests=40, error_rate=1.0),
                     server("10.0.2.5:9000", "az2", "unreachable"),
                     server("<img src=x onerror=alert(1)>:1", "<b>evil</b>", "down")]},
        {"name": "search<script>alert(2)</script>", "active_requests": 1, "panic": False,
         "circuit_breaker": breaker("half_open", 30), "connections": {"open": 1, "idle": 0, "pending": 0},
         "servers": [server("search.internal:7700", None, requests=55, error_rate=0.012)]},
        {"name": "legacy", "active_requests": 0, "panic": False, "servers": []},
    ],
    "routes": [
        {"name": "users", "upstream": "demo", "priority": "core", "manual_degrade": False, "degraded": False,
         "degrade_rules": ["normal"], "rate_limits": ["20/1s key=client_ip", "1000/1m key=header:x-tenant"],
         "circuit_breaker": breaker("closed")},
        {"name": "checkout", "upstream": "payments", "priority": "core", "manual_degrade": False, "degraded": True,
         "degrade_rules": ["errors>50%"], "rate_limits": [], "circuit_breaker": breaker("open", 60)},
        {"name": "recommendations", "upstream": "search<script>alert(2)</script>", "priority": "optional",
         "manual_degrade": True, "degraded": False, "degrade_rules": [], "rate_limits": ["5/1s"]},
        {"name": "<i>static</i>", "upstream": None, "priority": "normal", "manual_degrade": False,
         "degraded": False, "circuit_breaker": breaker("half_open", 20)},
    ],
}


def status():
    up = time.time() - STARTED
    with LOCK:
        for upstream in STATE["upstreams"]:
            for entry in upstream["servers"]:
                if entry["state"] == "up":
                    entry["requests"] += 3
        return {
            "version": "0.12.0", "generation": STATE["generation"],
            "config": {"hash": "9f2c4e7a1b3d" + "0" * 52, "loaded_at": STARTED, "file": "/etc/sluice/sluice.ini",
                       "routes": len(STATE["routes"]), "upstreams": len(STATE["upstreams"]),
                       "listeners": ["127.0.0.1:8080", "[::1]:8443"], "zone": "az2"},
            "runtime": {"uptime_seconds": up + 93784, "rss_bytes": 16_000_000 + int(up) * 1000, "open_fds": 40,
                        "max_fds": 1024, "inflight_requests": 3, "client_connections": 10,
                        "event_loop_lag_seconds": [0.0001, 0.00234], "tunnels_open": 0},
            "counters": {"requests": 10 + int(up) * 7, "bad_gateway": 2, "rate_limited": 1, "shed": 0},
            "upstreams": STATE["upstreams"], "routes": STATE["routes"],
            "protection": {"inflight": 3, "capacity": 100, "shedding": ["optional"]},
        }


class Handler(BaseHTTPRequestHandler):
    token = "secret"

    def send(self, code, body, ctype="application/json", extra=()):
        data = body if isinstance(body, bytes) else (json.dumps(body) + "\n").encode()
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.send_header("cache-control", "no-store")
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/":
            self.send(200, page(), "text/html; charset=utf-8",
                      [("content-security-policy", CSP), ("x-content-type-options", "nosniff"),
                       ("referrer-policy", "no-referrer")])
        elif path == "/status":
            if STATE["outage"]:
                self.send(503, {"error": "mock outage"})
            else:
                self.send(200, status())
        else:
            self.send(404, {"error": "not found"})

    def do_POST(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.rfile.read(int(self.headers.get("content-length") or 0))
        if url.path == "/_mock/outage":
            STATE["outage"] = not STATE["outage"]
            return self.send(200, {"outage": STATE["outage"]})
        origin = self.headers.get("origin")
        if origin and origin.split("/")[2:3] != [self.headers.get("host")]:
            return self.send(403, {"error": f"cross-origin request (Origin: {origin})"})
        if self.headers.get("authorization") != f"Bearer {self.token}":
            return self.send(401, {"error": "a valid 'Authorization: Bearer' admin token is required"},
                             extra=[("www-authenticate", 'Bearer realm="sluice-admin"')])
        state = query.get("state")
        with LOCK:
            if url.path == "/reload":
                STATE["generation"] += 1
                return self.send(200, {"generation": STATE["generation"]})
            if url.path in ("/drain", "/degrade") and state not in ("on", "off"):
                return self.send(400, {"error": "state must be on or off"})
            if url.path == "/drain":
                for upstream in STATE["upstreams"]:
                    for entry in upstream["servers"]:
                        if upstream["name"] == query.get("upstream") and entry["address"] == query.get("server"):
                            entry["drained"] = state == "on"
                            entry["state"] = "drained" if state == "on" else "up"
                            return self.send(200, {"upstream": upstream["name"], "server": entry["address"],
                                                   "drained": state == "on"})
                return self.send(404, {"error": f"no server {query.get('server')!r} in {query.get('upstream')!r}"})
            if url.path == "/degrade":
                for route in STATE["routes"]:
                    if route["name"] == query.get("route"):
                        route["manual_degrade"] = state == "on"
                        return self.send(200, {"route": route["name"], "degraded": state == "on"})
                return self.send(404, {"error": f"no route {query.get('route')!r} with traffic control"})
        self.send(404, {"error": "not found"})

    def log_message(self, fmt, *args):
        sys.stderr.write("mock: " + fmt % args + "\n")


def main():
    args = sys.argv[1:]
    if "--token" in args:
        at = args.index("--token")
        Handler.token = args[at + 1]
        del args[at:at + 2]
    page()  # fail early if the literal cannot be found
    httpd = ThreadingHTTPServer(("127.0.0.1", int(args[0]) if args else 0), Handler)
    print(f"http://127.0.0.1:{httpd.server_address[1]}/  (token {Handler.token!r})", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
