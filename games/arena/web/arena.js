// arena.js — the arena's rules as the browser page needs them for client-side prediction:
// its units, its move direction and its integer motion, in the server's exact arithmetic
// (games/arena/src/game.rs, games/arena/src/schema.rs), so a predicted position lands on the
// server's. Nothing here is about the wire: the generic library (/ticksync.js) decodes and
// checks snapshots from the schema the server describes.

/** Position steps per world unit (the schema's `position_scale`). */
export const POSITION_STEPS_PER_UNIT = 64;
/** Move-direction steps per unit on each axis. */
export const DIRECTION_STEPS_PER_UNIT = 127;
/** Arena speed in world units per second. */
export const ARENA_SPEED = 300;

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
 * integer motion clamped to the world `[0, max.x] × [0, max.y]` (position steps). Returns
 * the new `{ x, y, vx, vy }`.
 */
export function arenaStep(state, dir, fullSpeed, max) {
  const [ux, uy] = unitVector(dir);
  const cx = roundHalfAway(f32(ux * fullSpeed));
  const cy = roundHalfAway(f32(uy * fullSpeed));
  const x = Math.min(max.x, Math.max(0, state.x + cx));
  const y = Math.min(max.y, Math.max(0, state.y + cy));
  return { x, y, vx: x - state.x, vy: y - state.y };
}

/**
 * The arena's per-tick replay (PROTOCOL.md §7): `server` (the snapshot's state of our
 * entity at tick `tick`) advanced one tick at a time up to `target`, each tick with the
 * direction of the newest unapplied input meant for it or earlier (`pending`: `{ tick, dir }`
 * in `seq` order; one meant for `tick` or earlier lands at `tick + 1` at the soonest),
 * starting from `appliedDir`, the direction of the last applied input — in the arena a
 * direction holds until a newer input is applied, and the server steps once per tick.
 */
export function replayPerTick(server, appliedDir, pending, tick, target, fullSpeed, max) {
  let state = { x: server.x, y: server.y, vx: server.vx, vy: server.vy };
  let dir = appliedDir;
  let next = 0;
  for (let t = tick + 1; t <= target; t++) {
    while (next < pending.length && Math.max(pending[next].tick, tick + 1) <= t) dir = pending[next++].dir;
    state = arenaStep(state, dir, fullSpeed, max);
  }
  return state;
}
