// app.js — the browser client of the ticksync arena, on the generic library the server
// serves at /ticksync.js (which fetches the schema, applies deltas and checks checksums; it
// knows no game). What is the arena's lives here and in ./arena.js:
//
// - Draws the live arena on a canvas: every entity in view, this player's own highlighted
//   (yellow, with a hollow ring where the server last put it).
// - WASD or arrow keys steer; one `Input` per server tick, sent when the connection's
//   `InputClock` says, so it arrives just before the tick that takes it.
// - Own entity: client-side prediction (each input is simulated at once with the server's
//   integer motion) and reconciliation by the server's rule, per tick, not per input (on
//   each snapshot, restart from the server's state and advance one tick at a time to the
//   tick of the newest input, each with the direction of the newest input meant for it;
//   PROTOCOL.md §7); a correction is blended out over ~100 ms instead of snapping.
// - Everyone else: interpolation between snapshots, drawn a few ticks in the past on a
//   clock fitted to snapshot arrivals; dead reckoning covers a late snapshot.
// - The world's size comes from the arena's `World` message, sent at join before the
//   first snapshot.
// - A side panel shows round trip, server tick, snapshot rate and bytes per second, beside
//   the arena rather than over it.
// - `window.ticksync.state()` exposes the same figures to tests (see tests/browser/).
//
// URL parameters: ?server=ws://host:port/ws ?room= ?token= (a join token) ?name= and
// ?schema=HASH (refuse a server whose arena layout is not that one).
//
// World coordinates have +y up on screen (heading 0 = +x = right, counter-clockwise), so W
// sends move_dir.y = +127.

import { TicksyncConnection, serverUrl, MAX_PLAYER_NAME_BYTES } from "./ticksync.js";
import { arenaStep, fullSpeedSteps, moveDirFromVector, replayPerTick, POSITION_STEPS_PER_UNIT } from "./arena.js";

/** The game this page draws, and the entity fields it reads (any layout that has them). */
const GAME = "arena";
const REQUIRED_FIELDS = ["x", "y", "vx", "vy", "heading"];
/** World size until the `World` message says otherwise, in world units. */
const DEFAULT_WORLD_UNITS = 2000;

/** Others are drawn this many ticks behind the newest snapshot (100 ms at 30 Hz). */
const INTERPOLATION_DELAY_TICKS = 3;
/** A late snapshot is covered by dead reckoning for at most this many ticks. */
const MAX_EXTRAPOLATION_TICKS = 6;
/** Snapshots kept for interpolation. */
const INTERPOLATION_BUFFER = 32;
/** Time constant of blending out a prediction correction. */
const CORRECTION_BLEND_MS = 100;
/** A correction larger than this (world units) snaps instead of blending. */
const CORRECTION_SNAP_UNITS = 100;
/** Inputs kept for replay while the server has not applied them. */
const MAX_PENDING_INPUTS = 256;
/**
 * Consecutive snapshots that must agree that inputs land at another tick than they are
 * numbered for before the numbering moves (one late input is jitter, not drift).
 */
const REALIGN_AFTER = 8;
/** Entity radius in world units. */
const ENTITY_RADIUS_UNITS = 14;

const KEY_DIRECTIONS = {
  KeyW: [0, 1],
  ArrowUp: [0, 1],
  KeyS: [0, -1],
  ArrowDown: [0, -1],
  KeyA: [-1, 0],
  ArrowLeft: [-1, 0],
  KeyD: [1, 0],
  ArrowRight: [1, 0],
};

const canvas = document.getElementById("arena");
const ctx = canvas.getContext("2d");
const overlay = document.getElementById("overlay");
const statusBox = document.getElementById("status");

const params = new URLSearchParams(location.search);
const playerName = cleanName(params.get("name") ?? "web");

