#!/usr/bin/env bash
# Full chat turns per second: CONNECTIONS clients (spread over 8 users, one session each) send a
# message, read the streamed answer (5 tokens from `parley mock-llm`, no delay) to its end, and
# send the next, for DURATION seconds. parley with PostgreSQL (fsync on) and Redis (limits and
# stream leases checked on every send), parley on its embedded defaults (SQLite, limits in
# process), and the Hummingbird peer's bare proxy (no auth, no storage) as a reference;
# alternating, ROUNDS rounds. Updates the `turns` section of bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-64}
MOCK_PORT=18100 PG_PARLEY_PORT=18101 SQLITE_PARLEY_PORT=18102 PEER_PORT=18103

build_all
eval "$(PARLEY_PG_FSYNC=on scripts/test-postgres.sh start)"
eval "$(scripts/test-redis.sh start)"
stop_stores() { scripts/test-postgres.sh teardown; scripts/test-redis.sh teardown; }
trap 'cleanup; stop_stores' EXIT

limits=(CHAT_RATE_LIMIT_PER_MINUTE=1000000 CHAT_DAILY_MESSAGE_QUOTA=100000000 CHAT_MAX_CONCURRENT_STREAMS=$CONNECTIONS)
start_mock $MOCK_PORT
start_parley $PG_PARLEY_PORT $MOCK_PORT DATABASE_URL="$PARLEY_TEST_POSTGRES_URL" REDIS_URL="$PARLEY_TEST_REDIS_URL" "${limits[@]}"
PG_PID=$PARLEY_PID
start_parley $SQLITE_PARLEY_PORT $MOCK_PORT "${limits[@]}"
SQLITE_PID=$PARLEY_PID
start_peer $PEER_PORT $MOCK_PORT
python3 bench/sessions.py "http://127.0.0.1:$PG_PARLEY_PORT" "$CONNECTIONS" --users 8 >"$WORK/pg-paths"
python3 bench/sessions.py "http://127.0.0.1:$SQLITE_PARLEY_PORT" "$CONNECTIONS" --users 8 >"$WORK/sqlite-paths"

content="a turn mock:tokens=5 mock:delay=0"
loop() {  # loop NAME PID ROUND PORT ARGS…
    local name=$1 pid=$2 round=$3 port=$4; shift 4
    echo "round $round: $name"
    measure "$name" "$pid" "$OUT/turns-$name-$round.json" --port "$port" --streams "$CONNECTIONS" --tokens 5 \
        --loop-seconds "$DURATION" "$@"
}
rm -f "$OUT"/turns-*.json
for round in 0 $(seq 1 "$ROUNDS"); do  # round 0 warms up and is left out
    loop parley-postgres-redis $PG_PID "$round" $PG_PARLEY_PORT --paths "$WORK/pg-paths" --body "{\"content\":\"$content\"}"
    loop parley-sqlite $SQLITE_PID "$round" $SQLITE_PARLEY_PORT --paths "$WORK/sqlite-paths" --body "{\"content\":\"$content\"}"
    loop peer $PEER_PID "$round" $PEER_PORT --path /v1/chat \
        --body "{\"model\":\"mock-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"$content\"}]}"
done
rm -f "$OUT"/turns-*-0.json
python3 - "$(machine_line)" "$CONNECTIONS" "$DURATION" "$ROUNDS" >"$OUT/turns.md" <<'PY'
import glob, sys
sys.path.insert(0, "bench")
from stats import Rounds
machine, connections, duration, rounds = sys.argv[1:5]
runs = Rounds(sorted(glob.glob("bench/out/turns-*-*.json")))
for results in runs.by_mode.values():
    for result in results:
        result["cpu_ms_per_turn"] = 1000 * result["server_cpu_s"] / max(1, result["responses"])
print("## Full chat turns per second (`make bench-turns`)\n")
print(f"{machine} {connections} connections, each with its own session (8 users), send a message and read the "
      f"streamed answer (5 tokens from `parley mock-llm`) to its end, then the next, for {duration} s. "
      "`parley-postgres-redis`: PostgreSQL 15 (fsync on) and Redis (per-minute, daily and stream-lease checks on every "
      "send); `parley-sqlite`: the embedded defaults; `peer`: Hummingbird 2's bare proxy (no auth, no storage). "
      f"{rounds} rounds after a warm-up, alternating; median (min–max).\n")
modes = ["parley-postgres-redis", "parley-sqlite", "peer"]
print("| measure | " + " | ".join(modes) + " |")
print("| --- |" + " --- |" * len(modes))
for label, key, digits in [("turns/s", "responses_per_s", 0), ("failed turns", "failures", 0),
                           ("turn latency p50 (ms)", "latency_ms_p50", 1), ("turn latency p99 (ms)", "latency_ms_p99", 1),
                           ("server CPU per turn (ms)", "cpu_ms_per_turn", 2), ("load client CPU (s)", "client_cpu_s", 2)]:
    print(f"| {label} | " + " | ".join(runs.cell(m, key, digits) for m in modes) + " |")
PY
python3 bench/update_results.py turns <"$OUT/turns.md"
cat "$OUT/turns.md"
