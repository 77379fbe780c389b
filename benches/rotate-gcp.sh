#!/usr/bin/env bash
# Benchmark: N secrets in GCP Secret Manager (the project's test server, a process on
# loopback), release build: one `rotor rotate` over N runbooks, staged (per secret: read,
# claimed stage write, read-back, claimed promote write) and dual, --jobs at its default.
# Then counts the calls of one staged rotation of one secret holding current and
# previous (from the server's own log). Prints each median.
#   benches/rotate-gcp.sh [N=100] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-3}
cargo build --release --locked -q
cargo build --release --locked -q -p rotor-testkit --bin gsm-test-server
bin=$PWD/target/release/rotor
work=$(mktemp -d)
"$PWD/target/release/gsm-test-server" >"$work/port" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
until [ -s "$work/port" ]; do sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"
export GOOGLE_OAUTH_ACCESS_TOKEN=bench ROTOR_STATE_DIR="$work/state"
target() { printf 'gcp-secretmanager: { project: rotor-test, secret: %s, endpoint: "%s" }' "$1" "$url"; }

for strategy in staged dual; do
  mkdir -p "$work/$strategy"
  for i in $(seq 1 "$n"); do
    printf 'secret: %s-%03d\ncreate: true\nstrategy: %s\ntargets:\n  %s\n' \
      "$strategy" "$i" "$strategy" "$(target "$strategy-s$(printf %03d "$i")")" > "$work/$strategy/s$(printf %03d "$i").yaml"
  done
  "$bin" rotate --runbooks "$work/$strategy" >/dev/null     # create
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
for strategy in staged dual; do
  for r in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate --runbooks "$work/$strategy" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 ))
  done | median > "$work/rotor-$strategy"
  echo "rotor rotate, $n gcp-secretmanager secrets, $strategy: median $(cat "$work/rotor-$strategy") ms (peak RSS $(cat "$work/rss") KiB)"
done

# The calls of one staged rotation of one secret that holds current and previous.
mkdir -p "$work/one"
printf 'secret: one\ncreate: true\nmin_interval: 0s\ntargets:\n  %s\n' "$(target one)" > "$work/one/one.yaml"
"$bin" rotate --runbooks "$work/one" >/dev/null
"$bin" rotate --runbooks "$work/one" >/dev/null
before=$(curl -s "$url/_calls")
"$bin" rotate --runbooks "$work/one" >/dev/null
after=$(curl -s "$url/_calls")
python3 -c "import json,sys; b,a=json.loads(sys.argv[1]),json.loads(sys.argv[2]); print(f\"gcp-secretmanager calls for one staged rotation of one secret: {a['writes']-b['writes']} writes, {a['reads']-b['reads']} reads\")" "$before" "$after"
