# A private PostgreSQL server for one integration test (sourced after
# lib.sh, not run).
#
# pg_start starts PostgreSQL from Debian's postgresql package
# (/usr/lib/postgresql/<version>/bin, the newest there; PG_BIN
# overrides) for this test alone: initdb into a fresh directory, a
# server on 127.0.0.1 at a free port (and a Unix socket in that
# directory, nowhere else), trust authentication (nobody but this host
# reaches it, and nothing in it outlives the test), fsync and
# synchronous commits as in production.  PostgreSQL refuses to run as
# root, and CI runs the tests as root: then the server runs as PG_USER
# (default nobody) through runuser.  lib.sh's exit handler stops it
# (pg_ctl stop -m fast, else -m immediate) after every scepd it started
# has stopped, and removes its directory, whatever way the test ends.
#
# Over TCP the role scepd needs its password (SCRAM), as it would in
# production; the Unix socket, which only this user can reach, trusts.
# The password lives in a password file, $PG_PASSFILE, exported as
# PGPASSFILE, so that neither a URI nor a command line ever holds it.
#
# After pg_start: PG_URI (postgresql://scepd@127.0.0.1:PORT/scepd, no
# password in it), PG_PORT, PG_DIR (server log in $PG_DIR/log),
# PG_PASSWORD, PG_PASSFILE, and pg_sql SQL prints the answer of one SQL
# statement (unaligned, no header), through the socket.

PG_USER=${PG_USER:-nobody}

# The directory of the newest installed server binaries, or "".
pg_find_bin() {
    local d best=
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] || continue
        if [ -z "$best" ] || [ "${d//[!0-9]/}" -gt "${best//[!0-9]/}" ]; then best=$d; fi
    done
    printf '%s' "$best"
}

# pg_as CMD...: runs CMD as the server's user (itself when not root).
pg_as() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd "$PG_DIR" && runuser -u "$PG_USER" -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

# A TCP port on 127.0.0.1 that nothing listens on now.
pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_stop() {
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
    if [ -e "$PG_DIR/data/postmaster.pid" ]; then
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
            pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
            true
    fi
    if [ "${IT_KEEP:-0}" = 1 ]; then
        printf '%s: kept %s\n' "$IT_NAME" "$PG_DIR" >&2
    else
        rm -rf "$PG_DIR"
    fi
}

# pg_server_up: starts the server of pg_start again at $PG_PORT (0: up);
# pg_server_down: stops it (fast shutdown: sessions are cut off).
pg_server_up() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -t 30 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_DIR" \
        start >/dev/null 2>&1
}
pg_server_down() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1
}

# pg_node_start NAME [ARGS...]: starts scepd as a node on $PG_URI with
# STATE_DIR $IT_WORK/NAME (made beforehand), two workers and ARGS,
# without waiting: pg_node_wait NAME waits for its ready line.  Then
# URL_NAME is its SCEP URL, BASE_NAME the URL's scheme and authority,
# PID_NAME its pid; log in $IT_WORK/NAME.scepd.log.  Several nodes can
# be started at once and waited for after.
pg_node_start() {
    local n=$1
    shift
    # Made here, not by the child's redirection: pg_node_wait may read it
    # before the child got that far.
    : >"$IT_WORK/$n.scepd.out"
    "$SCEPD" --state-dir "$IT_WORK/$n" --listen 127.0.0.1:0 --challenge "$IT_CHALLENGE" \
        --database "$PG_URI" --workers 2 "$@" \
        >"$IT_WORK/$n.scepd.out" 2>>"$IT_WORK/$n.scepd.log" &
    IT_PIDS+=("$!")
    eval "PID_$n=\$!"
}
pg_node_wait() {
    local n=$1 url= i
    for i in $(seq 1 200); do
        url=$(sed -n 's/^scepd: serving SCEP at //p' "$IT_WORK/$n.scepd.out" | head -n 1 || true)
        [ -z "$url" ] || break
        eval "kill -0 \$PID_$n" 2>/dev/null || fail "node $n exited before it was ready: $(tail -n 3 "$IT_WORK/$n.scepd.log")"
        sleep 0.1
    done
    [ -n "$url" ] || fail "node $n printed no 'serving SCEP at' line within 20 s"
    eval "URL_$n=\$url"
    eval "BASE_$n=\${url%/*}"
    say "node $n serving at $url"
}

pg_sql() {
    "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U scepd -d scepd \
        -c "$1"
}

pg_start() {
    local try
    PG_BIN=${PG_BIN:-$(pg_find_bin)}
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
        fail "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (run scripts/deps.sh)"
    need python3 runuser
    PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/scepd-pg.XXXXXX")
    it_on_exit pg_stop
    if [ "$(id -u)" -eq 0 ]; then
        id -u "$PG_USER" >/dev/null 2>&1 || fail "no user $PG_USER to run PostgreSQL as"
        chown "$PG_USER" "$PG_DIR"
    fi
    chmod 700 "$PG_DIR"
    pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U scepd -A trust -E UTF8 --locale=C.UTF-8 -N \
        >"$PG_DIR/initdb.log" 2>&1 || fail "initdb failed: $(tail -n 5 "$PG_DIR/initdb.log")"
    printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 scram-sha-256' \
        >"$PG_DIR/data/pg_hba.conf"
    [ "$(id -u)" -ne 0 ] || chown "$PG_USER" "$PG_DIR/data/pg_hba.conf"
    # Another test may take the port between the probe and the bind.
    for try in 1 2 3; do
        PG_PORT=$(pg_free_port)
        pg_server_up && break
        [ "$try" -lt 3 ] || fail "PostgreSQL did not start: $(tail -n 5 "$PG_DIR/log")"
    done
    "$PG_BIN/createdb" -h "$PG_DIR" -p "$PG_PORT" -U scepd scepd 2>"$PG_DIR/createdb.log" ||
        fail "createdb failed: $(cat "$PG_DIR/createdb.log")"
    PG_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    # On stdin, not in psql's arguments: not even a test's password
    # goes on a command line.
    printf "ALTER ROLE scepd PASSWORD '%s';\n" "$PG_PASSWORD" |
        "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_DIR" -p "$PG_PORT" -U scepd -d scepd -f - ||
        fail "cannot set the role's password"
    PG_PASSFILE=$PG_DIR/pgpass
    # libpq ignores a password file that others may read.
    (umask 077 && printf '127.0.0.1:%s:*:scepd:%s\n' "$PG_PORT" "$PG_PASSWORD" >"$PG_PASSFILE")
    export PGPASSFILE=$PG_PASSFILE
    PG_URI="postgresql://scepd@127.0.0.1:$PG_PORT/scepd"
    say "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') as $([ "$(id -u)" -eq 0 ] && echo "$PG_USER" || id -un) at $PG_URI"
}
