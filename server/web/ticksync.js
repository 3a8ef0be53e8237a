// ticksync.js — the ticksync wire protocol for browsers, over the JSON codec.
//
// A plain ES module with no dependencies and no build step. It holds everything a browser
// client needs that is not about drawing or keyboards:
//
// - the WebSocket URL of the server (`serverUrl`), with `?server=`, `?room=` and `?token=`;
// - the messages, in serde_json's default form of the Rust types in
//   protocol/src/messages.rs (`ClientMessages`, `encodeClientMessage`,
//   `decodeServerMessage`);
// - delta snapshots (`ViewStore`): the views of recent ticks, dead reckoning
//   (`predictEntity`, x + vx × ticks as protocol/src/game_state.rs does), the
//   created/changed/removed lists applied like protocol/src/delta.rs, and the FNV-1a view
//   checksum of protocol/src/replicated.rs verified after every snapshot;
// - the arena's integer motion (`arenaStep`), the same arithmetic as
//   server/src/game/arena.rs, so client-side prediction lands on the server's positions;
// - `TicksyncConnection`: a session (Hello → Welcome → Snapshots/Inputs, Ping/Pong) with
//   the figures an overlay shows (round trip, snapshot rate, bytes per second, desyncs).
//
// Units on the wire: positions are integers in 1/64 world unit, velocities in position
// steps per tick, headings in 1/65536 of a turn (0 = +x, counter-clockwise).

/** Version of the message layout; `Hello` must name it. */
export const PROTOCOL_VERSION = 1;
/** WebSocket subprotocol of the JSON codec (text frames). */
export const SUBPROTOCOL_JSON = "ticksync.v1.json";
/** Path of the WebSocket endpoint on the server. */
export const WEBSOCKET_PATH = "/ws";
/** Position steps per world unit. */
export const POSITION_STEPS_PER_UNIT = 64;
/** Move-direction steps per unit on each axis. */
export const DIRECTION_STEPS_PER_UNIT = 127;
/** Arena speed in world units per second (server/src/game/arena.rs). */
export const ARENA_SPEED = 300;
/**
 * Views kept for use as delta baselines. The server deltas against the last tick this
 * client acknowledged and keeps about a second of history, so 64 ticks is plenty at 30 Hz.
 */
export const MAX_HELD_VIEWS = 64;
/** Longest player name the server accepts, in UTF-8 bytes. */
export const MAX_PLAYER_NAME_BYTES = 32;

const I32_MIN = -2147483648;
const I32_MAX = 2147483647;

// ---------------------------------------------------------------------------------------
// URL

/**
 * The WebSocket URL to connect to, from the page's location: `?server=ws://host:port/ws`
 * if given, else the page's own host on `/ws` (wss for an https page). `?room=` and
 * `?token=` of the page are passed on as query parameters of the WebSocket URL.
 */
