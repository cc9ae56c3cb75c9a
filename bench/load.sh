#!/usr/bin/env bash
# Load benchmark of the HTTP surface (BENCHMARKS.md): a trivial endpoint (/healthz),
# Papaya endpoint 1 with the demo policy, and endpoint 2's durable throughput on SQLite,
# all against one release server on loopback, in one run. Then checks that every
# acknowledged transaction is in the ledger.
#   bench/load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-64}"
PORT="${PORT:-18080}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
rustup toolchain install >/dev/null
cargo build --release -q -p rabat

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
RUST_LOG=warn ./target/release/rabat serve --demo --bind "127.0.0.1:$PORT" \
  --database-url "sqlite://$work/load.db" > "$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 600); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }

base="http://127.0.0.1:$PORT"
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "== trivial endpoint: GET /healthz"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency "$base/healthz"
echo "== endpoint 1: POST /pos/papaya/v1/discounts (demo tier-discount policy, seed bill)"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/discount.lua "$base/pos/papaya/v1/discounts"
echo "== endpoint 2: POST /pos/papaya/v1/transactions (a new order each, durable)"
wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/transactions.lua "$base/pos/papaya/v1/transactions" | tee "$work/tx.txt"

acknowledged=$(grep -m1 '^acknowledged:' "$work/tx.txt" | awk '{print $2}')
# Stop the server hard: what was acknowledged must already be on disk.
kill -9 "$server"; wait "$server" 2>/dev/null || true
recorded=$(python3 - "$work/load.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT COUNT(*) FROM ledger WHERE order_id LIKE 'load-%'").fetchone()[0])
PY
)
echo "== durability: acknowledged $acknowledged, in the ledger after SIGKILL $recorded"
if [ "$recorded" -lt "$acknowledged" ]; then echo "LOST TRANSACTIONS"; exit 1; fi
