# Shared by the bench/run-*.sh scripts: builds, starting servers, waiting, CPU and memory.
# Source it from the repository root after `set -euo pipefail`.
OUT=bench/out
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"  # thousands of streams need thousands of descriptors

build_all() {
    echo "building parley, the peer (release) and the load client…"
    # Both as a container would ship them: release, the Swift runtime linked in (`make release`).
    local flags="-c release --static-swift-stdlib"
    swift build $flags --product parley >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log"; exit 1; }
    (cd bench/hummingbird-peer && swift build $flags --scratch-path ../../.build-peer) >"$OUT/build-peer.log" 2>&1 \
        || { cat "$OUT/build-peer.log"; exit 1; }
    cc -O2 -Wall -o "$OUT/sse_load" bench/sse_load.c -lm
    PARLEY_BIN="$(swift build $flags --product parley --show-bin-path)/parley"
    PEER_BIN="$(cd bench/hummingbird-peer && swift build $flags --scratch-path ../../.build-peer --show-bin-path)/HummingbirdPeer"
    LOAD="$OUT/sse_load"
}

PIDS=()
WORK=$(mktemp -d /tmp/parley-bench.XXXXXX)
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# wait_health PORT NAME LOG: until GET /health answers (10 s at most).
wait_health() {
    for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$1/health" >/dev/null && return 0; sleep 0.05; done
    echo "$2 did not start:"; cat "$3"; exit 1
}

# start_mock PORT: `parley mock-llm`, the upstream every streaming scenario shares.
start_mock() {
    "$PARLEY_BIN" mock-llm --port "$1" --log-format json >"$OUT/mock-$1.log" 2>&1 &
    PIDS+=($!); MOCK_PID=$!
    for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$1/v1/models" >/dev/null && return 0; sleep 0.05; done
    echo "mock-llm did not start"; exit 1
}

# start_parley PORT MOCK_PORT [VAR=value…]: `parley serve` without limits in the way (every load
# comes from 127.0.0.1 and one user creates thousands of sessions), on a fresh
# SQLite file unless DATABASE_URL is given; sets PARLEY_PID.
start_parley() {
    local port=$1 mock=$2; shift 2
    env PORT="$port" LOG_LEVEL=warning HTTP_MAX_CONNECTIONS=100000 DATABASE_URL="sqlite://$WORK/parley-$port.db" \
        LLM_BASE_URL="http://127.0.0.1:$mock/v1" LLM_MODEL=mock-model SSE_KEEPALIVE_SECONDS=15 \
        CHAT_RATE_LIMIT_PER_MINUTE=0 CHAT_DAILY_MESSAGE_QUOTA=0 CHAT_MAX_CONCURRENT_STREAMS=0 AUTH_RATE_LIMIT_PER_MINUTE=0 \
        HTTP_MAX_CONNECTIONS_PER_ADDRESS=100000 WRITE_RATE_LIMIT_PER_MINUTE=0 USER_MAX_SESSIONS=10000000 LOGIN_MAX_FAILURES=0 GUEST_DAILY_PER_CLIENT=0 \
        "$@" "$PARLEY_BIN" serve >"$OUT/parley-$port.log" 2>&1 &
    PIDS+=($!); PARLEY_PID=$!
    wait_health "$port" parley "$OUT/parley-$port.log"
}

# start_peer PORT MOCK_PORT: the Hummingbird 2 + AsyncHTTPClient peer; sets PEER_PID.
start_peer() {
    PEER_PORT=$1 UPSTREAM_URL="http://127.0.0.1:$2/v1" "$PEER_BIN" >"$OUT/peer-$1.log" 2>&1 &
    PIDS+=($!); PEER_PID=$!
    wait_health "$1" peer "$OUT/peer-$1.log"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# measure NAME PID OUTPUT LOAD-ARGS…: runs the load client and adds the server's CPU seconds
# (from /proc) and CPU milliseconds per 1,000 tokens to its JSON line, written to OUTPUT.
measure() {
    local name=$1 pid=$2 output=$3 before after; shift 3
    before=$(cpu_ticks "$pid")
    "$LOAD" --label "$name" "$@" >"$output.tmp"
    after=$(cpu_ticks "$pid")
    python3 - "$output.tmp" "$((after - before))" "$(getconf CLK_TCK)" >"$output" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))
result["server_cpu_s"] = int(sys.argv[2]) / int(sys.argv[3])
if result["tokens_received"]:
    result["cpu_ms_per_1000_tokens"] = round(1e6 * result["server_cpu_s"] / result["tokens_received"], 1)
print(json.dumps(result))
PY
    rm -f "$output.tmp"
    cat "$output"
}

machine_line() {
    echo "Machine: $(nproc) cores, $(uname -m), Linux $(uname -r); $(swift --version 2>&1 | head -1)."
}
