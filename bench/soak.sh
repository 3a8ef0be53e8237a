#!/usr/bin/env bash
# A soak: a release server and a ticksync-sim swarm on this machine for a long run, with the
# server's resident memory sampled every 10 s and the swarm's JSON report kept.
#
# Usage:   bench/soak.sh LABEL BOTS DURATION_S MIX [extra server flags...]
# Example: bench/soak.sh chaos 1000 600 random-walk=90,chaos=10 --aoi-radius 200
# Writes   $OUT/soak-LABEL-rss.csv (seconds,rss_kib), soak-LABEL.json, soak-LABEL-server.log
#          soak-LABEL-sim.txt, and prints a summary: RSS at start/end, server panics,
#          sessions the server closed by reason.
set -euo pipefail
cd "$(dirname "$0")/.."

label=$1 bots=$2 duration=$3 mix=$4
shift 4
OUT=${OUT:-bench-out}
PORT=${PORT:-7983}
mkdir -p "$OUT"
cargo build --release -q -p ticksync-server -p ticksync-sim

log="$OUT/soak-$label-server.log"
RUST_LOG=${RUST_LOG:-info} target/release/ticksync-server --bind "127.0.0.1:$PORT" \
  --max-connections-per-ip 0 --stats-interval 30s "$@" >"$log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done
target/release/ticksync-sim --url "ws://127.0.0.1:$PORT/ws" --bots "$bots" --mix "$mix" \
  --duration "$duration" --ramp 200 --no-progress --json "$OUT/soak-$label.json" \
  >"$OUT/soak-$label-sim.txt" 2>&1 &
sim_pid=$!

csv="$OUT/soak-$label-rss.csv"
echo "seconds,rss_kib" >"$csv"
start=$(date +%s)
while kill -0 "$sim_pid" 2>/dev/null; do
  now=$(date +%s)
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status" 2>/dev/null || echo 0)
  echo "$((now - start)),$rss" >>"$csv"
  sleep 10
done
wait "$sim_pid" || true
kill -INT "$server_pid"
wait "$server_pid" || true

echo "== $label: $bots bots, $duration s, mix $mix =="
echo "server RSS KiB (first / last sample): $(sed -n 2p "$csv" | cut -d, -f2) / $(tail -n 1 "$csv" | cut -d, -f2)"
echo "server panics: $(grep -c 'panicked' "$log" || true)"
grep -E "room stopped|sessions summary|ticksync-server stopped" "$log" | sed 's/^.*INFO //'
cat "$OUT/soak-$label-sim.txt" | grep -v WARN | tail -n 25
