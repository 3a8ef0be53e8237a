//! End to end: honest bots in the arena against a real server on loopback.
//!
//! - 20 bots play for about two seconds: each sees all 20 entities, its own entity moves along
//!   its input at the arena speed, and the acknowledged input sequence only rises.
//! - A leaving or vanishing player's entity disappears from everyone else's snapshots.
//! - The swarm runner reports sensible figures for a short run.

use std::sync::Arc;
use std::time::Duration;

use ticksync_arena::quantize::{dequantize_position, dequantize_velocity};
use ticksync_arena::{ArenaEntity, ArenaInput, ArenaMessage, ArenaSchema, MoveDir};
use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_protocol::{EntityId, Welcome};
use ticksync_server::ServerConfig;
use ticksync_sim::{run_swarm, SwarmConfig};
use ticksync_tests::{RawClient, TestServer, WAIT};
use tokio::sync::Barrier;
use tokio::time::Instant;

const BOTS: usize = 20;
const PLAY_TIME: Duration = Duration::from_secs(2);
const SPEED: f32 = 300.0;

/// One applied snapshot as a bot saw it.
struct Seen {
    tick: u32,
    last_input_seq: u32,
    /// The bot's whole view after applying the snapshot (snapshots themselves are deltas).
    view: Vec<(EntityId, ArenaEntity)>,
}

/// What one bot observed.
struct BotRun {
    me: EntityId,
    direction: (f32, f32),
    snapshots: Vec<Seen>,
    desyncs: u64,
}

async fn play_bot(url: String, index: usize, start: Arc<Barrier>, end: Arc<Barrier>) -> BotRun {
    let mut client =
        Client::<ArenaSchema>::connect(&url, ClientOptions::named(format!("e2e-{index}")))
            .await
            .expect("bot connects");
    let me = client.entity_id().expect("an arena player owns an entity");
    let angle = index as f32 / BOTS as f32 * std::f32::consts::TAU;
    let move_dir = MoveDir::from_vector(angle.cos(), angle.sin());
    // Start playing only when every bot is in. Snapshots sent while others were still joining
    // may wait in the socket until now: they are checked to grow towards 20 entities, and only
    // those from the first full view on are kept.
    start.wait().await;
    let mut snapshots = Vec::new();
    let mut joining_view = 0;
    // The client reports `Welcome` first, then the arena's world size, then snapshots.
    let mut welcomed = false;
    let mut world_seen = false;
    let mut input_timer = tokio::time::interval(Duration::from_millis(33));
    let deadline = Instant::now() + PLAY_TIME;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => break,
            _ = input_timer.tick() => {
                client
                    .send_input(ArenaInput { move_dir, buttons: 0 })
                    .await
                    .expect("input sent");
            }
            event = client.next_event() => match event {
                Some(ClientEvent::Welcome(welcome)) => {
                    assert!(!welcomed && !world_seen && snapshots.is_empty(), "bot {index}: Welcome not first");
                    assert_eq!(welcome.entity_id, Some(me));
                    welcomed = true;
                }
                Some(ClientEvent::Message(ArenaMessage::World { width, height })) => {
                    assert!(welcomed && !world_seen && snapshots.is_empty(), "bot {index}: World not between Welcome and the first snapshot");
                    assert!(width > 0 && height > 0, "bot {index}: world {width}x{height}");
                    world_seen = true;
                }
                Some(ClientEvent::Snapshot(snapshot)) => {
                    assert!(world_seen, "bot {index}: a snapshot before the world's size");
                    let view: Vec<_> = client.view().iter().map(|e| (e.id, e.state)).collect();
                    if snapshots.is_empty() && view.len() < BOTS {
                        // Nobody leaves while the others join: the view only grows.
                        assert!(view.len() >= joining_view, "bot {index}: view shrank to {} at tick {}", view.len(), snapshot.tick);
                        joining_view = view.len();
                        continue;
                    }
                    snapshots.push(Seen {
                        tick: snapshot.tick,
                        last_input_seq: snapshot.last_input_seq,
                        view,
                    })
                }
                Some(ClientEvent::Pong { .. }) => {}
                other => panic!("bot {index}: unexpected event {other:?}"),
            },
        }
    }
    let desyncs = client.counters().desyncs;
    // Leave only when every bot has stopped looking, so nobody sees another leave early.
    end.wait().await;
    client
        .leave_and_wait(WAIT)
        .await
        .expect("bot leaves cleanly");
    BotRun {
        me,
        direction: move_dir.to_unit_vector(),
        snapshots,
        desyncs,
    }
}

fn own_state(seen: &Seen, me: EntityId) -> ArenaEntity {
    seen.view
        .iter()
        .find(|(id, _)| *id == me)
        .map(|(_, state)| *state)
        .expect("a bot always sees its own entity")
}

