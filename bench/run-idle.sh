#!/usr/bin/env bash
# 10,000 idle open SSE streams: RSS growth per stream. parley: readers of answers that have not
# produced a token yet (GET …/messages/{id}/events, IDLE readers spread over 100 answers whose
# upstream is silent for a minute); peer: Hummingbird 2's GET /v1/idle, an SSE stream that only
# sends a keep-alive comment. ROUNDS rounds, alternating. Updates the `idle-streams` section.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
IDLE=${IDLE:-10000}
MOCK_PORT=18095 PARLEY_PORT=18096 PEER_PORT=18097

build_all
start_mock $MOCK_PORT
# hold NAME PID ROUND LOAD-ARGS…: opens the streams, reads RSS once all are open, then lets go.
hold() {
    local name=$1 pid=$2 round=$3 before after; shift 3
    sleep 1
    before=$(rss_kib "$pid")
    "$LOAD" --label "$name" --method GET --streams "$IDLE" --hold-seconds 2 --ramp 500 "$@" >"$WORK/load.json" 2>"$WORK/ready" &
    local load=$!
    for _ in $(seq 1 600); do grep -q ready "$WORK/ready" && break; sleep 0.1; done
    grep -q ready "$WORK/ready" || { echo "$name: the streams did not all open"; cat "$WORK/ready"; exit 1; }
    sleep 1
    after=$(rss_kib "$pid")
    wait $load
    python3 - "$WORK/load.json" "$before" "$after" "$IDLE" >"$OUT/idle-$name-$round.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
before, after, streams = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
result.update(rss_before_kib=before, rss_after_kib=after, kib_per_stream=round((after - before) / streams, 2))
print(json.dumps(result))
PY
    cat "$OUT/idle-$name-$round.json"
}

rm -f "$OUT"/idle-*.json
# Each round starts both servers afresh: memory a process has once taken and freed is reused
# by the next round's streams, which would hide what a stream costs.
for round in $(seq 1 "$ROUNDS"); do
    start_parley $PARLEY_PORT $MOCK_PORT
    python3 bench/sessions.py "http://127.0.0.1:$PARLEY_PORT" "$IDLE" --follow 100 --users 10 >"$WORK/readers"
    echo "round $round: parley"; hold parley $PARLEY_PID "$round" --port $PARLEY_PORT --paths "$WORK/readers"
    kill $PARLEY_PID; wait $PARLEY_PID 2>/dev/null || true
    rm -f "$WORK"/parley-*.db*
    start_peer $PEER_PORT $MOCK_PORT
    echo "round $round: peer"; hold peer $PEER_PID "$round" --port $PEER_PORT --path /v1/idle
    kill $PEER_PID; wait $PEER_PID 2>/dev/null || true
done
python3 - "$(machine_line)" "$IDLE" "$ROUNDS" >"$OUT/idle-streams.md" <<'PY'
import glob, sys
sys.path.insert(0, "bench")
from stats import Rounds
machine, idle, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = Rounds(sorted(glob.glob("bench/out/idle-*-*.json")))
print(f"## {idle:,} idle open streams (`make bench-idle`)\n")
print(f"{machine} parley: {idle:,} readers (`GET …/messages/{{id}}/events`) of 100 answers whose upstream is silent; "
      "peer: Hummingbird 2 SSE streams that only send a keep-alive comment. RSS from /proc before the streams open "
      f"and once all are open, each round in newly started servers. {rounds} rounds, alternating; median (min–max).\n")
print("| measure | parley | peer |")
print("| --- | --- | --- |")
for label, key, digits in [("streams open", "heads", 0), ("RSS before (KiB)", "rss_before_kib", 0),
                           ("RSS with the streams open (KiB)", "rss_after_kib", 0), ("RSS growth per stream (KiB)", "kib_per_stream", 1)]:
    print(f"| {label} | {runs.cell('parley', key, digits)} | {runs.cell('peer', key, digits)} |")
PY
python3 bench/update_results.py idle-streams <"$OUT/idle-streams.md"
cat "$OUT/idle-streams.md"
