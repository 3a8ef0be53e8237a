#!/usr/bin/env bash
# Where a connection's memory goes: the arena server under valgrind's DHAT with BOTS bots,
# once over ws:// and once over wss://, and its live heap at its peak (t-gmax, all bots
# connected) split per connection by the code that allocated it: the TLS session (rustls),
# the WebSocket (tungstenite), the write lane, queues, tasks, the room and replication, the
# rest. The wss − ws column is what TLS costs a connection.
#
# Usage:   bench/connection_memory.sh [BOTS]       (default: 100)
# Env:     DURATION (s the bots play, default 25)  TICK_RATE (default 10: valgrind runs the
#          server ~30× slower, and a tick it cannot keep changes what is allocated)
#          SERVER_BIN (default: this tree's release build of the example server_system_alloc,
#          the stock server on the system allocator: DHAT sees only malloc, not jemalloc)
#          SIM_BIN (default: this tree's release build)  OUT (default bench-out/)
#          PORT (default 7981)
# Needs valgrind. The heap is what DHAT sees: it leaves out the thread stacks, the binary and
# allocator slack, which RSS (bench/arena.sh) includes.
set -euo pipefail
cd "$(dirname "$0")/.."

bots=${1:-100}
DURATION=${DURATION:-25}
TICK_RATE=${TICK_RATE:-10}
OUT=${OUT:-bench-out}
PORT=${PORT:-7981}
[ -n "${SERVER_BIN:-}" ] || cargo build --release -q -p ticksync-server --example server_system_alloc
[ -n "${SIM_BIN:-}" ] || cargo build --release -q -p ticksync-sim
server_bin=${SERVER_BIN:-target/release/examples/server_system_alloc}
sim_bin=${SIM_BIN:-target/release/ticksync-sim}
mkdir -p "$OUT"

server_pid=""
cleanup() { [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh

for scheme in ws wss; do
  server_args=()
  sim_args=()
  if [ "$scheme" = wss ]; then
    server_args=(--dev-tls --dev-tls-cert "$OUT/memory-cert.pem")
    sim_args=(--insecure)
  fi
  valgrind --tool=dhat --dhat-out-file="$OUT/dhat-$scheme.json" \
    "$server_bin" --bind "127.0.0.1:$PORT" --tick-rate "$TICK_RATE" --stats-interval 1h \
    --max-connections-per-ip 0 "${server_args[@]}" >"$OUT/dhat-$scheme.log" 2>&1 &
  server_pid=$!
  # valgrind starts the server slowly: up to a minute.
  wait_for_port "$PORT" 600
  "$sim_bin" --url "$scheme://127.0.0.1:$PORT/ws" --bots "$bots" --duration "$DURATION" \
    --json "$OUT/dhat-sim-$scheme.json" "${sim_args[@]}" >"$OUT/dhat-sim-$scheme.txt" 2>&1 || true
  kill -INT "$server_pid"
  for _ in $(seq 1 600); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  server_pid=""
done

python3 - "$OUT/dhat-ws.json" "$OUT/dhat-wss.json" "$bots" <<'PY'
import json, sys

# Innermost frame first: the first category whose pattern a frame names takes the bytes.
CATEGORIES = [
    ("TLS session (rustls)", ("rustls",)),
    ("WebSocket (tungstenite)", ("tungstenite",)),
    ("write lane", ("net::lane",)),
    ("queues (mpsc, oneshot)", ("tokio::sync::mpsc", "tokio::sync::oneshot")),
    ("room and replication", ("ticksync_server::room", "ticksync_server::replication")),
    ("tasks (futures)", ("tokio::runtime::task", "tokio::task::spawn", "task_tracker")),
    ("session, upgrade, HTTP head", ("ticksync_server::net",)),
]

def breakdown(path):
    with open(path) as f:
        dhat = json.load(f)
    frames = dhat["ftbl"]
    totals = {name: 0 for name, _ in CATEGORIES}
    totals["other"] = 0
    for pp in dhat["pps"]:
        live = pp.get("gb", 0)
        if not live:
            continue
        name = "other"
        for index in pp["fs"]:
            frame = frames[index]
            hit = next((n for n, pats in CATEGORIES if any(p in frame for p in pats)), None)
            if hit:
                name = hit
                break
        totals[name] += live
    return totals

ws, wss, bots = breakdown(sys.argv[1]), breakdown(sys.argv[2]), int(sys.argv[3])
print(f"| allocated by | ws bytes per connection | wss bytes per connection | wss − ws |")
print("|---|---|---|---|")
for name in list(ws):
    a, b = ws[name] / bots, wss[name] / bots
    print(f"| {name} | {a:,.0f} | {b:,.0f} | {b - a:+,.0f} |")
a, b = sum(ws.values()) / bots, sum(wss.values()) / bots
print(f"| **live heap at the peak** | **{a:,.0f}** | **{b:,.0f}** | **{b - a:+,.0f}** |")
PY
