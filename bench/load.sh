#!/usr/bin/env bash
# The till's load table (BENCHMARKS.md) in one run: a release build, then bench/load.py on
# SQLite and — when a PostgreSQL URL is given — on PostgreSQL with one and two replicas:
# trivial GET /healthz, endpoint 1 with the seed bill and the 200-item bill, endpoint 2 on
# one hot card and over 1 000 cards, then SIGKILL and the durability count.
#   bench/load.sh [seconds] [connections] [postgres-url]
# (the URL may also come from RABAT_BENCH_POSTGRES_URL)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_RUN="${1:-10}"
CONNECTIONS="${2:-64}"
POSTGRES="${3:-${RABAT_BENCH_POSTGRES_URL:-}}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
# The pinned toolchain, only if missing (reinstalling under running builds breaks them).
cargo --version >/dev/null 2>&1 || rustup toolchain install >/dev/null
cargo build --release -q -p rabat

exec python3 bench/load.py --seconds "$SECONDS_PER_RUN" --connections "$CONNECTIONS" \
  ${POSTGRES:+--postgres "$POSTGRES"}
