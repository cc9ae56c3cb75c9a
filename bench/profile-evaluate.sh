#!/usr/bin/env bash
# Where one policy call's time goes (BENCHMARKS.md): `perf record` on
# `cargo bench -p rabat-sandbox --bench evaluate` running one case for a while, pinned to
# one core, with wasmtime writing a perf map so the policy's own functions have names.
#   bench/profile-evaluate.sh [case, e.g. evaluate/3-items/wasm/3-items] [seconds] [core]
set -euo pipefail
cd "$(dirname "$0")/.."
CASE="${1:-evaluate/3-items/wasm/3-items}"
SECONDS_TO_RUN="${2:-10}"
CORE="${3:-1}"
command -v perf >/dev/null || { apt-get update -qq && apt-get install -y -qq linux-perf; }
bin=$(cargo bench -p rabat-sandbox --bench evaluate --no-run 2>&1 |
  sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
# cargo prints the path relative to the workspace; the run below is from host/sandbox.
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
[ -x "$bin" ] || { echo "bench binary not found" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd host/sandbox && RABAT_BENCH_PERF_MAP=1 taskset -c "$CORE" \
  perf record -q -F 4999 -g -o "$work/perf.data" -- \
  "$bin" --bench --profile-time "$SECONDS_TO_RUN" "^${CASE}\$" > "$work/bench.txt" 2>&1) || true
echo "== $CASE: by DSO"
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -8 || true
echo "== top symbols (self)"
perf report -i "$work/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null |
  grep -E '^ +[0-9]' | head -${TOP:-40} | cut -c1-160 || true
