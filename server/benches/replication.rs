//! Encoder cost of replication: one tick of the arena (capture the world, then build every
//! client's delta snapshot), reported per client.
//!
//! Bots turn once a second on average (1/30 of them each tick, as in the arena scenario) and
//! every client acknowledged the snapshot of two ticks ago, the usual case on a LAN.
//!
//! ```sh
//! cargo bench -p ticksync-server --bench replication
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ticksync_protocol::{EntityId, Input, MoveDir};
use ticksync_server::game::arena::Arena;
use ticksync_server::game::Game;
use ticksync_server::replication::{InterestPolicy, ReplicationSettings, Replicator};

const DT: f32 = 1.0 / 30.0;
const ACK_DELAY_TICKS: u32 = 2;

struct World {
    arena: Arena,
    ids: Vec<EntityId>,
    replicator: Replicator,
    tick: u32,
}

impl World {
    fn new(players: usize, world_size: u32, interest: Option<InterestPolicy>) -> World {
        let mut arena = Arena::new(world_size);
        let ids = (0..players).map(|_| arena.join("bench")).collect();
        let replicator = Replicator::new(ReplicationSettings {
            history_ticks: 30,
            interest,
            world_steps: (world_size * 64) as i32,
        });
        let mut world = World {
            arena,
            ids,
            replicator,
            tick: 0,
        };
        // Fill the history so deltas have baselines.
        for _ in 0..40 {
            world.tick();
        }
        world
    }

    /// One room tick: turn 1/30 of the players, step, capture, encode for everyone.
    fn tick(&mut self) -> usize {
        self.tick += 1;
        let tick = self.tick;
        for (i, id) in self.ids.iter().enumerate() {
            if (i as u32 + tick) % 30 == 0 {
                // A deterministic "random" angle per player and turn.
                let angle = ((i as u32).wrapping_mul(2_654_435_761) ^ tick) as f32;
                let input = Input {
                    seq: tick,
                    ack_tick: 0,
                    move_dir: MoveDir::from_vector(angle.cos(), angle.sin()),
                    buttons: 0,
                };
                self.arena.apply_input(*id, &input);
            }
        }
        self.arena.step(DT);
        self.replicator.capture(tick, &self.arena);
        let acked = tick.saturating_sub(ACK_DELAY_TICKS);
        let mut bytes = 0;
        for id in &self.ids {
            if let Ok(frame) = self.replicator.snapshot_for(*id, acked, tick) {
                bytes += frame.len();
            }
        }
        bytes
    }
}

/// Prints the downlink the encoder produces per client, averaged over a second of ticks, so
/// the benchmark reports bytes as well as time.
fn report_bytes(label: &str, world: &mut World) {
    let ticks = 30;
    let total: usize = (0..ticks).map(|_| world.tick()).sum();
    let per_client_tick = total as f64 / (ticks as f64 * world.ids.len() as f64);
    eprintln!(
        "{label}: {per_client_tick:.1} bytes per client per tick = {:.0} bytes per client per second at 30 Hz",
        per_client_tick * 30.0
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
            b.iter(|| world.tick())
        });
    }
    group.finish();
}

fn area_of_interest(c: &mut Criterion) {
    let mut group = c.benchmark_group("replication/aoi");
    group.measurement_time(Duration::from_secs(5));
    group.sample_size(20);
    for players in [1000usize, 5000] {
        // Constant density: 1000 players in 2000 × 2000, radius 200 (about 31 neighbours).
        let world_size = (2000.0 * (players as f64 / 1000.0).sqrt()) as u32;
        let policy = InterestPolicy {
            radius_steps: 200 * 64,
            max_entities: None,
        };
        let mut world = World::new(players, world_size, Some(policy));
        report_bytes(&format!("aoi/{players}"), &mut world);
        group.throughput(Throughput::Elements(players as u64));
        group.bench_with_input(BenchmarkId::from_parameter(players), &players, |b, _| {
            b.iter(|| world.tick())
        });
    }
    group.finish();
}

criterion_group!(benches, everyone_sees_everyone, area_of_interest);
criterion_main!(benches);
