#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, on 127.0.0.1 in a temporary folder.
#   start         initdb + start; prints `export …` lines for PARLEY_TEST_POSTGRES_URL and this script's state
#                 (fsync off, as tests need no durability; PARLEY_PG_FSYNC=on for benchmarks)
#   stop | restart | teardown (stop and delete the folder)
#   freeze | thaw: stop every process of the server (SIGSTOP) and let them go on: a database that
#                 keeps its connections open and answers nothing, as behind a network partition
# PostgreSQL refuses to run as root, so when root it runs as the `postgres` system user.
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found; install the postgresql package" >&2; exit 1; }
# The server is a daemon: it must not keep descriptors it inherited (a caller's output pipe
# would then never reach end-of-file), so close everything above stderr first.
close_inherited_fds() {
    local fd
    for fd in $(ls /proc/$$/fd); do
        [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null || true
    done
}
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/parley-pg.XXXXXX)
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_pg "$bindir/initdb" -D "$dir/data" -U parley --auth=trust -E UTF8 >/dev/null
    as_pg cp "$dir/data/postgresql.conf" "$dir/postgresql.conf.initial"
    close_inherited_fds
    # A free port can be taken by another test's server between the check and the start (the
    # tests start several at once): try again on another port.
    started=""
    for _ in 1 2 3 4 5; do
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        # In the config file, not on the command line, so `restart` comes back on the same port.
        as_pg cp "$dir/postgresql.conf.initial" "$dir/data/postgresql.conf"
        as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = ${PARLEY_PG_FSYNC:-off}
max_connections = 200
CONF
        if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 30 start >/dev/null; then started=yes; break; fi
        sleep 0.2
    done
    [ -n "$started" ] || { echo "PostgreSQL did not start; its log:" >&2; cat "$dir/log" >&2; exit 1; }
    as_pg "$bindir/createdb" -h 127.0.0.1 -p "$port" -U parley parley_test
    echo "export PARLEY_TEST_POSTGRES_DIR=$dir"
    echo "export PARLEY_TEST_POSTGRES_URL=postgres://parley@127.0.0.1:$port/parley_test"
    ;;
stop)
    as_pg "$bindir/pg_ctl" -D "$PARLEY_TEST_POSTGRES_DIR/data" -m fast -w stop >/dev/null
    ;;
restart)
    close_inherited_fds
    as_pg "$bindir/pg_ctl" -D "$PARLEY_TEST_POSTGRES_DIR/data" -l "$PARLEY_TEST_POSTGRES_DIR/log" -w -t 30 start >/dev/null
    ;;
freeze | thaw)
    # The postmaster's pid is the first line of postmaster.pid; its children are the backends.
    main=$(head -n 1 "$PARLEY_TEST_POSTGRES_DIR/data/postmaster.pid")
    signal=$([ "$1" = freeze ] && echo STOP || echo CONT)
    kill -s "$signal" "$main" $(pgrep -P "$main") 2>/dev/null
    ;;
teardown)
    [ -n "${PARLEY_TEST_POSTGRES_DIR:-}" ] || exit 0
    # A frozen server would not stop.
    main=$(head -n 1 "$PARLEY_TEST_POSTGRES_DIR/data/postmaster.pid" 2>/dev/null || true)
    [ -n "$main" ] && kill -s CONT "$main" $(pgrep -P "$main") 2>/dev/null || true
    as_pg "$bindir/pg_ctl" -D "$PARLEY_TEST_POSTGRES_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$PARLEY_TEST_POSTGRES_DIR"
    ;;
*)
    echo "usage: $0 start|stop|restart|freeze|thaw|teardown" >&2
    exit 2
    ;;
esac
