#!/usr/bin/env bash
# Measures (does not assert) what syncstack's capture trigger costs the
# server's own plain-SQL writes, and how long serve's first attach takes
# over rows already there (docs/mapped-tables.md, "Cost"). Not a ctest:
#
#   ./scripts/with-postgres.sh tests/mapped/pg_capture_cost.sh build/dev/apps/syncstack/syncstack
#
# N (default 20000): rows of the bulk statement and of the attach.
set -euo pipefail
BIN=$(realpath "$1")
C="$SYNCSTACK_PG_CONNINFO"
S="$C options='-csearch_path=costapp'"
N=${N:-20000}
work=$(mktemp -d)
trap 'psql -X -q "$C" -c "DROP SCHEMA IF EXISTS costapp CASCADE; DROP SCHEMA IF EXISTS costsync CASCADE" >/dev/null 2>&1; rm -rf "$work"' EXIT
echo '{"collections": {"items": {"id": "id", "table": "items", "account": "owner"}}}' > "$work/schema.json"
table="(id uuid PRIMARY KEY, owner text NOT NULL, title text, n integer, price double precision)"
bulk() { psql -X -q "$S" -c '\timing on' -c "INSERT INTO $1 SELECT gen_random_uuid(), 'anna', 'item ' || g, g, g * 1.5 FROM generate_series(1, $N) g" | grep Time; }
single() { for i in $(seq 2000); do echo "INSERT INTO $1 VALUES (gen_random_uuid(), 'anna', 'x', $i, 1.5);"; done > "$work/$1.sql"; /usr/bin/time -f "%e s" psql -X -q "$S" -f "$work/$1.sql" 2>&1; }
start_serve() {
  local begin end pid
  begin=$(date +%s.%N)
  "$BIN" serve --store "postgres:$S schema=costsync" --schema "$work/schema.json" --listen 127.0.0.1:0 > "$work/serve.out" 2>&1 &
  pid=$!
  for _ in $(seq 6000); do grep -q http "$work/serve.out" && break; sleep 0.1; done
  end=$(date +%s.%N); kill $pid; wait $pid || true
  echo "$(echo "$end - $begin" | bc) s"
}
psql -X -q "$C" -c "CREATE SCHEMA costapp"
psql -X -q "$S" -c "CREATE TABLE items $table; CREATE TABLE plain $table"
"$BIN" user add --store "postgres:$S schema=costsync" --user anna --password pw >/dev/null
bulk items >/dev/null
echo "serve's first start, attaching $N existing rows: $(start_serve)"
echo "serve's restart over them: $(start_serve)"
psql -X -q "$S" -c "TRUNCATE items"
echo "2000 single-row inserts, no trigger: $(single plain)"
echo "2000 single-row inserts, captured:   $(single items)"
psql -X -q "$S" -c "TRUNCATE items; TRUNCATE plain"
echo "one INSERT of $N rows, no trigger: $(bulk plain)"
echo "one INSERT of $N rows, captured:   $(bulk items)"
