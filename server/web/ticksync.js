// ticksync.js — the generic ticksync client library for browsers, over the JSON codec.
//
// A plain ES module with no dependencies and no build step, served by every ticksync server
// at `/ticksync.js` whatever its game. It knows no game: everything game-specific comes from
// the schema description the server publishes at `GET /schema` (entity fields with their
// wire types, dead-reckoning rules and checksum order; the subprotocol names). A game's page
// draws, reads its keyboard and predicts its own entity; this library does the rest:
//
// - URLs: the server's WebSocket URL from the page's (`serverUrl`, `?server= ?room= ?token=`)
//   and its schema URL (`schemaUrl`);
// - `Schema`: a description compiled into validators, dead reckoning, delta application and
//   the FNV-1a checksums (protocol/src/replicated.rs), for any field types (u8 … i64, bool,
//   f32; 64-bit integers are BigInt, exact even past 2^53: `parseJson` keeps them);
// - `ViewStore`: the views a client must hold for delta baselines (the Quake 3 model: keep
//   every view acknowledged until a snapshot's baseline moves past it) and `apply`, which
//   checks the server's checksum after every snapshot;
// - input timing (`InputClock`): when to send the next input so that it arrives a small,
//   jitter-sized margin before the server tick that takes it, from the arrival feedback
//   every snapshot carries (`input_margin_100us`, PROTOCOL.md §7), the same controller as
//   the Rust client's client/src/input_clock.rs; the connection numbers each input by the
//   tick it is meant for (`nextInputTick`), what a game's per-tick prediction replays;
// - `TicksyncConnection`: a session — Hello or Resume → Welcome → snapshots, game messages,
//   inputs (the game's payload), acknowledgements, Ping/Pong — with callbacks in arrival
//   order and the figures an overlay shows (round trip, snapshot rate, bytes, desyncs).
//
// The wire format is specified in PROTOCOL.md; tests/browser/schema_vectors.json (made by
// the Rust protocol crate) holds this file to the Rust implementation
// (tests/browser/schema_vectors_test.mjs).

/** Version of the envelope (the messages every game shares); `Hello` and `Resume` name it. */
export const ENVELOPE_VERSION = 2;
/** Path of the WebSocket endpoint on the server. */
export const WEBSOCKET_PATH = "/ws";
/** Path of the schema description on the server. */
export const SCHEMA_PATH = "/schema";
/**
 * Most views held for use as delta baselines, whatever the server does (it keeps about a
 * second of history, so 64 ticks is plenty at 30 Hz).
 */
export const MAX_HELD_VIEWS = 64;
/** Longest player name the server accepts, in UTF-8 bytes. */
export const MAX_PLAYER_NAME_BYTES = 32;

/** Error codes of the server's `Error` message (protocol/src/messages.rs). */
export const ErrorCode = Object.freeze({
  MalformedMessage: 1,
  UnsupportedProtocolVersion: 2,
  UnexpectedTextFrame: 3,
  MessageTooLarge: 4,
  UnexpectedMessage: 5,
  InvalidHello: 6,
  RoomFull: 7,
  ServerShuttingDown: 8,
  TooSlow: 9,
  IdleTimeout: 10,
  Internal: 11,
  Flooding: 12,
  ResumeRefused: 13,
  Replaced: 14,
  NoRoomAvailable: 15,
  UnexpectedBinaryFrame: 16,
  JoinRefused: 17,
  Kicked: 18,
  RoomEnded: 19,
  TooManyMessages: 20,
});

// ---------------------------------------------------------------------------------------
// URLs

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

/** The `GET /schema` URL of the server behind a WebSocket URL (ws → http, wss → https). */
export function schemaUrl(webSocketUrl) {
  const url = new URL(webSocketUrl);
  url.protocol = url.protocol === "wss:" ? "https:" : "http:";
  url.pathname = SCHEMA_PATH;
  url.search = "";
  url.hash = "";
  return url.toString();
}

/** Fetches and compiles the schema a server runs. */
export async function fetchSchema(url) {
  let response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch (error) {
    throw new Error(`cannot fetch the game schema from ${url}: ${error.message}`);
  }
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  return new Schema(parseJson(await response.text()));
}

// ---------------------------------------------------------------------------------------
// A cluster's matchmaker

/**
 * Asks a cluster's matchmaker for a seat. `matchmakerUrl` is any node's game port
 * (`http://host:port`, or `""` for the node that served this page); `action` is `"join"`
 * (`{room}`), `"create"` (`{room?, metadata?, private?}`) or `"join-or-create"`
 * (`{filters}`). Resolves to the seat reservation: `room`, `node`, `url` (the node's
 * WebSocket URL), `seat` (single-use, short-lived), `connect` (the URL to hand
 * `TicksyncConnection`) and `expires_in_s`; rejects with the matchmaker's reason.
 */
export async function matchmake(matchmakerUrl, action, body = {}) {
  const url = `${matchmakerUrl.replace(/\/$/, "")}/matchmake/${action}`;
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
    });
  } catch (error) {
    throw new Error(`cannot reach the matchmaker at ${url}: ${error.message}`);
  }
  const text = await response.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = { error: text.trim() };
  }
  if (!response.ok) {
    throw new Error(`the matchmaker at ${url} refused (${response.status}): ${answer.error}`);
  }
  return answer;
}

