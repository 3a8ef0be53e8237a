// The bot swarm of the Colyseus arena comparison, run by bench/colyseus.sh against
// server.mjs: clients of the official Colyseus SDK (@colyseus/sdk) in this one process join
// the one "arena" room and play ticksync's arena scenario (ARCHITECTURE.md §4): each sends
// one input per tick (30 Hz), a random unit move direction that changes once a second from a
// per-bot seeded RNG, buttons 0. Every bot decodes its patches as a real client would
// (unless --no-decode).
//
// Counted per bot: downlink bytes (WebSocket message payloads, as ticksync-sim counts them),
// state patches (ROOM_STATE_PATCH frames) and uplink bytes, read at the edges of a window
// [WARMUP, WARMUP + WINDOW] seconds after --t0 (the instant bench/colyseus.sh starts its
// /proc window from, shared by every bot process) and over the bot's whole time in the room.
// Writes one record per bot to --json; report.mjs turns the records into the figures.
//
// Usage: node bots.mjs --url http://127.0.0.1:PORT --bots N --duration S --warmup S
//          --window S --json FILE [--t0 EPOCH_MS] [--first-index I] [--seed N]
//          [--join-only] [--join-concurrency N] [--no-decode]
// --join-only: join the room another bot process creates (retrying until it exists) instead
// of joinOrCreate, so several bot processes cannot race into creating several rooms.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "@colyseus/sdk";

const TICK_RATE = 30;
const DIRECTION_PERIOD_MS = 1000;
const JOIN_RETRY_MS = 100;
/** The first byte of a frame, less its modifier bits, is the Colyseus protocol code. */
const PROTOCOL_CODE_MASK = 0x1f;
const ROOM_STATE_PATCH = 15;

const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:2567" },
    bots: { type: "string", default: "50" },
    duration: { type: "string", default: "20" },
    warmup: { type: "string", default: "6" },
    window: { type: "string", default: "10" },
    json: { type: "string" },
    t0: { type: "string" },
    "first-index": { type: "string", default: "0" },
    seed: { type: "string", default: "1" },
    "join-only": { type: "boolean", default: false },
    "join-concurrency": { type: "string", default: "50" },
    "no-decode": { type: "boolean", default: false },
  },
});
const botCount = Number(args.bots);
const firstIndex = Number(args["first-index"]);
// Every time below is in performance.now() milliseconds; t0 maps the shared epoch onto it.
const t0 = args.t0 === undefined ? performance.now() : Number(args.t0) - Date.now() + performance.now();
const durationEnd = t0 + Number(args.duration) * 1000;
const windowStart = t0 + Number(args.warmup) * 1000;
const windowEnd = windowStart + Number(args.window) * 1000;
const seed = Number(args.seed) >>> 0;
const joinConcurrency = Math.max(1, Number(args["join-concurrency"]));
// With --no-decode, state patches are counted and dropped instead of decoded: for player
// counts whose decoding would take more CPU than the machine has beside the server.
const decodePatches = !args["no-decode"];
if (!(botCount > 0 && windowEnd < durationEnd && durationEnd > performance.now())) {
  console.error("bots: need --bots > 0, --warmup + --window < --duration, and a --t0 that has not passed");
  process.exit(2);
}

// Bounded no matter what: the process ends shortly after its duration even if a close hangs.
setTimeout(() => {
  console.error("bots: forced exit after the duration");
  finish(1);
}, durationEnd + 5000 - performance.now()).unref();

