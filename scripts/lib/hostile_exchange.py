"""hostile_exchange.py: one case against one proxy for scripts/hostile: send the bytes, read and parse
every response, and judge the result against the case's expectation."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from hostile_proxies import HOST, IDLE, SHORT_IDLE, CASE_LIMIT, SETTLE  # noqa: E402

REQ_LINE_RE = re.compile(rb"(?:^|\n)([A-Za-z]+) \S+ HTTP/", re.M)


def request_methods(data):
    return [m.group(1).decode("latin-1").upper() for m in REQ_LINE_RE.finditer(data)]


def parse_responses(data, closed, methods):
    """Split the bytes the client received into responses.

    Returns dict: responses (list of {status, version, headers, complete}), junk (bytes
    that were not a response), tunnel (a 101 came: the rest is not HTTP), incomplete.
    """
    out = {"responses": [], "junk": 0, "tunnel": False, "incomplete": False}
    pos = 0
    n_final = 0
    while pos < len(data):
        if not data.startswith(b"HTTP/", pos) and not b"HTTP/".startswith(data[pos:pos + 5]):
            out["junk"] = len(data) - pos
            break
        end = data.find(b"\r\n\r\n", pos)
        sep = 4
        if end < 0:
            end = data.find(b"\n\n", pos)
            sep = 2
        if end < 0:
            out["incomplete"] = True
            break
        head = data[pos:end].decode("latin-1")
        lines = head.replace("\r\n", "\n").split("\n")
        parts = lines[0].split(" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            out["junk"] = len(data) - pos
            break
        headers = []
        for ln in lines[1:]:
            if ":" in ln:
                k, v = ln.split(":", 1)
                headers.append((k.strip().lower(), v.strip()))
        hd = {}
        for k, v in headers:
            hd.setdefault(k, []).append(v)
        resp = {"status": status, "version": parts[0], "headers": headers, "complete": True}
        out["responses"].append(resp)
        pos = end + sep
        if 100 <= status < 200:
            if status == 101:
                out["tunnel"] = True
                break
            continue
        method = methods[n_final] if n_final < len(methods) else "GET"
        n_final += 1
        te = ",".join(hd.get("transfer-encoding", [])).lower()
        if method == "HEAD" or status in (204, 304):
            continue
        if "chunked" in te:
            p = pos
            ok = False
            while True:
                le = data.find(b"\r\n", p)
                if le < 0:
                    break
                try:
                    size = int(data[p:le].split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    break
                p = le + 2
                if size == 0:
                    te_end = data.find(b"\r\n\r\n", p - 2)
                    if te_end < 0:
                        break
                    p = te_end + 4
                    ok = True
                    break
                if len(data) < p + size + 2:
                    break
                p += size + 2
            if not ok:
                resp["complete"] = False
                out["incomplete"] = True
                break
            pos = p
        elif "content-length" in hd:
            try:
                n = int(hd["content-length"][0])
            except ValueError:
                n = 0
            if len(data) < pos + n:
                resp["complete"] = False
                out["incomplete"] = True
                break
            pos += n
        else:
            # Close-delimited body: complete only once the peer has closed.
            resp["complete"] = closed
            out["incomplete"] = not closed
            pos = len(data)
    return out


# ------------------------------------------------------------------------------------
# One case against one proxy
# ------------------------------------------------------------------------------------

def run_case(port, case, rec):
    rec.reset()
    data = case["data"]
    exp = case["expect"]
    want = exp.get("responses") or 1
    methods = request_methods(data)
    got = bytearray()
    closed = reset = False
    send_error = None
    t0 = time.time()
    try:
        sock = socket.create_connection((HOST, port), timeout=2.0)
    except OSError as e:
        return {"error": "connect: %s" % e}
    try:
        sock.settimeout(2.0)
        try:
            sock.sendall(data)
            if case["half_close"]:
                sock.shutdown(socket.SHUT_WR)
        except OSError as e:  # the peer may refuse half-way (431, 400 on a long head)
            send_error = str(e)
        while True:
            parsed = parse_responses(bytes(got), closed, methods)
            finals = [r for r in parsed["responses"] if r["status"] >= 200 or r["status"] == 101]
            done = (len([r for r in finals if r["complete"]]) >= want and not parsed["incomplete"]) \
                or parsed["tunnel"]
            left = CASE_LIMIT - (time.time() - t0)
            if left <= 0:
                break
            sock.settimeout(min(SHORT_IDLE if done else IDLE, left))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = reset = True
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
    finally:
        sock.close()
    time.sleep(SETTLE)
    snap = rec.snapshot()
    parsed = parse_responses(bytes(got), closed, methods)
    resps = parsed["responses"]
    finals = [r for r in resps if r["status"] >= 200 or r["status"] == 101]
    interim = [r["status"] for r in resps if 100 <= r["status"] < 200 and r["status"] != 101]
    first = finals[0]["status"] if finals else (interim[0] if interim else None)
    return {
        "status": first,
        "statuses": [r["status"] for r in resps],
        "interim": interim,
        "responses": len(finals),
        "closed": closed,
        "reset": reset,
        "send_error": send_error,
        "client_junk": parsed["junk"],
        "received": bytes(got),
        "response_headers": [r["headers"] for r in resps],
        "response_versions": [r["version"] for r in resps],
        "upstream": snap,
        "seconds": round(time.time() - t0, 3),
    }


def header_values(req, name):
    return [v for k, v in req["headers"] if k.lower() == name.lower()]


def judge(case, res):
    """Reasons the result does not meet the case's expectation (empty list: pass)."""
    if "error" in res:
        return [res["error"]]
    exp = case["expect"]
    why = []
    reqs = res["upstream"]["requests"]
    if exp["status"] is None:
        if res["status"] is not None or res["client_junk"]:
            why.append("expected no answer, got %s" % (res["status"] or "%d bytes" % res["client_junk"]))
    elif res["status"] != exp["status"]:
        why.append("status %s, expected %s" % (res["status"], exp["status"]))
    if exp["close"] is not None and res["closed"] != exp["close"]:
        why.append("connection %s, expected %s" % ("closed" if res["closed"] else "left open",
                                                  "close" if exp["close"] else "open"))
    if exp["upstream"] is not None and len(reqs) != exp["upstream"]:
        why.append("upstream got %d requests, expected %d" % (len(reqs), exp["upstream"]))
    if res["upstream"]["junk"]:
        why.append("upstream got %d bytes it could not parse (%s): %r" % (
            res["upstream"]["junk"], "; ".join(res["upstream"]["errors"]),
            res["upstream"]["junk_sample"][:80]))
    if "responses" in exp and res["responses"] != exp["responses"]:
        why.append("%d responses, expected %d" % (res["responses"], exp["responses"]))
    if "upstream_path" in exp:
        got = reqs[0]["target"] if reqs else None
        if got != exp["upstream_path"]:
            why.append("upstream target %r, expected %r" % (got, exp["upstream_path"]))
    if "upstream_paths" in exp:
        got = [r["target"] for r in reqs]
        if got != exp["upstream_paths"]:
            why.append("upstream targets %r, expected %r" % (got, exp["upstream_paths"]))
    for entry in exp.get("upstream_headers_absent", []):
        name, _, value = entry.partition(":")
        name, value = name.strip(), value.strip()
        for r in reqs:
            vals = header_values(r, name)
            if (not value and vals) or (value and value in vals):
                why.append("upstream got %s: %s" % (name, ", ".join(vals)))
                break
    for name, value in exp.get("upstream_header", {}).items():
        got = ", ".join(header_values(reqs[0], name)) if reqs else None
        if got != value:
            why.append("upstream %s %r, expected %r" % (name, got, value))
    if "upstream_body" in exp:
        want = exp["upstream_body"].encode("latin-1")
        got = reqs[0]["body"] if reqs else None
        if got != want:
            why.append("upstream body %r, expected %r" % (got, want))
    if exp.get("no_interim") and res["interim"]:
        why.append("sent interim %s" % res["interim"])
    if exp.get("no_chunked_response"):
        for hs in res["response_headers"]:
            if any(k == "transfer-encoding" and "chunked" in v.lower() for k, v in hs):
                why.append("chunked response")
                break
    return why


def cell(res):
    if res is None:
        return "(skipped)"
    if "error" in res:
        return "ERR " + res["error"][:30]
    st = "-" if res["status"] is None else str(res["status"])
    if res["interim"] and res["status"] != res["interim"][0]:
        st = "%s>%s" % (res["interim"][0], st)
    if res["client_junk"] and res["status"] is None:
        st = "raw%d" % res["client_junk"]
    conn = "reset" if res["reset"] else ("close" if res["closed"] else "open")
    s = "%s %s up=%d" % (st, conn, len(res["upstream"]["requests"]))
    if res["responses"] > 1:
        s += " r=%d" % res["responses"]
    if res["upstream"]["junk"]:
        s += " junk"
    return s


def expected_cell(case):
    e = case["expect"]
    st = "-" if e["status"] is None else str(e["status"])
    conn = {True: "close", False: "open", None: "any"}[e["close"]]
    up = "*" if e["upstream"] is None else str(e["upstream"])
    s = "%s %s up=%s" % (st, conn, up)
    if e.get("responses", 1) != 1:
        s += " r=%d" % e["responses"]
    return s


# ------------------------------------------------------------------------------------
# The proxies
# ------------------------------------------------------------------------------------
