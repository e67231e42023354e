#!/usr/bin/env python3
"""Writes the seed corpus under Tests/Fuzz/corpus/TARGET/ (small, realistic inputs). Run from the repository root;
the files are committed, so this is only needed to change them."""
import os

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def write(target, name, data):
    folder = os.path.join(root, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)

# FuzzPath: one options byte (bit 0 merge slashes, bits 1-2 escaped slashes), then the path.
paths = ["/", "/api/v1/users/7", "/a/./b/../c", "//internal", "/x/../internal", "/%69nternal", "/a%2Fb", "/a%5cb",
         "/caf\u00e9", "/a/%2e%2E/b", "/a//b///c/", "/..", "/a/b/..", "/%7euser/%41%42", "/a%zz", "/%00"]
for i, path in enumerate(paths):
    write("FuzzPath", f"path{i:02}", bytes([[1, 0, 3, 5][i % 4]]) + path.encode())

# FuzzRouter: options byte (bit 0 trailing-slash redirect, bit 1 fixed-path redirect), routes, "=", lookups.
routers = [
    "/\nGET /users/:id\nPOST /users\n/files/*path\n=\nGET /users/7\nPOST /users/7\nGET /files/a/b\nGET /users/\n",
    "GET /api/v1/users/:id/posts/:post\nGET /api/v1/users/:id\nGET /api/v1/search\n/*\n=\nGET /api/v1/users/1/posts/2\nHEAD /x\nGET /API/V1/search\n",
    "GET /a/b/c\nGET /a/:x/c\nGET /a/b/:y\nGET /:z/b/c\n=\nGET /a/b/c\nGET /a/q/c\nGET /q/b/c\nGET /a/b/q\nGET /a/b/c/\n",
    "/caf\u00e9\n/x/:a/*\nDELETE /x/:a/y\n=\n/caf%C3%A9\nDELETE /x/1/y\nPUT /x/1/y\n",
    "/only-get\n/only-get/\n/:p\n/:q\n",
]
for i, text in enumerate(routers):
    write("FuzzRouter", f"routes{i}", bytes([i % 4]) + text.encode())

# FuzzINI: the demo config and snippets.
here = os.path.dirname(os.path.abspath(__file__))
demo = open(os.path.join(here, "..", "..", "etc", "demo.ini"), "rb").read()
write("FuzzINI", "demo.ini", demo)
write("FuzzINI", "minimal.ini", "[server]\nlisten = 127.0.0.1:8080\n\n[upstream u]\nserver = 127.0.0.1:9000\n\n[route r]\nmatch = /api/*rest\nupstream = u\n")
write("FuzzINI", "quoted.ini", "\ufeff[server]\r\nlisten = 127.0.0.1:8080 ; comment\r\nserver_name = \"sluice \\\" x\"\r\n# c\r\n[upstream a-b.c]\r\nserver = [::1]:81 weight=3 backup\r\nbalance = least_request\r\n")
write("FuzzINI", "bad.ini", "[server\nlisten=\n[upstream]\nkey without value\n[route r]\nmatch = users\nupstream = nowhere\ntimeout = 5parsecs\n")
write("FuzzINI", "traffic.ini", "[server]\nlisten = 127.0.0.1:8080\nmerge_slashes = off\nescaped_slashes = decode\nmax_headers = 50\n"
      "[upstream u]\nserver = 127.0.0.1:9000\ncircuit_breaker = failure_rate=50% window=20 min_calls=10 open=10s half_open=3\n"
      "[route r]\nmatch = /x/:id\nupstream = u\nrate_limit = 20/s burst=10 key=client_ip\nsplit = u 90% u 10%\n")

# FuzzHTTP and FuzzGateway: two option bytes, then client bytes.
requests = {
    "get": "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "pipelined": "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    "post": "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: x\r\n\r\n",
    "chunked": "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
    "upgrade": "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n",
    "expect": "PUT /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    "http10": "GET /old HTTP/1.0\r\n\r\n",
    "smuggle": "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: x\r\n\r\n",
    "absolute": "GET http://x/a/../b?q=1 HTTP/1.1\r\nHost: x\r\n\r\nOPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
    "garbage": "GARBAGE\r\n\r\n",
    "paths": "GET //internal/%2e%2e/x HTTP/1.1\r\nHost: only.example\r\n\r\nGET /only-get HTTP/1.1\r\nHost: only.example\r\n\r\n",
    "connect": "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
}
for i, (name, text) in enumerate(sorted(requests.items())):
    write("FuzzHTTP", name, bytes([[0x00, 0x03, 0x10, 0x21][i % 4], [0x00, 0x01, 0x02, 0x18][i % 4]]) + text.encode())
    write("FuzzGateway", name, bytes([[0x01, 0x03, 0x05, 0x09][i % 4], 1]) + text.encode())
    write("FuzzGateway", name + "-now", bytes([[0x11, 0x21, 0x41, 0x61][i % 4], 0]) + text.encode())
