#!/usr/bin/env bash
# Runs a command with a private, throwaway PostgreSQL server:
#
#   ./scripts/with-postgres.sh ctest --preset dev
#
# If SYNCSTACK_PG_CONNINFO is already set, the command just runs against that
# server. Otherwise this creates a cluster in a temporary folder (owned by a
# non-root user: as root, the system user `syncstack-pg`, created if
# missing), starts it on 127.0.0.1 on a free port with trust authentication,
# creates the database `syncstack_test`, exports SYNCSTACK_PG_CONNINFO, runs
# the command, then stops the server and removes the folder. The exit
# status is the command's.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 <command> [args...]" >&2
  exit 2
fi

if [ -n "${SYNCSTACK_PG_CONNINFO:-}" ]; then
  exec "$@"
fi

bindir=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
  if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
    bindir=$d
    break
  fi
done
if [ -z "$bindir" ]; then
  echo "with-postgres: no PostgreSQL server found under /usr/lib/postgresql" \
       "(run scripts/install-deps.sh)" >&2
  exit 1
fi

# Run server commands as a non-root user: PostgreSQL refuses to run as root.
run_as=()
pg_user=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  pg_user=syncstack-pg
  if ! id -u "$pg_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  run_as=(runuser -u "$pg_user" --)
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/syncstack-pg-XXXXXX")
chmod 755 "$dir"
[ "$(id -u)" -ne 0 ] || chown "$pg_user" "$dir"

started=0
cleanup() {
  if [ "$started" -eq 1 ]; then
    "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop \
      >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U "$pg_user" \
  --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }

# A free port: ask the kernel for one, then start on it (retry if taken).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
port=""
for attempt in 1 2 3 4 5; do
  port=$(free_port)
  if "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
       -o "-k $dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off \
           -c synchronous_commit=off -c full_page_writes=off \
           -c max_connections=200 -c shared_buffers=128MB" \
       start >/dev/null 2>&1; then
    started=1
    break
  fi
  if [ "$attempt" -eq 5 ]; then
    echo "with-postgres: the server did not start:" >&2
    cat "$dir/server.log" >&2 || true
    exit 1
  fi
done

for _ in $(seq 1 100); do
  "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
"$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$pg_user" syncstack_test

export SYNCSTACK_PG_CONNINFO="host=127.0.0.1 port=$port dbname=syncstack_test user=$pg_user"
echo "with-postgres: PostgreSQL $("$bindir/postgres" --version | awk '{print $3}')" \
     "on 127.0.0.1:$port (data in $dir)" >&2

status=0
"$@" || status=$?
exit "$status"
