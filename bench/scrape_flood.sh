#!/usr/bin/env bash
# Operations endpoints under attack: with ROOMS rooms open (client-named, empty), what one
# /metrics scrape costs (bytes, server CPU), then the honest bots' input→ack latency with and
# without a FLOODERS-way scrape flood of /metrics, on the same server, back to back.
#
# Usage:   bench/scrape_flood.sh                       (defaults below; admin port 7879)
#          SERVER=... SIM=... METRICS_ADDR=127.0.0.1:7878 bench/scrape_flood.sh   (a server
#          that serves /metrics on its game port)
# Needs    cargo build --release -p ticksync-server -p ticksync-sim --example request_flood
# Writes   $OUT/scrape-*.txt; prints the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOMS=${ROOMS:-1000} BOTS=${BOTS:-100} DURATION=${DURATION:-25} FLOODERS=${FLOODERS:-32}
REPEAT=${REPEAT:-1}
SERVER=${SERVER:-target/release/ticksync-server} SIM=${SIM:-target/release/ticksync-sim}
FLOOD=${FLOOD:-target/release/examples/request_flood}
METRICS_ADDR=${METRICS_ADDR:-127.0.0.1:7879}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"

"$SERVER" --bind 127.0.0.1:7878 --max-connections-per-ip 0 --empty-room-timeout 3600s \
  --max-rooms "$((ROOMS + 1))" --stats-interval 3600s >"$OUT/scrape-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
# CPU seconds (user + system) the server has used.
cpu() { awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$server/stat"; }
for _ in $(seq 100); do "$FLOOD" --addr "$METRICS_ADDR" --requests 1 >/dev/null 2>&1 && break; sleep 0.1; done

# The rooms: one bot each, for two seconds; the rooms stay open (empty) afterwards.
"$SIM" --bots "$ROOMS" --rooms "$ROOMS" --room idle --duration 2 --ramp 2000 --no-progress \
  >"$OUT/scrape-rooms.txt" 2>&1 || true

# The server's own CPU while idle (the rooms tick), per second, to subtract.
idle_before=$(cpu); sleep 5; idle_after=$(cpu)
idle_rate=$(echo "$idle_before $idle_after" | awk '{print ($2 - $1) / 5}')
echo "idle with $ROOMS rooms: server CPU $(echo "$idle_rate" | awk '{printf "%.1f %%", $1 * 100}')"
scrape_cost() {
  local label=$1 requests=$2 concurrency=$3 before after start end
  before=$(cpu); start=$(date +%s.%N)
  "$FLOOD" --addr "$METRICS_ADDR" --path /metrics --requests "$requests" \
    --concurrency "$concurrency" --duration 60 >"$OUT/scrape-$label.txt"
  after=$(cpu); end=$(date +%s.%N)
  echo "$label: $(cat "$OUT/scrape-$label.txt"); server CPU beyond idle $(echo "$before $after $start $end $idle_rate $requests" | awk '{printf "%.2f ms per scrape", (($2 - $1) - ($4 - $3) * $5) * 1000 / $6}')"
}
scrape_cost back-to-back 500 1

play() {
  local label=$1 before after
  before=$(cpu)
  "$SIM" --bots "$BOTS" --duration "$DURATION" --no-progress --json "$OUT/scrape-$label.json" \
    >"$OUT/scrape-$label.txt" 2>&1
  after=$(cpu)
  echo "$label: honest ack p50 $(jq .ack_latency_p50_ms "$OUT/scrape-$label.json") ms, p99 $(jq .ack_latency_p99_ms "$OUT/scrape-$label.json") ms, tick gaps $(jq .tick_gaps "$OUT/scrape-$label.json"), server CPU $(echo "$before $after $DURATION" | awk '{printf "%.0f %%", ($2 - $1) * 100 / $3}')"
}
# Quiet and flooded runs alternate, REPEAT times each, on the same server.
for round in $(seq "$REPEAT"); do
  play "quiet-$round"
  "$FLOOD" --addr "$METRICS_ADDR" --path /metrics --concurrency "$FLOODERS" \
    --duration "$((DURATION + 2))" >"$OUT/scrape-flood-$round.txt" 2>&1 &
  flood=$!
  sleep 1
  play "flooded-$round"
  wait $flood
  echo "flood-$round: $(cat "$OUT/scrape-flood-$round.txt")"
done
