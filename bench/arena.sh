#!/usr/bin/env bash
# The arena benchmark of ARCHITECTURE.md §4, everyone sees everyone: for each player count, start a
# release server, run a ticksync-sim swarm against it on the same machine, and measure the
# server from /proc over a steady window after the ramp.
#
# Usage:   bench/arena.sh [PLAYERS ...]        (default: 50 200 500)
# Env:     DURATION (s, default 25)  WARMUP (s before the window, default 8)
#          WINDOW (s, default 12)    TICK_RATE (default 30)    OUT (default bench-out/)
#          FLOOR_FRAME_BYTES: run a floor program (bare socket work, one shared frame of this
#          many bytes per tick) instead of the server, to measure what the server's cost is a
#          multiple of. Tick columns are then empty. FLOOR picks which: floor (the default,
#          server/examples/floor.rs: a tokio task per connection, tungstenite) or floor_lean
#          (server/examples/floor_lean.rs: one non-blocking loop per core, no tasks).
#          FLOOR_BIN: a floor binary already built (no build is run for it).
#          TLS=1: the server serves wss:// (--dev-tls, a self-signed certificate) and the swarm
#          connects with wss:// --insecure.
#          AOI_RADIUS (units; unset = everyone sees everyone). With it set, the world grows
#          with the player count to keep the density of 1,000 players in 2000 × 2000, so
#          the interest set stays the same size: side = 2000 × sqrt(players / 1000).
#          INPUT_TIMING: the swarm's --input-timing (synced, the default, or free).
#          SERVER_BIN, SIM_BIN: other binaries to measure (e.g. an older build, for a
#          before/after comparison on the same machine); no build is run for them.
#          OLD_WORLD_FLAG=1: pass the world size as --world-size, as builds before the
#          generic core took it.
# Prints one Markdown table row per player count; raw logs and JSON land in $OUT. The server's
# CPU is given whole and split into user and system time (from /proc/PID/stat). The sim CPU
# column is the swarm's own CPU use over the window (100 = one core): what it takes from the
# server on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-25}
WARMUP=${WARMUP:-8}
WINDOW=${WINDOW:-12}
TICK_RATE=${TICK_RATE:-30}
OUT=${OUT:-bench-out}
PORT=${PORT:-7979}
players=("$@")
[ ${#players[@]} -gt 0 ] || players=(50 200 500)
if [ $((WARMUP + WINDOW)) -ge "$DURATION" ]; then
  echo "WARMUP + WINDOW must be shorter than DURATION" >&2
  exit 2
fi

if [ -z "${SERVER_BIN:-}" ] || [ -z "${SIM_BIN:-}" ]; then
  cargo build --release -q -p ticksync-server -p ticksync-sim
fi
floor=${FLOOR:-floor}
if [ -n "${FLOOR_FRAME_BYTES:-}" ] && [ -z "${FLOOR_BIN:-}" ]; then
  cargo build --release -q -p ticksync-server --example "$floor"
fi
mkdir -p "$OUT"
server_bin=${SERVER_BIN:-target/release/ticksync-server}
sim_bin=${SIM_BIN:-target/release/ticksync-sim}
tls_server_args=()
tls_sim_args=()
scheme=ws
if [ -n "${TLS:-}" ]; then
  tls_server_args=(--dev-tls --dev-tls-cert "$OUT/dev-cert.pem")
  tls_sim_args=(--insecure)
  scheme=wss
fi
timing_args=()
[ -z "${INPUT_TIMING:-}" ] || timing_args=(--input-timing "$INPUT_TIMING")
# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh

echo "| players | server CPU µs/player-tick | user / system µs | downlink B/bot/s | uplink B/bot/s | snapshots/bot/s | tick p50 / p99 / max µs | overruns | ack p50 / p99 ms | server RSS MiB | desyncs | disconnects | sim CPU % | arrival margin p50 / p99 ms | inputs missed tick |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for n in "${players[@]}"; do
  log="$OUT/server-$n.log"
  json="$OUT/sim-$n.json"
  world_args=()
  if [ -n "${AOI_RADIUS:-}" ]; then
    # The world size is the arena's own setting ([game] in a config file).
    side=$(awk -v n="$n" 'BEGIN { printf "%d", 2000 * sqrt(n / 1000) }')
    if [ -n "${OLD_WORLD_FLAG:-}" ]; then
      world_args=(--aoi-radius "$AOI_RADIUS" --world-size "$side")
    else
      printf '[game]\nworld_size = %d\n' "$side" >"$OUT/arena-$n.toml"
      world_args=(--aoi-radius "$AOI_RADIUS" --config "$OUT/arena-$n.toml")
    fi
  fi
  if [ -n "${FLOOR_FRAME_BYTES:-}" ]; then
    "${FLOOR_BIN:-target/release/examples/$floor}" --bind "127.0.0.1:$PORT" --tick-rate "$TICK_RATE" \
      --frame-bytes "$FLOOR_FRAME_BYTES" >"$log" 2>&1 &
  else
    "$server_bin" --bind "127.0.0.1:$PORT" --tick-rate "$TICK_RATE" --stats-interval 1h \
      --max-connections-per-ip 0 "${world_args[@]}" "${tls_server_args[@]}" >"$log" 2>&1 &
  fi
  server_pid=$!
  wait_for_port "$PORT"
  "$sim_bin" --url "$scheme://127.0.0.1:$PORT/ws" --bots "$n" --duration "$DURATION" --json "$json" \
    "${timing_args[@]}" "${tls_sim_args[@]}" >"$OUT/sim-$n.txt" 2>&1 &
  sim_pid=$!
  sleep "$WARMUP"
  cpu_start=$(cpu_seconds "$server_pid")
  user_start=$(user_seconds "$server_pid")
  sim_cpu_start=$(cpu_seconds "$sim_pid")
  sleep "$WINDOW"
  cpu_end=$(cpu_seconds "$server_pid")
  user_end=$(user_seconds "$server_pid")
  sim_cpu_end=$(cpu_seconds "$sim_pid")
  rss=$(rss_kib "$server_pid")
  wait "$sim_pid"
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  # "room stopped" carries the whole run's tick figures.
  stopped=$(grep 'room stopped' "$log" | tail -n 1 || true)
  field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" <<<"$stopped"; }
  awk -v n="$n" -v c0="$cpu_start" -v c1="$cpu_end" -v u0="$user_start" -v u1="$user_end" -v w="$WINDOW" -v hz="$TICK_RATE" \
      -v down="$(json_field "$json" downlink_bytes_per_bot_per_s)" \
      -v up="$(json_field "$json" uplink_bytes_per_bot_per_s)" \
      -v snaps="$(json_field "$json" snapshots_per_bot_per_s)" \
      -v p50="$(field tick_p50_us)" -v p99="$(field tick_p99_us)" -v max="$(field tick_max_us)" \
      -v over="$(field overruns)" \
      -v a50="$(json_field "$json" ack_latency_p50_ms)" -v a99="$(json_field "$json" ack_latency_p99_ms)" \
      -v rss="$rss" -v disc="$(json_field "$json" disconnects)" -v desync="$(json_field "$json" desyncs)" \
      -v s0="$sim_cpu_start" -v s1="$sim_cpu_end" \
      -v m50="$(json_field "$json" input_margin_p50_ms)" -v m99="$(json_field "$json" input_margin_p99_ms)" \
      -v missed="$(json_field "$json" inputs_missed_tick)" \
      'BEGIN { margin = (m50 == "" || m50 == "null") ? "—" : sprintf("%.1f / %.1f", m50, m99);
               if (missed == "") missed = "—";
               per = 1e6 / (n * w * hz);
               printf "| %d | %.2f | %.2f / %.2f | %.0f | %.0f | %.1f | %s / %s / %s | %s | %.1f / %.1f | %.1f | %s | %s | %.0f | %s | %s |\n",
                 n, (c1 - c0) * per, (u1 - u0) * per, ((c1 - c0) - (u1 - u0)) * per, down, up, snaps, p50, p99, max, over, a50, a99, rss / 1024, desync, disc,
                 (s1 - s0) * 100 / w, margin, missed }'
done
