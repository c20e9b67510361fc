#!/usr/bin/env bash
# A large conversation costs no more than a small one: a session of 10 messages and one of
# 10,000 (a tree), the active path's newest page listed and a message sent (REQUESTS each,
# alternating), on SQLite and on PostgreSQL, ROUNDS rounds. The active path is walked up from
# its leaf one indexed step per message shown, and a send reads and writes along that path
# only, so neither should grow with the tree. Updates the `tree` section of bench/RESULTS.md.
# No peer: the Hummingbird proxy keeps no conversations.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh

ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-300}
MOCK_PORT=18120 SQLITE_PORT=18121 PG_PORT=18122
build_all
eval "$(PARLEY_PG_FSYNC=on scripts/test-postgres.sh start)"
trap 'cleanup; scripts/test-postgres.sh teardown' EXIT
start_mock $MOCK_PORT
start_parley $SQLITE_PORT $MOCK_PORT
start_parley $PG_PORT $MOCK_PORT DATABASE_URL="$PARLEY_TEST_POSTGRES_URL"
rm -f "$OUT"/tree-*.json
for round in $(seq 1 "$ROUNDS"); do
    echo "round $round"
    python3 bench/tree.py "http://127.0.0.1:$SQLITE_PORT" 10 10000 "$REQUESTS" >>"$OUT/tree-sqlite.json"
    python3 bench/tree.py "http://127.0.0.1:$PG_PORT" 10 10000 "$REQUESTS" >>"$OUT/tree-postgres.json"
done
python3 - "$(machine_line)" "$ROUNDS" "$REQUESTS" >"$OUT/tree.md" <<'PY'
import json, statistics, sys
machine, rounds, requests = sys.argv[1:4]
print("## A large conversation (`make bench-tree`)\n")
print(f"{machine} One session of 10 messages and one of 10,000 (a main path with a second answer beside every tenth, "
      f"imported in one request), then {requests} reads of the active path's newest page (50 messages) and {requests} sends "
      "(JSON mode; the mock upstream answers 5 tokens without delay), alternating between the sessions; sequential requests "
      f"over one keep-alive connection; {rounds} rounds, median of the rounds' percentiles (ms).\n")
print("| database | messages | list p50 | list p99 | send p50 | send p99 | import |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for backend in ("sqlite", "postgres"):
    runs = [json.loads(line) for line in open(f"bench/out/tree-{backend}.json")]
    for size in ("10", "10000"):
        cells = [statistics.median(run[size][key] for run in runs) for key in ("list_p50", "list_p99", "send_p50", "send_p99", "import_ms")]
        print(f"| {'SQLite' if backend == 'sqlite' else 'PostgreSQL'} | {int(size):,} | " + " | ".join(f"{c:,.2f}" for c in cells) + " |")
PY
python3 bench/update_results.py tree <"$OUT/tree.md"
cat "$OUT/tree.md"