/** Where a player with this seat resumes after a drop: the same node and room, no seat. */
export function resumeUrl(seat) {
  const url = new URL(seat.url);
  url.search = new URLSearchParams({ room: seat.room }).toString();
  return url.toString();
}

// ---------------------------------------------------------------------------------------
// JSON with exact 64-bit integers

/** A frame or description that is not what the protocol allows. */
export class ProtocolError extends Error {}

/**
 * `JSON.parse`, except that integers beyond ±2^53 become BigInt instead of losing digits.
 * Integers of up to 15 digits are exact as numbers, so text without a longer digit run
 * goes to the native parser.
 */
export function parseJson(text) {
  if (!/\d{16}/.test(text)) return JSON.parse(text);
  return new ExactJsonParser(text).document();
}

/** A small JSON parser for the rare frame that holds a long integer. */
class ExactJsonParser {
  constructor(text) {
    this.text = text;
    this.i = 0;
  }

  document() {
    const value = this.value();
    this.space();
    if (this.i !== this.text.length) this.fail("trailing characters");
    return value;
  }

  fail(what) {
    throw new SyntaxError(`JSON: ${what} at offset ${this.i}`);
  }

  space() {
    const t = this.text;
    while (this.i < t.length && (t[this.i] === " " || t[this.i] === "\n" || t[this.i] === "\r" || t[this.i] === "\t")) {
      this.i++;
    }
  }

  value() {
    this.space();
    const t = this.text;
    const c = t[this.i];
    if (c === "{") {
      this.i++;
      const object = {};
      this.space();
      if (t[this.i] === "}") {
        this.i++;
        return object;
      }
      for (;;) {
        this.space();
        if (t[this.i] !== '"') this.fail("expected a key");
        const key = this.string();
        this.space();
        if (t[this.i++] !== ":") this.fail("expected ':'");
        Object.defineProperty(object, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
        this.space();
        const next = t[this.i++];
        if (next === "}") return object;
        if (next !== ",") this.fail("expected ',' or '}'");
      }
    }
    if (c === "[") {
      this.i++;
      const array = [];
      this.space();
      if (t[this.i] === "]") {
        this.i++;
        return array;
      }
      for (;;) {
        array.push(this.value());
        this.space();
        const next = t[this.i++];
        if (next === "]") return array;
        if (next !== ",") this.fail("expected ',' or ']'");
      }
    }
    if (c === '"') return this.string();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]]) {
      if (t.startsWith(word, this.i)) {
        this.i += word.length;
        return value;
      }
    }
    const match = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
    match.lastIndex = this.i;
    const m = match.exec(t);
    if (m === null) this.fail("unexpected character");
    this.i = match.lastIndex;
    const number = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(number)) return BigInt(m[0]);
    return number;
  }

  string() {
    const t = this.text;
    const start = this.i;
    this.i++;
    while (this.i < t.length && t[this.i] !== '"') this.i += t[this.i] === "\\" ? 2 : 1;
    if (this.i >= t.length) this.fail("unterminated string");
    this.i++;
    return JSON.parse(t.slice(start, this.i));
  }
}

/** `JSON.stringify`, writing BigInt values as plain integers. */
export function stringifyJson(value) {
  let big = false;
  const text = JSON.stringify(value, (key, v) => {
    if (typeof v !== "bigint") return v;
    big = true;
    return `\u0000bigint:${v}`;
  });
  return big ? text.replace(/"\\u0000bigint:(-?\d+)"/g, "$1") : text;
}

// ---------------------------------------------------------------------------------------
// Wire types and checksums

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const fnvByte = (hash, byte) => Math.imul(hash ^ byte, FNV_PRIME) >>> 0;

/** Feeds the low `bytes` bytes of a 32-bit integer, little-endian. */
function fnvInt(hash, value, bytes) {
  for (let k = 0; k < bytes; k++) {
    hash = fnvByte(hash, value & 0xff);
    value >>>= 8;
  }
  return hash;
}

/** FNV-1a 32 of raw bytes. */
export function fnv1a(bytes) {
  let hash = FNV_OFFSET_BASIS;
  for (const byte of bytes) hash = fnvByte(hash, byte);
  return hash;
}

const floatBits = new DataView(new ArrayBuffer(4));

/**
 * Each wire type: its range and how a value is checked, normalized and fed to the
 * checksum. Integers up to 32 bits are numbers; 64-bit ones are BigInt; bool is boolean;
 * f32 is a number holding an f32 value.
 */
function smallInt(bits, signed) {
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  const span = 2 ** bits;
  return {
    integer: true,
    wide: false,
    min,
    max,
    check: (v) => (Number.isInteger(v) && v >= min && v <= max ? v : undefined),
    clamp: (v) => (v < min ? min : v > max ? max : v),
    /** Two's-complement wrap of an exact integer (|v| < 2^53) into the range. */
    wrap: (v) => {
      let r = v % span;
      if (r < 0) r += span;
      return r > max ? r - span : r;
    },
    feed: (hash, v) => fnvInt(hash, v, bits / 8),
  };
}

