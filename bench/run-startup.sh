#!/usr/bin/env bash
# Start-up time to the first answered GET /health (parley on a fresh SQLite file, so its
# migrations run first) and idle RSS, parley against the Hummingbird peer, alternating, ROUNDS
# rounds; parley's RSS also after 10 sign-ins (argon2id works in 19 MiB per hash). Updates the
# `startup` section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-5}
build_all
rm -f "$OUT"/startup-*.json
for round in $(seq 1 "$ROUNDS"); do
    python3 bench/startup.py parley 18104 1 --sign-ins 10 -- "$PARLEY_BIN" serve >>"$OUT/startup-parley.json"
    python3 bench/startup.py peer 18105 1 -- "$PEER_BIN" >>"$OUT/startup-peer.json"
done
python3 - "$(machine_line)" "$ROUNDS" >"$OUT/startup.md" <<'PY'
import sys
sys.path.insert(0, "bench")
from stats import Rounds
machine, rounds = sys.argv[1:3]
runs = Rounds(["bench/out/startup-parley.json", "bench/out/startup-peer.json"])
cell = runs.cell
print("## Start-up and idle memory (`make bench-startup`)\n")
print(f"{machine} From spawning the binary to the first answered `GET /health` (polled every millisecond); parley "
      "starts on a new SQLite file, so it creates it and applies its migrations first. RSS one idle second later, and "
      f"parley's after 10 sign-ins. {rounds} starts each, alternating; median (min–max).\n")
print("| measure | parley | peer |")
print("| --- | --- | --- |")
print(f"| start-up to first answer (ms) | {cell('parley', 'startup_ms')} | {cell('peer', 'startup_ms')} |")
print(f"| idle RSS (MiB) | {cell('parley', 'idle_rss_kib', scale=1024)} | {cell('peer', 'idle_rss_kib', scale=1024)} |")
print(f"| RSS after 10 sign-ins (MiB) | {cell('parley', 'rss_after_sign_ins_kib', scale=1024)} | — |")
PY
python3 bench/update_results.py startup <"$OUT/startup.md"
cat "$OUT/startup.md"
