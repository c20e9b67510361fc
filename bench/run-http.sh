#!/usr/bin/env bash
# GET /health, keep-alive: parley against its Hummingbird 2 peer, measured alternately in one run.
# Writes medians (with min–max) of ROUNDS rounds per server and connection count to bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-"64 256"}
PARLEY_PORT=${PARLEY_PORT:-18090}
PEER_PORT=${PEER_PORT:-18091}
OUT=bench/out
mkdir -p "$OUT"

echo "building parley and the peer (release)…"
swift build -c release >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
(cd bench/hummingbird-peer && swift build -c release --scratch-path ../../.build-peer) >"$OUT/build-peer.log" 2>&1 \
    || { cat "$OUT/build-peer.log"; exit 1; }
PARLEY_BIN="$(swift build -c release --show-bin-path)/parley"
PEER_BIN="$(cd bench/hummingbird-peer && swift build -c release --scratch-path ../../.build-peer --show-bin-path)/HummingbirdPeer"

PORT=$PARLEY_PORT LOG_LEVEL=warning HTTP_MAX_CONNECTIONS=100000 "$PARLEY_BIN" serve >"$OUT/parley.log" 2>&1 &
PARLEY_PID=$!
PEER_PORT=$PEER_PORT "$PEER_BIN" >"$OUT/peer.log" 2>&1 &
PEER_PID=$!
trap 'kill $PARLEY_PID $PEER_PID 2>/dev/null || true' EXIT

for port in $PARLEY_PORT $PEER_PORT; do
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 0.1
    done
done
curl -fs "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null || { echo "parley did not start"; cat "$OUT/parley.log"; exit 1; }
curl -fs "http://127.0.0.1:$PEER_PORT/health" >/dev/null || { echo "peer did not start"; cat "$OUT/peer.log"; exit 1; }

# Warm both up so neither pays for first-touch page faults in round one.
wrk -t2 -c64 -d2s "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null
wrk -t2 -c64 -d2s "http://127.0.0.1:$PEER_PORT/health" >/dev/null

: >"$OUT/raw.tsv"
for c in $CONNECTIONS; do
    for round in $(seq 1 "$ROUNDS"); do
        for server in parley hummingbird; do
            port=$PARLEY_PORT; [ $server = hummingbird ] && port=$PEER_PORT
            echo "round $round, $c connections: $server"
            wrk -t2 -c"$c" -d"$DURATION" --latency "http://127.0.0.1:$port/health" >"$OUT/wrk-$server-$c-$round.txt"
            printf '%s\t%s\t%s\t%s\n' "$server" "$c" "$round" "$OUT/wrk-$server-$c-$round.txt" >>"$OUT/raw.tsv"
        done
    done
done
PARLEY_RSS=$(ps -o rss= -p $PARLEY_PID | tr -d ' ')
PEER_RSS=$(ps -o rss= -p $PEER_PID | tr -d ' ')

python3 bench/summarize_http.py "$OUT/raw.tsv" "$PARLEY_RSS" "$PEER_RSS" "$DURATION" "$ROUNDS" >"$OUT/http.md"
python3 bench/update_results.py http <"$OUT/http.md"
cat "$OUT/http.md"
