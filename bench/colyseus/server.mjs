// The Colyseus side of the arena comparison (ARCHITECTURE.md §4, everyone sees everyone):
// one Colyseus process with one "arena" room, run by bench/colyseus.sh against bots.mjs.
// The room simulates at 30 Hz and patches at 30 Hz, as ticksync's arena does: each player
// owns one entity (x, y, vx, vy, heading as float32 schema fields), moves at 300 units/s in
// the direction of its latest input, clamped to a 2000 × 2000 world.
//
// Usage: node server.mjs --port PORT [--max-clients N]
import { parseArgs } from "node:util";
import { Room, Server } from "@colyseus/core";
import { WebSocketTransport } from "@colyseus/ws-transport";
import { schema, t } from "@colyseus/schema";

const TICK_RATE = 30;
const WORLD_SIZE = 2000;
const SPEED = 300;

const { values: args } = parseArgs({
  options: {
    port: { type: "string", default: "2567" },
    "max-clients": { type: "string", default: "10000" },
  },
});
const maxClients = Number(args["max-clients"]);

// float32 is the most compact float type @colyseus/schema has (4 bytes a value, plus the
// field's index byte in a patch); `number` would spend an extra type byte and 8 bytes.
const Player = schema({
  x: t.float32(),
  y: t.float32(),
  vx: t.float32(),
  vy: t.float32(),
  heading: t.float32(),
}, "Player");

const ArenaState = schema({
  players: t.map(Player),
}, "ArenaState");

/** Keeps a move direction a peer sent to at most unit length; anything else is no move. */
function unitDirection(message) {
  const dx = Number(message?.dx);
  const dy = Number(message?.dy);
  if (!Number.isFinite(dx) || !Number.isFinite(dy)) return [0, 0];
  const length = Math.hypot(dx, dy);
  return length > 1 ? [dx / length, dy / length] : [dx, dy];
}

const clamp = (value) => Math.min(Math.max(value, 0), WORLD_SIZE);

class ArenaRoom extends Room {
  maxClients = maxClients;
  state = new ArenaState();
  // `patchRate` and `setTimestep` are Colyseus 0.18's names for setPatchRate and
  // setSimulationInterval (which 0.18 keeps as deprecated aliases of them): two timers, a
  // patch to every client and a simulation step, each every 1000/30 ms.
  patchRate = 1000 / TICK_RATE;
  /** sessionId → the latest move direction [dx, dy] that player sent. */
  directions = new Map();

  onCreate() {
    this.onMessage("input", (client, message) => {
      this.directions.set(client.sessionId, unitDirection(message));
    });
    this.setTimestep((deltaMs) => this.tick(deltaMs / 1000), 1000 / TICK_RATE);
  }

  onJoin(client) {
    const player = new Player();
    player.x = Math.random() * WORLD_SIZE;
    player.y = Math.random() * WORLD_SIZE;
    player.vx = 0;
    player.vy = 0;
    player.heading = 0;
    this.state.players.set(client.sessionId, player);
    this.directions.set(client.sessionId, [0, 0]);
  }

  onLeave(client) {
    this.state.players.delete(client.sessionId);
    this.directions.delete(client.sessionId);
  }

  tick(dt) {
    for (const [sessionId, player] of this.state.players) {
      const [dx, dy] = this.directions.get(sessionId) ?? [0, 0];
      const vx = dx * SPEED;
      const vy = dy * SPEED;
      player.vx = vx;
      player.vy = vy;
      player.x = clamp(player.x + vx * dt);
      player.y = clamp(player.y + vy * dt);
      if (vx !== 0 || vy !== 0) player.heading = Math.atan2(vy, vx);
    }
  }
}

const server = new Server({
  greet: false,
  transport: new WebSocketTransport(),
});
server.define("arena", ArenaRoom);
await server.listen(Number(args.port), "127.0.0.1");
console.log(`colyseus arena listening on 127.0.0.1:${args.port} (pid ${process.pid})`);