/** Everything the page knows, read by the renderer, the overlay and the test hook. */
const game = {
  url: null,
  conn: null,
  welcome: null,
  /** The `World` message: { width, height } in world units, or null before it. */
  world: null,
  tickMs: 1000 / 30,
  fullSpeed: fullSpeedSteps(30),
  /** The world's far corner in position steps. */
  max: { x: DEFAULT_WORLD_UNITS * POSITION_STEPS_PER_UNIT, y: DEFAULT_WORLD_UNITS * POSITION_STEPS_PER_UNIT },
  messages: 0,
  keys: new Set(),
  moveDir: { x: 0, y: 0 },
  inputTimer: null,
  own: {
    /** The server's latest state of our entity (wire units), or null. */
    server: null,
    /** Inputs sent and not yet applied by the server: { seq, tick, dir }. */
    pending: [],
    /** Direction of the last input the server applied. */
    appliedDir: { x: 0, y: 0 },
    /** Tick of the last snapshot reconciled with, and its `last_input_seq`. */
    snapshotTick: 0,
    appliedSeq: 0,
    /** Offset (numbered tick − real tick) of the latest inputs, and how many in a row. */
    tickOffset: [0, 0],
    /** Predicted state at `predictedTick` (the newest input's), and the one before it. */
    predicted: null,
    predictedTick: 0,
    previous: null,
    /** When the latest input was simulated (performance.now()). */
    steppedAt: 0,
    /** Correction being blended out, in position steps. */
    offset: { x: 0, y: 0 },
    ackedInput: 0,
    corrections: 0,
    lastCorrectionUnits: 0,
  },
  interpolation: {
    /** { tick, byId: Map } of recent snapshots, oldest first. */
    buffer: [],
    /** Server time (tick × tickMs) minus performance.now(), fitted to arrivals. */
    clockOffsetMs: null,
  },
  frames: 0,
  /** What the last frame drew: { id, x, y } in position steps (own entity included). */
  lastDrawn: [],
  drawn: 0,
  drawnOthers: 0,
  /** The arena's border on the page, in CSS pixels ({ left, top, width, height }). */
  arenaRect: null,
  lastFrameAt: 0,
  overlayAt: 0,
  pageError: null,
};

function cleanName(name) {
  // The server refuses control characters and names over 32 bytes of UTF-8.
  let clean = [...name].filter((ch) => !/\p{Cc}/u.test(ch)).join("");
  const encoder = new TextEncoder();
  while (encoder.encode(clean).length > MAX_PLAYER_NAME_BYTES) clean = [...clean].slice(0, -1).join("");
  return clean || "web";
}

// ---------------------------------------------------------------------------------------
// Connection

function start() {
  try {
    game.url = serverUrl(location);
  } catch (error) {
    game.pageError = error.message;
    setStatus(error.message, true);
    return;
  }
  const conn = new TicksyncConnection({
    url: game.url,
    // `?schema=HASH` pins the layout too: a server running another one is refused here,
    // with a message naming both.
    expectSchema: params.get("schema") ? { game: GAME, hash: params.get("schema") } : { game: GAME },
    playerName,
    onSchema,
    onWelcome,
    onSnapshot,
    onMessage,
    onError: (error) => setStatus(error.code ? `server error ${error.code}: ${error.message}` : error.message, true),
    onDesync: (message) => console.warn(`ticksync: ${message}`),
    onClose: ({ code, reason }) => {
      stopInputs();
      if (conn.status === "error") return; // the error says more than the close
      setStatus(`disconnected (${code}${reason ? ` ${reason}` : ""}) — reload to rejoin`, code !== 1000);
    },
  });
  game.conn = conn;
  setStatus(`connecting to ${game.url}`);
  conn.connect();
  addEventListener("pagehide", () => conn.leave());
}

/** The page reads these fields; a server whose arena lacks one is not one it can draw. */
function onSchema(schema) {
  const missing = REQUIRED_FIELDS.filter((name) => !schema.fieldsByName.has(name));
  if (missing.length) {
    game.pageError = `the server's ${schema.game} schema ${schema.hash} has no ${missing.join(", ")}: this page cannot draw it`;
    setStatus(game.pageError, true);
  }
}

