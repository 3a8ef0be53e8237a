//! End to end: delta snapshots survive loss, and area of interest shows each player exactly
//! the entities within its radius.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use ticksync_arena::{ArenaEntity, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
use ticksync_client::{ClientEvent, ClientOptions};
use ticksync_protocol::codec::is_snapshot_frame;
use ticksync_protocol::{Entity, EntityId, PlayerId, Tick};
use ticksync_server::net::FaultInjector;
use ticksync_server::ServerConfig;
use ticksync_tests::TestServer;
use tokio::sync::Barrier;
use tokio::time::Instant;

type Client = ticksync_client::Client<ArenaSchema>;

/// The input of a bot moving in `direction`.
fn moving(move_dir: MoveDir) -> ArenaInput {
    ArenaInput {
        move_dir,
        buttons: 0,
    }
}

/// The entity an arena player controls (the arena gives every player one).
fn own_entity(client: &Client) -> EntityId {
    client.entity_id().expect("an arena player owns an entity")
}

/// Loses a fraction of the snapshots sent to players with even player ids, while switched on.
struct LossyNetwork {
    active: AtomicBool,
    loss: f64,
    rng: Mutex<SmallRng>,
}

impl FaultInjector for LossyNetwork {
    fn drop_frame(&self, player: PlayerId, frame: &[u8]) -> bool {
        if !self.active.load(Ordering::Relaxed) || player.0 % 2 != 0 || !is_snapshot_frame(frame) {
            return false;
        }
        match self.rng.lock() {
            Ok(mut rng) => rng.random_bool(self.loss),
            Err(_) => false,
        }
    }
}

/// What a bot saw: the tick of every snapshot it applied, and how many were deltas.
struct BotLog {
    me: EntityId,
    player: PlayerId,
    ticks: Vec<Tick>,
    deltas: usize,
    desyncs: u64,
    final_view: Vec<Entity<ArenaEntity>>,
}

async fn play(url: String, index: usize, until: Instant, done: Arc<Barrier>) -> BotLog {
    let mut client = Client::connect(&url, ClientOptions::named(format!("lossy-{index}")))
        .await
        .expect("bot connects");
    let me = own_entity(&client);
    let player = client.player_id();
    let mut ticks = Vec::new();
    let mut deltas = 0;
    let mut input_timer = tokio::time::interval(Duration::from_millis(33));
    let mut rng = SmallRng::seed_from_u64(index as u64);
    let mut direction = MoveDir::ZERO;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => break,
            _ = input_timer.tick() => {
                // Turn now and then so deltas carry real changes.
                if rng.random_bool(0.1) {
                    let angle: f32 = rng.random_range(0.0..std::f32::consts::TAU);
                    direction = MoveDir::from_vector(angle.cos(), angle.sin());
                }
                client.send_input(moving(direction)).await.expect("input sent");
            }
            event = client.next_event() => match event {
                Some(ClientEvent::Snapshot(snapshot)) => {
                    ticks.push(snapshot.tick);
                    if !snapshot.is_full() {
                        deltas += 1;
                    }
                }
                Some(ClientEvent::Pong { .. }) => {}
                // Before the first snapshot: the handshake's Welcome and the world's size.
                Some(ClientEvent::Welcome(_) | ClientEvent::Message(ArenaMessage::World { .. })) => {}
                other => panic!("bot {index}: unexpected event {other:?}"),
            },
        }
    }
    let desyncs = client.counters().desyncs;
    let final_view = client.view().to_vec();
    // Nobody leaves before everyone has taken its final view.
    done.wait().await;
    client
        .leave_and_wait(Duration::from_secs(5))
        .await
        .expect("leaves");
    BotLog {
        me,
        player,
        ticks,
        deltas,
        desyncs,
        final_view,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_snapshot_loss_to_half_the_bots_causes_no_desync() {
    const BOTS: usize = 16;
    let network = Arc::new(LossyNetwork {
        active: AtomicBool::new(true),
        loss: 0.2,
        rng: Mutex::new(SmallRng::seed_from_u64(7)),
    });
    let server = TestServer::start_with_faults(ServerConfig::default(), network.clone()).await;
    // Five seconds of loss, then a clean second so every view converges.
    let until = Instant::now() + Duration::from_secs(6);
    let done = Arc::new(Barrier::new(BOTS));
    let bots: Vec<_> = (0..BOTS)
        .map(|i| tokio::spawn(play(server.url(), i, until, done.clone())))
        .collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    network.active.store(false, Ordering::Relaxed);
    let mut logs = Vec::new();
    for bot in bots {
        logs.push(bot.await.expect("bot task"));
    }
    server.stop().await;

    let mut lossy_gaps = 0;
    for log in &logs {
        assert_eq!(log.desyncs, 0, "entity {} desynced", log.me);
        assert!(
            log.deltas > log.ticks.len() / 2,
            "mostly deltas expected: {} of {}",
            log.deltas,
            log.ticks.len()
        );
        let gaps = log.ticks.windows(2).filter(|w| w[1] != w[0] + 1).count();
        if log.player.0 % 2 == 0 {
            lossy_gaps += gaps;
        } else {
            assert_eq!(
                gaps, 0,
                "player {} was not on the lossy half but missed ticks",
                log.player
            );
        }
    }
    // The injector really dropped snapshots (about 20% of ~150 per lossy bot).
    assert!(
        lossy_gaps > 50,
        "only {lossy_gaps} gaps: the fault injector did not bite"
    );
    // Everyone ends with a complete view of the world.
    let everyone: Vec<EntityId> = {
        let mut ids: Vec<_> = logs.iter().map(|log| log.me).collect();
        ids.sort();
        ids
    };
    for log in &logs {
        let ids: Vec<EntityId> = log.final_view.iter().map(|e| e.id).collect();
        assert_eq!(ids, everyone, "view of entity {}", log.me);
    }
}

/// Positions of entities in a client's view, tick by tick.
type Views = BTreeMap<Tick, Vec<Entity<ArenaEntity>>>;

async fn watch(client: &mut Client, direction: MoveDir, until: Instant, views: &mut Views) {
    let mut input_timer = tokio::time::interval(Duration::from_millis(33));
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(until) => return,
            _ = input_timer.tick() => { client.send_input(moving(direction)).await.expect("input"); }
            event = client.next_event() => match event {
                Some(ClientEvent::Snapshot(snapshot)) => {
                    views.insert(snapshot.tick, client.view().to_vec());
                }
                Some(ClientEvent::Pong { .. }) => {}
                Some(ClientEvent::Welcome(_) | ClientEvent::Message(ArenaMessage::World { .. })) => {}
                other => panic!("unexpected event {other:?}"),
            },
        }
    }
}

