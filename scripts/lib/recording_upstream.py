#!/usr/bin/env python3
"""recording_upstream.py: a strict HTTP/1.1 origin server that records what a proxy sends it.

Python 3 standard library only. Used in-process by scripts/hostile (one instance per proxy
under test, each on its own 127.0.0.1 port, each serving in its own threads):

    rec = RecordingUpstream()          # binds 127.0.0.1:<free port>
    rec.start()
    rec.reset()                        # before a case: forget what was recorded
    ...                                # the proxy sends requests to rec.port
    snap = rec.snapshot()              # after a case: what arrived since reset()
    rec.stop()

It parses requests strictly off the raw byte stream of each connection:
  request-line  method SP request-target SP "HTTP/" DIGIT "." DIGIT CRLF  (token method,
                target without SP or CTLs)
  header lines  token ":" OWS value OWS CRLF (no obs-fold, no CTLs except HTAB, no bare LF)
  body          Transfer-Encoding exactly "chunked" (and no Content-Length), or one
                Content-Length of 1*DIGIT, or none. Chunk sizes are hex, extensions are
                skipped, trailers are read and recorded.
Every complete request is recorded (method, target, version, headers as a list of
(name, value), body bytes with chunking removed, framing used) and answered
`HTTP/1.1 200 OK` with `Content-Length: 2` and body `ok` (headers only for HEAD). A
request carrying `Expect: 100-continue` whose body has not arrived yet first gets
`HTTP/1.1 100 Continue`.

Bytes it cannot parse are counted as `junk` (with the first 200 of them kept as a sample):
it then answers `400` with `Connection: close` and closes that connection, as a strict
origin would. A connection closed by the proxy in the middle of a request counts the
bytes of that unfinished request as `partial` (a cut request, not a desync).
"""

import re
import socket
import threading
import time

TOKEN_RE = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
VERSION_RE = re.compile(rb"^HTTP/[0-9]\.[0-9]$")
DIGITS_RE = re.compile(rb"^[0-9]+$")
HEX_RE = re.compile(rb"^[0-9A-Fa-f]+$")
MAX_HEAD = 256 * 1024


class ParseError(Exception):
    pass


class Incomplete(Exception):
    pass


def _check_value(value):
    for b in value:
        if b < 0x20 and b != 0x09 or b == 0x7F:
            raise ParseError("control character in field value")


def _read_line(buf, pos):
    """Return (line, next_pos) for a CRLF-terminated line starting at pos."""
    end = buf.find(b"\n", pos)
    if end < 0:
        if len(buf) - pos > MAX_HEAD:
            raise ParseError("line too long")
        raise Incomplete()
    if end == pos or buf[end - 1] != 0x0D:
        raise ParseError("bare LF")
    line = buf[pos:end - 1]
    if b"\r" in line:
        raise ParseError("bare CR")
    return line, end + 1


def _parse_fields(buf, pos):
    """Header or trailer section up to and including the empty line."""
    fields = []
    while True:
        line, pos = _read_line(buf, pos)
        if line == b"":
            return fields, pos
        if line[:1] in (b" ", b"\t"):
            raise ParseError("obs-fold or leading whitespace")
        colon = line.find(b":")
        if colon <= 0:
            raise ParseError("field line without name or colon")
        name = line[:colon]
        if not TOKEN_RE.match(name):
            raise ParseError("bad field name %r" % name[:40])
        value = line[colon + 1:].strip(b" \t")
        _check_value(value)
        fields.append((name.decode("latin-1"), value.decode("latin-1")))
        if len(fields) > 10000:
            raise ParseError("too many fields")