function onWelcome(welcome) {
  game.welcome = welcome;
  game.tickMs = 1000 / welcome.tick_rate_hz;
  game.fullSpeed = fullSpeedSteps(welcome.tick_rate_hz);
  setStatus(welcome.entity_id === null ? `watching on ${game.url}` : `playing as #${welcome.entity_id} on ${game.url}`);
  stopInputs();
  scheduleInput();
}

/** Sets a timer for the next input, when the connection's input clock says. */
function scheduleInput() {
  const clock = game.conn.inputClock;
  const wait = clock ? Math.max(0, clock.nextSend() - performance.now()) : game.tickMs;
  game.inputTimer = setTimeout(() => {
    game.inputTimer = null;
    game.conn.inputClock?.advance(performance.now());
    sendInput();
    if (game.conn.status === "playing") scheduleInput();
  }, wait);
}

/** The arena's messages: `World` (the world's size, at join). */
function onMessage(message) {
  game.messages += 1;
  const world = message?.World;
  if (world && Number.isInteger(world.width) && Number.isInteger(world.height)) {
    game.world = { width: world.width, height: world.height };
    game.max = { x: world.width * POSITION_STEPS_PER_UNIT, y: world.height * POSITION_STEPS_PER_UNIT };
  } else {
    console.warn(`ticksync: unknown arena message ${JSON.stringify(message)}`);
  }
}

function stopInputs() {
  if (game.inputTimer !== null) {
    clearTimeout(game.inputTimer);
    game.inputTimer = null;
  }
}

// ---------------------------------------------------------------------------------------
// Input and prediction

function currentMoveDir() {
  let x = 0;
  let y = 0;
  for (const code of game.keys) {
    const d = KEY_DIRECTIONS[code];
    if (d) {
      x += d[0];
      y += d[1];
    }
  }
  return moveDirFromVector(x, y);
}

/** Once per tick: send the keys' direction and simulate it on the predicted entity. */
function sendInput() {
  const dir = currentMoveDir();
  game.moveDir = dir;
  const tick = game.conn.nextInputTick;
  const seq = game.conn.sendInput({ move_dir: dir, buttons: 0 });
  if (seq === 0) return;
  const own = game.own;
  own.pending.push({ seq, tick, dir });
  if (own.pending.length > MAX_PENDING_INPUTS) own.pending.shift();
  if (own.predicted) {
    own.previous = own.predicted;
    let state = own.predicted;
    for (let t = own.predictedTick; t < tick; t++) state = arenaStep(state, dir, game.fullSpeed, game.max);
    own.predicted = state;
    own.predictedTick = Math.max(own.predictedTick, tick);
    own.steppedAt = performance.now();
  }
}

/** One observation that the input numbered for tick t landed at t − offset. */
function observeOffset(offset) {
  const own = game.own;
  own.tickOffset = own.tickOffset[0] === offset ? [offset, own.tickOffset[1] + 1] : [offset, 1];
  if (offset !== 0 && own.tickOffset[1] >= REALIGN_AFTER) {
    game.conn.nextInputTick -= offset;
    for (const input of own.pending) input.tick -= offset;
    own.tickOffset = [0, 0];
  }
}

/**
 * Restarts the prediction from the server's state at `tick` and advances it per tick to
 * the newest input's tick (PROTOCOL.md §7), then compares with what was predicted.
 */
