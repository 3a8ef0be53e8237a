#!/usr/bin/env bash
# Log volume of refused upgrades at the default log level: REFUSED upgrades with a forged join
# token (signed with another secret), then what the server logged for them, in bytes —
# everything it wrote after its start-up lines, up to one statistics interval (2 s) later.
#
# Usage:   bench/refusal_log.sh            SERVER=... REFUSED=1000 bench/refusal_log.sh
# Needs    cargo build --release -p ticksync-server --example request_flood
set -euo pipefail
cd "$(dirname "$0")/.."
REFUSED=${REFUSED:-1000}
SERVER=${SERVER:-target/release/ticksync-server}
FLOOD=${FLOOD:-target/release/examples/request_flood}
OUT=${OUT:-bench-out}
mkdir -p "$OUT"
log="$OUT/refusal-server.log"
forged=$(TICKSYNC_TOKEN_SECRET="a guess" "$SERVER" token --player p --ttl 1h)
env -u RUST_LOG TICKSYNC_TOKEN_SECRET="the real secret" "$SERVER" --bind 127.0.0.1:7878 \
  --stats-interval 2s >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
sleep 0.5
start=$(stat -c %s "$log")
"$FLOOD" --addr 127.0.0.1:7878 --upgrade --path "/ws?token=$forged" --requests "$REFUSED" \
  --concurrency 8 --duration 60
sleep 2.5
end=$(stat -c %s "$log")
echo "log bytes for $REFUSED refused upgrades: $((end - start)) ($(tail -c +$((start + 1)) "$log" | wc -l) lines)"
tail -c +$((start + 1)) "$log" | tail -n 2