fn position_of(view: &[Entity<ArenaEntity>], id: EntityId) -> Option<(i64, i64)> {
    view.iter()
        .find(|e| e.id == id)
        .map(|e| (i64::from(e.state.x), i64::from(e.state.y)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entities_appear_and_disappear_at_the_interest_radius() {
    const RADIUS: u32 = 100;
    let server = TestServer::start_with(ServerConfig {
        aoi_radius: Some(RADIUS),
        ..ServerConfig::default()
    })
    .await;
    let mut watcher = Client::connect(&server.url(), ClientOptions::named("watcher"))
        .await
        .unwrap();
    let mut runner = Client::connect(&server.url(), ClientOptions::named("runner"))
        .await
        .unwrap();
    let (watcher_id, runner_id) = (own_entity(&watcher), own_entity(&runner));
    let (mut watcher_views, mut runner_views) = (Views::new(), Views::new());
    // The runner runs away from the spawn area for 0.8 s (240 units), then back.
    for direction in [
        MoveDir::from_vector(1.0, 0.0),
        MoveDir::from_vector(-1.0, 0.0),
    ] {
        let until = Instant::now() + Duration::from_millis(800);
        tokio::join!(
            watch(&mut watcher, MoveDir::ZERO, until, &mut watcher_views),
            watch(&mut runner, direction, until, &mut runner_views),
        );
    }
    watcher.leave().await.ok();
    runner.leave().await.ok();
    server.stop().await;

    let radius_steps = i64::from(RADIUS) * 64;
    let (mut seen, mut unseen) = (0, 0);
    for (tick, view) in &watcher_views {
        // The runner's own view always holds the runner, so its position at this tick is
        // known even when the watcher cannot see it.
        let Some(runner_view) = runner_views.get(tick) else {
            continue;
        };
        let runner_at = position_of(runner_view, runner_id).expect("a client always sees itself");
        let watcher_at = position_of(view, watcher_id).expect("a client always sees itself");
        let (dx, dy) = (runner_at.0 - watcher_at.0, runner_at.1 - watcher_at.1);
        let within = dx * dx + dy * dy <= radius_steps * radius_steps;
        let visible = position_of(view, runner_id).is_some();
        assert_eq!(
            visible,
            within,
            "tick {tick}: runner at distance {:.1} units",
            ((dx * dx + dy * dy) as f64).sqrt() / 64.0
        );
        if visible {
            seen += 1;
        } else {
            unseen += 1;
        }
    }
    // Both phases happened: the runner was in view, left it, and came back.
    assert!(seen > 5 && unseen > 5, "seen {seen} ticks, unseen {unseen}");
    let visibility: Vec<bool> = watcher_views
        .values()
        .map(|v| position_of(v, runner_id).is_some())
        .collect();
    let changes = visibility.windows(2).filter(|w| w[0] != w[1]).count();
    assert!(
        changes >= 2,
        "expected the runner to leave and re-enter the view"
    );
}

#[tokio::test]
async fn a_player_far_from_everyone_sees_only_itself() {
    // The first spawn points are 14 to 40 units apart; a 5-unit radius leaves everyone alone.
    let server = TestServer::start_with(ServerConfig {
        aoi_radius: Some(5),
        ..ServerConfig::default()
    })
    .await;
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(
            Client::connect(&server.url(), ClientOptions::named(format!("lonely-{i}")))
                .await
                .unwrap(),
        );
    }
    for client in &mut clients {
        loop {
            match client.next_event().await {
                Some(ClientEvent::Snapshot(_)) => break,
                Some(ClientEvent::Pong { .. }) => {}
                Some(
                    ClientEvent::Welcome(_) | ClientEvent::Message(ArenaMessage::World { .. }),
                ) => {}
                other => panic!("unexpected event {other:?}"),
            }
        }
        let ids: Vec<EntityId> = client.view().iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![own_entity(client)]);
    }
    server.stop().await;
}
