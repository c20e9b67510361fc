#!/usr/bin/env bash
# What several instances cost: the delay of a reader on another instance behind the owner's
# own reader (live tails through Redis), and a rolling restart of three instances behind nginx
# under 200 streamed chats. Both are the cluster tests (they start PostgreSQL, Redis, nginx and
# the instances in throwaway folders), run ROUNDS times on the release binary; they print one
# `cluster-figures` line each. Updates the `cluster` section of bench/RESULTS.md. There is no
# peer: the Hummingbird proxy has no instances to share answers between.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
echo "building parley (release) and the tests…"
swift build -c release --static-swift-stdlib --product parley >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
PARLEY_BIN="$(swift build -c release --static-swift-stdlib --product parley --show-bin-path)/parley"
swift build --build-tests >"$OUT/build-tests.log" 2>&1 || { cat "$OUT/build-tests.log"; exit 1; }
rm -f "$OUT/cluster.lines"
for round in $(seq 1 "$ROUNDS"); do
    PARLEY_BIN="$PARLEY_BIN" swift test --skip-build --disable-xctest \
        --filter 'aReaderOnAnotherInstanceGetsEveryByteLive|twoHundredChatsSurviveARollingRestart' >"$OUT/cluster-$round.log" 2>&1 \
        || { cat "$OUT/cluster-$round.log"; exit 1; }
    grep -o 'cluster-figures .*' "$OUT/cluster-$round.log" | cut -d' ' -f2- >>"$OUT/cluster.lines"
done
python3 - "$(machine_line)" "$ROUNDS" >"$OUT/cluster.md" <<'PY'
import json, statistics, sys
machine, rounds = sys.argv[1:3]
lines = [json.loads(line) for line in open("bench/out/cluster.lines")]
tails = [l for l in lines if "tail_p50_ms" in l]
restarts = [l for l in lines if "restart_seconds" in l]
def cell(values, digits=1):
    values = sorted(values)
    return f"{statistics.median(values):,.{digits}f} ({values[0]:,.{digits}f}–{values[-1]:,.{digits}f})"
print("## Several instances (`make bench-cluster`)\n")
print(f"{machine} The cluster tests on the release binary, {rounds} rounds; median (min–max). Tail delay: two "
      "instances on one PostgreSQL and Redis, four answers of 60 tokens 25 ms apart; for every byte offset the owner's "
      "reader reached, how much later a reader on the other instance reached it. Rolling restart: three instances "
      "behind nginx, 200 clients each sending two streamed messages (50 tokens 100 ms apart), each instance in turn "
      "given SIGTERM (2 s grace) and started again; clients resend with their Idempotency-Key and resume with "
      "Last-Event-ID through nginx.\n")
print("| measure | value |")
print("| --- | --- |")
print(f"| tail delay p50 (ms) | {cell([t['tail_p50_ms'] for t in tails], 2)} |")
print(f"| tail delay p99 (ms) | {cell([t['tail_p99_ms'] for t in tails], 2)} |")
print(f"| rolling restart of three instances (s) | {cell([r['restart_seconds'] for r in restarts])} |")
print(f"| answers cut by a drain (of 400) | {cell([r['clients']['statuses'].get('interrupted', 0) for r in restarts], 0)} |")
print(f"| answers complete (of 400) | {cell([r['clients']['statuses'].get('complete', 0) for r in restarts], 0)} |")
print(f"| stream resumes | {cell([r['clients']['resumes'] for r in restarts], 0)} |")
print(f"| sends sent again (no `start` came) | {cell([r['clients']['resends'] for r in restarts], 0)} |")
print(f"| chats from first send to last check (s) | {cell([r['clients']['seconds'] for r in restarts])} |")
print(f"| differences between what clients got and what was stored | {sum(len(r['clients']['problems']) for r in restarts)} |")
PY
python3 bench/update_results.py cluster <"$OUT/cluster.md"
cat "$OUT/cluster.md"