function reconcile(server, lastInputSeq, tick) {
  const own = game.own;
  if (tick <= own.snapshotTick) return;
  const consecutive = tick === own.snapshotTick + 1;
  own.snapshotTick = tick;
  const newlyApplied = lastInputSeq > own.appliedSeq;
  own.appliedSeq = Math.max(own.appliedSeq, lastInputSeq);
  own.server = server;
  own.ackedInput = lastInputSeq;
  let newest = null;
  while (own.pending.length && own.pending[0].seq <= lastInputSeq) newest = own.pending.shift();
  if (newest) {
    own.appliedDir = newest.dir;
    // Input `lastInputSeq` was applied at this very tick: is it numbered so?
    if (newlyApplied && consecutive && newest.seq === lastInputSeq) observeOffset(newest.tick - tick);
  }
  const target = Math.max(game.conn.nextInputTick - 1, tick);
  const state = replayPerTick(server, own.appliedDir, own.pending, tick, target, game.fullSpeed, game.max);
  if (own.predicted === null) {
    own.predicted = state;
    own.previous = state;
    own.predictedTick = target;
    return;
  }
  // A prediction for another tick (the numbering just moved) is compared all the same: the
  // difference is a correction the player sees, blended out like any other.
  own.predictedTick = target;
  const dx = own.predicted.x - state.x;
  const dy = own.predicted.y - state.y;
  if (dx !== 0 || dy !== 0) {
    const units = Math.hypot(dx, dy) / POSITION_STEPS_PER_UNIT;
    own.corrections += 1;
    own.lastCorrectionUnits = units;
    if (units > CORRECTION_SNAP_UNITS) {
      own.offset = { x: 0, y: 0 };
      own.previous = state;
    } else {
      // Shift the whole prediction and carry the difference in the offset: what is drawn
      // does not jump, and the offset decays.
      own.offset = { x: own.offset.x + dx, y: own.offset.y + dy };
      own.previous = { ...own.previous, x: own.previous.x - dx, y: own.previous.y - dy };
    }
  }
  own.predicted = state;
}

// ---------------------------------------------------------------------------------------
// Snapshots and interpolation

function onSnapshot(snapshot, view, now) {
  const interp = game.interpolation;
  // Entities are { id, state } with the schema's fields in `state`.
  const byId = new Map();
  for (const e of view) byId.set(e.id, e.state);
  interp.buffer.push({ tick: snapshot.tick, byId });
  if (interp.buffer.length > INTERPOLATION_BUFFER) interp.buffer.shift();

  // Fit the clock: snapshots that arrive early pull it forward fast, late ones slowly, so
  // it follows the earliest arrivals and jitter only adds delay.
  const sample = snapshot.tick * game.tickMs - now;
  if (interp.clockOffsetMs === null || Math.abs(sample - interp.clockOffsetMs) > 1000) {
    interp.clockOffsetMs = sample;
  } else {
    const rate = sample > interp.clockOffsetMs ? 0.3 : 0.02;
    interp.clockOffsetMs += (sample - interp.clockOffsetMs) * rate;
  }

  const me = game.welcome && game.welcome.entity_id !== null ? byId.get(game.welcome.entity_id) : undefined;
  if (me) reconcile(me, snapshot.last_input_seq, snapshot.tick);
}

const lerp = (a, b, t) => a + (b - a) * t;

function lerpHeading(a, b, t) {
  let d = (b - a) % 65536;
  if (d > 32768) d -= 65536;
  if (d < -32768) d += 65536;
  return a + d * t;
}

/** Others' positions (position steps, fractional) at the interpolation time. */
function interpolatedEntities(now) {
  const { buffer, clockOffsetMs } = game.interpolation;
  if (buffer.length === 0 || clockOffsetMs === null) return [];
  const renderTick = (now + clockOffsetMs) / game.tickMs - INTERPOLATION_DELAY_TICKS;
  let i = buffer.length - 1;
  while (i > 0 && buffer[i].tick > renderTick) i--;
  const a = buffer[i];
  const out = [];
  if (a.tick > renderTick || i === buffer.length - 1) {
    // Before the oldest snapshot kept: draw it. After the newest: dead-reckon a little.
    const ticks = Math.max(0, Math.min(renderTick - a.tick, MAX_EXTRAPOLATION_TICKS));
    const max = game.max;
    for (const [id, e] of a.byId) {
      out.push({
        id,
        x: Math.min(max.x, Math.max(0, e.x + e.vx * ticks)),
        y: Math.min(max.y, Math.max(0, e.y + e.vy * ticks)),
        heading: e.heading,
      });
    }
    return out;
  }
  const b = buffer[i + 1];
  const t = (renderTick - a.tick) / (b.tick - a.tick);
  for (const [id, e] of b.byId) {
    const from = a.byId.get(id);
    if (from) {
      out.push({ id, x: lerp(from.x, e.x, t), y: lerp(from.y, e.y, t), heading: lerpHeading(from.heading, e.heading, t) });
    } else {
      out.push({ id, x: e.x, y: e.y, heading: e.heading });
    }
  }
  return out;
}

