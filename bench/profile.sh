#!/usr/bin/env bash
# Where a till request's CPU goes (BENCHMARKS.md): one release server on SQLite (demo
# merchant), wrk on endpoint 1 (seed bill, then the 200-item bill) and endpoint 2 (a new
# order per request, one hot card), each with `perf record` on the server for the middle of
# the run; prints the top symbols by self time and by DSO.
#   bench/profile.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-64}"
PORT="${PORT:-28280}"
RABAT="${RABAT_BIN:-target/release/rabat}"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf; }

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
RUST_LOG=warn "$RABAT" serve --demo --bind "127.0.0.1:$PORT" \
  --database-url "sqlite://$work/profile.db" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 1200); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
base="http://127.0.0.1:$PORT"
profile() {
  local name=$1 script=$2 path=$3 bill=${4:-}
  echo "== $name"
  BILL="$bill" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s "$script" "$base$path" \
    > "$work/wrk.txt" &
  local load=$!
  sleep 2
  perf record -q -F 997 -g -o "$work/perf.data" -p "$server" -- sleep $((SECONDS_PER_RUN - 4)) 2>/dev/null
  wait "$load"
  grep -E 'Requests/sec|99%' "$work/wrk.txt"
  echo "-- by DSO"
  perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
  echo "-- top symbols (self)"
  perf report -i "$work/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null |
    grep -E '^ +[0-9]' | head -25 | cut -c1-150 || true
}
profile "endpoint 1, seed bill" bench/discount.lua /pos/papaya/v1/discounts examples/data/bills/papaya-discount-request.json
profile "endpoint 1, 200-item bill" bench/discount.lua /pos/papaya/v1/discounts examples/data/bills/big-200.json
profile "endpoint 2, one hot card" bench/transactions.lua /pos/papaya/v1/transactions