export function serverUrl(location) {
  const page = new URL(location.href);
  const params = page.searchParams;
  let url;
  const explicit = params.get("server");
  if (explicit) {
    url = new URL(explicit, page);
    if (url.protocol === "http:") url.protocol = "ws:";
    if (url.protocol === "https:") url.protocol = "wss:";
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new Error(`?server= must be a ws:// or wss:// URL, not ${explicit}`);
    }
  } else {
    url = new URL(WEBSOCKET_PATH, page);
    url.protocol = page.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
  }
  url.hash = "";
  for (const key of ["room", "token"]) {
    const value = params.get(key);
    if (value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.toString();
}

// ---------------------------------------------------------------------------------------
// Messages

/** Constructors of every client message, in serde_json's externally tagged form. */
export const ClientMessages = {
  hello(playerName) {
    return { Hello: { protocol_version: PROTOCOL_VERSION, player_name: playerName } };
  },
  input(seq, ackTick, moveDir, buttons = 0) {
    return {
      Input: {
        seq,
        ack_tick: ackTick,
        move_dir: { x: moveDir.x, y: moveDir.y },
        buttons,
      },
    };
  },
  ping(clientTimeUs) {
    return { Ping: { client_time_us: clientTimeUs } };
  },
  ack(tick) {
    return { Ack: { tick } };
  },
  leave() {
    return "Leave";
  },
};

export function encodeClientMessage(message) {
  return JSON.stringify(message);
}

/** A server frame that is not a well-formed server message. */
export class ProtocolError extends Error {}

const isInt = (v, min, max) => Number.isInteger(v) && v >= min && v <= max;
const isU32 = (v) => isInt(v, 0, 0xffffffff);
const isU16 = (v) => isInt(v, 0, 0xffff);
const isI16 = (v) => isInt(v, -32768, 32767);
const isI32 = (v) => isInt(v, I32_MIN, I32_MAX);

function check(condition, what) {
  if (!condition) throw new ProtocolError(`malformed ${what}`);
}

function checkEntityState(e) {
  check(
    e !== null &&
      typeof e === "object" &&
      isU32(e.id) &&
      isI32(e.x) &&
      isI32(e.y) &&
      isI16(e.vx) &&
      isI16(e.vy) &&
      isU16(e.heading),
    "entity state",
  );
  return { id: e.id, x: e.x, y: e.y, vx: e.vx, vy: e.vy, heading: e.heading };
}

function checkEntityDelta(d) {
  check(d !== null && typeof d === "object" && isU32(d.id), "entity delta");
  const pair = (p, ok) => p === null || p === undefined || (Array.isArray(p) && p.length === 2 && ok(p[0]) && ok(p[1]));
  check(pair(d.position_offset, isI32), "position_offset");
  check(pair(d.velocity, isI16), "velocity");
  check(d.heading === null || d.heading === undefined || isU16(d.heading), "heading");
  return {
    id: d.id,
    position_offset: d.position_offset ?? null,
    velocity: d.velocity ?? null,
    heading: d.heading ?? null,
  };
}

/**
 * Parses one text frame into `{ type, body }` with `type` one of "Welcome", "Snapshot",
 * "Pong", "Error", checking every field's type and range. Throws `ProtocolError`.
 */
export function decodeServerMessage(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new ProtocolError(`not JSON: ${error.message}`);
  }
  check(value !== null && typeof value === "object" && !Array.isArray(value), "message");
  const keys = Object.keys(value);
  check(keys.length === 1, "message (one variant expected)");
  const type = keys[0];
  const body = value[type];
  check(body !== null && typeof body === "object", `${type}`);
  switch (type) {
    case "Welcome":
      check(
        isU32(body.entity_id) &&
          isU16(body.tick_rate_hz) &&
          body.tick_rate_hz > 0 &&
          isU32(body.tick) &&
          body.world_size &&
          isU32(body.world_size.width) &&
          isU32(body.world_size.height) &&
          typeof body.resume_token === "string" &&
          typeof body.resumed === "boolean",
        "Welcome",
      );
      return { type, body };
    case "Snapshot": {
      check(
        isU32(body.tick) &&
          isU32(body.baseline_tick) &&
          isU32(body.last_input_seq) &&
          isU32(body.checksum) &&
          Array.isArray(body.created) &&
          Array.isArray(body.changed) &&
          Array.isArray(body.removed),
        "Snapshot",
      );
      const removed = body.removed;
      for (const id of removed) check(isU32(id), "removed id");
      return {
        type,
        body: {
          tick: body.tick,
          baseline_tick: body.baseline_tick,
          last_input_seq: body.last_input_seq,
          checksum: body.checksum,
          created: body.created.map(checkEntityState),
          changed: body.changed.map(checkEntityDelta),
          removed,
        },
      };
    }
    case "Pong":
      check(Number.isSafeInteger(body.client_time_us) && isU32(body.server_tick), "Pong");
      return { type, body };
    case "Error":
      check(isU16(body.code) && typeof body.message === "string", "Error");
      return { type, body };
    default:
      throw new ProtocolError(`unknown server message ${JSON.stringify(type)}`);
  }
}

// ---------------------------------------------------------------------------------------
// Checksums: 32-bit FNV-1a over little-endian field bytes (protocol/src/replicated.rs).

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvByte(hash, byte) {
  return Math.imul(hash ^ byte, FNV_PRIME) >>> 0;
}

/** Feeds the 4 little-endian bytes of a u32 or i32 (two's complement). */
function fnvWord(hash, value) {
  const v = value >>> 0;
  hash = fnvByte(hash, v & 0xff);
  hash = fnvByte(hash, (v >>> 8) & 0xff);
  hash = fnvByte(hash, (v >>> 16) & 0xff);
  return fnvByte(hash, (v >>> 24) & 0xff);
}

