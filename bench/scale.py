#!/usr/bin/env python3
"""Scaling measurements for BENCHMARKS.md ("Past one machine"), against release
`rabat serve` processes on loopback:

  bench/scale.py cold      [--runs 7]
      first evaluation after a restart, with and without the compiled-policy cache
  bench/scale.py memory    [--merchants 10000]
      resident memory with N merchants each running its own module (distinct hashes),
      all loaded, and with the default bound on loaded policies
  bench/scale.py replicas --database-url postgres://… [--seconds 10] [--calm-connections 16]
      endpoint-1 throughput and p50/p99 with 1 and 2 replicas on one database, and
      endpoint 2's durable throughput
  bench/scale.py isolation [--seconds 10]
      endpoint-1 latency of a well-behaved merchant, alone and while another merchant
      whose policy loops until its deadline hammers endpoint 1 (needs wrk)

`--database-url postgres://…` runs on PostgreSQL (a fresh schema per run) instead of a
SQLite file. Build first: `cargo build --release -p rabat`.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RABAT = os.path.join(ROOT, "target", "release", "rabat")
OPERATOR = "bench-operator-token"
BILL = open(os.path.join(ROOT, "examples/data/bills/papaya-discount-request.json"), "rb").read()


def build(crate_dir):
    out = subprocess.run([RABAT, "build", crate_dir], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = re.search(r"built (\S+) \(", out).group(1)
    return open(path, "rb").read()


def distinct(wasm, n):
    """The component with a custom section appended: same behaviour, its own hash."""
    def leb(v):
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            if v == 0:
                out.append(b)
                return bytes(out)
            out.append(b | 0x80)
    name = b"rabat-bench-variant"
    payload = leb(len(name)) + name + n.to_bytes(8, "little")
    return wasm + b"\x00" + leb(len(payload)) + payload


class Server:
    def __init__(self, db, *flags, port=18090):
        self.port = port
        args = [RABAT, "serve", "--bind", f"127.0.0.1:{port}", "--operator-token", OPERATOR]
        args += db.flags() + list(flags)
        self.proc = subprocess.Popen(args, env={**os.environ, "RUST_LOG": "warn"},
                                     stdout=subprocess.DEVNULL)
        for _ in range(600):
            try:
                if self.call("GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("rabat did not become ready")

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def call(self, method, path, token=None, body=None, conn=None):
        c = conn or self.conn()
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, data

    def ok(self, method, path, token=None, body=None, conn=None):
        status, data = self.call(method, path, token, body, conn)
        if not 200 <= status < 300:
            raise RuntimeError(f"{method} {path}: {status} {data[:300]!r}")
        return json.loads(data) if data else None

    def rss_mib(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


class Db:
    def __init__(self, url):
        self.dir = tempfile.mkdtemp(prefix="rabat-scale-")
        self.url = url or f"sqlite://{self.dir}/scale.db"
        self.schema = f"rabat_bench_{os.getpid()}" if url else None

    def flags(self):
        flags = ["--database-url", self.url]
        if self.schema:
            flags += ["--database-schema", self.schema]
        return flags

    def cleanup(self):
        if self.schema:
            subprocess.run(["psql", self.url, "-qc", f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'],
                           check=False, capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def merchant(server, mid, wasm, config, conn=None):
    m = server.ok("POST", "/admin/v1/merchants", OPERATOR,
                  json.dumps({"id": mid, "name": mid}), conn)
    key, pos = m["apiKey"], m["posToken"]
    base = f"/admin/v1/merchants/{mid}"
    server.ok("PUT", f"{base}/cards/memberCardId", key, json.dumps({"tier": "gold"}), conn)
    v = server.ok("POST", f"{base}/policies", key, wasm, conn)["version"]
    server.ok("PUT", f"{base}/policy-config", key, json.dumps(config), conn)
    server.ok("POST", f"{base}/policies/{v}/activate", key, b"", conn)
    return pos


def timed_eval(server, pos, conn=None):
    started = time.perf_counter()
    reply = server.ok("POST", "/pos/papaya/v1/discounts", pos, BILL, conn)
    return (time.perf_counter() - started) * 1000, reply


def cold(args):
    db = Db(args.database_url)
    try:
        wasm = build("examples/tier-category")
        config = {"tiers": {"gold": 10, "silver": 5}, "category": "Hot Beverages", "percentage": 20}
        s = Server(db)
        pos = merchant(s, "cold", wasm, config)
        s.stop()
        print(f"== cold first evaluation after a restart ({args.runs} restarts each; "
              f"tier-category, {len(wasm)} bytes)")
        for cache in ["true", "false"]:
            firsts, seconds = [], []
            for _ in range(args.runs):
                s = Server(db, "--compiled-cache", cache)
                first, reply = timed_eval(s, pos)
                second, _ = timed_eval(s, pos)
                assert reply["totalDiscount"] > 0, reply
                firsts.append(first)
                seconds.append(second)
                s.stop()
            print(f"compiled cache {cache:5}: first request median {statistics.median(firsts):7.1f} ms "
                  f"(min {min(firsts):.1f}, max {max(firsts):.1f}); "
                  f"second request median {statistics.median(seconds):.1f} ms")
    finally:
        db.cleanup()


def memory(args):
    n = args.merchants
    db = Db(args.database_url)
    try:
        base = build("examples/tier-discount")
        print(f"== memory: {n} merchants, each its own module (tier-discount + a distinct custom "
              f"section, {len(base) + 30} bytes)")
        s = Server(db)  # default bound: uploads keep at most 1000 compiled
        print(f"idle server: RSS {s.rss_mib():.0f} MiB")
        tokens = [None] * n
        started = time.time()

        def setup(worker, workers):
            conn = s.conn()
            for i in range(worker, n, workers):
                tokens[i] = merchant(s, f"m{i}", distinct(base, i),
                                     {"tiers": {"gold": 1 + i % 50}}, conn)
                if i % 1000 == 999:
                    print(f"  ... {i + 1} merchants set up after {time.time() - started:.0f} s, "
                          f"RSS {s.rss_mib():.0f} MiB", flush=True)
            conn.close()
        threads = [threading.Thread(target=setup, args=(w, 4)) for w in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(f"set up {n} merchants (upload = validate + compile + store artifact) in "
              f"{time.time() - started:.0f} s; RSS {s.rss_mib():.0f} MiB (at most 1000 kept loaded)")
        s.stop()
        if db.schema is None:
            size = os.path.getsize(f"{db.dir}/scale.db") / 2**20
            print(f"SQLite file: {size:.0f} MiB (modules, artifacts, everything)")

        def run(label, count, *flags):
            s = Server(db, *flags)
            idle = s.rss_mib()
            conn = s.conn()
            times = []
            started = time.time()
            for i in range(count):
                ms, reply = timed_eval(s, tokens[i], conn)
                assert reply["totalDiscount"] > 0, reply
                times.append(ms)
            took = time.time() - started
            again = [timed_eval(s, tokens[i], conn)[0] for i in range(min(count, 1000))]
            conn.close()
            print(f"{label}: idle RSS {idle:.0f} MiB -> {s.rss_mib():.0f} MiB after first evaluation of "
                  f"{count} merchants in {took:.1f} s (per merchant median {statistics.median(times):.2f} ms, "
                  f"p99 {sorted(times)[int(len(times) * 0.99) - 1]:.2f} ms); then a 2nd round of "
                  f"{len(again)} median {statistics.median(again):.2f} ms")
            s.stop()
        m1 = min(n, 1000)
        run(f"restart, unbounded, {m1} merchants", m1, "--max-loaded-policies", str(n * 2))
        run(f"restart, unbounded, {n} merchants", n, "--max-loaded-policies", str(n * 2))
        run(f"restart, --max-loaded-policies {args.bound}, {n} merchants", n,
            "--max-loaded-policies", str(args.bound))
        if args.skip_compile_run:
            return
        run(f"restart, no compiled cache, unbounded, {m1} merchants", m1,
            "--compiled-cache", "false", "--max-loaded-policies", str(n * 2))
    finally:
        db.cleanup()


def wrk(port, token, seconds, connections, script="bench/pos.lua",
        path="/pos/papaya/v1/discounts"):
    env = {**os.environ, "TOKEN": token}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", os.path.join(ROOT, script), f"http://127.0.0.1:{port}{path}"],
                         env=env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return rps, pct(50), pct(99)


def isolation(args):
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    db = Db(args.database_url)
    try:
        calm_wasm = build("examples/tier-discount")
        hog_wasm = build("host/sandbox/tests/fixtures/loop")
        s = Server(db, port=18091)
        calm = merchant(s, "calm", calm_wasm, {"tiers": {"gold": 10}})
        hog = merchant(s, "hog", hog_wasm, {})
        s.stop()
        print(f"== isolation: endpoint 1 of merchant 'calm' (wrk -t1 -c{args.calm_connections}, "
              f"{args.seconds} s), alone and while 'hog' (a policy that loops until its fuel or "
              f"deadline runs out) is hammered by wrk -t1 -c{args.hog_connections}")
        for bound in ["2", "1", "0"]:
            s = Server(db, "--merchant-concurrency", bound, port=18091)
            timed_eval(s, calm)
            timed_eval(s, hog)
            alone = wrk(s.port, calm, args.seconds, args.calm_connections)
            hammer = threading.Thread(target=lambda: hog_result.append(
                wrk(s.port, hog, args.seconds + 2, args.hog_connections)))
            hog_result = []
            hammer.start()
            time.sleep(1)
            loaded = wrk(s.port, calm, args.seconds, args.calm_connections)
            hammer.join()
            label = {"0": "no bound", "1": "1 per merchant", "2": "2 per merchant (default here)"}[bound]
            print(f"--merchant-concurrency {bound} ({label}):")
            print(f"  calm alone      : {alone[0]:8.0f} req/s  p50 {alone[1]:7.2f} ms  p99 {alone[2]:7.2f} ms")
            print(f"  calm + hog      : {loaded[0]:8.0f} req/s  p50 {loaded[1]:7.2f} ms  p99 {loaded[2]:7.2f} ms"
                  f"  (p99 ratio {loaded[2] / alone[2]:.1f}x)")
            print(f"  hog meanwhile   : {hog_result[0][0]:8.0f} req/s  p50 {hog_result[0][1]:7.2f} ms  "
                  f"p99 {hog_result[0][2]:7.2f} ms")
            s.stop()
    finally:
        db.cleanup()


def replicas(args):
    """Endpoint 1 with one replica, then two on the same database (the load split over
    both, same total connections); endpoint 2's durable throughput on one replica."""
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (apt-get install wrk)")
    db = Db(args.database_url)
    servers = []
    try:
        wasm = build("examples/tier-discount")
        a = Server(db, port=18092)
        servers.append(a)
        pos = merchant(a, "chain", wasm, {"tiers": {"gold": 10}})
        timed_eval(a, pos)
        c = args.calm_connections
        print(f"== replicas on {'PostgreSQL' if db.schema else 'SQLite'}: endpoint 1, wrk -t1 -c{c}, {args.seconds} s")
        one = wrk(a.port, pos, args.seconds, c)
        print(f"  1 replica       : {one[0]:8.0f} req/s  p50 {one[1]:7.2f} ms  p99 {one[2]:7.2f} ms")
        b = Server(db, port=18093)
        servers.append(b)
        timed_eval(b, pos)
        results = {}
        def run(name, port):
            results[name] = wrk(port, pos, args.seconds, max(c // 2, 1))
        threads = [threading.Thread(target=run, args=(n, s.port)) for n, s in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        total = results["a"][0] + results["b"][0]
        print(f"  2 replicas      : {total:8.0f} req/s in all; "
              + "; ".join(f"replica {n}: p50 {r[1]:.2f} ms, p99 {r[2]:.2f} ms" for n, r in sorted(results.items())))
        b.stop()
        servers.remove(b)
        tx = wrk(a.port, pos, args.seconds, c, script="bench/transactions.lua",
                 path="/pos/papaya/v1/transactions")
        print(f"  endpoint 2, 1 replica: {tx[0]:8.0f} durable tx/s  p50 {tx[1]:7.2f} ms  p99 {tx[2]:7.2f} ms")
    finally:
        for s in servers:
            s.stop()
        db.cleanup()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["cold", "memory", "isolation", "replicas"])
    p.add_argument("--database-url")
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--merchants", type=int, default=10000)
    p.add_argument("--bound", type=int, default=1000, help="memory: --max-loaded-policies for the bounded run")
    p.add_argument("--skip-compile-run", action="store_true", help="memory: skip the run without the compiled cache")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--calm-connections", type=int, default=4)
    p.add_argument("--hog-connections", type=int, default=32)
    args = p.parse_args()
    print(f"== machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"database {'PostgreSQL' if args.database_url else 'SQLite'}")
    {"cold": cold, "memory": memory, "isolation": isolation, "replicas": replicas}[args.what](args)


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)
    main()
