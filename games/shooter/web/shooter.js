// shooter.js — the shooter's browser client, on the generic library the server serves at
// /ticksync.js (schema, deltas, checksums, input clock; it knows no game). What is the
// shooter's lives here:
//
// - Draws the match: every fighter with its team colour, aim and health bar; a tracer
//   whenever a fighter's `shots` counter moves; the own fighter outlined in yellow.
// - WASD or arrows move, the mouse aims, the button fires: one input per server tick, when
//   the connection's input clock says, carrying the interpolation delay this page draws
//   others with (`view_delay`), so the server judges shots against what was on screen.
// - Own fighter: predicted one step per tick with the server's integer motion, and
//   reconciled on every snapshot (restart from the server's state, replay the inputs it has
//   not applied); others: interpolated a few ticks in the past.
// - Kill feed, round and score line, chat box (Enter sends `Say`).
// - `window.shooter.state()` and `window.shooter.screenOf(id)` expose what tests need.

import { TicksyncConnection, serverUrl } from "./ticksync.js";

const GAME = "shooter";
const STEPS = 64;
/** Others are drawn this many ticks behind the newest snapshot; sent as `view_delay`. */
const INTERPOLATION_DELAY_TICKS = 3;
const INTERPOLATION_BUFFER = 32;
const RADIUS_UNITS = 16;
const TRACER_MS = 160;
const FEED_LINES = 8;
const CHAT_LINES = 50;
const TEAM_COLOURS = ["#58a6ff", "#ff7b72"];
const KEYS = { KeyW: [0, 1], ArrowUp: [0, 1], KeyS: [0, -1], ArrowDown: [0, -1], KeyA: [-1, 0], ArrowLeft: [-1, 0], KeyD: [1, 0], ArrowRight: [1, 0] };

const canvas = document.getElementById("field");
const ctx = canvas.getContext("2d");
const params = new URLSearchParams(location.search);

const game = {
  conn: null,
  welcome: null,
  joined: null,
  tickMs: 1000 / 30,
  worldSteps: 2000 * STEPS,
  speedSteps: (250 * STEPS) / 30,
  keys: new Set(),
  mouse: null,
  firing: false,
  /** A click shorter than a tick still fires once. */
  clicked: false,
  aim: 0,
  inputTimer: null,
  /** Own prediction: the server's state, inputs not yet applied, the predicted state. */
  own: { server: null, pending: [], predicted: null, appliedSeq: 0 },
  buffer: [],
  clockOffsetMs: null,
  lastShots: new Map(),
  tracers: [],
  feed: [],
  chat: [],
  events: 0,
  hitsTaken: 0,
  hitsGiven: 0,
  round: null,
  teamKills: [0, 0],
  lastResult: null,
  drawnAt: new Map(),
  pageError: null,
};

// ---------------------------------------------------------------------------------------
// Connection

function start() {
  let url;
  try {
    url = serverUrl(location);
  } catch (error) {
    setStatus(error.message, true);
    game.pageError = error.message;
    return;
  }
  const conn = new TicksyncConnection({
    url,
    expectSchema: { game: GAME },
    playerName: params.get("name") ?? "web",
    onWelcome,
    onSnapshot,
    onMessage,
    onError: (error) => setStatus(error.code ? `server error ${error.code}: ${error.message}` : error.message, true),
    onDesync: (message) => console.warn(`ticksync: ${message}`),
    onClose: ({ code, reason }) => {
      stopInputs();
      if (conn.status !== "error") setStatus(`disconnected (${code}${reason ? ` ${reason}` : ""}) — reload to rejoin`, code !== 1000);
    },
  });
  game.conn = conn;
  setStatus(`connecting to ${url}`);
  conn.connect();
  addEventListener("pagehide", () => conn.leave());
}

function onWelcome(welcome) {
  game.welcome = welcome;
  game.tickMs = 1000 / welcome.tick_rate_hz;
  setStatus(`playing as #${welcome.entity_id}`);
  stopInputs();
  scheduleInput();
}

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

function stopInputs() {
  if (game.inputTimer !== null) clearTimeout(game.inputTimer);
  game.inputTimer = null;
}

// ---------------------------------------------------------------------------------------
// Input and prediction (the server's motion: crate::motion::step)

const f32 = Math.fround;
/** Rust's `f32::round`: half away from zero. */
const roundAway = (v) => Math.sign(v) * Math.round(Math.abs(v));

