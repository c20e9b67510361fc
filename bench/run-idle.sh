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
start_parley $PARLEY_PORT $MOCK_PORT
start_peer $PEER_PORT $MOCK_PORT

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

python3 bench/sessions.py "http://127.0.0.1:$PARLEY_PORT" "$IDLE" --follow 100 --users 10 >"$WORK/readers"
rm -f "$OUT"/idle-*.json
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round: parley"; hold parley $PARLEY_PID "$round" --port $PARLEY_PORT --paths "$WORK/readers"
    echo "round $round: peer"; hold peer $PEER_PID "$round" --port $PEER_PORT --path /v1/idle
done
python3 - "$(machine_line)" "$IDLE" "$ROUNDS" >"$OUT/idle-streams.md" <<'PY'
import glob, json, statistics, sys
machine, idle, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runs = {}
for path in sorted(glob.glob("bench/out/idle-*-*.json")):
    result = json.load(open(path))
    runs.setdefault(result["mode"], []).append(result)
def cell(mode, key):
    values = [r[key] for r in runs.get(mode, [])]
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})" if values else "—"
print(f"## {idle:,} idle open streams (`make bench-idle`)\n")
print(f"{machine} parley: {idle:,} readers (`GET …/messages/{{id}}/events`) of 100 answers whose upstream is silent; "
      "peer: Hummingbird 2 SSE streams that only send a keep-alive comment. RSS from /proc before the streams open "
      f"and once all are open. {rounds} rounds, alternating; median (min–max).\n")
print("| measure | parley | peer |")
print("| --- | --- | --- |")
for label, key in [("streams open", "heads"), ("RSS before (KiB)", "rss_before_kib"), ("RSS with the streams open (KiB)", "rss_after_kib"),
                   ("RSS growth per stream (KiB)", "kib_per_stream")]:
    print(f"| {label} | {cell('parley', key)} | {cell('peer', key)} |")
PY
python3 bench/update_results.py idle-streams <"$OUT/idle-streams.md"
cat "$OUT/idle-streams.md"
