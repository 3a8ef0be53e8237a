#!/usr/bin/env bash
# Room isolation: do small rooms keep their tick when a large room shares the server?
#
# Two runs of a release server, each DURATION seconds:
#   alone:  SMALL_ROOMS rooms of SMALL_SIZE bots each (room names small-0 … small-N)
#   beside: the same small rooms, plus one room of BIG bots (room "big")
# At the end of each run the server stops and every room logs its whole-run figures; this
# script reads them and prints, over the small rooms, the median and worst of each room's
# tick work p99 and tick start lateness p99 (how late a tick began after its due time —
# what a busy neighbour costs), and the big room's own figures.
#
# Usage:   bench/rooms.sh                      (defaults: 50 rooms of 4, a room of 1000, 40 s)
#          SMALL_ROOMS=50 SMALL_SIZE=4 BIG=1000 DURATION=40 bench/rooms.sh [extra server flags]
# Writes   $OUT/rooms-{alone,beside}-server.log and the sims' reports next to them.
set -euo pipefail
cd "$(dirname "$0")/.."

SMALL_ROOMS=${SMALL_ROOMS:-50} SMALL_SIZE=${SMALL_SIZE:-4} BIG=${BIG:-1000}
DURATION=${DURATION:-40} OUT=${OUT:-bench-out} PORT=${PORT:-7984}
mkdir -p "$OUT"
cargo build --release -q -p ticksync-server -p ticksync-sim
small_bots=$((SMALL_ROOMS * SMALL_SIZE))

run() {
  local label=$1 with_big=$2
  shift 2
  local log="$OUT/rooms-$label-server.log"
  RUST_LOG=info target/release/ticksync-server --bind "127.0.0.1:$PORT" \
    --max-connections-per-ip 0 --stats-interval 3600s "$@" >"$log" 2>&1 &
  local server_pid=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    sleep 0.1
  done
  local pids=()
  if [[ $with_big == yes ]]; then
    target/release/ticksync-sim --url "ws://127.0.0.1:$PORT/ws" --room big --bots "$BIG" \
      --duration "$DURATION" --ramp 500 --no-progress --json "$OUT/rooms-$label-big.json" \
      >"$OUT/rooms-$label-big.txt" 2>&1 &
    pids+=($!)
  fi
  target/release/ticksync-sim --url "ws://127.0.0.1:$PORT/ws" --room small \
    --rooms "$SMALL_ROOMS" --bots "$small_bots" --duration "$DURATION" --ramp 500 \
    --no-progress --json "$OUT/rooms-$label-small.json" >"$OUT/rooms-$label-small.txt" 2>&1 &
  pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  kill -INT "$server_pid"
  wait "$server_pid" || true
}

# Prints "median worst" of field $2 (µs) over the "room stopped" lines of rooms matching $3.
stat() {
  local log=$1 field=$2 rooms=$3
  grep "room stopped" "$log" | grep -E "room=$rooms " |
    sed -E "s/.*$field=([0-9]+).*/\1/" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "- -"; exit } printf "%.2f %.2f\n", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'
}

report() {
  local label=$1 log="$OUT/rooms-$1-server.log"
  read -r work_med work_max <<<"$(stat "$log" tick_p99_us 'small-[0-9]+')"
  read -r late_med late_max <<<"$(stat "$log" tick_late_p99_us 'small-[0-9]+')"
  read -r big_work _ <<<"$(stat "$log" tick_p99_us big)"
  read -r big_late _ <<<"$(stat "$log" tick_late_p99_us big)"
  local overruns
  overruns=$(grep "room stopped" "$log" | grep -E "room=small-[0-9]+ " |
    sed -E 's/.*overruns=([0-9]+).*/\1/' | awk '{ s += $1 } END { print s + 0 }')
  local rooms
  rooms=$(grep -c "room stopped" "$log" || true)
  printf "| %s | %s | %s / %s | %s / %s | %s | %s / %s |\n" "$label" "$rooms" \
    "$work_med" "$work_max" "$late_med" "$late_max" "$overruns" "$big_work" "$big_late"
}

run alone no "$@"
run beside yes "$@"
echo "small rooms: $SMALL_ROOMS x $SMALL_SIZE bots; big room: $BIG bots; $DURATION s; $(nproc) cores"
echo "| run | rooms | small tick p99 ms (median / worst room) | small start lateness p99 ms (median / worst) | small-room overruns | big room tick p99 / lateness p99 ms |"
echo "|---|---|---|---|---|---|"
report alone
report beside
for label in alone beside; do
  echo "-- $label: small rooms' swarm"
  grep -E "desyncs|disconnects|snapshots/s|ack latency" "$OUT/rooms-$label-small.txt" | head -n 6 || true
done
