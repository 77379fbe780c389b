#!/usr/bin/env bash
# Benchmark: N secrets in one redis-server, release build.
#   - rotor: one `rotor rotate` over N runbooks (hash layout), staged (per secret: the
#     read script, the stage write script, the read-back, the promote write script) and
#     dual (read, one write), 16 secrets at a time;
#   - an operator's script: a shell loop of N `redis-cli HSET` of the same fields (one
#     process and one round trip each, no check-and-set).
# Prints each median and the ratios.
#   benches/rotate-redis.sh [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-5}
command -v redis-server >/dev/null || { echo "redis-server not found: run scripts/test once" >&2; exit 1; }
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
until [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; do sleep 0.02; done
export REDIS_URL="redis://127.0.0.1:$port" ROTOR_STATE_DIR="$work/state"

for strategy in staged dual; do
  mkdir -p "$work/$strategy"
  for i in $(seq 1 "$n"); do
    printf 'secret: %s-%03d\ncreate: true\nstrategy: %s\nmin_interval: 0s\ntargets:\n  redis: {}\n' \
      "$strategy" "$i" "$strategy" > "$work/$strategy/s$(printf %03d "$i").yaml"
  done
  "$bin" rotate --runbooks "$work/$strategy" >/dev/null     # create every key set
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
ms() { echo $(( ($2 - $1) / 1000000 )); }

for strategy in staged dual; do
  for r in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate --runbooks "$work/$strategy" >/dev/null
    ms "$start" "$(date +%s%N)"
  done | median > "$work/rotor-$strategy"
  echo "rotor rotate, $n secrets, $strategy: median $(cat "$work/rotor-$strategy") ms (peak RSS $(cat "$work/rss") KiB)"
done

key() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    redis-cli -p "$port" hset "loop:{$i}" current "$(key)" previous "$(key)" version "$r" >/dev/null
  done
  ms "$start" "$(date +%s%N)"
done | median > "$work/loop"
echo "shell loop of $n \`redis-cli HSET\`: median $(cat "$work/loop") ms"

awk -v loop="$(cat "$work/loop")" -v st="$(cat "$work/rotor-staged")" -v du="$(cat "$work/rotor-dual")" 'BEGIN {
  printf "redis-cli loop / rotor staged = %.1fx, / rotor dual = %.1fx\n", loop / st, loop / du }'