/** Our entity as drawn: the prediction, smoothed between inputs, plus the fading correction. */
function ownDrawnPosition(now, dt) {
  const own = game.own;
  if (!own.predicted) return null;
  const decay = Math.exp(-dt / CORRECTION_BLEND_MS);
  own.offset = { x: own.offset.x * decay, y: own.offset.y * decay };
  const t = Math.max(0, Math.min(1, (now - own.steppedAt) / game.tickMs));
  return {
    x: lerp(own.previous.x, own.predicted.x, t) + own.offset.x,
    y: lerp(own.previous.y, own.predicted.y, t) + own.offset.y,
  };
}

// ---------------------------------------------------------------------------------------
// Drawing

function resize() {
  const dpr = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const height = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
}

/** Hue of the own entity's yellow (#ffd33d), which no other entity's colour comes near. */
const OWN_HUE = 46;
/** Hues within this many degrees of OWN_HUE are left out of the other entities' colours. */
const OWN_HUE_MARGIN = 30;

/** Another entity's colour: golden-angle hues, spread evenly, skipping the own yellow's. */
function colorOf(id) {
  const span = 360 - 2 * OWN_HUE_MARGIN;
  const hue = (OWN_HUE + OWN_HUE_MARGIN + ((id * 137.508) % span)) % 360;
  return `hsl(${hue.toFixed(1)}, 55%, 62%)`;
}

function frame(now) {
  const dt = game.lastFrameAt ? Math.min(now - game.lastFrameAt, 250) : 0;
  game.lastFrameAt = now;
  try {
    draw(now, dt);
    if (now - game.overlayAt > 200) {
      game.overlayAt = now;
      updateOverlay(now);
    }
  } catch (error) {
    game.pageError = `render: ${error.message}`;
    throw error;
  } finally {
    requestAnimationFrame(frame);
  }
}

function draw(now, dt) {
  resize();
  const w = canvas.width;
  const h = canvas.height;
  ctx.fillStyle = "#0d1117";
  ctx.fillRect(0, 0, w, h);
  game.frames += 1;

  const world = game.max;
  const margin = 16 * (window.devicePixelRatio || 1);
  const scale = Math.max(1e-6, Math.min((w - 2 * margin) / world.x, (h - 2 * margin) / world.y));
  const ox = (w - world.x * scale) / 2;
  const oy = (h - world.y * scale) / 2;
  const sx = (x) => ox + x * scale;
  const sy = (y) => oy + (world.y - y) * scale;
  // Where the arena is on the page, in CSS pixels, for the layout test.
  const dpr = window.devicePixelRatio || 1;
  const box = canvas.getBoundingClientRect();
  game.arenaRect = {
    left: box.left + ox / dpr,
    top: box.top + oy / dpr,
    width: (world.x * scale) / dpr,
    height: (world.y * scale) / dpr,
  };

  // The world: border and a 100-unit grid.
  ctx.strokeStyle = "#1f2630";
  ctx.lineWidth = 1;
  ctx.beginPath();
  const step = 100 * POSITION_STEPS_PER_UNIT;
  for (let g = step; g < world.x; g += step) {
    ctx.moveTo(sx(g), sy(0));
    ctx.lineTo(sx(g), sy(world.y));
  }
  for (let g = step; g < world.y; g += step) {
    ctx.moveTo(sx(0), sy(g));
    ctx.lineTo(sx(world.x), sy(g));
  }
  ctx.stroke();
  ctx.strokeStyle = "#3b4552";
  ctx.lineWidth = 2;
  ctx.strokeRect(sx(0), sy(world.y), world.x * scale, world.y * scale);

  const radius = Math.max(3, ENTITY_RADIUS_UNITS * POSITION_STEPS_PER_UNIT * scale);
  const ownId = game.welcome ? game.welcome.entity_id : null;
  const drawnList = [];
  let others = 0;
  for (const e of interpolatedEntities(now)) {
    if (e.id === ownId && game.own.predicted) continue;
    drawEntity(sx(e.x), sy(e.y), radius, e.heading, e.id === ownId ? "#ffd33d" : colorOf(e.id));
    drawnList.push(e);
    if (e.id !== ownId) others += 1;
  }

  const own = ownDrawnPosition(now, dt);
  if (own) {
    const server = game.own.server;
    if (server) {
      // Where the server last put us: prediction runs ahead of it by about a round trip.
      ctx.strokeStyle = "rgba(255, 211, 61, 0.45)";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(sx(server.x), sy(server.y), radius * 1.5, 0, Math.PI * 2);
      ctx.stroke();
    }
    const heading = server ? server.heading : 0;
    drawEntity(sx(own.x), sy(own.y), radius * 1.3, heading, "#ffd33d");
    ctx.strokeStyle = "#ffffff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(sx(own.x), sy(own.y), radius * 1.3 + 3, 0, Math.PI * 2);
    ctx.stroke();
    ctx.fillStyle = "#ffd33d";
    ctx.font = `${Math.round(12 * (window.devicePixelRatio || 1))}px ui-monospace, monospace`;
    ctx.fillText(`you #${ownId}`, sx(own.x) + radius * 1.6, sy(own.y) - radius * 1.6);
    drawnList.push({ id: ownId, x: own.x, y: own.y });
  }
  game.lastDrawn = drawnList;
  game.drawn = drawnList.length;
  game.drawnOthers = others;
}

