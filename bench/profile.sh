#!/usr/bin/env bash
# Where a player-tick goes: the arena (everyone sees everyone) at PLAYERS bots, with the
# server sampled by `perf record -e cpu-clock -g` over a steady window, and its samples
# sorted into the parts of a player-tick — tick work, queue hops and wake-ups, WebSocket
# framing, socket calls, input decode — for user and system time separately.
#
# Usage:   bench/profile.sh [PLAYERS]            (default: 500)
# Env:     WARMUP (s, default 8)  WINDOW (s, default 10)  TICK_RATE (default 30)
#          SERVER_BIN, SIM_BIN (default: this tree's release build)  OUT (default bench-out/)
#          SERVER_ARGS: more flags for the server.
#          FLOOR (floor or floor_lean) with FLOOR_FRAME_BYTES: profile that floor program
#          (server/examples/) instead of the server, for comparison; FLOOR_BIN: a floor
#          binary already built (no build is run for it).
#          TLS=1: wss:// (the server with --dev-tls, the swarm with --insecure).
#          REPORT_ONLY=1: sort the samples of an earlier run again (no new run: perf-PLAYERS.data in OUT).
# Needs `perf` (Debian: linux-perf) and permission to sample the kernel (root, or
# kernel.perf_event_paranoid <= 1). Software sampling (cpu-clock) works in VMs without
# hardware counters. User-space stacks are not unwound (release builds have no frame
# pointers): a user sample counts for the function it landed in, after inlining.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh

players=${1:-500}
WARMUP=${WARMUP:-8}
WINDOW=${WINDOW:-10}
TICK_RATE=${TICK_RATE:-30}
OUT=${OUT:-bench-out}
PORT=${PORT:-7979}
data="$OUT/perf-$players.data"
report="$OUT/perf-$players.txt"
if [ -z "${REPORT_ONLY:-}" ]; then
if [ -z "${SERVER_BIN:-}" ] || [ -z "${SIM_BIN:-}" ]; then
  cargo build --release -q -p ticksync-server -p ticksync-sim
fi
server_bin=${SERVER_BIN:-target/release/ticksync-server}
sim_bin=${SIM_BIN:-target/release/ticksync-sim}
mkdir -p "$OUT"

scheme=ws
[ -z "${TLS:-}" ] || scheme=wss
if [ -n "${FLOOR:-}" ]; then
  [ -n "${FLOOR_BIN:-}" ] || cargo build --release -q -p ticksync-server --example "$FLOOR"
  "${FLOOR_BIN:-target/release/examples/$FLOOR}" --bind "127.0.0.1:$PORT" --tick-rate "$TICK_RATE" \
    --frame-bytes "${FLOOR_FRAME_BYTES:-170}" >"$OUT/profile-server.log" 2>&1 &
else
  # shellcheck disable=SC2086
  "$server_bin" --bind "127.0.0.1:$PORT" --tick-rate "$TICK_RATE" --stats-interval 1h \
    --max-connections-per-ip 0 ${SERVER_ARGS:-} ${TLS:+--dev-tls --dev-tls-cert "$OUT/dev-cert.pem"} \
    >"$OUT/profile-server.log" 2>&1 &
fi
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
wait_for_port "$PORT"
"$sim_bin" --url "$scheme://127.0.0.1:$PORT/ws" ${TLS:+--insecure} --bots "$players" \
  --duration $((WARMUP + WINDOW + 4)) >"$OUT/profile-sim.txt" 2>&1 &
sim_pid=$!
sleep "$WARMUP"
perf record -q -e cpu-clock -F 1999 -g -p "$server_pid" -o "$data" -- sleep "$WINDOW" 2>/dev/null
wait "$sim_pid"
kill -TERM "$server_pid"
wait "$server_pid" || true
trap - EXIT

fi

# One line per sample: its own function, and the system call it ran under (if any).
perf script -i "$data" -F ip,sym,dso 2>/dev/null | awk '
  function flush() {
    if (leaf == "") return
    print (sys == "" ? "-" : sys) "\t" leafdso "\t" leaf
    leaf = ""; sys = ""
  }
  NF == 0 { flush(); next }
  {
    dso = $NF; gsub(/[()]/, "", dso)
    sym = $2; for (i = 3; i < NF; i++) sym = sym " " $i
    if (leaf == "") { leaf = sym; leafdso = dso }
    if (sym ~ /^__x64_sys_|^__do_sys_|^ksys_|^__sys_|^do_(writev|readv)$/) { s = sym; sub(/^(__x64_sys_|__do_sys_|ksys_|__sys_|do_)/, "", s); sys = s }
  }
  END { flush() }' >"$OUT/perf-$players.samples"

