#!/usr/bin/env bash
# Benchmark: N secrets in SQL tables, release build.
#   - SQLite: one database file, one key/value table (`layout: rows`, 3 rows per secret);
#   - PostgreSQL: one server on loopback, one row per secret (`layout: columns`);
#   rotor: one `rotor rotate` over N runbooks, staged and dual, 16 secrets at a time.
#   - an operator's script: a shell loop of N `sqlite3 DB "UPDATE ..."` / `psql -c "UPDATE ..."`
#     of the same values (one process and one transaction each, no check-and-set).
# Prints each median and the ratios.
#   benches/rotate-sql.sh [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-5}
pg_bin=${ROTOR_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}
command -v sqlite3 >/dev/null && [ -x "$pg_bin/postgres" ] || { echo "sqlite3 or PostgreSQL not found: run scripts/test once" >&2; exit 1; }
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d /tmp/rotor-bench-XXXXXX)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chown postgres: "$work"
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups)
fi
"${as_pg[@]}" "$pg_bin/initdb" -D "$work/pg" -U postgres -A trust --no-sync -E UTF8 >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$pg_bin/postgres" -D "$work/pg" -p "$port" -k "$work" -c listen_addresses=127.0.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
until psql -h "$work" -p "$port" -U postgres -c 'select 1' >/dev/null 2>&1; do sleep 0.05; done
psql -q -h "$work" -p "$port" -U postgres -c "CREATE TABLE signing_keys (name TEXT PRIMARY KEY, current TEXT, previous TEXT, pending TEXT, rotated_at TEXT, rotation_id TEXT)"
mkdir -p "$work/state" && chmod 700 "$work/state"
sqlite3 "$work/app.db" "CREATE TABLE system_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
export ROTOR_STATE_DIR="$work/state"

target() {
  case $1 in
    sqlite) printf 'sql: { url: "sqlite://%s/app.db", table: system_state, layout: rows, key_column: key, value_column: value }' "$work" ;;
    postgres) printf 'sql: { url: "postgres://postgres@127.0.0.1:%s/postgres", table: signing_keys, layout: columns, key_column: name }' "$port" ;;
  esac
}

for db in sqlite postgres; do
  for strategy in staged dual; do
    dir="$work/$db-$strategy"
    mkdir -p "$dir"
    for i in $(seq 1 "$n"); do
      printf 'secret: %s-%s-%03d\ncreate: true\nstrategy: %s\nmin_interval: 0s\ntargets:\n  %s\n' \
        "$db" "$strategy" "$i" "$strategy" "$(target "$db")" > "$dir/s$(printf %03d "$i").yaml"
    done
    "$bin" rotate --runbooks "$dir" >/dev/null     # create every key set
  done
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

for db in sqlite postgres; do
  for strategy in staged dual; do
    for r in $(seq 1 "$runs"); do
      start=$(date +%s%N)
      /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate --runbooks "$work/$db-$strategy" >/dev/null
      ms "$start" "$(date +%s%N)"
    done | median > "$work/rotor-$db-$strategy"
    echo "rotor rotate, $n secrets in $db, $strategy: median $(cat "$work/rotor-$db-$strategy") ms (peak RSS $(cat "$work/rss") KiB)"
  done
done

key() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    sqlite3 "$work/app.db" "UPDATE system_state SET value = '$(key)' WHERE key = 'sqlite-dual-$(printf %03d "$i").current'"
  done
  ms "$start" "$(date +%s%N)"
done | median > "$work/loop-sqlite"
echo "shell loop of $n \`sqlite3 UPDATE\`: median $(cat "$work/loop-sqlite") ms"
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    psql -q -h 127.0.0.1 -p "$port" -U postgres -c "UPDATE signing_keys SET current = '$(key)', previous = '$(key)' WHERE name = 'postgres-dual-$(printf %03d "$i")'"
  done
  ms "$start" "$(date +%s%N)"
done | median > "$work/loop-postgres"
echo "shell loop of $n \`psql -c UPDATE\`: median $(cat "$work/loop-postgres") ms"

for db in sqlite postgres; do
  awk -v loop="$(cat "$work/loop-$db")" -v st="$(cat "$work/rotor-$db-staged")" -v du="$(cat "$work/rotor-$db-dual")" -v db="$db" 'BEGIN {
    printf "%s: shell loop / rotor staged = %.1fx, / rotor dual = %.1fx\n", db, loop / st, loop / du }'
done
