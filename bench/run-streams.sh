#!/usr/bin/env bash
# 1,000 concurrent streamed chats (50 tokens, 20 ms apart) through `parley mock-llm`: straight
# to the mock (the ceiling), through parley's real send route (auth, limits in process,
# SQLite writes), and through the Hummingbird peer's proxy, alternating, ROUNDS rounds each.
# Client: bench/sse_load.py (asyncio). Server CPU from /proc/PID/stat. Updates the streams
# section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-1000}
TOKENS=${TOKENS:-50}
DELAY_MS=${DELAY_MS:-20}
MOCK_PORT=18092 PARLEY_PORT=18093 PEER_PORT=18094
OUT=bench/out
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"  # 1,000 streams need 2,000+ descriptors per process

swift build -c release >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
(cd bench/hummingbird-peer && swift build -c release --scratch-path ../../.build-peer) >"$OUT/build-peer.log" 2>&1 \
    || { cat "$OUT/build-peer.log"; exit 1; }
PARLEY_BIN="$(swift build -c release --show-bin-path)/parley"
PEER_BIN="$(cd bench/hummingbird-peer && swift build -c release --scratch-path ../../.build-peer --show-bin-path)/HummingbirdPeer"
work=$(mktemp -d /tmp/parley-bench.XXXXXX)

"$PARLEY_BIN" mock-llm --port $MOCK_PORT --log-format json >"$OUT/mock.log" 2>&1 &
MOCK_PID=$!
PORT=$PARLEY_PORT LOG_LEVEL=warning HTTP_MAX_CONNECTIONS=100000 DATABASE_URL="sqlite://$work/parley.db" \
    LLM_BASE_URL="http://127.0.0.1:$MOCK_PORT/v1" LLM_MODEL=mock-model \
    CHAT_RATE_LIMIT_PER_MINUTE=0 CHAT_DAILY_MESSAGE_QUOTA=0 CHAT_MAX_CONCURRENT_STREAMS=0 AUTH_RATE_LIMIT_PER_MINUTE=0 \
    "$PARLEY_BIN" serve >"$OUT/parley-streams.log" 2>&1 &
PARLEY_PID=$!
PEER_PORT=$PEER_PORT UPSTREAM_URL="http://127.0.0.1:$MOCK_PORT/v1" "$PEER_BIN" >"$OUT/peer-streams.log" 2>&1 &
PEER_PID=$!
trap 'kill $MOCK_PID $PARLEY_PID $PEER_PID 2>/dev/null || true; rm -rf "$work"' EXIT

for port in $PARLEY_PORT $PEER_PORT; do
    for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done
token=$(curl -fsS -H 'Content-Type: application/json' -d '{"email":"bench@example.org","password":"bench password"}' \
    "http://127.0.0.1:$PARLEY_PORT/v1/auth/register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() {  # run MODE PORT PID ROUND
    local before after
    before=$(cpu "$3")
    python3 bench/sse_load.py --mode "$1" --url "http://127.0.0.1:$2" --streams "$STREAMS" --tokens "$TOKENS" \
        --delay-ms "$DELAY_MS" --token "$token" >"$OUT/streams-$1-$4.json"
    after=$(cpu "$3")
    python3 - "$OUT/streams-$1-$4.json" "$((after - before))" "$(getconf CLK_TCK)" <<'PY'
import json, sys
path, ticks, hz = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
result = json.load(open(path))
result["server_cpu_s"] = ticks / hz
result["cpu_ms_per_1000_tokens"] = round(1000 * result["server_cpu_s"] / max(1, result["tokens_received"]) * 1000, 1)
json.dump(result, open(path, "w"))
print(json.dumps(result))
PY
}
# Warm-up: first-touch costs out of the way.
python3 bench/sse_load.py --mode parley --url "http://127.0.0.1:$PARLEY_PORT" --streams 50 --tokens 5 --delay-ms 1 --token "$token" >/dev/null
python3 bench/sse_load.py --mode peer --url "http://127.0.0.1:$PEER_PORT" --streams 50 --tokens 5 --delay-ms 1 >/dev/null
rm -f "$OUT"/streams-*-*.json
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    run direct $MOCK_PORT $MOCK_PID "$round"
    run parley $PARLEY_PORT $PARLEY_PID "$round"
    run peer $PEER_PORT $PEER_PID "$round"
done
echo "parley RSS after the runs: $(ps -o rss= -p $PARLEY_PID) KiB; peer: $(ps -o rss= -p $PEER_PID) KiB" | tee "$OUT/streams-rss.txt"
python3 bench/summarize_streams.py >"$OUT/streams.md"
python3 bench/update_results.py streams <"$OUT/streams.md"
cat "$OUT/streams.md"