function drawEntity(x, y, r, heading, color) {
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  ctx.fill();
  // Heading: counter-clockwise from +x, with +y up on screen.
  const angle = (heading / 65536) * Math.PI * 2;
  ctx.strokeStyle = "#0d1117";
  ctx.lineWidth = Math.max(1, r / 4);
  ctx.beginPath();
  ctx.moveTo(x, y);
  ctx.lineTo(x + Math.cos(angle) * r, y - Math.sin(angle) * r);
  ctx.stroke();
}

// ---------------------------------------------------------------------------------------
// Overlay, status, test hook

function setStatus(text, isError = false) {
  statusBox.textContent = text;
  statusBox.classList.toggle("error", isError);
}

function formatBytes(perSecond) {
  if (perSecond >= 1024 * 1024) return `${(perSecond / (1024 * 1024)).toFixed(2)} MiB/s`;
  if (perSecond >= 1024) return `${(perSecond / 1024).toFixed(1)} KiB/s`;
  return `${perSecond.toFixed(0)} B/s`;
}

function updateOverlay(now) {
  const s = state(now);
  const pos = (p) => (p ? `(${p.x.toFixed(1)}, ${p.y.toFixed(1)})` : "—");
  overlay.textContent = [
    `RTT        ${s.rttMs === null ? "—" : `${s.rttMs.toFixed(1)} ms`}`,
    `tick       ${s.tick}${s.tickRateHz ? ` @ ${s.tickRateHz} Hz` : ""}`,
    `snapshots  ${s.snapshotRate.toFixed(1)}/s`,
    `down       ${formatBytes(s.bytesInPerSecond)}`,
    `up         ${formatBytes(s.bytesOutPerSecond)}`,
    `entities   ${s.entities} in view, ${s.drawn} drawn`,
    `you        #${s.entityId ?? "—"} ${pos(s.ownPredicted)}`,
    `inputs     ${s.lastInputSeq} sent, ${s.ackedInputSeq} applied, ${s.pendingInputs} pending`,
    `correction ${s.lastCorrectionUnits.toFixed(1)} u (${s.corrections})`,
    `arrival    ${s.inputMarginMs === null ? "—" : `${s.inputMarginMs.toFixed(1)} ms`} before the tick (aim ${s.inputAimMs === null ? "—" : s.inputAimMs.toFixed(1)}), ${s.inputsMissedTick} missed`,
    `desyncs    ${s.desyncs}`,
    `schema     ${s.schema ? `${s.schema.game} ${s.schema.hash}` : "—"}`,
  ].join("\n");
}

