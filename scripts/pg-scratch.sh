#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and trials of `ssmem sweep --store postgresql://...`.
#
#   bash scripts/pg-scratch.sh start DIR   # new cluster in DIR/data, prints the store URL on stdout
#   bash scripts/pg-scratch.sh stop DIR    # stops it (remove DIR afterwards)
#
# The server listens on a Unix socket in DIR only (no TCP port, so several can run side by side), trusts local
# connections, and trades durability for speed (fsync off): scratch data only. PostgreSQL refuses to run as
# root, so as root the server runs as $PG_USER (default postgres, created when missing); DIR is handed to it.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
dir=$(realpath -m "$2")

bindir() {
    # Debian keeps the server programs out of PATH, one folder per major version: take the newest
    if command -v initdb >/dev/null 2>&1; then dirname "$(command -v initdb)"; return; fi
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$found" ]; then
        echo "pg-scratch: no PostgreSQL server programs (initdb) found; on Debian: apt-get install -y postgresql" >&2
        exit 3
    fi
    echo "$found"
}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_USER" -- "$@"; else "$@"; fi
}

PG_USER=${PG_USER:-postgres}
bin=$(bindir)

case "$action" in
start)
    # a socket path is limited to about 100 bytes: the folder must be short
    if [ ${#dir} -gt 80 ]; then
        echo "pg-scratch: $dir is too long for a socket path; pick a shorter DIR" >&2
        exit 2
    fi
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then
        id -u "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
        chown "$PG_USER" "$dir"
    fi
    cd "$dir"  # the server's user may not be allowed into the folder this was started from
    superuser=$(as_owner id -un)
    as_owner "$bin/initdb" --pgdata "$dir/data" --username "$superuser" --auth trust --encoding UTF8 \
        --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    settings="-c listen_addresses='' -c unix_socket_directories='$dir' -c max_connections=200"
    settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait --silent -o "$settings" start \
        || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql://$superuser@/postgres?host=$dir"
    ;;
stop)
    cd "$dir"
    as_owner "$bin/pg_ctl" --pgdata "$dir/data" --wait --silent --mode fast stop
    ;;
*)
    usage
    ;;
esac