/** Feeds the 2 little-endian bytes of a u16 or i16. */
function fnvHalf(hash, value) {
  const v = value & 0xffff;
  hash = fnvByte(hash, v & 0xff);
  return fnvByte(hash, v >>> 8);
}

/** FNV-1a of raw bytes (for tests against the published vectors). */
export function fnv1a(bytes) {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of bytes) hash = fnvByte(hash, byte);
  return hash;
}

/** Checksum of one entity: id, x, y (u32/i32), vx, vy (i16), heading (u16). */
export function entityChecksum(e) {
  let hash = FNV_OFFSET_BASIS;
  hash = fnvWord(hash, e.id);
  hash = fnvWord(hash, e.x);
  hash = fnvWord(hash, e.y);
  hash = fnvHalf(hash, e.vx);
  hash = fnvHalf(hash, e.vy);
  return fnvHalf(hash, e.heading);
}

/** Checksum of a view (entities sorted by id): FNV-1a over the entity checksums. */
export function viewChecksum(entities) {
  let hash = FNV_OFFSET_BASIS;
  for (const e of entities) hash = fnvWord(hash, entityChecksum(e));
  return hash;
}

// ---------------------------------------------------------------------------------------
// Dead reckoning and delta application (protocol/src/game_state.rs, delta.rs)

const clampI32 = (v) => Math.min(I32_MAX, Math.max(I32_MIN, v));

/** The state `ticks` ticks later if nothing changes: x + vx × ticks, saturating at i32. */
export function predictEntity(e, ticks) {
  // |vx × ticks| < 2^47: exact in a double.
  return { ...e, x: clampI32(e.x + e.vx * ticks), y: clampI32(e.y + e.vy * ticks) };
}

/** Applies a delta to the prediction of the baseline state (wrapping adds, like Rust). */
function applyEntityDelta(predicted, d) {
  const state = { ...predicted };
  if (d.position_offset) {
    state.x = (state.x + d.position_offset[0]) | 0;
    state.y = (state.y + d.position_offset[1]) | 0;
  }
  if (d.velocity) {
    state.vx = d.velocity[0];
    state.vy = d.velocity[1];
  }
  if (d.heading !== null) state.heading = d.heading;
  return state;
}

/** A snapshot that does not fit the views this client holds: a desync. */
export class DesyncError extends Error {}

function sortedBy(list, key) {
  for (let i = 1; i < list.length; i++) {
    if (!(key(list[i - 1]) < key(list[i]))) return false;
  }
  return true;
}

/**
 * Applies created/changed/removed to `baseline` (sorted by id, `ticks` ticks old) and
 * returns the new view, sorted by id. Throws `DesyncError` when the lists do not fit.
 */
export function applyDelta(baseline, created, changed, removed, ticks) {
  if (!sortedBy(created, (e) => e.id) || !sortedBy(changed, (d) => d.id) || !sortedBy(removed, (id) => id)) {
    throw new DesyncError("delta lists are not sorted by id");
  }
  const out = [];
  let c = 0;
  let d = 0;
  let r = 0;
  for (const old of baseline) {
    const id = old.id;
    while (c < created.length && created[c].id <= id) {
      if (created[c].id === id) throw new DesyncError(`entity #${id} is created but already exists`);
      out.push(created[c++]);
    }
    if (r < removed.length) {
      if (removed[r] < id) throw new DesyncError(`entity #${removed[r]} is removed but does not exist`);
      if (removed[r] === id) {
        r++;
        if (d < changed.length && changed[d].id === id) {
          throw new DesyncError(`entity #${id} is both changed and removed`);
        }
        continue;
      }
    }
    if (d < changed.length) {
      if (changed[d].id < id) throw new DesyncError(`entity #${changed[d].id} is changed but does not exist`);
      if (changed[d].id === id) {
        out.push(applyEntityDelta(predictEntity(old, ticks), changed[d++]));
        continue;
      }
    }
    out.push(predictEntity(old, ticks));
  }
  if (r < removed.length) throw new DesyncError(`entity #${removed[r]} is removed but does not exist`);
  if (d < changed.length) throw new DesyncError(`entity #${changed[d].id} is changed but does not exist`);
  while (c < created.length) out.push(created[c++]);
  return out;
}

