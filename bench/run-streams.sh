#!/usr/bin/env bash
# Concurrent streamed chats through `parley mock-llm` (TOKENS tokens DELAY_MS apart): straight to
# the mock (the ceiling), through parley's real send route (bearer auth, limits in process,
# SQLite writes, SSE), and through the Hummingbird peer's proxy, alternating, ROUNDS rounds each.
# Two scenarios: a burst of STREAMS (1,000) streams, and SMALL (100) streams for time to first
# token against the upstream's own; and LOOP (1,000) chats in a closed loop for LOOP_SECONDS, each
# connection sending again as its answer ends (tokens/s sustained). Updates the `streams`,
# `streams-small` and `streams-loop` sections of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-1000}
SMALL=${SMALL:-100}
LOOP=${LOOP:-1000}
LOOP_SECONDS=${LOOP_SECONDS:-10}
TOKENS=${TOKENS:-50}
DELAY_MS=${DELAY_MS:-20}
MOCK_PORT=18092 PARLEY_PORT=18093 PEER_PORT=18094

build_all
start_mock $MOCK_PORT
start_parley $PARLEY_PORT $MOCK_PORT
start_peer $PEER_PORT $MOCK_PORT
sleep 2
idle_parley=$(rss_kib $PARLEY_PID) idle_peer=$(rss_kib $PEER_PID)

# One session per stream and round (a session answers one message at a time), made up front.
python3 bench/sessions.py "http://127.0.0.1:$PARLEY_PORT" $(( (ROUNDS + 1) * (STREAMS + SMALL + LOOP) )) >"$WORK/paths"
next_paths() {  # next_paths N: the next N unused session paths
    head -n "$1" "$WORK/paths" >"$WORK/batch"
    tail -n +"$(($1 + 1))" "$WORK/paths" >"$WORK/rest" && mv "$WORK/rest" "$WORK/paths"
}

content="bench words mock:tokens=$TOKENS mock:delay=$DELAY_MS"
openai_body="{\"model\":\"mock-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}"
run() {  # run MODE STREAMS ROUND SCENARIO [LOAD-ARGS…]
    local mode=$1 n=$2 output="$OUT/$4-$1-$3.json"; shift 4
    case $mode in
    direct) measure direct $MOCK_PID "$output" --port $MOCK_PORT --path /v1/chat/completions --key content \
                --streams "$n" --tokens "$TOKENS" --body "$openai_body" "$@" ;;
    parley) next_paths "$n"
            measure parley $PARLEY_PID "$output" --port $PARLEY_PORT --paths "$WORK/batch" \
                --streams "$n" --tokens "$TOKENS" --body "{\"content\":\"$content\"}" "$@" ;;
    peer)   measure peer $PEER_PID "$output" --port $PEER_PORT --path /v1/chat \
                --streams "$n" --tokens "$TOKENS" --body "$openai_body" "$@" ;;
    esac
}

rm -f "$OUT"/streams-*.json
next_paths 100 && measure warm-up $PARLEY_PID "$WORK/warm.json" --port $PARLEY_PORT --paths "$WORK/batch" --streams 100 \
    --tokens 5 --body '{"content":"warm mock:tokens=5 mock:delay=1"}' >/dev/null
"$LOAD" --port $PEER_PORT --path /v1/chat --streams 100 --tokens 5 \
    --body '{"model":"mock-model","stream":true,"messages":[{"role":"user","content":"warm mock:tokens=5 mock:delay=1"}]}' >/dev/null
for round in $(seq 1 "$ROUNDS"); do
    for mode in direct parley peer; do echo "round $round, $STREAMS streams: $mode"; run $mode "$STREAMS" "$round" streams; done
    for mode in direct parley peer; do echo "round $round, $SMALL streams: $mode"; run $mode "$SMALL" "$round" streams-small; done
    for mode in direct parley peer; do
        echo "round $round, $LOOP chats in a closed loop: $mode"; run $mode "$LOOP" "$round" streams-loop --loop-seconds "$LOOP_SECONDS"
    done
done
after_parley=$(rss_kib $PARLEY_PID) after_peer=$(rss_kib $PEER_PID)
echo "waiting 60 s for memory to settle…"
sleep 60
rss="RSS idle / right after the runs / 60 s later: parley $idle_parley / $after_parley / $(rss_kib $PARLEY_PID) KiB; peer $idle_peer / $after_peer / $(rss_kib $PEER_PID) KiB"
for scenario in streams streams-small streams-loop; do
    python3 bench/summarize_streams.py "$scenario" "$TOKENS" "$DELAY_MS" "$(machine_line)" "$rss" >"$OUT/$scenario.md"
    python3 bench/update_results.py "$scenario" <"$OUT/$scenario.md"
    cat "$OUT/$scenario.md"
done
