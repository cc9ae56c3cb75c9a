#!/usr/bin/env python3
"""The till's load table (BENCHMARKS.md), in one run: release `rabat serve --demo`
processes on loopback driven by wrk, on SQLite and, with --postgres, on PostgreSQL with one
and with two replicas (two servers on one database, the connections split between them).

Rows per database: trivial GET /healthz (the HTTP stack's limit), endpoint 1 with the
seed bill (one live campaign, then three, then one with a budget) and with the 200-item bill, a
whole bill (endpoint 1 then 2) without and with a budget, endpoint 2 (a new order per request, durable) with
every bill on one hot card and spread over 1 000 cards. Then every server is SIGKILLed
and the database is checked: every acknowledged bill in the ledger exactly once, every
card's visits, spend and points equal to the sum of its ledger rows.

  bench/load.py [--seconds 10] [--connections 64] [--postgres postgres://…] [--only sqlite|pg1|pg2]

Build first (`cargo build --release -p rabat`); bench/load.sh does both.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RABAT = os.environ.get("RABAT_BIN") or os.path.join(ROOT, "target", "release", "rabat")
API_KEY = "demo-api-key"
METRICS_TOKEN = "load-metrics-token-0123456789"
CARDS = 1000
SEED = "examples/data/bills/papaya-discount-request.json"
BIG = "examples/data/bills/big-200.json"


class Server:
    def __init__(self, db, port):
        self.port = port
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            raise RuntimeError(f"port {port} is taken by another process: pick another --port")
        except OSError:
            pass
        self.log = open(os.path.join(db.dir, f"server-{port}.log"), "wb")
        args = [RABAT, "serve", "--demo", "--bind", f"127.0.0.1:{port}",
                "--metrics-token", METRICS_TOKEN] + db.flags()
        self.proc = subprocess.Popen(args, env={**os.environ, "RUST_LOG": "warn"},
                                     stdout=self.log, stderr=self.log)
        for _ in range(2400):
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"rabat on port {port} did not become ready; see {self.log.name}")

    def call(self, method, path, token=None, body=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def counter(self, name):
        """A counter from /metrics (0 when it is not there)."""
        status, data = self.call("GET", "/metrics", METRICS_TOKEN)
        if status != 200:
            raise RuntimeError(f"/metrics: {status} {data[:200]!r}")
        m = re.search(rf"^{name} (\d+)$", data.decode(), re.M)
        return int(m.group(1)) if m else 0

    def kill(self):
        self.proc.kill()
        self.proc.wait()


class Db:
    def __init__(self, postgres):
        self.dir = tempfile.mkdtemp(prefix="rabat-load-")
        self.postgres = postgres
        self.schema = f"rabat_load_{os.getpid()}_{int(time.time())}" if postgres else None

    def flags(self):
        if self.postgres:
            return ["--database-url", self.postgres, "--database-schema", self.schema]
        return ["--database-url", f"sqlite://{self.dir}/load.db"]

    def rows(self, sql):
        if self.postgres:
            out = subprocess.run(["psql", self.postgres, "-X", "-q", "-A", "-t", "-F", "\t", "-c",
                                  f'SET search_path TO "{self.schema}"; {sql}'],
                                 check=True, capture_output=True, text=True).stdout
            return [line.split("\t") for line in out.splitlines() if line]
        import sqlite3
        db = sqlite3.connect(f"{self.dir}/load.db")
        return [[("" if v is None else str(v)) for v in row] for row in db.execute(sql)]

    def cleanup(self):
        if self.postgres:
            subprocess.run(["psql", self.postgres, "-X", "-q", "-c",
                            f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'],
                           check=False, capture_output=True)


def wrk(port, seconds, connections, script, path, env=None, threads=2):
    scripted = ["-s", os.path.join(ROOT, script)] if script else []
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                          *scripted, f"http://127.0.0.1:{port}{path}"],
                         env={**os.environ, **(env or {})}, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    ack = re.search(r"acknowledged: (\d+)", out)

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return {"rps": rps, "p50": pct(50), "p99": pct(99),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "ack": int(ack.group(1)) if ack else None}


def on_all(servers, seconds, connections, script, path, env_of):
    """wrk against every server at once, the connections split between them."""
    results = [None] * len(servers)
    each = max(connections // len(servers), 1)
    threads_each = 1 if len(servers) > 1 else 2

    def run(i, server):
        results[i] = wrk(server.port, seconds, each, script, path, env_of(i), threads_each)
    ts = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(servers)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"rps": sum(r["rps"] for r in results), "p50": max(r["p50"] for r in results),
            "p99": max(r["p99"] for r in results), "non2xx": sum(r["non2xx"] for r in results),
            "ack": sum(r["ack"] or 0 for r in results)}


def make_cards(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    for i in range(CARDS):
        status, data = server.call("PUT", f"/admin/v1/merchants/demo/cards/card-{i}", API_KEY,
                                   json.dumps({"tier": "gold" if i % 2 else "silver"}), conn)
        if status not in (200, 201):
            raise RuntimeError(f"card {i}: {status} {data[:200]!r}")
    conn.close()


def check(db, acknowledged):
    ledger = db.rows("SELECT card_id, order_id, total, points FROM ledger WHERE merchant_id = 'demo'")
    orders = [r[1] for r in ledger if r[1].startswith("load-")]
    sums = {}
    for card, order, total, points in ledger:
        s = sums.setdefault(card, [0, Decimal(0), 0])
        if order:
            s[0] += 1
            s[1] += Decimal(total)
        s[2] += int(points)
    wrong = 0
    cards = db.rows("SELECT card_id, visits, total_spent, points FROM cards WHERE merchant_id = 'demo'")
    for card, visits, spent, points in cards:
        s = sums.get(card, [0, Decimal(0), 0])
        if (int(visits), Decimal(spent), int(points)) != (s[0], s[1], s[2]):
            wrong += 1
    return {"acknowledged": acknowledged, "ledger": len(orders),
            "distinct": len(set(orders)), "cards": len(cards), "cards_wrong": wrong}


def fmt_ms(v):
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def campaigns(server, *steps):
    """Admin calls on the demo's campaigns (method, path under campaigns, body or None);
    then waits for every replica's cache to see them (revalidated within 0.5 s)."""
    for method, path, body in steps:
        status, data = server.call(method, f"/admin/v1/merchants/demo/campaigns{path}", API_KEY,
                                   json.dumps(body) if body is not None else None)
        if status not in (200, 201):
            raise RuntimeError(f"{method} campaigns{path}: {status} {data!r}")
    time.sleep(1)


