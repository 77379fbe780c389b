#!/usr/bin/env bash
# Benchmark: a fleet of N file-backed secrets, release build.
# 1. `rotor status --output openmetrics` over all N (what a textfile timer runs);
# 2. one `rotor rotate` over all N, against K runners at once, each `--shard k/K` with its
#    own state directory (what the Indexed Job does), wall time until the last finishes.
# Prints each line recorded in BENCHMARKS.md.
#   benches/fleet.sh [N=10000] [K=4]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
k=${2:-4}
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/runbooks"
for i in $(seq 1 "$n"); do
  printf 'secret: s%05d\ncreate: true\nmin_interval: 0s\nmax_age: 30d\ntargets:\n  file: { path: keys/s%05d.env, format: env }\n' "$i" "$i" \
    > "$work/runbooks/s$(printf %05d "$i").yaml"
done
cd "$work"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
ROTOR_STATE_DIR="$work/state" "$bin" rotate >/dev/null        # create every key set

start=$(date +%s%N)
ROTOR_STATE_DIR="$work/state" /usr/bin/time -f '%M' -o rss "$bin" status --output openmetrics > metrics.prom
echo "status --output openmetrics of $n secrets: $(ms "$start") ms, $(grep -c '^rotor_' metrics.prom) samples, peak RSS $(cat rss) KiB"

start=$(date +%s%N)
ROTOR_STATE_DIR="$work/state" "$bin" rotate >/dev/null
one=$(ms "$start")
echo "rotate of $n secrets, one runner: $one ms ($(( n * 60000 / one )) secrets a minute)"

start=$(date +%s%N)
for s in $(seq 0 $((k - 1))); do
  ROTOR_STATE_DIR="$work/shard-$s" "$bin" rotate --shard "$s/$k" >/dev/null 2>&1 &
done
wait
many=$(ms "$start")
echo "rotate of $n secrets, $k shard runners at once on this machine: $many ms ($(( n * 60000 / many )) secrets a minute)"
