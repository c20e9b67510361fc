#!/usr/bin/env bash
# A throwaway Redis for the tests, on 127.0.0.1 with its files in a temporary folder.
#   start     start; prints `export …` lines for PARLEY_TEST_REDIS_URL and this script's state
#   stop | restart | teardown (stop and delete the folder)
set -euo pipefail

server=$(command -v redis-server || true)
[ -x "$server" ] || { echo "redis-server not found; install the redis-server package" >&2; exit 1; }
# A daemon must not keep descriptors it inherited (a caller's pipe would never reach EOF).
close_inherited_fds() {
    local fd
    for fd in $(ls /proc/$$/fd); do
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
}
# Starts the server configured in $1 and waits until it answers; fails if the one answering
# on its port is not this one (another test's server took the port first).
launch() {
    close_inherited_fds
    "$server" "$1/redis.conf" >/dev/null 2>&1 || return 1
    for _ in $(seq 1 100); do
        if [ "$(redis-cli -p "$(cat "$1/port")" config get dir 2>/dev/null | tail -n 1)" = "$1" ]; then return 0; fi
        sleep 0.05
    done
    return 1
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/parley-redis.XXXXXX)
    # A free port can be taken by another test's server between the check and the start (the
    # tests start several at once): try again on another port.
    started=""
    for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    echo "$port" > "$dir/port"
    cat > "$dir/redis.conf" <<CONF
port $port
bind 127.0.0.1
dir $dir
daemonize yes
pidfile $dir/redis.pid
logfile $dir/log
save ""
appendonly no
CONF
    if launch "$dir"; then started=yes; break; fi
    done
    [ -n "$started" ] || { echo "redis-server did not start; see $dir/log" >&2; exit 1; }
    echo "export PARLEY_TEST_REDIS_DIR=$dir"
    echo "export PARLEY_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
    ;;
stop)
    redis-cli -p "$(cat "$PARLEY_TEST_REDIS_DIR/port")" shutdown nosave >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do
        [ -e "$PARLEY_TEST_REDIS_DIR/redis.pid" ] || break
        sleep 0.05
    done
    ;;
restart)
    launch "$PARLEY_TEST_REDIS_DIR"
    ;;
teardown)
    [ -n "${PARLEY_TEST_REDIS_DIR:-}" ] || exit 0
    redis-cli -p "$(cat "$PARLEY_TEST_REDIS_DIR/port")" shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$PARLEY_TEST_REDIS_DIR"
    ;;
*)
    echo "usage: $0 start|stop|restart|teardown" >&2
    exit 2
    ;;
esac
