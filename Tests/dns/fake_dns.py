#!/usr/bin/env python3
"""A small authoritative DNS server for tests, on 127.0.0.1 (UDP and TCP on the same port), built on dnslib.

    python3 Tests/dns/fake_dns.py --zone ZONE.json [--port 0]

ZONE.json maps names to records, and is read again whenever its modification time changes, so a test changes the
answers by rewriting the file:

    {"users.internal.": {"A": ["127.0.0.1"], "AAAA": ["::1"], "ttl": 1},
     "_users._tcp.internal.": {"SRV": [[10, 5, 8081, "a.internal."]], "ttl": 1},
     "big.internal.": {"A": ["10.0.0.1"], "truncate": true}}

Unknown names get NXDOMAIN; a known name without records of the type asked gets an empty NOERROR answer. SRV
answers carry the targets' A/AAAA records as additional records. "truncate": true sets TC on UDP answers (to make
the client ask again over TCP). With --port 0 an ephemeral port is bound; "listening PORT" is printed either way.
"""
import argparse
import json
import os
import socket
import sys
import time

from dnslib import AAAA, QTYPE, RCODE, RR, SRV, A
from dnslib.server import BaseResolver, DNSServer


class ZoneResolver(BaseResolver):
    def __init__(self, path):
        self.path = path
        self.mtime = None
        self.zone = {}

    def load(self):
        try:
            mtime = os.stat(self.path).st_mtime_ns
        except OSError:
            return
        if mtime != self.mtime:
            try:
                with open(self.path) as f:
                    zone = json.load(f)
            except (OSError, ValueError):
                return  # being rewritten: keep the last zone
            self.zone = {name.lower().rstrip(".") + ".": records for name, records in zone.items()}
            self.mtime = mtime

    def records(self, name, qtype, ttl_default=1):
        entry = self.zone.get(name.lower())
        if entry is None:
            return None
        ttl = int(entry.get("ttl", ttl_default))
        out = []
        if qtype in ("A", "ANY"):
            out += [RR(name, QTYPE.A, rdata=A(a), ttl=ttl) for a in entry.get("A", [])]
        if qtype in ("AAAA", "ANY"):
            out += [RR(name, QTYPE.AAAA, rdata=AAAA(a), ttl=ttl) for a in entry.get("AAAA", [])]
        if qtype in ("SRV", "ANY"):
            out += [RR(name, QTYPE.SRV, rdata=SRV(p, w, port, target), ttl=ttl) for p, w, port, target in entry.get("SRV", [])]
        return out

    def resolve(self, request, handler):
        self.load()
        reply = request.reply()
        name = str(request.q.qname).lower()
        qtype = QTYPE[request.q.qtype]
        found = self.records(name, qtype)
        if found is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for record in found:
            reply.add_answer(record)
            if qtype == "SRV":
                target = str(record.rdata.target).lower()
                for extra in (self.records(target, "A") or []) + (self.records(target, "AAAA") or []):
                    reply.add_ar(extra)
        if handler.protocol == "udp" and self.zone.get(name, {}).get("truncate"):
            reply = request.reply()
            reply.header.tc = 1
        return reply


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(100):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            udp.bind(("127.0.0.1", port))
        except OSError:
            tcp.close()
            continue
        udp.close()
        tcp.close()
        return port
    raise SystemExit("no free port")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    port = args.port or free_port()
    resolver = ZoneResolver(args.zone)

    class Quiet:
        def __getattr__(self, name):
            return lambda *a, **k: None

    udp = DNSServer(resolver, address="127.0.0.1", port=port, logger=Quiet())
    tcp = DNSServer(resolver, address="127.0.0.1", port=port, tcp=True, logger=Quiet())
    udp.start_thread()
    tcp.start_thread()
    print(f"listening {port}", flush=True)
    while udp.isAlive() and tcp.isAlive():
        time.sleep(0.5)
    sys.exit(1)


if __name__ == "__main__":
    main()
