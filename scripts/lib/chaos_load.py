#!/usr/bin/env python3
"""chaos_load.py: steady, bounded HTTP load for scripts/chaos-zones (Python stdlib only).

Two subcommands:

  run     THREADS keep-alive connections (http.client, one per thread) send
          GET /api/v1/users/N to 127.0.0.1:PORT at a total target RATE (req/s), each
          thread on its own fixed schedule (no catch-up bursts: a thread that falls
          more than a second behind restarts its schedule from now). Every result is
          tagged with the phase in force when the request was sent: the phase is read
          from PHASE_FILE (one line "NUMBER NAME"), which the main thread re-reads
          every 20 ms; the word "stop" in it ends the run. The run also ends on
          SIGTERM/SIGINT and, in any case, after --max-seconds (hard limit). At the
          end one line per request is written to --out (tab separated):
              t_send(epoch s)  phase  latency_ms  status  zone  instance  reused  error
          status is the HTTP status, or ERR for an exception (connection refused or
          reset, timeout, bad response); error then names it (type: message).
          For an HTTP status other than 200, error holds the start of the body.
          "reused" is 1 if the request went out on an already open keep-alive
          connection. A connection that errs is closed and the next request opens a
          new one.

  report  Reads --results (and --events, the phase starts written by chaos-zones) and
          prints the per-phase Markdown table, totals and a breakdown of failures.

Only 127.0.0.1 is ever targeted (the host is not configurable).
"""

import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict, defaultdict

HOST = "127.0.0.1"
ZONES = ("az1", "az2", "az3")


# --- run --------------------------------------------------------------------------------
class Shared:
    def __init__(self):
        self.phase = "0"
        self.stop = threading.Event()


def read_phase(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except OSError:
        return None
    return text or None


def worker(index, args, shared, results, counters):
    rate_per_thread = args.rate / args.threads
    interval = 1.0 / rate_per_thread
    conn = None
    seq = index
    # Stagger the threads evenly over one interval.
    next_at = time.monotonic() + interval * index / args.threads
    while not shared.stop.is_set():
        now = time.monotonic()
        if next_at > now:
            if shared.stop.wait(next_at - now):
                break
        elif now - next_at > 1.0:
            counters["late_resets"] += 1
            next_at = now
        next_at += interval
        phase = shared.phase
        user = seq % args.ids + 1
        seq += args.threads
        reused = 0
        status = "ERR"
        zone = instance = error = ""
        t_send = time.time()
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection(HOST, args.port, timeout=args.timeout)
            reused = 1 if conn.sock is not None else 0
            conn.request("GET", f"/api/v1/users/{user}", headers={"Host": f"{HOST}:{args.port}"})
            resp = conn.getresponse()
            body = resp.read()
            status = str(resp.status)
            try:
                doc = json.loads(body)
                zone = str(doc.get("zone", "")) if isinstance(doc, dict) else ""
                instance = str(doc.get("instance", "")) if isinstance(doc, dict) else ""
            except ValueError:
                if resp.status == 200:
                    error = "200 with a body that is not JSON: " + body[:60].decode("utf-8", "replace")
            if resp.status != 200 and not error:
                # The gateway says why in its body (e.g. "upstream connect failed").
                error = "body: " + body[:60].decode("utf-8", "replace").strip()
            error = error.replace("\t", " ").replace("\n", " ")
            if resp.will_close:
                conn.close()
                conn = None
        except Exception as exc:  # noqa: BLE001 - every failure is a result to report
            status = "ERR"
            msg = str(exc).replace("\t", " ").replace("\n", " ")[:120]
            error = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
            if conn is not None:
                conn.close()
            conn = None
        latency_ms = (time.monotonic() - t0) * 1000.0
        results.append((t_send, phase, latency_ms, status, zone or "-", instance or "-", reused, error or "-"))
    if conn is not None:
        conn.close()


def cmd_run(args):
    if args.threads < 1 or args.rate <= 0 or args.max_seconds <= 0:
        sys.exit("chaos_load: --threads, --rate and --max-seconds must be positive")
    shared = Shared()
    first = read_phase(args.phase_file)
    if first == "stop":
        sys.exit("chaos_load: the phase file says stop before the start")
    shared.phase = first.split()[0] if first else "0"

    def on_signal(signum, _frame):
        shared.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    results_per_thread = [[] for _ in range(args.threads)]
    counters = Counter()
    threads = [
        threading.Thread(target=worker, args=(i, args, shared, results_per_thread[i], counters), daemon=True)
        for i in range(args.threads)
    ]
    start = time.monotonic()
    for t in threads:
        t.start()
    reason = "time limit"
    while True:
        if shared.stop.wait(0.02):
            reason = "signal"
            break
        if time.monotonic() - start >= args.max_seconds:
            break
        text = read_phase(args.phase_file)
        if text == "stop":
            reason = "stop"
            break
        if text:
            shared.phase = text.split()[0]
    shared.stop.set()
    # In-flight requests end within the socket timeout; wait that long, not more.
    deadline = time.monotonic() + args.timeout + 1.0
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(1 for t in threads if t.is_alive())
    elapsed = time.monotonic() - start
    rows = [r for lst in results_per_thread for r in list(lst)]
    rows.sort(key=lambda r: r[0])
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(f"{r[0]:.6f}\t{r[1]}\t{r[2]:.3f}\t{r[3]}\t{r[4]}\t{r[5]}\t{r[6]}\t{r[7]}\n")
    os.replace(tmp, args.out)
    print(
        f"chaos_load: {len(rows)} requests in {elapsed:.1f}s ({len(rows) / elapsed:.0f} req/s, target {args.rate:g}); "
        f"ended by {reason}; {counters['late_resets']} schedule resets (a thread > 1 s behind); "
        f"{stuck} threads still in a request at exit",
        file=sys.stderr,
    )
    return 0


# --- report -----------------------------------------------------------------------------
def pct(n, d):
    return f"{100.0 * n / d:.1f}" if d else "n/a"


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * len(v) + 0.5)) - 1))
    return v[k]


