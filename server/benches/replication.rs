//! Encoder cost of replication: one tick of the arena (capture the world, then build every
//! client's delta snapshot), reported per client.
//!
//! Bots turn once a second on average (1/30 of them each tick, as in the arena scenario) and
//! every client acknowledged the snapshot of two ticks ago, the usual case on a LAN.
//!
//! - `replication/everyone/N`, `replication/aoi/N`: a tick as a room of that size runs it
//!   (`Replicator::execution_for`: in parallel from `PARALLEL_MIN_CLIENTS_AOI` or
//!   `PARALLEL_MIN_CLIENTS_EVERYONE` clients on).
//! - `replication/threshold/MODE/N/{sequential,parallel}`: both ways around the thresholds,
//!   each tick after an idle pause so that rayon's threads have gone to sleep, as between a
//!   room's ticks (the other groups run ticks back to back, with the threads awake).
//!
//! ```sh
//! cargo bench -p ticksync-server --bench replication
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ticksync_arena::{Arena, ArenaEntity, MoveDir};
use ticksync_game::Game;
use ticksync_protocol::{EntityId, PlayerId};
use ticksync_server::replication::{
    Execution, InterestPolicy, ReplicationSettings, Replicator, Viewer,
};

const DT: f32 = 1.0 / 30.0;
const ACK_DELAY_TICKS: u32 = 2;

struct World {
    arena: Arena,
    ids: Vec<EntityId>,
    players: Vec<PlayerId>,
    replicator: Replicator<ArenaEntity>,
    tick: u32,
}

impl World {
    fn new(players: usize, world_size: u32, interest: Option<InterestPolicy>) -> World {
        let mut arena = Arena::new(world_size);
        let players: Vec<PlayerId> = (1..=players as u32).map(PlayerId).collect();
        let ids = players.iter().map(|player| arena.spawn(*player)).collect();
        let replicator = Replicator::new(ReplicationSettings {
            history_ticks: 30,
            interest,
        });
        let mut world = World {
            arena,
            ids,
            players,
            replicator,
            tick: 0,
        };
        // Fill the history so deltas have baselines.
        for _ in 0..40 {
            world.room_tick();
        }
        world
    }

    /// A world of `players` at the density of 1000 players in 2000 × 2000, radius 200
    /// (about 31 neighbours each).
    fn with_interest(players: usize) -> World {
        let world_size = (2000.0 * (players as f64 / 1000.0).sqrt()) as u32;
        let policy = InterestPolicy {
            radius_steps: 200 * 64,
            max_entities: None,
        };
        World::new(players, world_size, Some(policy))
    }

    /// One room tick: turn 1/30 of the players, step, capture, encode for everyone.
    fn tick(&mut self, execution: Execution) -> usize {
        self.tick += 1;
        let tick = self.tick;
        for (i, player) in self.players.iter().enumerate() {
            if (i as u32 + tick) % 30 == 0 {
                // A deterministic "random" angle per player and turn.
                let angle = ((i as u32).wrapping_mul(2_654_435_761) ^ tick) as f32;
                self.arena
                    .steer(*player, MoveDir::from_vector(angle.cos(), angle.sin()));
            }
        }
        self.arena.advance(DT);
        let arena = &self.arena;
        self.replicator
            .capture(tick, |out| arena.write_entities(out));
        let acked_tick = tick.saturating_sub(ACK_DELAY_TICKS);
        self.replicator
            .serve(
                &mut self.ids,
                execution,
                |&entity| {
                    Some(Viewer {
                        entity: Some(entity),
                        acked_tick,
                        last_input_seq: tick,
                        input_margin_100us: 0,
                    })
                },
                |_, frame| frame.map_or(0, |frame| frame.len()),
            )
            .unwrap_or(0)
    }

    /// A tick as a room of this size runs it.
    fn room_tick(&mut self) -> usize {
        self.tick(self.replicator.execution_for(self.ids.len()))
    }
}

/// Prints the downlink the encoder produces per client, averaged over a second of ticks, so
/// the benchmark reports bytes as well as time.
fn report_bytes(label: &str, world: &mut World) {
    let ticks = 30;
    let total: usize = (0..ticks).map(|_| world.room_tick()).sum();
    let per_client_tick = total as f64 / (ticks as f64 * world.ids.len() as f64);
    eprintln!(
        "{label}: {per_client_tick:.1} bytes per client per tick = {:.0} bytes per client per second at 30 Hz ({:?} with {} threads)",
        per_client_tick * 30.0,
        world.replicator.execution_for(world.ids.len()),
        rayon::current_num_threads(),
    );
}

fn everyone_sees_everyone(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication/everyone");
    group.measurement_time(Duration::from_secs(5));
    for players in [50usize, 200, 500] {
        let mut world = World::new(players, 2000, None);
        report_bytes(&format!("everyone/{players}"), &mut world);
        group.throughput(Throughput::Elements(players as u64));
        group.bench_with_input(BenchmarkId::from_parameter(players), &players, |b, _| {
            b.iter(|| world.room_tick())
        });
    }
    group.finish();
}

fn area_of_interest(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication/aoi");
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    for players in [1000usize, 5000, 10_000] {
        let mut world = World::with_interest(players);
        report_bytes(&format!("aoi/{players}"), &mut world);
        group.throughput(Throughput::Elements(players as u64));
        group.bench_with_input(BenchmarkId::from_parameter(players), &players, |b, _| {
            b.iter(|| world.room_tick())
        });
    }
    group.finish();
}

/// Idle time before each tick of the `threshold` group: long enough for rayon's threads to
/// fall asleep, as they do between a room's ticks (33 ms apart at 30 Hz).
const IDLE_BEFORE_TICK: Duration = Duration::from_millis(1);

/// Sequential against parallel around the thresholds, each tick after an idle pause as in a
/// room (only the tick is timed).
fn threshold(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication/threshold");
    group.warm_up_time(Duration::from_millis(200));
    group.measurement_time(Duration::from_secs(1));
    group.sample_size(10);
    let cases = [("aoi", 128usize), ("aoi", 256), ("aoi", 1000)]
        .into_iter()
        .chain([("everyone", 2000), ("everyone", 4000)]);
    for (mode, players) in cases {
        let mut world = match mode {
            "aoi" => World::with_interest(players),
            _ => World::new(players, 2000, None),
        };
        group.throughput(Throughput::Elements(players as u64));
        for (name, execution) in [
            ("sequential", Execution::Sequential),
            ("parallel", Execution::Parallel),
        ] {
            group.bench_function(BenchmarkId::new(format!("{mode}/{players}"), name), |b| {
                b.iter_custom(|ticks| {
                    let mut busy = Duration::ZERO;
                    for _ in 0..ticks {
                        std::thread::sleep(IDLE_BEFORE_TICK);
                        let started = Instant::now();
                        black_box(world.tick(execution));
                        busy += started.elapsed();
                    }
                    busy
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, everyone_sees_everyone, area_of_interest, threshold);
criterion_main!(benches);