/**
 * The views (entity lists sorted by id) of recent ticks, any of which the server may use
 * as the baseline of its next delta, and the step that turns a snapshot into the next view.
 */
export class ViewStore {
  constructor() {
    /** tick → entities, in insertion (= tick) order. */
    this.views = new Map();
    this.currentTick = 0;
    this.currentView = [];
  }

  /** The tick to acknowledge: the last snapshot applied (0 before the first). */
  tick() {
    return this.currentTick;
  }

  current() {
    return this.currentView;
  }

  /**
   * Applies a decoded snapshot on top of its baseline view, verifies the checksum and
   * makes the result current. On error (`DesyncError`) nothing changes, so the next ack
   * still names a view this client holds.
   */
  apply(snapshot) {
    if (snapshot.tick <= this.currentTick) {
      throw new DesyncError(`snapshot ${snapshot.tick} is not newer than ${this.currentTick}`);
    }
    let baseline = [];
    let ticks = 0;
    if (snapshot.baseline_tick !== 0) {
      const held = this.views.get(snapshot.baseline_tick);
      if (!held) throw new DesyncError(`baseline tick ${snapshot.baseline_tick} is not a view this client holds`);
      baseline = held;
      ticks = snapshot.tick - snapshot.baseline_tick;
    }
    const view = applyDelta(baseline, snapshot.created, snapshot.changed, snapshot.removed, ticks);
    const actual = viewChecksum(view);
    if (actual !== snapshot.checksum) {
      throw new DesyncError(
        `view checksum 0x${actual.toString(16).padStart(8, "0")} does not match the server's 0x${snapshot.checksum
          .toString(16)
          .padStart(8, "0")}`,
      );
    }
    // The server's baseline only moves forward: older views are never needed again.
    if (snapshot.baseline_tick !== 0) {
      for (const tick of this.views.keys()) {
        if (tick < snapshot.baseline_tick) this.views.delete(tick);
      }
    }
    this.views.set(snapshot.tick, view);
    while (this.views.size > MAX_HELD_VIEWS) {
      this.views.delete(this.views.keys().next().value);
    }
    this.currentTick = snapshot.tick;
    this.currentView = view;
    return view;
  }

  heldViews() {
    return this.views.size;
  }
}

// ---------------------------------------------------------------------------------------
// The arena's motion (server/src/game/arena.rs), in the server's f32 arithmetic

const f32 = Math.fround;
/** Rust's f32::round: half away from zero. */
const roundHalfAway = (v) => (v < 0 ? -Math.round(-v) : Math.round(v));

/** A direction quantized like `MoveDir::from_vector`: each axis in [-127, 127], length ≤ 1. */
export function moveDirFromVector(x, y) {
  x = Number.isFinite(x) ? f32(x) : 0;
  y = Number.isFinite(y) ? f32(y) : 0;
  const length = f32(Math.sqrt(f32(f32(x * x) + f32(y * y))));
  const scale = length > 1 ? f32(1 / length) : 1;
  const axis = (v) =>
    Math.max(-DIRECTION_STEPS_PER_UNIT, Math.min(DIRECTION_STEPS_PER_UNIT, roundHalfAway(f32(f32(v * scale) * DIRECTION_STEPS_PER_UNIT))));
  return { x: axis(x) || 0, y: axis(y) || 0 };
}

/** `MoveDir::to_unit_vector`: the direction as floats with length at most 1. */
function unitVector(dir) {
  const x = f32(Math.max(dir.x, -127) / DIRECTION_STEPS_PER_UNIT);
  const y = f32(Math.max(dir.y, -127) / DIRECTION_STEPS_PER_UNIT);
  const length = f32(Math.sqrt(f32(f32(x * x) + f32(y * y))));
  return length > 1 ? [f32(x / length), f32(y / length)] : [x, y];
}

/**
 * Position steps per tick at full speed for a tick rate (about 640 at 30 Hz), computed as
 * the server does: its tick period is a whole number of nanoseconds and `dt` is that
 * period as an f32 (`Duration::as_secs_f32`).
 */
