#!/usr/bin/env bash
# Room open/close churn: what naming rooms in URLs costs the server's memory, and whether it
# gives the memory back. ROUNDS rounds; in each, ROOMS bots join ROOMS new rooms (one each),
# play DURATION seconds and leave; the next round starts once those rooms have closed
# (--empty-room-timeout 1s). Samples the server's VmRSS before the first round, after the
# last room closed, and SETTLE seconds later; the peak is the kernel's VmHWM.
#
# Usage:   bench/room_churn.sh                     (defaults: 1 round of 1000 rooms)
#          ROUNDS=30 ROOMS=1000 bench/room_churn.sh [extra server flags]
#          SERVER=path/to/ticksync-server SIM=path/to/ticksync-sim ROOMS_URL=http://127.0.0.1:7878/rooms bench/room_churn.sh
#          (ROOMS_URL is where the server lists its rooms: the admin port by default)
# Writes   $OUT/churn-server.log; prints one line of figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-1} ROOMS=${ROOMS:-1000} DURATION=${DURATION:-2} SETTLE=${SETTLE:-10}
SERVER=${SERVER:-target/release/ticksync-server} SIM=${SIM:-target/release/ticksync-sim}
ROOMS_URL=${ROOMS_URL:-http://127.0.0.1:7879/rooms}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
[[ -x $SERVER && -x $SIM ]] || cargo build --release -p ticksync-server -p ticksync-sim

"$SERVER" --bind 127.0.0.1:7878 --max-connections-per-ip 0 --empty-room-timeout 1s \
  --max-rooms "$((ROOMS + 1))" --stats-interval 3600s "$@" >"$OUT/churn-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
rss() { awk '/^'"$1"':/ {print $2}' "/proc/$server/status"; }
# Open rooms, from the server's own listing (bounded: 60 s).
rooms_open() { curl -s --max-time 2 "$ROOMS_URL" | jq length; }
wait_rooms() {
  for _ in $(seq 600); do
    [[ "$(rooms_open 2>/dev/null || echo -1)" == "$1" ]] && return 0
    sleep 0.1
  done
  echo "rooms did not come down to $1" >&2
  return 1
}
wait_rooms 1
before=$(rss VmRSS)
for round in $(seq "$ROUNDS"); do
  "$SIM" --bots "$ROOMS" --rooms "$ROOMS" --room "churn$round" --duration "$DURATION" \
    --ramp 2000 --no-progress >"$OUT/churn-sim.txt" 2>&1 || true
  wait_rooms 1
done
after=$(rss VmRSS)
sleep "$SETTLE"
settled=$(rss VmRSS)
peak=$(rss VmHWM)
echo "rooms opened and closed: $((ROUNDS * ROOMS)); RSS KiB: before $before, peak $peak, after $after, after ${SETTLE}s more $settled"
grep -E "bots connected" "$OUT/churn-sim.txt" || true
