#!/usr/bin/env bash
# Benchmark: N secrets in an AWS store (a local moto server, through the real AWS SDK),
# release build: one `rotor rotate` over N runbooks, staged (per secret: read, claimed
# stage write, read-back, claimed promote write) and dual (read, one claimed write),
# --jobs at its default. Also counts the calls of one staged rotation of one secret from
# moto's request log. Prints each median.
#   benches/rotate-aws.sh ssm|secretsmanager [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
store=${1:-ssm}
n=${2:-100}
runs=${3:-5}
# The target of secret $1 (a path-like name) in the chosen store.
case $store in
  ssm) target() { printf 'aws-ssm: { prefix: /%s }' "$1"; } ;;
  secretsmanager) target() { printf 'aws-secretsmanager: { secret_id: %s }' "$1"; } ;;
  *) echo "usage: benches/rotate-aws.sh ssm|secretsmanager [N] [RUNS]" >&2; exit 2 ;;
esac
moto=${ROTOR_TEST_MOTO:-$PWD/.venv/bin/moto_server}
[ -x "$moto" ] || { echo "moto_server not found: run scripts/test once, or set ROTOR_TEST_MOTO" >&2; exit 1; }
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL="http://127.0.0.1:$port" ROTOR_STATE_DIR="$work/state"
until curl -s "http://127.0.0.1:$port/" >/dev/null; do sleep 0.05; done

for strategy in staged dual; do
  mkdir -p "$work/$strategy"
  for i in $(seq 1 "$n"); do
    printf 'secret: %s-%03d\ncreate: true\nstrategy: %s\ntargets:\n  %s\n' \
      "$strategy" "$i" "$strategy" "$(target "bench/$strategy/s$(printf %03d "$i")")" > "$work/$strategy/s$(printf %03d "$i").yaml"
  done
  "$bin" rotate --runbooks "$work/$strategy" >/dev/null     # create (and warm moto up)
done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
for strategy in staged dual; do
  for r in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate --runbooks "$work/$strategy" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 ))
  done | median > "$work/rotor-$strategy"
  echo "rotor rotate, $n $store secrets, $strategy: median $(cat "$work/rotor-$strategy") ms (peak RSS $(cat "$work/rss") KiB)"
done

# The calls of one staged rotation of one secret, as moto logged them.
mkdir -p "$work/one"
printf 'secret: one\ncreate: true\ntargets:\n  %s\n' "$(target bench/one)" > "$work/one/one.yaml"
"$bin" rotate --runbooks "$work/one" >/dev/null
before=$(grep -c 'POST / HTTP' "$work/moto.log" || true)
"$bin" rotate --runbooks "$work/one" >/dev/null
after=$(grep -c 'POST / HTTP' "$work/moto.log" || true)
echo "$store calls for one staged rotation of one secret: $((after - before))"