function wideInt(signed) {
  const min = signed ? -(2n ** 63n) : 0n;
  const max = signed ? 2n ** 63n - 1n : 2n ** 64n - 1n;
  return {
    integer: true,
    wide: true,
    min,
    max,
    check: (v) => {
      if (typeof v === "number") {
        if (!Number.isSafeInteger(v)) return undefined;
        v = BigInt(v);
      }
      return typeof v === "bigint" && v >= min && v <= max ? v : undefined;
    },
    clamp: (v) => (v < min ? min : v > max ? max : v),
    wrap: (v) => (signed ? BigInt.asIntN(64, v) : BigInt.asUintN(64, v)),
    feed: (hash, v) => {
      const u = BigInt.asUintN(64, v);
      hash = fnvInt(hash, Number(u & 0xffffffffn), 4);
      return fnvInt(hash, Number(u >> 32n), 4);
    },
  };
}

export const WIRE_TYPES = Object.freeze({
  u8: smallInt(8, false),
  i8: smallInt(8, true),
  u16: smallInt(16, false),
  i16: smallInt(16, true),
  u32: smallInt(32, false),
  i32: smallInt(32, true),
  u64: wideInt(false),
  i64: wideInt(true),
  bool: {
    integer: false,
    check: (v) => (typeof v === "boolean" ? v : undefined),
    feed: (hash, v) => fnvByte(hash, v ? 1 : 0),
  },
  f32: {
    integer: false,
    // serde_json writes a non-finite float as null; it can only be NaN or ±infinity, whose
    // bits JSON does not carry, so it is taken as NaN (and any checksum over it may fail).
    check: (v) => (typeof v === "number" ? Math.fround(v) : v === null ? NaN : undefined),
    feed: (hash, v) => {
      floatBits.setFloat32(0, v, true);
      return fnvInt(hash, floatBits.getUint32(0, true), 4);
    },
  },
});

// ---------------------------------------------------------------------------------------
// Schema

/**
 * A game's schema compiled from its description (`GET /schema`): everything needed to
 * check, dead-reckon, apply and checksum its entities. Entities are `{ id, state }` with
 * `state` an object of the fields by name; states are never modified in place, so a view
 * can be kept by reference.
 */
export class Schema {
  constructor(description) {
    const d = description;
    if (d === null || typeof d !== "object" || d.entity === null || typeof d.entity !== "object") {
      throw new ProtocolError("schema description: no entity");
    }
    if (d.envelope_version !== ENVELOPE_VERSION) {
      throw new ProtocolError(`schema description: envelope version ${d.envelope_version}, this library speaks ${ENVELOPE_VERSION}`);
    }
    this.description = d;
    this.game = String(d.game);
    this.hash = String(d.hash);
    this.subprotocols = { ...(d.subprotocols ?? {}) };
    this.positionScale = d.entity.position_scale ?? 1;
    if (!Array.isArray(d.entity.fields) || d.entity.fields.length === 0) {
      throw new ProtocolError("schema description: the entity has no fields");
    }
    const names = d.entity.fields.map((f) => f.name);
    this.fields = d.entity.fields.map((f, index) => {
      const type = WIRE_TYPES[f.type];
      if (typeof f.name !== "string" || names.indexOf(f.name) !== index) {
        throw new ProtocolError(`schema description: bad or repeated field name ${JSON.stringify(f.name)}`);
      }
      if (!type) throw new ProtocolError(`schema description: field ${f.name} has unknown type ${JSON.stringify(f.type)}`);
      const field = { name: f.name, type: f.type, wire: type, velocity: null, interest: f.interest ?? null };
      if (f.predict !== undefined && f.predict !== null) {
        const velocity = d.entity.fields.find((g) => g.name === f.predict);
        if (!velocity || !type.integer || !WIRE_TYPES[velocity.type]?.integer || velocity.predict) {
          throw new ProtocolError(`schema description: field ${f.name} is predicted by ${JSON.stringify(f.predict)}, which is not an integer velocity field`);
        }
        field.velocity = { name: velocity.name, wire: WIRE_TYPES[velocity.type] };
      }
      return field;
    });
    this.predicted = this.fields.filter((f) => f.velocity !== null);
    this.fieldsByName = new Map(this.fields.map((f) => [f.name, f]));
    const axis = (a) => this.fields.find((f) => f.interest === a)?.name ?? null;
    /** The fields the server's area of interest reads as coordinates (or null). */
    this.interest = { x: axis("x"), y: axis("y") };
  }

  /** A state from the wire, checked field by field and normalized. Throws `ProtocolError`. */
  checkState(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ProtocolError("malformed entity state");
    const state = {};
    for (const f of this.fields) {
      const v = f.wire.check(value[f.name]);
      if (v === undefined) throw new ProtocolError(`malformed entity state: ${f.name} is not a ${f.type}`);
      state[f.name] = v;
    }
    for (const key of Object.keys(value)) {
      if (!this.fieldsByName.has(key)) throw new ProtocolError(`malformed entity state: unknown field ${key}`);
    }
    return state;
  }