function moveDirFromKeys() {
  let x = 0;
  let y = 0;
  for (const code of game.keys) {
    const d = KEYS[code];
    if (d) [x, y] = [x + d[0], y + d[1]];
  }
  const length = Math.hypot(x, y);
  const scale = length > 1 ? 1 / length : 1;
  return { x: roundAway(x * scale * 127), y: roundAway(y * scale * 127) };
}

function motionStep(state, dir) {
  let x = f32(Math.max(dir.x, -127) / 127);
  let y = f32(Math.max(dir.y, -127) / 127);
  const lengthSq = f32(x * x + y * y);
  if (lengthSq > 1) {
    const length = f32(Math.sqrt(lengthSq));
    [x, y] = [f32(x / length), f32(y / length)];
  }
  const speed = f32(game.speedSteps);
  const clamp = (v) => Math.min(game.worldSteps, Math.max(0, v));
  return { ...state, x: clamp(state.x + roundAway(f32(x * speed))), y: clamp(state.y + roundAway(f32(y * speed))) };
}

function sendInput() {
  const dir = moveDirFromKeys();
  const own = game.own;
  const me = ownDrawn();
  if (me && game.mouse) {
    const angle = Math.atan2(game.mouse.y - me.y, game.mouse.x - me.x);
    game.aim = Math.round((((angle / (2 * Math.PI)) % 1) + 1) % 1 * 65536) % 65536;
  }
  const seq = game.conn.sendInput({ move_x: dir.x, move_y: dir.y, aim: game.aim, fire: game.firing || game.clicked, view_delay: INTERPOLATION_DELAY_TICKS });
  if (seq === 0) return;
  game.clicked = false;
  own.pending.push({ seq, dir });
  if (own.pending.length > 256) own.pending.shift();
  if (own.predicted && own.predicted.health > 0) own.predicted = motionStep(own.predicted, dir);
}

function reconcile(server, lastInputSeq) {
  const own = game.own;
  own.server = server;
  own.appliedSeq = Math.max(own.appliedSeq, lastInputSeq);
  while (own.pending.length && own.pending[0].seq <= lastInputSeq) own.pending.shift();
  let state = server;
  if (server.health > 0) for (const input of own.pending) state = motionStep(state, input.dir);
  own.predicted = state;
}

// ---------------------------------------------------------------------------------------
// Snapshots, events

function onSnapshot(snapshot, view, now) {
  const byId = new Map();
  for (const e of view) {
    byId.set(e.id, e.state);
    const last = game.lastShots.get(e.id);
    if (last !== undefined && last !== e.state.shots) game.tracers.push({ id: e.id, at: now, state: e.state });
    game.lastShots.set(e.id, e.state.shots);
  }
  game.buffer.push({ tick: snapshot.tick, byId });
  if (game.buffer.length > INTERPOLATION_BUFFER) game.buffer.shift();
  const sample = snapshot.tick * game.tickMs - now;
  if (game.clockOffsetMs === null || Math.abs(sample - game.clockOffsetMs) > 1000) game.clockOffsetMs = sample;
  else game.clockOffsetMs += (sample - game.clockOffsetMs) * (sample > game.clockOffsetMs ? 0.3 : 0.02);
  const me = game.welcome ? byId.get(game.welcome.entity_id) : undefined;
  if (me) reconcile(me, snapshot.last_input_seq);
}

const mine = (id) => game.welcome && id === game.welcome.entity_id;

function onMessage(message) {
  game.events += 1;
  const [kind, body] = Object.entries(message ?? {})[0] ?? [];
  switch (kind) {
    case "Joined":
      game.joined = body;
      game.worldSteps = body.world_size * STEPS;
      game.speedSteps = (body.speed * STEPS) / game.welcome.tick_rate_hz;
      game.round = body.round;
      break;
    case "RoundStarted":
      game.round = body.round;
      game.teamKills = [0, 0];
      addFeed(`round ${body.round} started`, false);
      break;
    case "Hit":
      if (mine(body.shooter)) game.hitsGiven += 1;
      if (mine(body.target)) game.hitsTaken += 1;
      break;
    case "Killed":
      addFeed(`#${body.killer} ✖ #${body.victim}`, mine(body.killer) || mine(body.victim), body);
      game.teamKills = body.team_kills;
      break;
    case "RoundEnded":
      game.teamKills = body.team_kills;
      game.lastResult = body;
      addFeed(`round ${body.round} over: ${body.winner === null ? "a draw" : `team ${body.winner} wins`}`, false);
      break;
    case "Chat":
      addChat(`${body.name}: ${body.text}`);
      break;
    case "ChatRefused":
      addChat(`(not sent: ${body.reason})`);
      break;
    default:
      console.warn(`ticksync: unknown shooter message ${JSON.stringify(message)}`);
  }
  renderSide();
}