awk -F '\t' -v players="$players" -v hz="$TICK_RATE" -v window="$WINDOW" '
  function part(sys, dso, sym) {
    if (dso ~ /kernel/) {
      if (sys ~ /^(write|writev|sendto|sendmsg)$/) return "system: socket writes"
      if (sys ~ /^(read|readv|recvfrom|recvmsg)$/) return "system: socket reads"
      if (sys ~ /^futex/) return "system: futex (cross-thread wake-ups and waits)"
      if (sys ~ /^epoll/) return "system: epoll (readiness)"
      if (sys == "-") return "system: outside a system call (interrupts, softirq, scheduler)"
      return "system: other system calls (" sys ")"
    }
    if (sym ~ /rustls|ring_core|ring::|aes_gcm|gcm_ghash/) return "user: TLS (rustls: records, encryption)"
    if (sym ~ /tungstenite|FrameHeader|apply_mask|WebSocketContext|WebSocketStream|frame::/) return "user: WebSocket framing (tungstenite)"
    if (sym ~ /decode_client_message|codec::decode|ClientMessage/) return "user: input decode"
    if (sym ~ /replication|Replicator|encode|tick_loop|room::|Game|ticksync_arena|World|checksum|interest|rayon|crossbeam|ticksync_protocol::delta|^__(atan|sin|cos)/) return "user: tick (game, replication, room)"
    if (sym ~ /harness|task::raw|task::core|run_task|worker::Context::run|queue::Local|steal/) return "user: runtime (task polls, run queues)"
    if (sym ~ /sync::mpsc|batch_semaphore|Semaphore|chan::|block::|AtomicWaker|oneshot|transition_to_notified|schedule_task|schedule_option_task|push_remote|Inject|unpark|Notify|Notified|wake_by/) return "user: queue hops and wake-ups (mpsc, oneshot, wakers, scheduling)"
    if (sym ~ /PollFn|TrackedFuture|session|serve_stream|net::limits|SplitSink|SplitStream|BiLock|Rewind/) return "user: session task polls (select over reader, writer, timers)"
    if (sym ~ /tokio::time::|Sleep|Timeout|Interval|clock_gettime|Instant/) return "user: timers and clock"
    if (sym ~ /io::registration|ScheduledIo|io::driver|poll_read_priv|poll_write_priv|mio::/) return "user: reactor (readiness)"
    if (sym ~ /tokio::runtime/) return "user: runtime (task polls, run queues)"
    if (sym ~ /malloc|free|je_|jemalloc|rallocx|sdallocx|mallocx|realloc/) return "user: allocator"
    if (sym ~ /memcpy|memmove|memset|memcmp/) return "user: memcpy and friends"
    if (sym ~ /bincode/) return "user: bincode (tick encode or input decode)"
    if (dso ~ /libc/) return "user: libc (syscall wrappers, locks)"
    return "user: other"
  }
  { parts[part($1, $2, $3)]++; total++ }
  END {
    ticks = players * hz * window
    printf "| part | share of samples | µs per player-tick |\n|---|---|---|\n"
    for (p in parts) printf "%s\t%d\n", p, parts[p] | "sort -t \"\t\" -k2 -nr > /tmp/ticksync-profile-parts"
    close("sort -t \"\t\" -k2 -nr > /tmp/ticksync-profile-parts")
    while ((getline line < "/tmp/ticksync-profile-parts") > 0) {
      split(line, f, "\t")
      # Each sample is 1/1999 s of CPU.
      printf "| %s | %.1f %% | %.2f |\n", f[1], 100 * f[2] / total, f[2] / 1999 * 1e6 / ticks
    }
    printf "| total | 100 %% (%d samples) | %.2f |\n", total, total / 1999 * 1e6 / ticks
  }' "$OUT/perf-$players.samples" | tee "$report"
echo
echo "top functions (self):"
perf report -i "$data" --no-children --sort dso,sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -40 | tee -a "$report"
