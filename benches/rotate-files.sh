#!/usr/bin/env bash
# Benchmark: one `rotor rotate` over N file-backed runbooks (staged: stage, verify,
# promote per secret), release build. Prints wall time, per-secret time and peak RSS.
#   benches/rotate-files.sh [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-5}
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/runbooks"
for i in $(seq 1 "$n"); do
  printf 'secret: s%03d\ncreate: true\ntargets:\n  file: { path: keys/s%03d.env, format: env }\n' "$i" "$i" \
    > "$work/runbooks/s$(printf %03d "$i").yaml"
done
cd "$work"
export ROTOR_STATE_DIR="$work/state"
"$bin" rotate >/dev/null                       # create every key set
times=()
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate >/dev/null
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000000 )))
  rss=$(cat "$work/rss")
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
median=$(echo "$sorted" | sed -n "$(( (runs + 1) / 2 ))p")
echo "rotate of $n file secrets (staged), $runs runs: median ${median} ms wall," \
     "$(awk "BEGIN { printf \"%.2f\", $median / $n }") ms per secret, peak RSS ${rss} KiB"
