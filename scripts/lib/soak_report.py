"""soak_report.py: what scripts/soak concludes from its samples: the checks, the verdict, the CSV and the summary
(a mixin of the Soak class in soak.py)."""

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

from soak_common import *  # noqa: F401,F403  (settings and helpers)
from soak_load import *  # noqa: F401,F403


class SoakReport:
    """The verdict half of Soak: it reads the state run() left (samples, results, reasons)."""


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