  /** A delta from the wire: an object of some fields (offsets for predicted ones). */
  checkDelta(value) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ProtocolError("malformed entity delta");
    const delta = {};
    for (const key of Object.keys(value)) {
      const f = this.fieldsByName.get(key);
      if (!f) throw new ProtocolError(`malformed entity delta: unknown field ${key}`);
      const v = f.wire.check(value[key]);
      if (v === undefined) throw new ProtocolError(`malformed entity delta: ${key} is not a ${f.type}`);
      delta[key] = v;
    }
    return delta;
  }

  /**
   * Dead reckoning: the state `ticks` ticks later if nothing changes. Each predicted field
   * becomes `value + velocity × ticks`, saturated to its type (exact, as the server's i128
   * arithmetic); everything else is unchanged. Returns `state` itself when nothing moves.
   */
  predict(state, ticks) {
    if (ticks === 0) return state;
    let out = null;
    for (const f of this.predicted) {
      const velocity = state[f.velocity.name];
      if (velocity === 0 || velocity === 0n) continue;
      const value = state[f.name];
      let next;
      if (!f.wire.wide && !f.velocity.wire.wide) {
        const step = velocity * ticks;
        // |value| < 2^32: exact below 2^52, and saturated by its sign beyond.
        next = Math.abs(step) <= 2 ** 52 ? f.wire.clamp(value + step) : step < 0 ? f.wire.min : f.wire.max;
      } else {
        const exact = BigInt(value) + BigInt(velocity) * BigInt(ticks);
        const min = BigInt(f.wire.min);
        const max = BigInt(f.wire.max);
        const clamped = exact < min ? min : exact > max ? max : exact;
        next = f.wire.wide ? clamped : Number(clamped);
      }
      if (next !== value) {
        out ??= { ...state };
        out[f.name] = next;
      }
    }
    return out ?? state;
  }

  /**
   * Applies a checked delta to a predicted state: a predicted field's value is an offset
   * added with wrapping in its type, any other field's is the new value.
   */
  applyDelta(predicted, delta) {
    const state = { ...predicted };
    for (const key of Object.keys(delta)) {
      const f = this.fieldsByName.get(key);
      state[key] = f.velocity !== null ? f.wire.wrap(predicted[key] + delta[key]) : delta[key];
    }
    return state;
  }

  /** FNV-1a 32 over the id (u32) and every field in declaration order, little-endian. */
  entityChecksum(id, state) {
    let hash = fnvInt(FNV_OFFSET_BASIS, id >>> 0, 4);
    for (const f of this.fields) hash = f.wire.feed(hash, state[f.name]);
    return hash;
  }

  /** FNV-1a 32 over the entity checksums (u32, little-endian) of a view sorted by id. */
  viewChecksum(entities) {
    let hash = FNV_OFFSET_BASIS;
    for (const e of entities) hash = fnvInt(hash, this.entityChecksum(e.id, e.state), 4);
    return hash;
  }
}

// ---------------------------------------------------------------------------------------
// Snapshots and views

/** A snapshot that does not fit the views this client holds: a desync. */
export class DesyncError extends Error {}

function sortedBy(list, key) {
  for (let i = 1; i < list.length; i++) {
    if (!(key(list[i - 1]) < key(list[i]))) return false;
  }
  return true;
}

/**
 * Applies created/changed/removed to `baseline` (a view sorted by id, `ticks` ticks old) and
 * returns the new view, sorted by id: every baseline entity dead-reckoned, the removed ones
 * gone, the changed ones with their delta, the created ones added. Throws `DesyncError`
 * when the lists do not fit the baseline (protocol/src/delta.rs).
 */
export function applyDelta(schema, baseline, created, changed, removed, ticks) {
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
    if (r < removed.length && removed[r] < id) throw new DesyncError(`entity #${removed[r]} is removed but does not exist`);
    if (d < changed.length && changed[d].id < id) throw new DesyncError(`entity #${changed[d].id} is changed but does not exist`);
    if (r < removed.length && removed[r] === id) {
      r++;
      if (d < changed.length && changed[d].id === id) throw new DesyncError(`entity #${id} is both changed and removed`);
      continue;
    }
    const predicted = schema.predict(old.state, ticks);
    if (d < changed.length && changed[d].id === id) {
      out.push({ id, state: schema.applyDelta(predicted, changed[d++].delta) });
    } else {
      out.push(predicted === old.state ? old : { id, state: predicted });
    }
  }
  if (r < removed.length) throw new DesyncError(`entity #${removed[r]} is removed but does not exist`);
  if (d < changed.length) throw new DesyncError(`entity #${changed[d].id} is changed but does not exist`);
  while (c < created.length) out.push(created[c++]);
  return out;
}

/**
 * The views (entity lists sorted by id) a client holds, newest last, and the step that turns
 * a snapshot into the next view (protocol/src/sync/view.rs). The server deltas against the
 * latest tick this client acknowledged, so every acknowledged view is kept until a
 * snapshot's baseline moves past it; a view never acknowledged is dropped as soon as a newer
 * one exists.
 */
export class ViewStore {
  constructor(schema) {
    this.schema = schema;
    /** { tick, acked, entities }, oldest first. */
    this.views = [];
  }

  /** The tick to acknowledge: the last snapshot applied (0 before the first). */
  tick() {
    return this.views.length ? this.views[this.views.length - 1].tick : 0;
  }

  /** The current view, sorted by id; empty before the first snapshot. */
  current() {
    return this.views.length ? this.views[this.views.length - 1].entities : [];
  }

  heldViews() {
    return this.views.length;
  }

  /** Records that the current view's tick went to the server as an acknowledgement. */
  markCurrentAcked() {
    if (this.views.length) this.views[this.views.length - 1].acked = true;
  }

