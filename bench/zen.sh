#!/usr/bin/env bash
# rabat's policy call against GoRules Zen, in one run on one pinned core (BENCHMARKS.md,
# "One evaluation against GoRules Zen"): `bench/zen/` (zen-engine, the tier + category
# policy as a precompiled JDM decision, input pre-converted) and rabat's
# `cargo bench -p rabat-sandbox --bench evaluate` (the `tier-category` example, fresh
# instance per call, host money included), interleaved ROUNDS times, then the ratios.
#   bench/zen.sh [rounds] [measurement seconds] [core]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
MEASURE="${2:-3}"
CORE="${3:-1}"
ZEN_TARGET="$PWD/target/zen"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "building (release) ..." >&2
cargo bench -q -p rabat-sandbox --bench evaluate --no-run >&2
(cd bench/zen && CARGO_TARGET_DIR="$ZEN_TARGET" cargo bench -q --bench zen --no-run >&2)

args=(--warm-up-time 1 --measurement-time "$MEASURE" --noplot)
for round in $(seq 1 "$ROUNDS"); do
  echo "round $round: zen" >&2
  (cd bench/zen && CARGO_TARGET_DIR="$ZEN_TARGET" taskset -c "$CORE" cargo bench -q --bench zen -- "${args[@]}") \
    > "$out/zen-$round.txt" 2>&1
  echo "round $round: rabat" >&2
  taskset -c "$CORE" cargo bench -q -p rabat-sandbox --bench evaluate -- "${args[@]}" \
    > "$out/rabat-$round.txt" 2>&1
done

python3 - "$out" "$ROUNDS" <<'PY'
import re, sys, statistics
out, rounds = sys.argv[1], int(sys.argv[2])
UNITS = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3, "s": 1e6}

def medians(path):
    """{(case, bill): median µs} from criterion's text output."""
    found, name = {}, None
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^(evaluate/\S+)", line)
        if m:
            name = m.group(1)
        t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
        if t and name:
            parts = name.split("/")  # evaluate/<bill>/<case>/<bill>
            found[(parts[2], parts[1])] = float(t.group(1)) * UNITS[t.group(2)]
            name = None
    return found

bills = ["3-items", "200-items", "1000-items"]
cases = ["native", "floor", "wasm", "zen"]
ratios = {b: {c: [] for c in cases} for b in bills}
for r in range(1, rounds + 1):
    got = {**medians(f"{out}/zen-{r}.txt"), **medians(f"{out}/rabat-{r}.txt")}
    print(f"round {r}: medians, µs (ratio to zen)")
    print("| case | " + " | ".join(bills) + " |")
    print("|---|" + "---:|" * len(bills))
    for c in cases:
        cells = []
        for b in bills:
            v, z = got.get((c, b)), got.get(("zen", b))
            if v is None or z is None:
                cells.append("—")
                continue
            ratios[b][c].append(v / z)
            cells.append(f"{v:.2f} ({v / z:.2f}×)")
        print(f"| {c} | " + " | ".join(cells) + " |")
    print()
print("ratio to Zen, all rounds (min – max)")
print("| case | " + " | ".join(bills) + " |")
print("|---|" + "---:|" * len(bills))
for c in cases[:-1]:
    cells = []
    for b in bills:
        xs = ratios[b][c]
        cells.append(f"{min(xs):.2f} – {max(xs):.2f}" if xs else "—")
    print(f"| {c} | " + " | ".join(cells) + " |")
PY