function addFeed(text, isMine, kill = null) {
  game.feed.push({ text, mine: isMine, kill });
  if (game.feed.length > FEED_LINES) game.feed.shift();
  const list = document.getElementById("feed");
  list.replaceChildren(...game.feed.map((line) => {
    const li = document.createElement("li");
    li.textContent = line.text;
    if (line.mine) li.className = "mine";
    return li;
  }));
}

function addChat(text) {
  game.chat.push(text);
  if (game.chat.length > CHAT_LINES) game.chat.shift();
  const log = document.getElementById("chatlog");
  const li = document.createElement("li");
  li.textContent = text; // textContent: a chat line is never HTML
  log.append(li);
  while (log.children.length > CHAT_LINES) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

function renderSide() {
  const team = game.joined ? game.joined.team : null;
  document.getElementById("round").innerHTML = "";
  const line = document.getElementById("round");
  line.append(`round ${game.round ?? "—"} · `);
  for (const t of [0, 1]) {
    const span = document.createElement("span");
    span.className = `t${t}`;
    span.textContent = `team ${t}${team === t ? " (you)" : ""}: ${game.teamKills[t]}  `;
    line.append(span);
  }
}

// ---------------------------------------------------------------------------------------
// Drawing

function interpolated(now) {
  const buffer = game.buffer;
  if (!buffer.length || game.clockOffsetMs === null) return new Map();
  const renderTick = (now + game.clockOffsetMs) / game.tickMs - INTERPOLATION_DELAY_TICKS;
  let i = buffer.length - 1;
  while (i > 0 && buffer[i].tick > renderTick) i--;
  const a = buffer[i];
  if (i === buffer.length - 1 || a.tick > renderTick) return a.byId;
  const b = buffer[i + 1];
  const t = (renderTick - a.tick) / (b.tick - a.tick);
  const out = new Map();
  for (const [id, e] of b.byId) {
    const from = a.byId.get(id);
    // A jump (respawn) is drawn at once, not slid across the map.
    const teleported = !from || Math.hypot(e.x - from.x, e.y - from.y) > 100 * STEPS;
    out.set(id, teleported ? e : { ...e, x: from.x + (e.x - from.x) * t, y: from.y + (e.y - from.y) * t });
  }
  return out;
}

function ownDrawn() {
  return game.own.predicted;
}

let view = { scale: 1, ox: 0, oy: 0 };

function frame(now) {
  try {
    draw(now);
  } catch (error) {
    game.pageError = `render: ${error.message}`;
    throw error;
  } finally {
    requestAnimationFrame(frame);
  }
}

function draw(now) {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) [canvas.width, canvas.height] = [w, h];
  ctx.fillStyle = "#0d1117";
  ctx.fillRect(0, 0, w, h);
  const world = game.worldSteps;
  const margin = 16 * dpr;
  const scale = Math.max(1e-6, Math.min((w - 2 * margin) / world, (h - 2 * margin) / world));
  view = { scale, ox: (w - world * scale) / 2, oy: (h - world * scale) / 2, dpr };
  const sx = (x) => view.ox + x * scale;
  const sy = (y) => view.oy + (world - y) * scale;
  ctx.strokeStyle = "#3b4552";
  ctx.lineWidth = 2;
  ctx.strokeRect(sx(0), sy(world), world * scale, world * scale);

  const fighters = interpolated(now);
  const ownId = game.welcome ? game.welcome.entity_id : null;
  if (ownId !== null && game.own.predicted) fighters.set(ownId, game.own.predicted);
  const radius = Math.max(3, RADIUS_UNITS * STEPS * scale);
  const box = canvas.getBoundingClientRect();
  game.drawnAt = new Map();
  for (const [id, f] of fighters) {
    const x = sx(f.x);
    const y = sy(f.y);
    game.drawnAt.set(id, { x: box.left + x / dpr, y: box.top + y / dpr, alive: f.health > 0 });
    const colour = TEAM_COLOURS[f.team] ?? "#8b949e";
    ctx.globalAlpha = f.health > 0 ? 1 : 0.25;
    ctx.fillStyle = colour;
    ctx.beginPath();
    ctx.arc(x, y, radius, 0, Math.PI * 2);
    ctx.fill();
    const angle = (f.aim / 65536) * Math.PI * 2;
    ctx.strokeStyle = "#c9d1d9";
    ctx.lineWidth = Math.max(1, radius / 4);
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(x + Math.cos(angle) * radius * 1.6, y - Math.sin(angle) * radius * 1.6);
    ctx.stroke();
    ctx.globalAlpha = 1;
    if (f.health > 0 && game.joined) {
      const width = radius * 2.4;
      ctx.fillStyle = "#30363d";
      ctx.fillRect(x - width / 2, y - radius * 1.9, width, 4 * dpr);
      ctx.fillStyle = f.health * 3 > game.joined.max_health ? "#3fb950" : "#f85149";
      ctx.fillRect(x - width / 2, y - radius * 1.9, (width * f.health) / game.joined.max_health, 4 * dpr);
    }
    if (id === ownId) {
      ctx.strokeStyle = "#ffd33d";
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.arc(x, y, radius + 3, 0, Math.PI * 2);
      ctx.stroke();
    }
  }
  // Tracers: from where the shooter stood, along its aim, for a moment.
  game.tracers = game.tracers.filter((t) => now - t.at < TRACER_MS);
  for (const t of game.tracers) {
    const angle = (t.state.aim / 65536) * Math.PI * 2;
    const reach = 1400 * STEPS * scale;
    ctx.strokeStyle = `rgba(255, 230, 150, ${1 - (now - t.at) / TRACER_MS})`;
    ctx.lineWidth = 1.5 * dpr;
    ctx.beginPath();
    ctx.moveTo(sx(t.state.x), sy(t.state.y));
    ctx.lineTo(sx(t.state.x) + Math.cos(angle) * reach, sy(t.state.y) - Math.sin(angle) * reach);
    ctx.stroke();
  }
}