def hms(t):
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int((t % 1) * 1000):03d}"


def cmd_report(args):
    # Events: "epoch  kind  text" lines; kind "phase" gives "NUMBER NAME".
    phases = OrderedDict()  # number -> (name, start epoch)
    events = []
    if args.events and os.path.exists(args.events):
        with open(args.events, encoding="utf-8") as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) < 3:
                    continue
                t, kind, text = float(parts[0]), parts[1], parts[2]
                events.append((t, kind, text))
                if kind == "phase":
                    num, _, name = text.partition(" ")
                    phases[num] = (name, t)

    rows = []
    with open(args.results, encoding="utf-8") as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 8:
                continue
            rows.append((float(p[0]), p[1], float(p[2]), p[3], p[4], p[5], p[6], p[7]))

    by_phase = defaultdict(list)
    for r in rows:
        by_phase[r[1]].append(r)
    order = list(phases.keys()) + sorted(k for k in by_phase if k not in phases)

    def label(num):
        return f"{num} {phases[num][0]}" if num in phases else f"{num} (untagged)"

    header = "| phase | sent | ok (200) | failed | ok % | az1 % | az2 % | az3 % | p50 ms | p99 ms | max ms |"
    print(header)
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    total_sent = total_ok = 0
    total_zone = Counter()
    all_lat = []
    for num in order:
        rs = by_phase.get(num, [])
        ok = [r for r in rs if r[3] == "200"]
        zc = Counter(r[4] for r in ok)
        lat = [r[2] for r in rs]
        all_lat += lat
        total_sent += len(rs)
        total_ok += len(ok)
        total_zone.update(zc)
        p50, p99 = percentile(lat, 50), percentile(lat, 99)
        print(
            f"| {label(num)} | {len(rs)} | {len(ok)} | {len(rs) - len(ok)} | {pct(len(ok), len(rs))} | "
            + " | ".join(pct(zc[z], len(ok)) for z in ZONES)
            + f" | {p50:.1f} | {p99:.1f} | {max(lat):.1f} |"
            if rs
            else f"| {label(num)} | 0 | 0 | 0 | n/a | n/a | n/a | n/a | n/a | n/a | n/a |"
        )
    if all_lat:
        print(
            f"| **total** | {total_sent} | {total_ok} | {total_sent - total_ok} | {pct(total_ok, total_sent)} | "
            + " | ".join(pct(total_zone[z], total_ok) for z in ZONES)
            + f" | {percentile(all_lat, 50):.1f} | {percentile(all_lat, 99):.1f} | {max(all_lat):.1f} |"
        )
    other_zones = {z: n for z, n in total_zone.items() if z not in ZONES}
    if other_zones:
        print(f"\nSuccessful answers from other/unknown zones: {dict(other_zones)}")

    # Instances per phase (a compact view of where the successes went).
    print("\nSuccessful requests per instance:")
    print()
    print("| phase | a1 | a2 | b1 | b2 | c1 | c2 | other |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    names = ("a1", "a2", "b1", "b2", "c1", "c2")
    for num in order:
        ic = Counter(r[5] for r in by_phase.get(num, []) if r[3] == "200")
        other = sum(n for i, n in ic.items() if i not in names)
        print(f"| {label(num)} | " + " | ".join(str(ic[i]) for i in names) + f" | {other} |")

    # Failures: what, how many, when.
    failed = [r for r in rows if r[3] != "200"]
    print()
    if not failed:
        print("Failures: none.")
    else:
        print(f"Failures ({len(failed)}), by phase and kind (times are seconds after the phase start, and wall clock):")
        print()
        print("| phase | status | error / body | reused conn | count | first | last |")
        print("| --- | --- | --- | ---: | ---: | --- | --- |")
        groups = OrderedDict()
        for r in failed:
            err = r[7]
            # Group error messages by type (the message may carry varying details).
            key = (r[1], r[3], err if len(err) < 90 else err[:90] + "...")
            groups.setdefault(key, []).append(r)
        for (num, status, err), rs in sorted(groups.items(), key=lambda kv: (order.index(kv[0][0]) if kv[0][0] in order else 99, kv[1][0][0])):
            start = phases[num][1] if num in phases else rs[0][0]
            reused = sum(1 for r in rs if r[6] == "1")
            first, last = rs[0][0], rs[-1][0]
            print(
                f"| {label(num)} | {status} | {err} | {reused} | {len(rs)} | "
                f"+{first - start:.2f}s ({hms(first)}) | +{last - start:.2f}s ({hms(last)}) |"
            )
        # A timeline of failures in 250 ms buckets, to see bursts next to the events.
        print()
        print("Failure timeline (250 ms buckets with failures; events interleaved):")
        print("```")
        buckets = Counter(int(r[0] * 4) for r in failed)
        sent_buckets = Counter(int(r[0] * 4) for r in rows)
        lines = [(t, f"{hms(t)}  event: {kind} {text}") for t, kind, text in events]
        for b, n in buckets.items():
            t = b / 4.0
            lines.append((t, f"{hms(t)}  {n:4d} failed of {sent_buckets[b]:4d} sent"))
        for _, text in sorted(lines):
            print(text)
        print("```")
    if args.summary_env:
        with open(args.summary_env, "w", encoding="utf-8") as f:
            f.write(f"LOAD_SENT={total_sent}\nLOAD_OK={total_ok}\nLOAD_FAILED={total_sent - total_ok}\n")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="drive the load")
    r.add_argument("--port", type=int, required=True, help="the gateway's port on 127.0.0.1")
    r.add_argument("--threads", type=int, default=8)
    r.add_argument("--rate", type=float, default=400.0, help="total target requests per second")
    r.add_argument("--max-seconds", type=float, required=True, help="hard time limit of the run")
    r.add_argument("--timeout", type=float, default=10.0, help="socket timeout per request (s)")
    r.add_argument("--ids", type=int, default=1000, help="user ids cycle over 1..IDS")
    r.add_argument("--phase-file", required=True)
    r.add_argument("--out", required=True)
    p = sub.add_parser("report", help="print the tables")
    p.add_argument("--results", required=True)
    p.add_argument("--events")
    p.add_argument("--summary-env", help="write LOAD_SENT/LOAD_OK/LOAD_FAILED=N lines here")
    args = ap.parse_args()
    return cmd_run(args) if args.cmd == "run" else cmd_report(args)


if __name__ == "__main__":
    sys.exit(main())