  /**
   * Applies a decoded snapshot on top of its baseline view, verifies the checksum and makes
   * the result current. On error (`DesyncError`) nothing changes, so the next ack still
   * names a view this client holds.
   */
  apply(snapshot) {
    const applied = this.tick();
    if (snapshot.tick <= applied) {
      throw new DesyncError(`snapshot ${snapshot.tick} is not newer than the view already applied (tick ${applied})`);
    }
    let baseline = [];
    let ticks = 0;
    if (snapshot.baseline_tick !== 0) {
      const held = this.views.find((v) => v.tick === snapshot.baseline_tick);
      if (!held) throw new DesyncError(`its baseline (tick ${snapshot.baseline_tick}) is not a view this client holds`);
      baseline = held.entities;
      ticks = snapshot.tick - snapshot.baseline_tick;
    }
    const entities = applyDelta(this.schema, baseline, snapshot.created, snapshot.changed, snapshot.removed, ticks);
    const actual = this.schema.viewChecksum(entities);
    if (actual !== snapshot.checksum) {
      const hex = (v) => `0x${v.toString(16).padStart(8, "0")}`;
      throw new DesyncError(`view checksum ${hex(actual)} does not match the server's ${hex(snapshot.checksum)}`);
    }
    this.views = this.views.filter((v) => v.acked && v.tick >= snapshot.baseline_tick);
    this.views.push({ tick: snapshot.tick, acked: false, entities });
    if (this.views.length > MAX_HELD_VIEWS) this.views.splice(0, this.views.length - MAX_HELD_VIEWS);
    return entities;
  }
}

// ---------------------------------------------------------------------------------------
// Messages

/** Constructors of every client message, in serde_json's externally tagged form. */
export const ClientMessages = {
  hello(playerName) {
    return { Hello: { protocol_version: ENVELOPE_VERSION, player_name: playerName } };
  },
  resume(resumeToken) {
    return { Resume: { protocol_version: ENVELOPE_VERSION, resume_token: resumeToken } };
  },
  /** `payload` is the game's input, as its serde JSON form. */
  input(seq, ackTick, payload) {
    return { Input: { seq, ack_tick: ackTick, payload } };
  },
  ack(tick) {
    return { Ack: { tick } };
  },
  ping(clientTimeUs) {
    return { Ping: { client_time_us: clientTimeUs } };
  },
  leave() {
    return "Leave";
  },
  /** A game message, as its serde JSON form (e.g. `{ Say: "hi" }` or `"Ready"`). */
  message(message) {
    return { Message: message };
  },
};

const isInt = (v, min, max) => Number.isInteger(v) && v >= min && v <= max;
const isU32 = (v) => isInt(v, 0, 0xffffffff);
const isU16 = (v) => isInt(v, 0, 0xffff);
const isI16 = (v) => isInt(v, -0x8000, 0x7fff);

function check(condition, what) {
  if (!condition) throw new ProtocolError(`malformed ${what}`);
}