def run_config(name, db, replicas, args, port):
    print(f"\n== {name}: starting {replicas} server(s)", flush=True)
    servers = [Server(db, port)]
    for i in range(1, replicas):
        servers.append(Server(db, port + i))
    make_cards(servers[0])
    # Warm every replica's policy cache.
    for s in servers:
        s.call("POST", "/pos/papaya/v1/discounts", "demo-pos-token", open(os.path.join(ROOT, SEED), "rb").read())
    sec, c = args.seconds, args.connections
    # The demo runs two campaigns (the tier discount, and a happy hour, id 2): every row
    # but the campaigns' own measures one live campaign, as before campaigns.
    campaigns(servers[0], ("POST", "/2/pause", None))
    rows = []
    rows.append(("trivial `GET /healthz`", on_all(servers, sec, c, None, "/healthz", lambda i: {})))
    rows.append(("endpoint 1, seed bill", on_all(servers, sec, c, "bench/discount.lua",
                                                 "/pos/papaya/v1/discounts", lambda i: {"BILL": SEED})))
    # The same bill with three live campaigns: the happy hour again, and the tier
    # discount's version a second time with its own config.
    # (The happy hour without its limits here: this row measures campaigns, not budgets.)
    campaigns(servers[0], ("PATCH", "/2", {"limits": None}), ("POST", "/2/resume", None),
              ("POST", "", {"name": "tier again", "policyVersion": 1,
                            "config": {"tiers": {"gold": 3}}, "priority": -2}))
    rows.append(("endpoint 1, seed bill, 3 live campaigns", on_all(
        servers, sec, c, "bench/discount.lua", "/pos/papaya/v1/discounts", lambda i: {"BILL": SEED})))
    campaigns(servers[0], ("POST", "/2/pause", None), ("POST", "/3/end", None))
    rows.append(("endpoint 1, 200-item bill", on_all(servers, sec, c, "bench/discount.lua",
                                                     "/pos/papaya/v1/discounts", lambda i: {"BILL": BIG})))
    # A whole bill (endpoint 1 then 2, 1 000 cards) on the tier discount, without and with
    # a budget (never used up): what the reservation under the budget's lock costs.
    till = lambda tag: (lambda i: {"PREFIX": f"{tag}{i}", "CARDS": str(CARDS)})
    plain = on_all(servers, sec, c, "bench/till.lua", "/", till("bill"))
    rows.append(("a bill (endpoint 1 + 2), 1 000 cards", plain))
    campaigns(servers[0], ("PATCH", "/1", {"limits": {"budget": {"amount": "999999999.00",
                                                                   "period": "month"}}}))
    rows.append(("endpoint 1, seed bill, budgeted campaign", on_all(
        servers, sec, c, "bench/discount.lua", "/pos/papaya/v1/discounts", lambda i: {"BILL": SEED})))
    budgeted = on_all(servers, sec, c, "bench/till.lua", "/", till("budget"))
    rows.append(("a bill (endpoint 1 + 2), 1 000 cards, budgeted campaign", budgeted))
    campaigns(servers[0], ("PATCH", "/1", {"limits": None}))
    hot = on_all(servers, sec, c, "bench/transactions.lua", "/pos/papaya/v1/transactions",
                 lambda i: {"PREFIX": f"hot{i}"})
    rows.append(("endpoint 2, one hot card (durable)", hot))
    spread = on_all(servers, sec, c, "bench/transactions.lua", "/pos/papaya/v1/transactions",
                    lambda i: {"PREFIX": f"spread{i}", "CARDS": str(CARDS)})
    rows.append(("endpoint 2, 1 000 cards (durable)", spread))
    # How often a call ran past the inline deadline (and was run again on the blocking
    # pool), and how often the demo's policy was taken for a slow one: both should be rare.
    inline = {name: sum(s.counter(f"rabat_policy_{name}_total") for s in servers)
              for name in ("inline_retries", "marked_slow")}
    for s in servers:
        s.kill()
    durability = check(db, hot["ack"] + spread["ack"] + plain["ack"] + budgeted["ack"])
    trivial = rows[0][1]["rps"]
    print(f"\n### {name}\n")
    print("| | req/s | % of trivial | p50 | p99 | non-2xx |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in rows:
        share = f"{100 * r['rps'] / trivial:.1f} %" if label.startswith("endpoint 1") else ""
        if label.endswith("budgeted campaign") and label.startswith("a bill"):
            share = f"{100 * r['rps'] / plain['rps']:.1f} % of unbudgeted"
        print(f"| {label} | {r['rps']:,.0f} | {share} | {fmt_ms(r['p50'])} | {fmt_ms(r['p99'])} | {r['non2xx']} |")
    print(f"\nPolicy calls run again on the blocking pool after the inline deadline: "
          f"{inline['inline_retries']}; times the demo's policy was taken for a slow one: "
          f"{inline['marked_slow']}")
    d = durability
    print(f"\nSIGKILL, then: acknowledged {d['acknowledged']}, in the ledger {d['ledger']} "
          f"({d['distinct']} distinct orders); cards whose visits/spend/points differ from "
          f"their ledger rows: {d['cards_wrong']} of {d['cards']}", flush=True)
    lost = d["ledger"] < d["acknowledged"] or d["distinct"] != d["ledger"] or d["cards_wrong"]
    return not lost


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--postgres", default=os.environ.get("RABAT_BENCH_POSTGRES_URL"))
    p.add_argument("--only", choices=["sqlite", "pg1", "pg2"])
    p.add_argument("--port", type=int, default=28180)
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (bench/load.sh installs it: apt-get install wrk)")
    load = open("/proc/loadavg").read().split()[:3]
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), "?")
    print(f"== {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores, {cpu}; "
          f"load average before {' '.join(load)}; wrk -c{args.connections}, {args.seconds} s per row")
    ok = True
    configs = [("SQLite", None, 1, "sqlite")]
    if args.postgres:
        configs += [("PostgreSQL, 1 replica", args.postgres, 1, "pg1"),
                    ("PostgreSQL, 2 replicas", args.postgres, 2, "pg2")]
    for name, url, replicas, key in configs:
        if args.only and args.only != key:
            continue
        db = Db(url)
        try:
            ok &= run_config(name, db, replicas, args, args.port)
        finally:
            db.cleanup()
    print(f"\n== load average after {' '.join(open('/proc/loadavg').read().split()[:3])}")
    if not ok:
        print("LOST OR DOUBLED TRANSACTIONS, OR A CARD THAT DISAGREES WITH ITS LEDGER")
        sys.exit(1)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