/** mulberry32: a small seeded PRNG, so each bot's directions replay from (seed, index). */
function seededRandom(botSeed) {
  let a = botSeed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** One bot: its room, steering and counters (whole run and at the window's edges). */
class Bot {
  constructor(index) {
    this.index = index;
    this.random = seededRandom(Math.imul(seed, 0x9e3779b1) ^ index);
    this.direction = { dx: 0, dy: 0, buttons: 0 };
    this.nextTurnAt = 0;
    this.room = null;
    this.joinedAt = null;
    this.leftAt = null;
    this.bytesDown = 0;
    this.bytesUp = 0;
    this.patches = 0;
    this.atWindowStart = null;
    this.atWindowEnd = null;
  }

  async join(client) {
    this.room = args["join-only"] ? await client.join("arena") : await client.joinOrCreate("arena");
    this.joinedAt = performance.now();
    // Count every frame at the SDK's transport hook, then hand it to the SDK's own handler.
    const events = this.room.connection.events;
    const handle = events.onmessage;
    events.onmessage = (event) => {
      const data = event.data;
      this.bytesDown += data.byteLength;
      const first = new Uint8Array(data, 0, 1)[0];
      if ((first & PROTOCOL_CODE_MASK) === ROOM_STATE_PATCH) {
        this.patches += 1;
        if (!decodePatches) return;
      }
      handle(event);
    };
    const connection = this.room.connection;
    const send = connection.send.bind(connection);
    connection.send = (data) => {
      this.bytesUp += data.byteLength;
      send(data);
    };
    this.room.onLeave(() => {
      this.leftAt = performance.now();
    });
  }

  /** Sends this tick's input, turning to a fresh random direction once a second. */
  sendInput(now) {
    if (!this.room || this.leftAt !== null) return;
    if (now >= this.nextTurnAt) {
      const angle = this.random() * 2 * Math.PI;
      this.direction.dx = Math.cos(angle);
      this.direction.dy = Math.sin(angle);
      this.nextTurnAt = now + DIRECTION_PERIOD_MS;
    }
    this.room.send("input", this.direction);
  }

  snapshot() {
    return { at: performance.now(), down: this.bytesDown, up: this.bytesUp, patches: this.patches };
  }

  /** What report.mjs needs of this bot (rates per second; null where not measured). */
  record(end) {
    const whole = this.room ? ((this.leftAt ?? end) - this.joinedAt) / 1000 : 0;
    const inWindow = this.room && this.atWindowStart && this.atWindowEnd &&
      this.joinedAt <= this.atWindowStart.at &&
      (this.leftAt === null || this.leftAt >= this.atWindowEnd.at);
    const seconds = inWindow ? (this.atWindowEnd.at - this.atWindowStart.at) / 1000 : 0;
    const rate = (field) => (this.atWindowEnd[field] - this.atWindowStart[field]) / seconds;
    return {
      index: this.index,
      joined: this.room !== null,
      joined_after_s: this.room ? (this.joinedAt - t0) / 1000 : null,
      room_id: this.room?.roomId ?? null,
      left: this.leftAt !== null,
      players_seen: decodePatches && this.room?.state?.players ? this.room.state.players.size : null,
      window: inWindow ? { down: rate("down"), up: rate("up"), patches: rate("patches") } : null,
      whole_run: whole > 0 ? { down: this.bytesDown / whole, patches: this.patches / whole } : null,
    };
  }
}

const client = new Client(args.url);
const bots = Array.from({ length: botCount }, (_, i) => new Bot(firstIndex + i));
const joinErrors = new Map();

/** Joins one bot; a --join-only bot retries until the room exists or the window opens. */
async function joinOne(bot) {
  for (;;) {
    try {
      await bot.join(client);
      return;
    } catch (error) {
      bot.room = null;
      if (args["join-only"] && performance.now() + JOIN_RETRY_MS < windowStart) {
        await sleep(JOIN_RETRY_MS);
        continue;
      }
      const reason = String(error?.message ?? error);
      joinErrors.set(reason, (joinErrors.get(reason) ?? 0) + 1);
      return;
    }
  }
}

async function joinAll() {
  // The first bot joins alone (in the first process: creates the room), so concurrent
  // joinOrCreate calls cannot race into creating several rooms; the rest join a few at a
  // time, until the window opens.
  await joinOne(bots[0]);
  let next = 1;
  const worker = async () => {
    while (next < bots.length && performance.now() < windowStart) {
      await joinOne(bots[next++]);
    }
  };
  await Promise.all(Array.from({ length: joinConcurrency }, worker));
}

// One 30 Hz loop sends every bot's input (ended by finish()).
const inputLoop = setInterval(() => {
  const now = performance.now();
  for (const bot of bots) bot.sendInput(now);
}, 1000 / TICK_RATE);

setTimeout(() => {
  for (const bot of bots) bot.atWindowStart = bot.snapshot();
}, windowStart - performance.now());
setTimeout(() => {
  for (const bot of bots) bot.atWindowEnd = bot.snapshot();
}, windowEnd - performance.now());
setTimeout(() => finish(0), durationEnd - performance.now());

joinAll().catch((error) => {
  console.error("bots: joining failed:", error);
});

let finished = false;
function finish(code) {
  if (finished) return;
  finished = true;
  clearInterval(inputLoop);
  const end = performance.now();
  const report = {
    decoded_patches: decodePatches,
    join_failures: Object.fromEntries(joinErrors),
    bots: bots.map((bot) => bot.record(end)),
  };
  if (args.json) writeFileSync(args.json, JSON.stringify(report) + "\n");
  // Close without waiting on the server: the process exits right after, closing every socket.
  for (const bot of bots) {
    if (!bot.room) continue;
    try {
      bot.room.removeAllListeners();
      bot.room.connection.close();
    } catch {
      // already closed
    }
  }
  process.exit(code);
}