function isObject(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Parses one text frame into `{ type, body }`, `type` one of "Welcome", "Snapshot", "Pong",
 * "Error", "Message", checking every envelope field and, in snapshots, every entity field
 * against the schema. A game message's body is passed on as parsed. Throws `ProtocolError`.
 */
export function decodeServerMessage(schema, text) {
  let value;
  try {
    value = parseJson(text);
  } catch (error) {
    throw new ProtocolError(`not JSON: ${error.message}`);
  }
  check(isObject(value) && Object.keys(value).length === 1, "message (one variant expected)");
  const type = Object.keys(value)[0];
  const body = value[type];
  switch (type) {
    case "Welcome":
      check(
        isObject(body) &&
          isU32(body.player_id) &&
          (body.entity_id === null || isU32(body.entity_id)) &&
          isU16(body.tick_rate_hz) &&
          body.tick_rate_hz > 0 &&
          isU32(body.tick) &&
          typeof body.resume_token === "string" &&
          typeof body.resumed === "boolean",
        "Welcome",
      );
      return { type, body };
    case "Snapshot": {
      check(
        isObject(body) &&
          isU32(body.tick) &&
          isU32(body.baseline_tick) &&
          isU32(body.last_input_seq) &&
          isI16(body.input_margin_100us) &&
          isU32(body.checksum) &&
          Array.isArray(body.created) &&
          Array.isArray(body.changed) &&
          Array.isArray(body.removed),
        "Snapshot",
      );
      for (const id of body.removed) check(isU32(id), "removed id");
      return {
        type,
        body: {
          tick: body.tick,
          baseline_tick: body.baseline_tick,
          last_input_seq: body.last_input_seq,
          input_margin_100us: body.input_margin_100us,
          checksum: body.checksum,
          created: body.created.map((e) => {
            check(isObject(e) && isU32(e.id), "created entity");
            return { id: e.id, state: schema.checkState(e.state) };
          }),
          changed: body.changed.map((e) => {
            check(isObject(e) && isU32(e.id), "changed entity");
            return { id: e.id, delta: schema.checkDelta(e.delta) };
          }),
          removed: body.removed,
        },
      };
    }
    case "Pong":
      check(isObject(body) && (Number.isSafeInteger(body.client_time_us) || typeof body.client_time_us === "bigint") && isU32(body.server_tick), "Pong");
      return { type, body };
    case "Error":
      check(isObject(body) && isU16(body.code) && typeof body.message === "string", "Error");
      return { type, body };
    case "Message":
      return { type, body };
    default:
      throw new ProtocolError(`unknown server message ${JSON.stringify(type)}`);
  }
}

// ---------------------------------------------------------------------------------------
// Input timing

/** Microseconds per unit of `Snapshot.input_margin_100us`. */
export const INPUT_MARGIN_UNIT_US = 100;
/** The least margin aimed for (ms); browsers' timers are coarser than native ones. */
const MIN_MARGIN_MS = 1.5;
const JITTER_WINDOW = 64;
const JITTER_FACTOR = 1.5;
const MAX_PHASE_STEP_FRACTION = 0.125;
const PHASE_GAIN = 0.5;
const MAX_RATE_TRIM = 0.001;
const RATE_GAIN = 0.002;
const RATE_LOCK_FRACTION = 0.06;
const MISS_BUMP_MS = 1;
const MISS_BUMP_DECAY = 0.98;
const SENT_RING = 64;

/**
 * When to send the next input (times in ms of `performance.now()`), aimed with the
 * server's arrival feedback: phase steps of half the error (bounded, one per round trip),
 * a slow rate trim for clock drift, and an aim of a floor plus 1.5× the late spread
 * (p50 − p5) of recent samples (with the clock's own corrections taken out), raised at
 * once by a missed tick.
 */
export class InputClock {
  constructor(periodMs, firstMs) {
    this.periodMs = periodMs;
    this.nextMs = firstMs;
    this.trimMs = 0;
    this.settleSeq = 0;
    this.sampledSeq = 0;
    this.recent = [];
    this.offsetMs = 0;
    this.dueOffsetMs = 0;
    this.sent = new Map();
    this.missBumpMs = 0;
    this.missed = 0;
    this.samples = 0;
    this.lastMarginMs = null;
  }

  nextSend() {
    return this.nextMs;
  }

  /** The send that was due happened at `now`: schedules the next one. */
  advance(now) {
    const step = this.periodMs + this.trimMs;
    this.dueOffsetMs = this.offsetMs;
    this.offsetMs += step - this.periodMs;
    this.nextMs += step;
    if (this.nextMs + this.periodMs < now) this.nextMs = now + this.periodMs;
  }

  /** Input `seq` went out for the send time that was due at the last `advance`. */
  onSent(seq) {
    this.sent.set(seq % SENT_RING, [seq, this.dueOffsetMs]);
  }

  /** A snapshot's feedback; `nextSeq` is the sequence number of the next input. */
  onFeedback(lastInputSeq, margin100us, nextSeq) {
    if (lastInputSeq === 0 || lastInputSeq <= this.sampledSeq) return;
    this.sampledSeq = lastInputSeq;
    const sampleMs = (margin100us * INPUT_MARGIN_UNIT_US) / 1000;
    this.lastMarginMs = sampleMs;
    this.samples += 1;
    if (sampleMs < 0) {
      this.missed += 1;
      this.missBumpMs += MISS_BUMP_MS;
    } else {
      this.missBumpMs *= MISS_BUMP_DECAY;
    }
    const sent = this.sent.get(lastInputSeq % SENT_RING);
    const offset = sent && sent[0] === lastInputSeq ? sent[1] : this.dueOffsetMs;
    let corrected = sampleMs + offset;
    const previous = this.recent.length ? this.recent[this.recent.length - 1] : null;
    if (previous !== null) {
      while (corrected - previous > this.periodMs / 2) corrected -= this.periodMs;
      while (previous - corrected > this.periodMs / 2) corrected += this.periodMs;
    }
    this.recent.push(corrected);
    if (this.recent.length > JITTER_WINDOW) this.recent.shift();
    const error = Math.min(sampleMs, this.periodMs) - this.aimMs();
    if (Math.abs(error) <= RATE_LOCK_FRACTION * this.periodMs) {
      const limit = MAX_RATE_TRIM * this.periodMs;
      this.trimMs = Math.max(-limit, Math.min(limit, this.trimMs + RATE_GAIN * error));
    }
    if (lastInputSeq < this.settleSeq) return;
    const maxStep = MAX_PHASE_STEP_FRACTION * this.periodMs;
    const shift = Math.max(-maxStep, Math.min(maxStep, PHASE_GAIN * error));
    this.nextMs += shift;
    this.offsetMs += shift;
    this.settleSeq = nextSeq;
  }

  jitterMs() {
    if (this.recent.length < 8) return 0;
    const sorted = [...this.recent].sort((a, b) => a - b);
    const at = (q) => sorted[Math.round((sorted.length - 1) * q)];
    return at(0.5) - at(0.05);
  }

  /** The margin aimed for now, in ms. */
  aimMs() {
    return Math.min(MIN_MARGIN_MS + JITTER_FACTOR * this.jitterMs() + this.missBumpMs, this.periodMs / 2);
  }
}

// ---------------------------------------------------------------------------------------
// Rates over a sliding window

/** Sum of amounts recorded within the last `windowMs`, per second. */
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.events = [];
    this.head = 0;
    this.sum = 0;
    this.started = null;
  }

  record(now, amount = 1) {
    if (this.started === null) this.started = now;
    this.events.push(now, amount);
    this.sum += amount;
    this.trim(now);
  }

  trim(now) {
    const events = this.events;
    while (this.head < events.length && events[this.head] <= now - this.windowMs) {
      this.sum -= events[this.head + 1];
      this.head += 2;
    }
    if (this.head > 1024) {
      events.splice(0, this.head);
      this.head = 0;
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

const encoder = new TextEncoder();
/** Bytes of a string in UTF-8 (frames are almost all ASCII; this is exact either way). */
function utf8Length(text) {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) return encoder.encode(text).length;
  }
  return text.length;
}

