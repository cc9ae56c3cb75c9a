#!/usr/bin/env bash
# What contract 0.3's card extras cost endpoint 1, in one run: the demo (SQLite, release
# build) answers the seed bill with the same tier discount built on contract 0.3 (the card's
# available points, wallet and profile read for it: three indexed reads) and on 0.2 (the
# recorded fixture, no extra reads), alternating A B A B so drift shows. Same answer, same
# config, one live campaign.
#   bench/contract-ab.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-32}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release -q -p rabat
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
target/release/rabat serve --demo --bind "127.0.0.1:$port" --database-url "sqlite://$work/rabat.db" \
  >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 2400); do curl -fsS "$base/readyz" >/dev/null 2>&1 && break; sleep 0.05; done
M=$base/admin/v1/merchants/demo
KEY='Authorization: Bearer demo-api-key'
curl -fsS -X POST "$M/campaigns/2/pause" -H "$KEY" >/dev/null
v02=$(curl -fsS -X POST "$M/policies?note=tier-discount%200.2" -H "$KEY" \
  -H 'Content-Type: application/wasm' \
  --data-binary @host/sandbox/tests/fixtures/v0_2/tier-discount.wasm |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
activate() { curl -fsS -X POST "$M/policies/$1/activate" -H "$KEY" >/dev/null; sleep 1; }
run() {
  wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_RUN}s" --latency -s bench/discount.lua \
    "$base/pos/papaya/v1/discounts" |
    awk -v name="$1" '/Requests\/sec/ {rps=$2} /^ +99%/ {p99=$2} /^ +50%/ {p50=$2}
      END {printf "%-24s %10s req/s  p50 %8s  p99 %8s\n", name, rps, p50, p99}'
}
for round in 1 2; do
  activate 1
  run "0.3 (extras read)"
  activate "$v02"
  run "0.2 (no extras)"
done