/** The mouse in world position steps. */
function toWorld(event) {
  const box = canvas.getBoundingClientRect();
  const px = (event.clientX - box.left) * view.dpr;
  const py = (event.clientY - box.top) * view.dpr;
  return { x: (px - view.ox) / view.scale, y: game.worldSteps - (py - view.oy) / view.scale };
}

// ---------------------------------------------------------------------------------------
// Status and test hook

function setStatus(text, isError = false) {
  const box = document.getElementById("status");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

function state() {
  const conn = game.conn;
  const stats = conn ? conn.stats(performance.now()) : null;
  return {
    status: conn ? conn.status : "error",
    entityId: game.welcome ? game.welcome.entity_id : null,
    team: game.joined ? game.joined.team : null,
    tick: conn && conn.views ? conn.views.tick() : 0,
    entities: conn && conn.views ? conn.views.current().length : 0,
    fighters: conn && conn.views ? conn.views.current().map((e) => ({ id: e.id, team: e.state.team, health: e.state.health })) : [],
    health: game.own.server ? game.own.server.health : null,
    shots: game.own.server ? game.own.server.shots : 0,
    aim: game.aim,
    firing: game.firing,
    events: game.events,
    hitsGiven: game.hitsGiven,
    hitsTaken: game.hitsTaken,
    feed: game.feed.map((line) => ({ text: line.text, kill: line.kill })),
    chat: [...game.chat],
    round: game.round,
    teamKills: [...game.teamKills],
    desyncs: stats ? stats.desyncs : 0,
    lastError: game.pageError ?? (conn ? conn.lastError : null),
  };
}

window.shooter = Object.freeze({
  state,
  /** Where the last frame drew fighter `id`, in CSS pixels of the viewport, or null. */
  screenOf: (id) => game.drawnAt.get(id) ?? null,
});

// ---------------------------------------------------------------------------------------
// Devices

addEventListener("keydown", (event) => {
  if (document.activeElement === document.getElementById("chat")) return;
  if (event.code in KEYS && !event.ctrlKey && !event.metaKey && !event.altKey) {
    game.keys.add(event.code);
    event.preventDefault();
  }
});
addEventListener("keyup", (event) => game.keys.delete(event.code));
addEventListener("blur", () => {
  game.keys.clear();
  game.firing = false;
});
canvas.addEventListener("mousemove", (event) => (game.mouse = toWorld(event)));
canvas.addEventListener("mousedown", (event) => {
  game.mouse = toWorld(event);
  game.firing = true;
  game.clicked = true;
  canvas.focus();
});
addEventListener("mouseup", () => (game.firing = false));
document.getElementById("chat").addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  const text = event.target.value.trim();
  if (text && game.conn?.sendMessage({ Say: text })) event.target.value = "";
});

canvas.focus();
start();
requestAnimationFrame(frame);
