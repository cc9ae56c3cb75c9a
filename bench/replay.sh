#!/usr/bin/env bash
# What-if replay benchmark (BENCHMARKS.md): one release server on SQLite with the demo
# merchant; endpoint 1 fills the evaluation log with >= 10 000 distinct bills; then
#   1. replay of the newest 10 000 bills against the active version, three times
#      (bills/s from the server's own summary.durationMillis, and curl's wall time);
#   2. live endpoint-1 latency without a replay, then with replays running back to back
#      (same wrk settings, same run), to see what a replay costs the tills.
#   bench/replay.sh [seconds-per-latency-run] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-15}"
CONNECTIONS="${2:-8}"
PORT="${PORT:-18081}"
BILLS=10000

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
rustup toolchain install >/dev/null
cargo build --release -q -p rabat

work=$(mktemp -d)
trap 'kill "$loop" 2>/dev/null || true; kill "$server" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
loop=
# /metrics needs a bearer token: a dedicated scrape token for this run.
metrics="Authorization: Bearer bench-metrics-token-$$"
RABAT_METRICS_TOKEN="bench-metrics-token-$$" RUST_LOG=warn ./target/release/rabat serve --demo --bind "127.0.0.1:$PORT" \
  --database-url "sqlite://$work/replay.db" > "$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$PORT"
for _ in $(seq 1 600); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "$base/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }
key='Authorization: Bearer demo-api-key'
replay="$base/admin/v1/merchants/demo/policies/1/replay"

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== filling the evaluation log with distinct bills (endpoint 1, demo policy)"
distinct_bills() {
  python3 - "$work/replay.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(DISTINCT order_id) FROM evaluations").fetchone()[0])
PY
}
while [ "$(distinct_bills)" -lt "$BILLS" ]; do
  wrk -t2 -c16 -d5s -s bench/unique-bills.lua "$base/pos/papaya/v1/discounts" >/dev/null
  until curl -s -H "$metrics" "$base/metrics" | grep -q '^rabat_evaluation_log_backlog 0$'; do sleep 0.2; done
done
echo "distinct bills in the log: $(distinct_bills)"

echo "== replay of the newest $BILLS bills, three times"
for run in 1 2 3; do
  curl -s -o "$work/replay.json" -w '%{time_total}\n' "$replay" -H "$key" \
    -d "{\"limit\":$BILLS,\"onlyChanged\":true}" > "$work/wall.txt"
  python3 - "$work/replay.json" "$(cat "$work/wall.txt")" "$run" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
wall = float(sys.argv[2])
ms = max(s["durationMillis"], 1)
print(f"run {sys.argv[3]}: {s['ordersCompared']} bills in {ms} ms on the replay thread "
      f"= {s['ordersCompared'] * 1000 / ms:,.0f} bills/s; wall {wall:.2f} s incl. reading the log "
      f"= {s['ordersCompared'] / wall:,.0f} bills/s; changed {s['changed']}, failures {s['failures']}")
PY
done

echo "== live endpoint 1 without a replay (wrk -t1 -c$CONNECTIONS, ${SECONDS_PER_RUN}s)"
wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/discount.lua "$base/pos/papaya/v1/discounts" |
  grep -E 'Requests/sec|50%|90%|99%'
echo "== live endpoint 1 while replays of $BILLS bills run back to back"
(while true; do curl -s -o /dev/null "$replay" -H "$key" -d "{\"limit\":$BILLS,\"onlyChanged\":true}"; done) &
loop=$!
sleep 1
wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/discount.lua "$base/pos/papaya/v1/discounts" |
  grep -E 'Requests/sec|50%|90%|99%'
kill "$loop" 2>/dev/null || true
echo "== replays completed during that run: $(curl -s -H "$metrics" "$base/metrics" |
  awk -F' ' '/^rabat_http_requests_total\{route="\/admin\/v1\/merchants\/\{m\}\/policies\/\{v\}\/replay"/ {n+=$2} END {print n-3}')"
echo "== live endpoint 1 without a replay, again"
wrk -t1 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/discount.lua "$base/pos/papaya/v1/discounts" |
  grep -E 'Requests/sec|50%|90%|99%'
