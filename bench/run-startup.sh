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
    MIGRATIONS_DIR="$PWD/migrations" python3 bench/startup.py parley 18104 1 --sign-ins 10 -- "$PARLEY_BIN" serve >>"$OUT/startup-parley.json"
    python3 bench/startup.py peer 18105 1 -- "$PEER_BIN" >>"$OUT/startup-peer.json"
done
python3 - "$(machine_line)" "$ROUNDS" >"$OUT/startup.md" <<'PY'
import json, statistics, sys
machine, rounds = sys.argv[1:3]
runs = {mode: [json.loads(line) for line in open(f"bench/out/startup-{mode}.json")] for mode in ("parley", "peer")}
def cell(mode, key, scale=1, digits=1):
    values = [r[key] / scale for r in runs[mode] if key in r]
    return f"{statistics.median(values):,.{digits}f} ({min(values):,.{digits}f}–{max(values):,.{digits}f})" if values else "—"
print("## Start-up and idle memory (`make bench-startup`)\n")
print(f"{machine} From spawning the binary to the first answered `GET /health` (polled every millisecond); parley "
      "starts on a new SQLite file, so it creates it and applies its migrations first. RSS one idle second later, and "
      f"parley's after 10 sign-ins. {rounds} starts each, alternating; median (min–max).\n")
print("| measure | parley | peer |")
print("| --- | --- | --- |")
print(f"| start-up to first answer (ms) | {cell('parley', 'startup_ms')} | {cell('peer', 'startup_ms')} |")
print(f"| idle RSS (MiB) | {cell('parley', 'idle_rss_kib', 1024)} | {cell('peer', 'idle_rss_kib', 1024)} |")
print(f"| RSS after 10 sign-ins (MiB) | {cell('parley', 'rss_after_sign_ins_kib', 1024)} | — |")
PY
python3 bench/update_results.py startup <"$OUT/startup.md"
cat "$OUT/startup.md"