/** A plain, JSON-able picture of the client, for the overlay and for tests. */
function state(now = performance.now()) {
  const conn = game.conn;
  const stats = conn ? conn.stats(now) : null;
  const views = conn ? conn.views : null;
  const units = (p) => (p ? { x: p.x / POSITION_STEPS_PER_UNIT, y: p.y / POSITION_STEPS_PER_UNIT } : null);
  const own = game.own;
  return {
    status: conn ? conn.status : "error",
    url: game.url,
    playerName,
    entityId: game.welcome ? game.welcome.entity_id : null,
    tickRateHz: game.welcome ? game.welcome.tick_rate_hz : null,
    playerId: game.welcome ? game.welcome.player_id : null,
    worldSize: game.world,
    schema: conn && conn.schema ? { game: conn.schema.game, hash: conn.schema.hash } : null,
    messages: game.messages,
    tick: views ? views.tick() : 0,
    entities: views ? views.current().length : 0,
    entityIds: views ? views.current().map((e) => e.id) : [],
    drawn: game.drawn,
    drawnOthers: game.drawnOthers,
    frames: game.frames,
    ownServer: units(own.server),
    ownPredicted: units(own.predicted),
    moveDir: { ...game.moveDir },
    keys: [...game.keys],
    lastInputSeq: conn ? conn.nextInputSeq - 1 : 0,
    ackedInputSeq: own.ackedInput,
    pendingInputs: own.pending.length,
    corrections: own.corrections,
    lastCorrectionUnits: own.lastCorrectionUnits,
    inputMarginMs: stats ? stats.inputMarginMs : null,
    inputAimMs: stats ? stats.inputAimMs : null,
    inputFeedbackSamples: stats ? stats.inputFeedbackSamples : 0,
    inputsMissedTick: stats ? stats.inputsMissedTick : 0,
    rttMs: stats ? stats.rttMs : null,
    snapshotRate: stats ? stats.snapshotRate : 0,
    bytesInPerSecond: stats ? stats.bytesInPerSecond : 0,
    bytesOutPerSecond: stats ? stats.bytesOutPerSecond : 0,
    snapshots: stats ? stats.snapshots : 0,
    fullSnapshots: stats ? stats.fullSnapshots : 0,
    desyncs: stats ? stats.desyncs : 0,
    acksSent: stats ? stats.acksSent : 0,
    malformed: stats ? stats.malformed : 0,
    heldViews: views ? views.heldViews() : 0,
    interpolationDelayMs: INTERPOLATION_DELAY_TICKS * game.tickMs,
    close: conn ? conn.close : null,
    lastError: game.pageError ?? (conn ? conn.lastError : null),
  };
}

window.ticksync = Object.freeze({
  version: 2,
  state,
  /** Where the last frame drew each entity, in world units (interpolated / predicted). */
  drawnEntities: () =>
    game.lastDrawn.map((e) => ({ id: e.id, x: e.x / POSITION_STEPS_PER_UNIT, y: e.y / POSITION_STEPS_PER_UNIT })),
  get connection() {
    return game.conn;
  },
  /** Where the last frame drew the arena (its border), in CSS pixels of the viewport. */
  arenaRect: () => (game.arenaRect ? { ...game.arenaRect } : null),
  /** The colour another entity is drawn in. */
  colorOf,
});

// ---------------------------------------------------------------------------------------
// Keyboard

addEventListener("keydown", (event) => {
  if (event.code in KEY_DIRECTIONS && !event.ctrlKey && !event.metaKey && !event.altKey) {
    game.keys.add(event.code);
    event.preventDefault();
  }
});
addEventListener("keyup", (event) => {
  if (game.keys.delete(event.code)) event.preventDefault();
});
// Keys released while the window had no focus never send keyup: stop rather than run on.
addEventListener("blur", () => game.keys.clear());

canvas.focus();
start();
requestAnimationFrame(frame);
