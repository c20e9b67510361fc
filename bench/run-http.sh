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
source bench/lib.sh

build_all
start_parley $PARLEY_PORT 9  # no upstream is called for GET /health
start_peer $PEER_PORT 9

# Warm both up so neither pays for first-touch page faults in round one.
wrk -t2 -c64 -d2s "http://127.0.0.1:$PARLEY_PORT/health" >/dev/null
wrk -t2 -c64 -d2s "http://127.0.0.1:$PEER_PORT/health" >/dev/null

: >"$OUT/raw.tsv"
for c in $CONNECTIONS; do
    for round in $(seq 1 "$ROUNDS"); do
        for server in parley hummingbird; do
            port=$PARLEY_PORT; [ $server = hummingbird ] && port=$PEER_PORT
            echo "round $round, $c connections: $server"
            pid=$PARLEY_PID; [ $server = hummingbird ] && pid=$PEER_PID
            before=$(cpu_ticks "$pid")
            wrk -t2 -c"$c" -d"$DURATION" --latency "http://127.0.0.1:$port/health" >"$OUT/wrk-$server-$c-$round.txt"
            # The server's own CPU time (from /proc), whatever share of the cores wrk took.
            echo "server CPU seconds: $(python3 -c "print(($(cpu_ticks "$pid") - $before) / $(getconf CLK_TCK))")" >>"$OUT/wrk-$server-$c-$round.txt"
            printf '%s\t%s\t%s\t%s\n' "$server" "$c" "$round" "$OUT/wrk-$server-$c-$round.txt" >>"$OUT/raw.tsv"
        done
    done
done
PARLEY_RSS=$(ps -o rss= -p $PARLEY_PID | tr -d ' ')
PEER_RSS=$(ps -o rss= -p $PEER_PID | tr -d ' ')

python3 bench/summarize_http.py "$OUT/raw.tsv" "$PARLEY_RSS" "$PEER_RSS" "$DURATION" "$ROUNDS" >"$OUT/http.md"
python3 bench/update_results.py http <"$OUT/http.md"
cat "$OUT/http.md"