def parse_request(buf, pos=0, on_expect=None):
    """Parse one request at buf[pos:]. Returns (request dict, next_pos).

    Raises Incomplete when more bytes are needed, ParseError when the bytes are not
    HTTP/1.1. on_expect(request) is called once, when the head of a request with
    `Expect: 100-continue` is parsed and its body is not complete yet.
    """
    start = pos
    line, pos = _read_line(buf, pos)
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ParseError("request line is not three words: %r" % line[:80])
    method, target, version = parts
    if not TOKEN_RE.match(method):
        raise ParseError("bad method")
    if not target or any(b <= 0x20 or b == 0x7F for b in target):
        raise ParseError("bad request-target")
    if not VERSION_RE.match(version):
        raise ParseError("bad version")
    headers, pos = _parse_fields(buf, pos)
    head_bytes = pos - start
    lower = {}
    for n, v in headers:
        lower.setdefault(n.lower(), []).append(v)
    req = {
        "method": method.decode("latin-1"),
        "target": target.decode("latin-1"),
        "version": version.decode("latin-1"),
        "headers": headers,
        "body": b"",
        "framing": "none",
        "trailers": [],
        "head_bytes": head_bytes,
    }
    te = lower.get("transfer-encoding")
    cl = lower.get("content-length")
    expect = ",".join(lower.get("expect", [])).strip().lower() == "100-continue"
    if te is not None:
        if cl is not None:
            raise ParseError("both Transfer-Encoding and Content-Length")
        if len(te) != 1 or te[0].strip().lower() != "chunked":
            raise ParseError("Transfer-Encoding other than a single chunked: %r" % te)
        req["framing"] = "chunked"
        body = bytearray()
        p = pos
        try:
            while True:
                sline, p = _read_line(buf, p)
                size_txt = sline.split(b";", 1)[0]
                if not HEX_RE.match(size_txt) or len(size_txt) > 16:
                    raise ParseError("bad chunk size %r" % sline[:40])
                size = int(size_txt, 16)
                if size == 0:
                    trailers, p = _parse_fields(buf, p)
                    req["trailers"] = trailers
                    break
                if len(buf) < p + size + 2:
                    raise Incomplete()
                body += buf[p:p + size]
                if buf[p + size:p + size + 2] != b"\r\n":
                    raise ParseError("chunk data not followed by CRLF")
                p += size + 2
        except Incomplete:
            if expect and on_expect:
                on_expect(req)
            raise
        req["body"] = bytes(body)
        return req, p
    if cl is not None:
        if len(cl) != 1 or not DIGITS_RE.match(cl[0].encode("latin-1")):
            raise ParseError("bad Content-Length %r" % cl)
        n = int(cl[0])
        req["framing"] = "content-length"
        if len(buf) < pos + n:
            if len(buf) - pos > 64 * 1024 * 1024:
                raise ParseError("body too large")
            if expect and on_expect:
                on_expect(req)
            raise Incomplete()
        req["body"] = bytes(buf[pos:pos + n])
        return req, pos + n
    return req, pos


class RecordingUpstream:
    """The server. Thread-safe: reset() and snapshot() may be called from any thread."""

    def __init__(self, host="127.0.0.1", port=0):
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self._sock.settimeout(0.2)
        self.host, self.port = self._sock.getsockname()
        self._stop = threading.Event()
        self._threads = []
        self._conns = set()
        self.reset()

    # -- control ---------------------------------------------------------------------
    def start(self):
        t = threading.Thread(target=self._accept_loop, name="recorder-%d" % self.port, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.close()
            except OSError:
                pass

    def reset(self):
        with self._lock:
            self._requests = []
            self._junk = 0
            self._junk_sample = b""
            self._partial = 0
            self._connections = 0
            self._errors = []

    def snapshot(self):
        with self._lock:
            return {
                "requests": [dict(r) for r in self._requests],
                "junk": self._junk,
                "junk_sample": self._junk_sample,
                "partial": self._partial,
                "connections": self._connections,
                "errors": list(self._errors),
            }

    def close_idle(self):
        """Close every open connection (pooled ones included), e.g. between proxies."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- serving ---------------------------------------------------------------------
    def _accept_loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._connections += 1
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()

    def _serve(self, conn):
        conn.settimeout(0.5)
        buf = bytearray()
        state = {"announced": False}  # the request at the head of buf got 100 Continue

        def on_expect(req):
            if not state["announced"]:
                state["announced"] = True
                try:
                    conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                except OSError:
                    pass

        try:
            while not self._stop.is_set():
                # Parse every complete request in the buffer.
                while buf:
                    try:
                        req, used = parse_request(bytes(buf), 0, on_expect)
                    except Incomplete:
                        break
                    except ParseError as e:
                        with self._lock:
                            self._junk += len(buf)
                            if not self._junk_sample:
                                self._junk_sample = bytes(buf[:200])
                            self._errors.append(str(e))
                        try:
                            conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                         b"Connection: close\r\n\r\n")
                        except OSError:
                            pass
                        return
                    del buf[:used]
                    state["announced"] = False
                    with self._lock:
                        self._requests.append(req)
                    if req["method"] == "HEAD":
                        resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
                    else:
                        resp = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                    try:
                        conn.sendall(resp)
                    except OSError:
                        return
                try:
                    data = conn.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    data = b""
                if not data:
                    if buf:
                        with self._lock:
                            self._partial += len(buf)
                    return
                buf += data
        finally:
            with self._lock:
                self._conns.discard(conn)
            try:
                conn.close()
            except OSError:
                pass


if __name__ == "__main__":
    # Stand-alone: serve until interrupted, printing what arrives.
    import sys
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    rec = RecordingUpstream(port=port).start()
    print("recording upstream on 127.0.0.1:%d" % rec.port, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            snap = rec.snapshot()
            for r in snap["requests"][seen:]:
                print(r["method"], r["target"], r["version"], r["framing"], len(r["body"]), flush=True)
            seen = len(snap["requests"])
    except KeyboardInterrupt:
        rec.stop()
