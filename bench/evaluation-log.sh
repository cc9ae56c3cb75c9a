#!/usr/bin/env bash
# The evaluation log at a thousand merchants (BENCHMARKS.md, issue 23): builds the log at
# 1 000 merchants x 10 000 rows plus 30 days of a 1 000-bill-a-day merchant, on SQLite and
# (when a URL is given) PostgreSQL, and times a housekeeping pass with nothing to remove,
# one that removes a day (with endpoint 2's bill latency meanwhile), the console's list and
# stats queries, and the old prune statement over the same rows.
#   bench/evaluation-log.sh [postgres-url]
# (the URL may also come from RABAT_BENCH_POSTGRES_URL). Smaller runs:
#   RABAT_BENCH_MERCHANTS=200 RABAT_BENCH_ROWS=10000 bench/evaluation-log.sh
set -euo pipefail
cd "$(dirname "$0")/.."
POSTGRES="${1:-${RABAT_BENCH_POSTGRES_URL:-}}"
DB="${RABAT_BENCH_SQLITE:-${TMPDIR:-/tmp}/rabat-evlog-bench.db}"

cargo bench -q -p rabat-store --bench evaluation_log --no-run
RABAT_BENCH_DATABASE_URL="$DB" cargo bench -q -p rabat-store --bench evaluation_log
rm -f "$DB" "$DB-wal" "$DB-shm"
if [ -n "$POSTGRES" ]; then
  RABAT_BENCH_DATABASE_URL="$POSTGRES" cargo bench -q -p rabat-store --bench evaluation_log
fi