/** What the server's refusal of an upgrade says, rebuilt for a browser (which cannot read it). */
function schemaMismatch(offered, served) {
  return (
    `this client was built for game schema ${offered}, but this server runs ${served.game} ${served.hash} ` +
    `(subprotocols ${served.subprotocols.bincode} and ${served.subprotocols.json}); ` +
    `rebuild the client against the server's schema (GET ${SCHEMA_PATH} describes it)`
  );
}

/**
 * One WebSocket session with a ticksync server over the JSON codec, for any game.
 *
 * Options: `url` (the WebSocket URL, e.g. from `serverUrl(location)`), `schema` (a `Schema`
 * or a description; fetched from the server's `/schema` when absent), `expectSchema`
 * (`{ game, hash }`, either optional: what the page was built for; a server running
 * another game or layout is refused with a message naming both, as the server's own
 * refusal of a mismatched subprotocol does), `playerName`, `resumeToken` (send `Resume`
 * instead of `Hello`), `pingIntervalMs` (500), `ack` (`"auto"`: send `Ack` for a snapshot
 * when no input has acknowledged one since the previous snapshot — a spectator acks every
 * snapshot, a player sending inputs every tick almost never needs to; `"every"`; `"manual"`:
 * inputs and `sendAck()` only).
 *
 * Callbacks (all optional), called in the order the frames arrive: `onSchema(schema)`,
 * `onWelcome(welcome)`, `onSnapshot(snapshot, view, now)` after a snapshot applied,
 * `onMessage(message, tick)` for a game message (`tick`: the last snapshot applied before
 * it), `onPong(pong, rttMs)`, `onError({ code, message })` for a server `Error` or a failure
 * here (code 0), `onDesync(message)`, `onClose({ code, reason })`.
 */
