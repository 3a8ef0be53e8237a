//! Holds `tests/browser/schema_vectors.json` to the Rust protocol crate: test vectors for the
//! clients that apply deltas from the schema description alone (server/web/ticksync.js,
//! examples/python), which their own tests replay.
//!
//! For two schemas — the arena's, and `Gauge`, an entity with every wire type, dead-reckoned
//! fields of three widths and values at the edges of their ranges — it plays a client's
//! session: a sequence of snapshots as the server's JSON codec writes them (full ones, and
//! deltas against views the client holds, chosen like the server's baseline rule), each with
//! the view and checksums the protocol crate's own `ViewStore` ends up with, plus snapshots
//! that must be refused (wrong checksum, unknown baseline). A client replays the frames in
//! order, acknowledging every view it applied, and must match every view and checksum.
//!
//! This test fails when the file is stale (the Rust side changed and the clients were not
//! re-checked); `TICKSYNC_BLESS=1 cargo test -p ticksync-tests --test schema_vectors`
//! rewrites it, after which the browser and Python tests replay the new vectors.

use std::path::PathBuf;

use serde_json::{json, Value};
use ticksync_arena::schema::{ArenaEntity, ArenaSchema};
use ticksync_protocol::delta::{self, Delta};
use ticksync_protocol::replicated::entity_checksum;
use ticksync_protocol::schema::describe;
use ticksync_protocol::sync::ViewStore;
use ticksync_protocol::{
    Entity, EntityId, NoMessage, Replicated, Schema, ServerMessage, Snapshot, WireFormat,
};

/// An entity with one field of every wire type, dead reckoning on an `i32`, an `i64` and a
/// `u8` (driven by velocities of other widths), so saturation and wrapping are exercised.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Replicated)]
#[replicated(position_scale = 1)]
pub struct Gauge {
    #[replicated(predict = dx, interest_x)]
    pub x: i32,
    #[replicated(predict = dy, interest_y)]
    pub y: i64,
    pub dx: i16,
    pub dy: i32,
    #[replicated(predict = step)]
    pub level: u8,
    pub step: i8,
    #[replicated(predict = drift)]
    pub odometer: u64,
    pub drift: i64,
    pub flags: u16,
    pub total: u32,
    pub alive: bool,
    pub ratio: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GaugeSchema;

impl Schema for GaugeSchema {
    const NAME: &'static str = "gauge";
    const LAYOUT: &'static str = "input{};client{};server{}";
    type Entity = Gauge;
    type Input = ();
    type ClientMessage = NoMessage;
    type ServerMessage = NoMessage;
}

/// splitmix64: deterministic, so the file only changes when the Rust side does.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    /// A value of an integer type given as its range: often an edge, sometimes small,
    /// otherwise anywhere.
    fn int(&mut self, min: i128, max: i128) -> i128 {
        match self.below(8) {
            0 => min,
            1 => max,
            2 => (min + 1).min(max),
            3 => (max - 1).max(min),
            4 | 5 => (self.below(21) as i128 - 10).clamp(min, max),
            _ => min + (self.next() as i128 % (max - min + 1)).abs(),
        }
    }
}

/// Makes and changes entities of a schema.
trait Generate: Replicated {
    fn random(rng: &mut Rng) -> Self;
    fn mutate(&mut self, rng: &mut Rng);
}

impl Generate for ArenaEntity {
    fn random(rng: &mut Rng) -> Self {
        ArenaEntity {
            x: rng.below(128_001) as i32,
            y: rng.below(128_001) as i32,
            vx: rng.below(1281) as i16 - 640,
            vy: rng.below(1281) as i16 - 640,
            heading: rng.next() as u16,
        }
    }

    fn mutate(&mut self, rng: &mut Rng) {
        match rng.below(5) {
            0 => self.x = self.x.wrapping_add(rng.below(200) as i32 - 100),
            1 => self.y = rng.int(i32::MIN.into(), i32::MAX.into()) as i32,
            2 => self.vx = rng.int(i16::MIN.into(), i16::MAX.into()) as i16,
            3 => self.vy = rng.below(1281) as i16 - 640,
            _ => self.heading = rng.next() as u16,
        }
    }
}

