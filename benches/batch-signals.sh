#!/usr/bin/env bash
# Benchmark: N file secrets used by the same S services (stand-ins that count SIGHUPs
# and reload calls, benches/counter.py), each runbook signalling every service with a
# `sighup` and an `http` reload action; one staged `rotor rotate` of all N, release
# build. Prints the SIGHUPs and reload calls the services received and the whole run's
# wall time.
#   benches/batch-signals.sh [N=100] [S=4] [RUNS=3]
# ROTOR_BIN: another rotor binary; ROTOR_ARGS: more arguments for the measured rotate
# (`--jobs 1`: one secret after another).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
s=${2:-4}
runs=${3:-3}
if [ -z "${ROTOR_BIN:-}" ]; then
  cargo build --release --locked -q
  ROTOR_BIN=$PWD/target/release/rotor
fi
counter=$PWD/benches/counter.py
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export ROTOR_STATE_DIR="$work/state"
mkdir -p runbooks keys run
pidfiles=()
urls=()
for i in $(seq 1 "$s"); do
  python3 "$counter" "run/$i.pid" "run/$i.port" &
  pids+=($!)
done
for i in $(seq 1 "$s"); do
  until [ -s "run/$i.port" ]; do sleep 0.01; done
  pidfiles+=("run/$i.pid")
  urls+=("http://127.0.0.1:$(cat "run/$i.port")/reload")
done
join() { local IFS=,; echo "$*"; }
for j in $(seq 1 "$n"); do
  cat > "runbooks/s$j.yaml" <<YAML
secret: s$j
create: true
min_interval: 0s
targets:
  file: { path: keys/s$j.env, format: env }
signal:
  - sighup: { pidfiles: [$(join "${pidfiles[@]}")] }
  - http: { urls: [$(join "${urls[@]}")] }
YAML
done
"$ROTOR_BIN" rotate >/dev/null
counts() {
  local hup=0 post=0
  for i in $(seq 1 "$s"); do
    read -r h p <<< "$(curl -s "http://127.0.0.1:$(cat "run/$i.port")/")"
    hup=$((hup + h)); post=$((post + p))
  done
  echo "$hup $post"
}
echo "secrets=$n services=$s: sighups reload-calls wall-ms"
for r in $(seq 1 "$runs"); do
  read -r h0 p0 < <(counts)
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  "$ROTOR_BIN" rotate ${ROTOR_ARGS:-} >/dev/null
  end=$(date +%s%N)
  read -r h1 p1 < <(counts)
  echo "$((h1 - h0)) $((p1 - p0)) $(( (end - start) / 1000000 ))"
done