export function fullSpeedSteps(tickRateHz) {
  const nanos = Math.round(1e9 / Math.max(1, tickRateHz));
  const secs = Math.floor(nanos / 1e9);
  const dt = f32(f32(secs) + f32(f32(nanos - secs * 1e9) / f32(1e9)));
  return f32(f32(ARENA_SPEED * dt) * POSITION_STEPS_PER_UNIT);
}

/**
 * One arena tick of one entity moving along `dir`: the commanded step, rounded once, then
 * integer motion clamped to the world `[0, sizeSteps]`. Returns the new `{ x, y, vx, vy }`.
 */
export function arenaStep(state, dir, fullSpeed, sizeSteps) {
  const [ux, uy] = unitVector(dir);
  const cx = roundHalfAway(f32(ux * fullSpeed));
  const cy = roundHalfAway(f32(uy * fullSpeed));
  const x = Math.min(sizeSteps, Math.max(0, state.x + cx));
  const y = Math.min(sizeSteps, Math.max(0, state.y + cy));
  return { x, y, vx: x - state.x, vy: y - state.y };
}

// ---------------------------------------------------------------------------------------
// Rates over a sliding window

/** Sum of amounts recorded within the last `windowMs`, per second. */
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.events = [];
    this.sum = 0;
    this.started = null;
  }

  record(now, amount = 1) {
    if (this.started === null) this.started = now;
    this.events.push([now, amount]);
    this.sum += amount;
    this.trim(now);
  }

  trim(now) {
    while (this.events.length && this.events[0][0] <= now - this.windowMs) {
      this.sum -= this.events.shift()[1];
    }
  }

  /** Per second; over the time since the first event while that is shorter than the window. */
  perSecond(now) {
    this.trim(now);
    if (this.started === null) return 0;
    const span = Math.min(this.windowMs, Math.max(now - this.started, 250));
    return (this.sum * 1000) / span;
  }
}

// ---------------------------------------------------------------------------------------
// A session

/** Bytes of a string in UTF-8 (frames are almost all ASCII; this is exact either way). */
const encoder = new TextEncoder();
function utf8Length(text) {
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  return ascii ? text.length : encoder.encode(text).length;
}

/**
 * One WebSocket session with a ticksync server over the JSON codec.
 *
 * Callbacks (all optional): `onWelcome(welcome)`, `onSnapshot(snapshot, view)` after a
 * snapshot applied, `onPong(pong, rttMs)`, `onServerError(error)`, `onDesync(message)`,
 * `onClose({ code, reason })`.
 */
export class TicksyncConnection {
  constructor(url, { playerName = "web", pingIntervalMs = 500, ...callbacks } = {}) {
    this.url = url;
    this.playerName = playerName;
    this.pingIntervalMs = pingIntervalMs;
    this.callbacks = callbacks;
    this.ws = null;
    this.status = "idle";
    this.welcome = null;
    this.views = new ViewStore();
    this.lastSnapshot = null;
    this.nextInputSeq = 1;
    this.rttMs = null;
    this.rttSmoothedMs = null;
    this.pingTimer = null;
    this.close = null;
    this.lastError = null;
    this.counters = {
      bytesIn: 0,
      bytesOut: 0,
      framesIn: 0,
      snapshots: 0,
      fullSnapshots: 0,
      desyncs: 0,
      malformed: 0,
      inputsSent: 0,
      pongs: 0,
    };
    this.snapshotRate = new RateMeter();
    this.bytesInRate = new RateMeter();
    this.bytesOutRate = new RateMeter();
  }

