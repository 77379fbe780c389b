#!/usr/bin/env bash
# Benchmark: N demo services (rotor-demo-service, reloading at once on SIGHUP) signalled
# with one `sighup` action and confirmed by one `fingerprint` monitor over all N URLs,
# release build. Prints, from the audit log, the wall time from the stage write until
# every service reported the pending key (stage.monitor satisfied), the same for
# promote, and the whole `rotor rotate`.
#   benches/live-fleet.sh [N=100] [RUNS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100}
runs=${2:-5}
cargo build --release --locked -q
# The demo service is a binary of the rotor-keyring member: built on its own.
cargo build --release --locked -q -p rotor-keyring --features demo
bin=$PWD/target/release/rotor
demo=$PWD/target/release/rotor-demo-service
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export ROTOR_STATE_DIR="$work/state"
mkdir -p runbooks keys run
printf 'secret: fleet\ncreate: true\nmin_interval: 0s\ntargets:\n  file: { path: keys/fleet.env, format: env }\n' > runbooks/fleet.yaml
"$bin" rotate >/dev/null
urls=()
pidfiles=()
for i in $(seq 1 "$n"); do
  "$demo" --keys keys/fleet.env --secret fleet --pidfile "run/$i.pid" > "run/$i.out" 2>/dev/null &
  pids+=($!)
done
for i in $(seq 1 "$n"); do
  for _ in $(seq 1 1000); do [ -s "run/$i.out" ] && break; sleep 0.01; done
  [ -s "run/$i.out" ] || { echo "demo service $i did not start" >&2; exit 1; }
  urls+=("\"http://$(sed 's/listening on //' "run/$i.out")/rotor/keys\"")
  pidfiles+=("\"run/$i.pid\"")
done
join() { local IFS=,; echo "$*"; }
cat >> runbooks/fleet.yaml <<YAML
signal:
  - sighup: { pidfiles: [$(join "${pidfiles[@]}")] }
monitor:
  timeout: 60s
  interval: 20ms
  checks:
    - fingerprint: { urls: [$(join "${urls[@]}")] }
YAML
for r in $(seq 1 "$runs"); do
  start=$(date +%s%N)
  "$bin" rotate >/dev/null
  end=$(date +%s%N)
  python3 - "$ROTOR_STATE_DIR/audit.log" $(( (end - start) / 1000000 )) <<'PY'
import json, sys
from datetime import datetime
lines = [json.loads(l) for l in open(sys.argv[1])]
run = lines[[i for i, l in enumerate(lines) if l["step"] == "start"][-1]:]
def t(step):
    s = next(l["time"] for l in run if l["step"] == step)
    s = s.rstrip("Z")
    base, frac = (s.split(".") + ["0"])[:2]
    return datetime.fromisoformat(base).timestamp() + float("0." + frac)
stage = (t("stage.monitor") - t("stage.write")) * 1000
promote = (t("promote.monitor") - t("promote.write")) * 1000
print(f"{stage:.0f} {promote:.0f} {sys.argv[2]}")
PY
done > times
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
echo "$n services, $runs runs (medians): stage write → all confirmed $(cut -d' ' -f1 times | median) ms;" \
     "promote write → all confirmed $(cut -d' ' -f2 times | median) ms; whole rotate $(cut -d' ' -f3 times | median) ms"
