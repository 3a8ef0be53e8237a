#!/usr/bin/env bash
# The shooter next to the arena on the same run: for each player count, bench/arena.sh's
# measurement (a release server and a swarm on this machine, the server measured from /proc
# over a steady window after the ramp) of the arena, then of the shooter (`shooter-server`
# and `shooter-sim`: bots that move, aim at the nearest enemy, fire, chat), back to back.
# Then the shooter's own figures per bot and second, from its swarm's report: events
# received, shots fired (as the server counted them), hits and kills scored, chat lines
# heard.
#
# Usage:   bench/shooter.sh [PLAYERS ...]        (default: 50 200)
# Env:     as bench/arena.sh (DURATION, WARMUP, WINDOW, TICK_RATE, OUT, PORT); OUT defaults to
#          bench-out/, with the arena's runs in OUT/arena and the shooter's in OUT/shooter.
# Prints two Markdown tables: arena.sh's columns with the game in front, then the shooter's
# game figures.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench-out}
players=("$@")
[ ${#players[@]} -gt 0 ] || players=(50 200)

cargo build --release -q -p ticksync-server -p ticksync-sim -p ticksync-shooter

# shellcheck source=bench/lib/measure.sh
source bench/lib/measure.sh

header_done=
for n in "${players[@]}"; do
  for game in arena shooter; do
    if [ "$game" = arena ]; then
      bins=(target/release/ticksync-server target/release/ticksync-sim)
    else
      bins=(target/release/shooter-server target/release/shooter-sim)
    fi
    table=$(SERVER_BIN=${bins[0]} SIM_BIN=${bins[1]} OUT="$OUT/$game" bench/arena.sh "$n")
    if [ -z "$header_done" ]; then
      head -n 2 <<<"$table" | sed -e '1s/^| players/| game | players/' -e '2s/^|---/|---|---/'
      header_done=1
    fi
    tail -n 1 <<<"$table" | sed "s/^|/| $game |/"
  done
done

echo
echo "| players | events/bot/s | shots/bot/s | hits/bot/s | kills/bot/s | chat lines heard/bot/s | hit rate |"
echo "|---|---|---|---|---|---|---|"
for n in "${players[@]}"; do
  json="$OUT/shooter/sim-$n.json"
  awk -v n="$n" -v d="$(json_field "$json" duration_s)" \
      -v events="$(json_field "$json" events)" -v shots="$(json_field "$json" shots)" \
      -v hits="$(json_field "$json" hits)" -v kills="$(json_field "$json" kills)" \
      -v chat="$(json_field "$json" chat_received)" \
      'BEGIN { per = n * d; rate = (shots > 0) ? hits * 100 / shots : 0;
               printf "| %d | %.1f | %.2f | %.2f | %.3f | %.1f | %.0f %% |\n",
                 n, events / per, shots / per, hits / per, kills / per, chat / per, rate }'
done