fn random_f32(rng: &mut Rng) -> f32 {
    match rng.below(8) {
        0 => 0.0,
        1 => -0.0,
        2 => 0.1,
        3 => 1e-40, // subnormal
        4 => f32::MAX,
        5 => f32::MIN_POSITIVE,
        6 => -3.5,
        _ => {
            // Any finite value (JSON has no NaN or infinity).
            let value = f32::from_bits(rng.next() as u32);
            if value.is_finite() {
                value
            } else {
                1.5
            }
        }
    }
}

macro_rules! int {
    ($rng:expr, $ty:ty) => {
        $rng.int(i128::from(<$ty>::MIN), i128::from(<$ty>::MAX)) as $ty
    };
}

impl Generate for Gauge {
    fn random(rng: &mut Rng) -> Self {
        Gauge {
            x: int!(rng, i32),
            y: int!(rng, i64),
            dx: int!(rng, i16),
            dy: int!(rng, i32),
            level: int!(rng, u8),
            step: int!(rng, i8),
            odometer: int!(rng, u64),
            drift: int!(rng, i64),
            flags: int!(rng, u16),
            total: int!(rng, u32),
            alive: rng.chance(2),
            ratio: random_f32(rng),
        }
    }

    fn mutate(&mut self, rng: &mut Rng) {
        match rng.below(12) {
            0 => self.x = int!(rng, i32),
            1 => self.y = int!(rng, i64),
            2 => self.dx = int!(rng, i16),
            3 => self.dy = int!(rng, i32),
            4 => self.level = int!(rng, u8),
            5 => self.step = int!(rng, i8),
            6 => self.odometer = int!(rng, u64),
            7 => self.drift = int!(rng, i64),
            8 => self.flags = int!(rng, u16),
            9 => self.total = int!(rng, u32),
            10 => self.alive = !self.alive,
            _ => self.ratio = random_f32(rng),
        }
    }
}

/// What a step expects of the client.
enum Expect {
    Applied,
    Refused,
}

