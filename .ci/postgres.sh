#!/usr/bin/env bash
# Start a throw-away PostgreSQL server on 127.0.0.1 for the `postgres` test marker.
#
#   eval "$(bash .ci/postgres.sh)"        # install if needed, start, print the export line
#   bash .ci/postgres.sh stop             # stop the server this script started
#
# - Installs PostgreSQL from Debian packages (apt-get) when no server binaries are found.
# - Creates a cluster in $ARENA_PG_DIR (default: ${TMPDIR:-/tmp}/arena-pg) owned by the
#   `postgres` user when run as root (PostgreSQL refuses to run as root), else by the caller.
# - Listens on 127.0.0.1 only, on a free port (or $ARENA_PG_PORT), socket in the data folder.
# - Creates role `arena` (password `arena`) and database `arena`; both are test-only.
# - Idempotent: a second run reuses the running server and its port.
# stdout carries only the `export ARENA_PG_URI=...` line; progress goes to stderr.
set -euo pipefail

PG_DIR="${ARENA_PG_DIR:-${TMPDIR:-/tmp}/arena-pg}"
DATA="$PG_DIR/data"
PORT_FILE="$PG_DIR/port"
LOG="$PG_DIR/server.log"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/pg_ctl" && -x "$dir/initdb" ]]; then
        echo "$dir"
    elif command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"
    fi
}

install_postgres() {
    log "installing PostgreSQL from Debian packages"
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { log "error: not root and no sudo; install the 'postgresql' package"; exit 1; }
        sudo=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" apt-get install -y -qq postgresql >&2
}

# Run a command as the cluster owner: `postgres` when we are root, the caller otherwise.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 - <<'EOF'
import socket
with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
EOF
}

psql_super() {
    as_owner "$BIN/psql" -h "$DATA" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

BIN=$(find_bindir)

if [[ "${1:-}" == "stop" ]]; then
    if [[ -n "$BIN" && -f "$DATA/postmaster.pid" ]]; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >&2
    else
        log "no server running in $DATA"
    fi
    exit 0
fi

if [[ -z "$BIN" ]]; then
    install_postgres
    BIN=$(find_bindir)
    [[ -n "$BIN" ]] || { log "error: PostgreSQL binaries not found after installing"; exit 1; }
fi
log "using $BIN"

if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home-dir "$PG_DIR" --shell /usr/sbin/nologin postgres
fi

mkdir -p "$PG_DIR"
[[ $(id -u) -eq 0 ]] && chown postgres: "$PG_DIR"

if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
fi

if as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    PORT=$(cat "$PORT_FILE")
    log "server already running on port $PORT"
else
    PORT="${ARENA_PG_PORT:-$(free_port)}"
    echo "$PORT" > "$PORT_FILE"
    log "starting on 127.0.0.1:$PORT (log: $LOG)"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" start >&2 \
        || { tail -n 20 "$LOG" >&2; exit 1; }
fi

if [[ "$(psql_super -c "SELECT 1 FROM pg_roles WHERE rolname = 'arena'")" != "1" ]]; then
    psql_super -c "CREATE ROLE arena LOGIN PASSWORD 'arena'"
fi
if [[ "$(psql_super -c "SELECT 1 FROM pg_database WHERE datname = 'arena'")" != "1" ]]; then
    psql_super -c "CREATE DATABASE arena OWNER arena"
fi

# Prove the URI works over TCP with a password, as the tests will use it.
PGPASSWORD=arena "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U arena -d arena -qAt -c "SELECT 1" >/dev/null
log "ready: database arena on 127.0.0.1:$PORT"
echo "export ARENA_PG_URI=postgresql://arena:arena@127.0.0.1:$PORT/arena"