/// The entity an arena player controls (the arena gives every player one).
fn entity(welcome: &Welcome) -> EntityId {
    welcome.entity_id.expect("an arena player owns an entity")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_bots_see_each_other_and_move_along_their_inputs() {
    let server = TestServer::start().await;
    let start = Arc::new(Barrier::new(BOTS));
    let end = Arc::new(Barrier::new(BOTS));
    let bots: Vec<_> = (0..BOTS)
        .map(|i| tokio::spawn(play_bot(server.url(), i, start.clone(), end.clone())))
        .collect();
    let mut runs = Vec::new();
    for bot in bots {
        runs.push(bot.await.expect("bot task"));
    }

    for run in &runs {
        // Two seconds at 30 Hz is 60 snapshots; allow for a slow machine but not for silence.
        assert!(
            run.snapshots.len() >= 30,
            "only {} snapshots",
            run.snapshots.len()
        );
        // From the first full view on, nobody left before the end.
        for seen in &run.snapshots {
            assert_eq!(seen.view.len(), BOTS, "tick {}", seen.tick);
        }
        assert_eq!(run.desyncs, 0);
        // Snapshot ticks and acknowledged inputs only go forward.
        for pair in run.snapshots.windows(2) {
            assert!(pair[1].tick > pair[0].tick);
            assert!(pair[1].last_input_seq >= pair[0].last_input_seq);
        }
        let last = run.snapshots.last().expect("snapshots");
        assert!(
            last.last_input_seq >= 20,
            "acks rose to {}",
            last.last_input_seq
        );

        // Once an input has been applied, the entity moves at 300 u/s along its direction.
        let moving: Vec<_> = run
            .snapshots
            .iter()
            .filter(|s| s.last_input_seq > 0)
            .collect();
        let (first, last) = (moving[0], moving[moving.len() - 1]);
        let (a, b) = (own_state(first, run.me), own_state(last, run.me));
        let seconds = (last.tick - first.tick) as f32 / 30.0;
        assert!(seconds >= 1.0, "moved for {seconds}s only");
        let (dx, dy) = (
            dequantize_position(b.x) - dequantize_position(a.x),
            dequantize_position(b.y) - dequantize_position(a.y),
        );
        let (ex, ey) = (
            run.direction.0 * SPEED * seconds,
            run.direction.1 * SPEED * seconds,
        );
        // Velocity quantization (1/4 u/s) and direction quantization (1/127) allow a little
        // slack; a wrong speed or direction is off by tens of units.
        assert!(
            (dx - ex).abs() < 3.0 && (dy - ey).abs() < 3.0,
            "moved ({dx}, {dy}), expected ({ex}, {ey})"
        );
        let (vx, vy) = (dequantize_velocity(b.vx, 30), dequantize_velocity(b.vy, 30));
        assert!((vx.hypot(vy) - SPEED).abs() < 1.0, "speed {}", vx.hypot(vy));
    }
    let summary = server.stop().await;
    assert_eq!(summary.snapshots_dropped, 0);
}

/// Entity ids in the next snapshot that arrives after `after_tick`.
/// Raw clients never acknowledge, so every snapshot they get is full: `created` is the view.
async fn ids_after(client: &mut RawClient, after_tick: u32) -> Vec<EntityId> {
    loop {
        let snapshot = client.next_snapshot().await.expect("snapshot");
        assert!(snapshot.is_full());
        if snapshot.tick > after_tick {
            return snapshot.created.iter().map(|e| e.id).collect();
        }
    }
}

async fn wait_until_gone(observer: &mut RawClient, gone: EntityId) {
    let deadline = Instant::now() + WAIT;
    loop {
        let snapshot = observer.next_snapshot().await.expect("snapshot");
        if snapshot.created.iter().all(|e| e.id != gone) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{gone} still present at tick {}",
            snapshot.tick
        );
    }
}

#[tokio::test]
async fn leaving_or_vanishing_players_disappear_from_snapshots() {
    // A vanished player's entity waits for a resume this long before it goes.
    let server = TestServer::start_with(ServerConfig {
        resume_grace: Duration::from_millis(500),
        ..ServerConfig::default()
    })
    .await;
    let (mut observer, me) = RawClient::join(&server.url(), "observer").await.unwrap();
    let (mut leaver, leaver_welcome) = RawClient::join(&server.url(), "leaver").await.unwrap();
    let (vanisher, vanisher_welcome) = RawClient::join(&server.url(), "vanisher").await.unwrap();
    let ids = ids_after(&mut observer, vanisher_welcome.tick).await;
    assert_eq!(
        ids,
        vec![
            entity(&me),
            entity(&leaver_welcome),
            entity(&vanisher_welcome)
        ]
    );

    // A polite Leave: the server closes with 1000 and the entity goes.
    leaver
        .send(&ticksync_protocol::ClientMessage::Leave)
        .await
        .unwrap();
    let (error, close) = leaver.expect_close().await.unwrap();
    assert_eq!(error, None);
    assert_eq!(
        close.map(|c| c.0),
        Some(ticksync_protocol::close_code::NORMAL)
    );
    wait_until_gone(&mut observer, entity(&leaver_welcome)).await;

    // A connection dropped without a word: the entity goes too.
    drop(vanisher);
    wait_until_gone(&mut observer, entity(&vanisher_welcome)).await;
    let ids = ids_after(&mut observer, 0).await;
    assert_eq!(ids, vec![entity(&me)]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_reports_a_short_run() {
    let server = TestServer::start().await;
    let report = run_swarm(SwarmConfig::new(server.url(), 10, Duration::from_secs(2)))
        .await
        .expect("the default mix is the arena's");
    assert_eq!(report.bots_requested, 10);
    assert_eq!(report.bots_connected, 10);
    assert_eq!(report.connect_failures, 0);
    assert_eq!(report.disconnects, 0);
    assert!(
        (20.0..=40.0).contains(&report.snapshots_per_bot_per_s),
        "snapshots per bot per second: {}",
        report.snapshots_per_bot_per_s
    );
    assert!(report.downlink_bytes_per_bot_per_s > report.uplink_bytes_per_bot_per_s);
    assert_eq!(report.desyncs, 0);
    let p99 = report.ack_latency_p99_ms.expect("inputs were acknowledged");
    assert!(p99 > 0.0);
    server.stop().await;
}