/// Plays `steps` snapshots of schema `S` and returns the case as JSON.
fn case<S: Schema>(seed: u64, steps: usize, max_entities: u32) -> Value
where
    S::Entity: Generate,
{
    let mut rng = Rng(seed);
    let mut store = ViewStore::<S::Entity>::new();
    // Every view the client applied (and so acknowledged), by tick: what baselines come from.
    let mut held: Vec<(u32, Vec<Entity<S::Entity>>)> = Vec::new();
    let mut last_baseline = 0;
    let mut next_id = 1;
    let mut tick = 100;
    let mut out = Vec::new();
    for step in 0..steps {
        tick += 1 + rng.below(3) as u32;
        // The target: the current view dead-reckoned to this tick, with some entities
        // changed, some gone, some new.
        let (current_tick, current) = held.last().cloned().unwrap_or((tick, Vec::new()));
        let mut target: Vec<Entity<S::Entity>> = Vec::new();
        for entity in &current {
            if rng.chance(12) {
                continue;
            }
            let mut state = entity.state.predict(tick - current_tick);
            if rng.chance(3) {
                state.mutate(&mut rng);
                if rng.chance(2) {
                    state.mutate(&mut rng);
                }
            }
            target.push(Entity {
                id: entity.id,
                state,
            });
        }
        let births = if current.is_empty() { 4 } else { rng.below(3) };
        for _ in 0..births {
            if target.len() as u32 >= max_entities {
                break;
            }
            target.push(Entity {
                id: EntityId(next_id),
                state: S::Entity::random(&mut rng),
            });
            next_id += 1 + rng.below(2) as u32;
        }
        // The baseline rule: full now and then, otherwise a held view not older than the
        // last baseline (the server's baseline only moves forward).
        held.retain(|(t, _)| *t >= last_baseline);
        let baseline_tick = if held.is_empty() || rng.chance(8) {
            0
        } else {
            held[rng.below(held.len() as u64) as usize].0
        };
        let baseline: &[Entity<S::Entity>] = match held.iter().find(|(t, _)| *t == baseline_tick) {
            Some((_, view)) => view,
            None => &[],
        };
        let ticks = if baseline_tick == 0 {
            0
        } else {
            tick - baseline_tick
        };
        let mut lists = Delta::default();
        delta::diff(baseline, &target, ticks, &mut lists);
        let mut snapshot = Snapshot {
            tick,
            baseline_tick,
            last_input_seq: step as u32,
            input_margin_100us: 0,
            checksum: ticksync_protocol::replicated::view_checksum(&target),
            created: lists.created,
            changed: lists.changed,
            removed: lists.removed,
        };
        // Now and then a snapshot the client must refuse, changing nothing.
        let expect = if step > 3 && step % 17 == 5 {
            snapshot.checksum ^= 1 << (step % 32);
            Expect::Refused
        } else if step > 3 && step % 23 == 7 {
            snapshot.baseline_tick = tick - 1; // never a held view: ticks advance by 1 to 3
            if held.iter().any(|(t, _)| *t == tick - 1) {
                snapshot.baseline_tick = 1;
            }
            Expect::Refused
        } else {
            Expect::Applied
        };
        let applied = store.apply(&snapshot);
        match (&expect, &applied) {
            (Expect::Applied, Ok(())) => {
                store.mark_current_acked();
                if baseline_tick != 0 {
                    last_baseline = baseline_tick;
                }
                held.push((tick, target.clone()));
                assert_eq!(
                    store.current(),
                    target.as_slice(),
                    "the protocol crate's own apply"
                );
            }
            (Expect::Refused, Err(_)) => {}
            (Expect::Applied, Err(error)) => panic!("step {step}: {error}"),
            (Expect::Refused, Ok(())) => panic!("step {step}: a bad snapshot applied"),
        }
        let frame = WireFormat::Json
            .encode(&ServerMessage::<S>::Snapshot(snapshot))
            .expect("encodes");
        let view = store.current();
        out.push(json!({
            "frame": String::from_utf8(frame).expect("JSON is UTF-8"),
            "expect": match expect { Expect::Applied => "applied", Expect::Refused => "refused" },
            "view_tick": store.tick(),
            "view": serde_json::to_string(view).expect("encodes"),
            "entity_checksums": view.iter().map(|e| entity_checksum(e.id, &e.state)).collect::<Vec<_>>(),
            "view_checksum": ticksync_protocol::replicated::view_checksum(view),
        }));
    }
    json!({
        "name": S::NAME,
        "schema": describe::<S>(),
        "steps": out,
    })
}

fn vectors() -> String {
    let value = json!({
        "about": "Generated by tests/tests/schema_vectors.rs (TICKSYNC_BLESS=1 cargo test -p ticksync-tests --test schema_vectors); do not edit. Replay each case's frames in order on an empty client, acknowledging every view applied: 'applied' frames must give exactly 'view' (JSON of the entity list, 64-bit values exact) and the checksums; 'refused' frames must be refused as a desync and leave the view as it was.",
        "cases": [
            case::<ArenaSchema>(1, 50, 10),
            case::<GaugeSchema>(2, 80, 8),
        ],
    });
    serde_json::to_string_pretty(&value).expect("encodes") + "\n"
}

#[test]
fn the_client_vectors_match_the_protocol_crate() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser/schema_vectors.json");
    let text = vectors();
    if std::env::var_os("TICKSYNC_BLESS").is_some_and(|value| value == "1") {
        std::fs::write(&path, text).expect("writes the vectors");
        return;
    }
    let existing = std::fs::read_to_string(&path).expect("reads the vectors");
    assert!(
        existing == text,
        "{} is stale: the protocol crate computes other views or checksums. Rewrite it with \
         TICKSYNC_BLESS=1 cargo test -p ticksync-tests --test schema_vectors, then run the \
         browser and Python tests, which replay it.",
        path.display()
    );
}
