#!/usr/bin/env bash
# The cluster's figures: one redis-server and three release nodes on loopback.
#
#   1. matchmaking: matchmake-bench asks the three nodes for seats (join-or-create over
#      FILTER_VALUES filter values, WORKERS in flight) for MM_SECONDS: requests per second
#      and latency p50/p99;
#   2. failover: rooms are made on node 3, node 3 is SIGKILLed, and node 1's listing is
#      polled every 20 ms until none of node 3's rooms is in it: the time from the kill to
#      that (LEASE is the nodes' lease);
#   3. players per node: BOTS bots of the arena at 30 Hz join through the matchmaker into
#      rooms of ROOM_SIZE over the two live nodes for PLAY_SECONDS; each node's players and
#      worst room tick p99 (its /rooms) and the swarm's report.
#
# Usage:   bench/cluster.sh
#          WORKERS=32 MM_SECONDS=10 LEASE=6s BOTS=400 ROOM_SIZE=50 PLAY_SECONDS=20 bench/cluster.sh
# Writes   $OUT/cluster-*.{log,txt}. Needs redis-server, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKERS=${WORKERS:-32} MM_SECONDS=${MM_SECONDS:-10} FILTER_VALUES=${FILTER_VALUES:-20}
LEASE=${LEASE:-6s} BOTS=${BOTS:-400} ROOM_SIZE=${ROOM_SIZE:-50} PLAY_SECONDS=${PLAY_SECONDS:-20}
OUT=${OUT:-bench-out} BASE_PORT=${BASE_PORT:-7300}
mkdir -p "$OUT"
# BUILD=0 runs the release binaries already in target/release.
[[ ${BUILD:-1} == 0 ]] || cargo build --release -q -p ticksync-server -p ticksync-sim

REDIS_PORT=$((BASE_PORT + 79))
export TICKSYNC_SEAT_SECRET=bench-seat-secret-0123456789abcdef0123
pids=()
cleanup() { for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh

redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
  >"$OUT/cluster-redis.log" 2>&1 &
pids+=($!)
wait_for_port "$REDIS_PORT"

# The cluster table through the environment: the node's whole [cluster] as one inline table.
start_node() {
  local n=$1 port=$((BASE_PORT + $1)) admin=$((BASE_PORT + 10 + $1))
  TICKSYNC_CLUSTER="{ redis_url = \"redis://127.0.0.1:$REDIS_PORT/\", public_url = \"ws://127.0.0.1:$port/ws\", node_id = \"n$n\", lease = \"$LEASE\", seat_ttl = \"10s\", max_players = 100000 }" \
    RUST_LOG=warn target/release/ticksync-server --bind "127.0.0.1:$port" \
    --admin-bind "127.0.0.1:$admin" --max-connections-per-ip 0 --max-players "$ROOM_SIZE" \
    --max-rooms 100000 --stats-interval 2s >"$OUT/cluster-node$n.log" 2>&1 &
  eval "node${n}_pid=$!"
  pids+=($!)
  wait_for_port "$port"
}
start_node 1
start_node 2
start_node 3
sleep 1

echo "== 1. matchmaking: $WORKERS workers over 3 nodes for $MM_SECONDS s"
target/release/matchmake-bench --workers "$WORKERS" --duration "$MM_SECONDS" \
  --filter-values "$FILTER_VALUES" --matchmaker "http://127.0.0.1:$((BASE_PORT + 1))" \
  --matchmaker "http://127.0.0.1:$((BASE_PORT + 2))" \
  --matchmaker "http://127.0.0.1:$((BASE_PORT + 3))" | tee "$OUT/cluster-matchmaking.txt"

echo "== 2. failover: lease $LEASE"
for i in $(seq 1 10); do
  curl -s -X POST -H 'Content-Type: application/json' -d "{\"metadata\":{\"failover\":\"$i\"}}" \
    "http://127.0.0.1:$((BASE_PORT + 3))/matchmake/create" >/dev/null
done
listed_on_n3() {
  curl -s "http://127.0.0.1:$((BASE_PORT + 1))/matchmake/rooms" | grep -o '"node":"n3"' | wc -l
}
echo "rooms of n3 listed before the kill: $(listed_on_n3)"
killed=$(date +%s%N)
# shellcheck disable=SC2154 # set by start_node through eval
kill -9 "$node3_pid"
while [[ $(listed_on_n3) -gt 0 ]]; do sleep 0.02; done
gone=$(date +%s%N)
echo "node n3 SIGKILLed: its rooms left the listing after $(((gone - killed) / 1000000)) ms" \
  | tee "$OUT/cluster-failover.txt"

echo "== 3. players per node: $BOTS bots at 30 Hz through the matchmaker, rooms of $ROOM_SIZE"
target/release/ticksync-sim --matchmake "http://127.0.0.1:$((BASE_PORT + 1))" \
  --filter mode=play --bots "$BOTS" --duration "$PLAY_SECONDS" --ramp 200 --no-progress \
  >"$OUT/cluster-swarm.txt" 2>&1 &
sim=$!
sleep $((PLAY_SECONDS - 4))
for n in 1 2; do
  curl -s "http://127.0.0.1:$((BASE_PORT + 10 + n))/rooms" >"$OUT/cluster-node$n-rooms.json"
  python3 - "$OUT/cluster-node$n-rooms.json" "n$n" <<'EOF'
import json, sys
rooms = [r for r in json.load(open(sys.argv[1])) if r["players"] > 0]
players = sum(r["players"] for r in rooms)
worst = max((r["tick_p99_ms"] for r in rooms), default=0.0)
print(f"{sys.argv[2]}: {players} players in {len(rooms)} rooms, worst room tick p99 {worst:.2f} ms")
EOF
done | tee "$OUT/cluster-per-node.txt"
wait "$sim" || true
cat "$OUT/cluster-swarm.txt"
