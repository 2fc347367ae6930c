#!/usr/bin/env bash
# Keeps the calibration figure measured: redis-learn's pipelined GET loop must reach at least 80%
# of `redis-benchmark -P 16 -c 1` throughput on the same server and CPU. Runs `bench --calibrate`
# (nine alternating rounds) on a private redis-server and prints both throughputs and the share.
# Exit: 0 held or inconclusive (a busy machine cannot tell), 1 failed, 2 no redis-benchmark.
#
#   bash benches/calibrate.sh              # not pinned
#   bash benches/calibrate.sh --pin same-cpu
set -euo pipefail
cd "$(dirname "$0")/.."
command -v redis-benchmark >/dev/null || { echo "redis-benchmark not found: apt install redis-tools" >&2; exit 2; }
cargo build --release --quiet
out=$(./target/release/redis-learn bench --calibrate --private --json "$@")
python3 - "$out" <<'PY'
import json, sys
doc = json.loads(sys.argv[1])
for p in doc["pairs"]:
    med = lambda v: sorted(v)[(len(v) - 1) // 2]
    print(f'{p["id"]:>9} (-P {p["depth"]}): redis-benchmark {med(p["theirs_rps"]):>10,.0f} req/s, '
          f'redis-learn {med(p["ours_rps"]):>10,.0f} req/s, share {p["share"]:.0%} '
          f'[95% {p["share_low"]:.0%}–{p["share_high"]:.0%}]')
print(f'required: {doc["required_share"]:.0%} pipelined; status: {doc["status"]}')
sys.exit(1 if doc["status"] == "failed" else 0)
PY