export class TicksyncConnection {
  constructor({ url, schema = null, expectSchema = null, playerName = "web", resumeToken = null, pingIntervalMs = 500, ack = "auto", ...callbacks }) {
    this.url = url;
    this.schema = schema === null || schema instanceof Schema ? schema : new Schema(schema);
    this.expectSchema = expectSchema;
    this.playerName = playerName;
    this.resumeToken = resumeToken;
    this.pingIntervalMs = pingIntervalMs;
    this.ackMode = ack;
    this.callbacks = callbacks;
    this.ws = null;
    this.status = "idle";
    this.opened = false;
    this.welcome = null;
    this.views = null;
    this.lastSnapshot = null;
    this.nextInputSeq = 1;
    /** The tick the next input is meant for (PROTOCOL.md §7); set by `Welcome`. */
    this.nextInputTick = 0;
    /** Aims the inputs at the server's tick; created by `Welcome`. */
    this.inputClock = null;
    this.ackedSinceSnapshot = false;
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
      acksSent: 0,
      messagesIn: 0,
      messagesOut: 0,
      pongs: 0,
    };
    this.snapshotRate = new RateMeter();
    this.bytesInRate = new RateMeter();
    this.bytesOutRate = new RateMeter();
  }

  /** The subprotocol this connection offers (the schema's JSON one). */
  subprotocol() {
    return this.schema.subprotocols.json;
  }

  /**
   * Fetches the schema if needed, checks it against `expectSchema`, opens the WebSocket
   * with the schema's JSON subprotocol and sends `Hello` (or `Resume`) once open. Resolves
   * once the socket is opening; failures go to `onError` and `status` "error".
   */
  async connect() {
    this.status = "connecting";
    try {
      this.schema ??= await fetchSchema(schemaUrl(this.url));
    } catch (error) {
      this.fail(error.message);
      return;
    }
    this.views = new ViewStore(this.schema);
    this.callbacks.onSchema?.(this.schema);
    if (this.expectSchema !== null && !this.matchesExpected(this.schema)) {
      const { game = this.schema.game, hash = "(any layout)" } = this.expectSchema;
      this.fail(schemaMismatch(`${game} ${hash}`, this.schema));
      return;
    }
    let ws;
    try {
      ws = new WebSocket(this.url, [this.subprotocol()]);
    } catch (error) {
      this.fail(`cannot open ${this.url}: ${error.message}`);
      return;
    }
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.opened = true;
      if (ws.protocol !== this.subprotocol()) {
        this.fail(`server chose subprotocol ${JSON.stringify(ws.protocol)}, not ${this.subprotocol()}`);
        ws.close(1002, "subprotocol");
        return;
      }
      this.status = "handshake";
      this.send(this.resumeToken ? ClientMessages.resume(this.resumeToken) : ClientMessages.hello(this.playerName));
    });
    ws.addEventListener("message", (event) => this.onFrame(event.data));
    ws.addEventListener("close", (event) => this.onSocketClose(ws, event));
    ws.addEventListener("error", () => {
      this.lastError ??= `WebSocket error on ${this.url}`;
    });
  }

  /** Whether `schema` is the one `expectSchema` names (its game, and its hash if given). */
  matchesExpected(schema) {
    const { game = schema.game, hash = schema.hash } = this.expectSchema;
    return game === schema.game && hash === schema.hash;
  }

  async onSocketClose(ws, event) {
    this.stopPings();
    this.close = { code: event.code, reason: event.reason };
    if (!this.opened && this.status !== "error") {
      // A refused upgrade: a browser does not show the server's answer, so find out whether
      // the server runs another schema than the one offered and say so as the server would.
      let message = `could not connect to ${this.url} (close ${event.code})`;
      try {
        const served = await fetchSchema(schemaUrl(this.url));
        if (served.hash !== this.schema.hash || served.game !== this.schema.game) {
          message = schemaMismatch(`${this.schema.game} ${this.schema.hash}`, served);
        }
      } catch {
        // The server is unreachable: the generic message says enough.
      }
      this.fail(message);
    }
    if (this.status !== "error") this.status = "closed";
    this.callbacks.onClose?.(this.close);
  }

  fail(message) {
    this.status = "error";
    this.lastError = message;
    this.callbacks.onError?.({ code: 0, message });
  }

  isOpen() {
    return this.ws !== null && this.ws.readyState === 1; // WebSocket.OPEN
  }

  /** Sends one client message (see `ClientMessages`); false when not connected. */
  send(message) {
    if (!this.isOpen()) return false;
    const text = stringifyJson(message);
    this.ws.send(text);
    const bytes = utf8Length(text);
    this.counters.bytesOut += bytes;
    this.bytesOutRate.record(performance.now(), bytes);
    return true;
  }

  /**
   * Sends one input with the next sequence number, acknowledging the last snapshot
   * applied; `payload` is the game's input. Returns the sequence number, or 0 when not
   * playing.
   */
  sendInput(payload) {
    if (this.status !== "playing") return 0;
    const seq = this.nextInputSeq;
    if (!this.send(ClientMessages.input(seq, this.views.tick(), payload))) return 0;
    this.acknowledged();
    this.nextInputSeq += 1;
    this.nextInputTick += 1;
    this.counters.inputsSent += 1;
    this.inputClock?.onSent(seq);
    return seq;
  }

  /** Sends `Ack` for the last snapshot applied (nothing before the first); returns its tick. */
  sendAck() {
    const tick = this.views?.tick() ?? 0;
    if (tick === 0 || this.status !== "playing" || !this.send(ClientMessages.ack(tick))) return 0;
    this.acknowledged();
    this.counters.acksSent += 1;
    return tick;
  }

  acknowledged() {
    this.views.markCurrentAcked();
    this.ackedSinceSnapshot = true;
  }

  /** Sends a game message (its serde JSON form); false when not playing. */
  sendMessage(message) {
    if (this.status !== "playing" || !this.send(ClientMessages.message(message))) return false;
    this.counters.messagesOut += 1;
    return true;
  }

  ping() {
    // performance.now() in µs stays far below 2^53 (285 years).
    this.send(ClientMessages.ping(Math.round(performance.now() * 1000)));
  }

  /** Sends `Leave`; the server removes the player and closes. */
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
      message = decodeServerMessage(this.schema, data);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.counters.malformed += 1;
      this.lastError = error.message;
      return;
    }
    const body = message.body;
    switch (message.type) {
      case "Welcome":
        this.welcome = body;
        this.status = "playing";
        this.inputClock = new InputClock(1000 / Math.max(1, body.tick_rate_hz), now);
        // An input sent now reaches the server after tick `tick + 1` took its inputs.
        this.nextInputTick = body.tick + 2;
        this.ping();
        this.stopPings();
        this.pingTimer = setInterval(() => this.ping(), this.pingIntervalMs);
        this.callbacks.onWelcome?.(body);
        break;
      case "Snapshot":
        this.onSnapshot(body, now);
        break;
      case "Message":
        this.counters.messagesIn += 1;
        this.callbacks.onMessage?.(body, this.views.tick());
        break;
      case "Pong": {
        const rtt = now - Number(body.client_time_us) / 1000;
        if (rtt >= 0 && rtt < 60000) {
          this.counters.pongs += 1;
          this.rttMs = rtt;
          this.rttSmoothedMs = this.rttSmoothedMs === null ? rtt : this.rttSmoothedMs * 0.8 + rtt * 0.2;
          this.callbacks.onPong?.(body, rtt);
        }
        break;
      }
      case "Error":
        this.lastError = `server error ${body.code}: ${body.message}`;
        this.callbacks.onError?.(body);
        break;
    }
  }

  onSnapshot(snapshot, now) {
    this.inputClock?.onFeedback(snapshot.last_input_seq, snapshot.input_margin_100us, this.nextInputSeq);
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
    const owed = this.ackMode === "every" || (this.ackMode === "auto" && !this.ackedSinceSnapshot);
    this.ackedSinceSnapshot = false;
    this.callbacks.onSnapshot?.(snapshot, view, now);
    // After the callback, so an input sent from it carries the ack instead.
    if (owed && !this.ackedSinceSnapshot) this.sendAck();
  }

  /** Figures for an overlay, at time `now` (performance.now()). */
  stats(now = performance.now()) {
    return {
      rttMs: this.rttSmoothedMs,
      snapshotRate: this.snapshotRate.perSecond(now),
      bytesInPerSecond: this.bytesInRate.perSecond(now),
      bytesOutPerSecond: this.bytesOutRate.perSecond(now),
      heldViews: this.views ? this.views.heldViews() : 0,
      inputMarginMs: this.inputClock ? this.inputClock.lastMarginMs : null,
      inputAimMs: this.inputClock ? this.inputClock.aimMs() : null,
      inputFeedbackSamples: this.inputClock ? this.inputClock.samples : 0,
      inputsMissedTick: this.inputClock ? this.inputClock.missed : 0,
      ...this.counters,
    };
  }
}