  /** Opens the WebSocket (offering the JSON subprotocol) and sends `Hello` once open. */
  connect() {
    this.status = "connecting";
    let ws;
    try {
      ws = new WebSocket(this.url, [SUBPROTOCOL_JSON]);
    } catch (error) {
      this.fail(`cannot open ${this.url}: ${error.message}`);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      if (ws.protocol !== SUBPROTOCOL_JSON) {
        this.fail(`server chose subprotocol ${JSON.stringify(ws.protocol)}, not ${SUBPROTOCOL_JSON}`);
        ws.close(1002, "subprotocol");
        return;
      }
      this.status = "handshake";
      this.send(ClientMessages.hello(this.playerName));
    });
    ws.addEventListener("message", (event) => this.onFrame(event.data));
    ws.addEventListener("close", (event) => {
      this.stopPings();
      this.close = { code: event.code, reason: event.reason };
      if (this.status !== "error") this.status = "closed";
      this.callbacks.onClose?.(this.close);
    });
    ws.addEventListener("error", () => {
      this.lastError ??= `WebSocket error on ${this.url}`;
    });
  }

  fail(message) {
    this.status = "error";
    this.lastError = message;
    this.callbacks.onServerError?.({ code: 0, message });
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(message) {
    if (!this.isOpen()) return false;
    const text = encodeClientMessage(message);
    this.ws.send(text);
    const bytes = utf8Length(text);
    this.counters.bytesOut += bytes;
    this.bytesOutRate.record(performance.now(), bytes);
    return true;
  }

  /**
   * Sends one input with the next sequence number, acknowledging the last snapshot
   * applied. Returns the sequence number, or 0 when not connected.
   */
  sendInput(moveDir, buttons = 0) {
    if (this.status !== "playing") return 0;
    const seq = this.nextInputSeq;
    if (!this.send(ClientMessages.input(seq, this.views.tick(), moveDir, buttons))) return 0;
    this.nextInputSeq += 1;
    this.counters.inputsSent += 1;
    return seq;
  }

  ping() {
    // performance.now() in µs stays far below 2^53 (285 years).
    this.send(ClientMessages.ping(Math.round(performance.now() * 1000)));
  }

  /** Sends `Leave`; the server removes the entity and closes. */
  leave() {
    this.send(ClientMessages.leave());
    this.stopPings();
  }

  stopPings() {
    if (this.pingTimer !== null) {
      clearInterval(this.pingTimer);
      this.pingTimer = null;
    }
  }

  onFrame(data) {
    const now = performance.now();
    if (typeof data !== "string") {
      this.counters.malformed += 1;
      this.lastError = "binary frame on the JSON codec";
      return;
    }
    const bytes = utf8Length(data);
    this.counters.bytesIn += bytes;
    this.counters.framesIn += 1;
    this.bytesInRate.record(now, bytes);
    let message;
    try {
      message = decodeServerMessage(data);
    } catch (error) {
      this.counters.malformed += 1;
      this.lastError = error.message;
      return;
    }
    switch (message.type) {
      case "Welcome":
        this.welcome = message.body;
        this.status = "playing";
        this.ping();
        this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
        this.callbacks.onWelcome?.(message.body);
        break;
      case "Snapshot": {
        const snapshot = message.body;
        let view;
        try {
          view = this.views.apply(snapshot);
        } catch (error) {
          if (!(error instanceof DesyncError)) throw error;
          this.counters.desyncs += 1;
          this.lastError = `desync at tick ${snapshot.tick}: ${error.message}`;
          this.callbacks.onDesync?.(this.lastError);
          return;
        }
        this.counters.snapshots += 1;
        if (snapshot.baseline_tick === 0) this.counters.fullSnapshots += 1;
        this.snapshotRate.record(now);
        this.lastSnapshot = snapshot;
        this.callbacks.onSnapshot?.(snapshot, view, now);
        break;
      }
      case "Pong": {
        const sentUs = message.body.client_time_us;
        const rtt = (now * 1000 - sentUs) / 1000;
        if (rtt >= 0 && rtt < 60000) {
          this.counters.pongs += 1;
          this.rttMs = rtt;
          this.rttSmoothedMs = this.rttSmoothedMs === null ? rtt : this.rttSmoothedMs * 0.8 + rtt * 0.2;
          this.callbacks.onPong?.(message.body, rtt);
        }
        break;
      }
      case "Error":
        this.lastError = `server error ${message.body.code}: ${message.body.message}`;
        this.callbacks.onServerError?.(message.body);
        break;
    }
  }

  /** Figures for an overlay, at time `now` (performance.now()). */
  stats(now = performance.now()) {
    return {
      rttMs: this.rttSmoothedMs,
      snapshotRate: this.snapshotRate.perSecond(now),
      bytesInPerSecond: this.bytesInRate.perSecond(now),
      bytesOutPerSecond: this.bytesOutRate.perSecond(now),
      ...this.counters,
    };
  }
}
