//! The shooter (`games/shooter`) end to end against a real server on loopback:
//!
//! - lag compensation: a shot aimed where a moving target stood a few ticks ago, as the
//!   shooter's acknowledged view showed it, hits; the same aim without the claimed delay
//!   misses, and a claim older than the rewind window is judged at the window's edge and
//!   misses;
//! - events and snapshots never contradict: a hit's health, a kill and a score change show
//!   in the very next snapshot and not in the one before;
//! - chat reaches every player of the room, the sender included, and nobody in another room;
//! - a round that ends on time announces its result to every client, then restarts; with
//!   `after_round = "end"` the room ends (close code 4008) after announcing it.

use std::collections::BTreeMap;
use std::time::Duration;

use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_protocol::sync::ViewStore;
use ticksync_protocol::{close_code, ClientMessage, EntityId, Input, ServerMessage, Tick};
use ticksync_server::ServerConfig;
use ticksync_shooter::glam::IVec2;
use ticksync_shooter::rewind::{aim_at, Ray};
use ticksync_shooter::settings::FIGHTER_RADIUS_UNITS;
use ticksync_shooter::{
    Fighter, RoundEnd, Shooter, ShooterEvent, ShooterInput, ShooterRequest, ShooterSchema,
};
use ticksync_tests::{RawClientOf, RawEvent, TestServer, WAIT};
use tokio::sync::watch;

type Raw = RawClientOf<ShooterSchema>;

const RADIUS_STEPS: f64 = FIGHTER_RADIUS_UNITS as f64 * 64.0;
/// The default rewind window (200 ms) at 30 Hz.
const WINDOW_TICKS: u32 = 6;

async fn shooter_server(game: &str) -> TestServer {
    let config = ServerConfig {
        game: toml::from_str(game).expect("game settings parse"),
        ..ServerConfig::default()
    };
    TestServer::start_game(config, Shooter::for_room, ticksync_shooter::web::FILES).await
}

/// What a raw client saw, in order.
#[derive(Debug, Clone)]
enum Seen {
    Snapshot {
        tick: Tick,
        last_input_seq: u32,
        view: BTreeMap<EntityId, Fighter>,
    },
    Event(ShooterEvent),
}

/// A player on a raw connection that acknowledges every snapshot and keeps every view it
/// applied, so a test can aim at where its view showed someone at any tick.
struct Player {
    raw: Raw,
    me: EntityId,
    views: ViewStore<Fighter>,
    history: BTreeMap<Tick, BTreeMap<EntityId, Fighter>>,
    seq: u32,
    log: Vec<Seen>,
}

impl Player {
    async fn join(url: &str, name: &str) -> Player {
        let (raw, welcome) = Raw::join(url, name).await.expect("joins");
        Player {
            raw,
            me: welcome.entity_id.expect("a fighter"),
            views: ViewStore::new(),
            history: BTreeMap::new(),
            seq: 0,
            log: Vec::new(),
        }
    }

    /// Reads one message: applies a snapshot (failing on a desync), logs it.
    async fn next(&mut self) -> Seen {
        let seen = match self.raw.next_event().await.expect("a message") {
            RawEvent::Message(ServerMessage::Snapshot(snapshot)) => {
                self.views
                    .apply(&snapshot)
                    .unwrap_or_else(|error| panic!("desync at {}: {error}", snapshot.tick));
                let view: BTreeMap<_, _> = self
                    .views
                    .current()
                    .iter()
                    .map(|e| (e.id, e.state))
                    .collect();
                self.history.insert(snapshot.tick, view.clone());
                Seen::Snapshot {
                    tick: snapshot.tick,
                    last_input_seq: snapshot.last_input_seq,
                    view,
                }
            }
            RawEvent::Message(ServerMessage::Message(event)) => Seen::Event(event),
            RawEvent::Message(ServerMessage::Pong(_)) => return Box::pin(self.next()).await,
            other => panic!("unexpected {other:?}"),
        };
        self.log.push(seen.clone());
        seen
    }

    /// Sends an input acknowledging the newest view.
    async fn send(&mut self, aim: u16, fire: bool, view_delay: u8) -> u32 {
        self.seq += 1;
        let input = Input {
            seq: self.seq,
            ack_tick: self.views.tick(),
            payload: ShooterInput {
                aim,
                fire,
                view_delay,
                ..ShooterInput::default()
            },
        };
        self.raw
            .send(&ClientMessage::Input(input))
            .await
            .expect("input sent");
        self.views.mark_current_acked();
        self.seq
    }

    /// Reads until the next snapshot, answering it with an idle input.
    async fn idle_tick(&mut self) -> BTreeMap<EntityId, Fighter> {
        loop {
            if let Seen::Snapshot { view, .. } = self.next().await {
                self.send(0, false, 0).await;
                return view;
            }
        }
    }

    fn own(&self, tick: Tick) -> Fighter {
        self.history[&tick][&self.me]
    }

    /// Reads until the snapshot that applied input `seq`; returns the events before it.
    async fn events_until_applied(&mut self, seq: u32) -> Vec<ShooterEvent> {
        let mut events = Vec::new();
        loop {
            match self.next().await {
                Seen::Event(event) => events.push(event),
                Seen::Snapshot { last_input_seq, .. } if last_input_seq >= seq => return events,
                Seen::Snapshot { .. } => {
                    self.send(0, false, 0).await;
                }
            }
        }
    }
}

/// A player on the typed client that sends `input` every tick until told to stop.
async fn walker(
    url: String,
    name: &str,
    input: ShooterInput,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut client = Client::<ShooterSchema>::connect(&url, ClientOptions::named(name))
        .await
        .expect("walker connects");
    let mut ticks = tokio::time::interval(Duration::from_millis(33));
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticks.tick() => { client.send_input(input).await.expect("input sent"); }
            event = client.next_event() => match event {
                Some(ClientEvent::Error(error)) => panic!("walker: {error}"),
                None => panic!("walker: connection closed"),
                Some(_) => {}
            },
        }
    }
    let desyncs = client.counters().desyncs;
    client.leave_and_wait(WAIT).await.expect("walker leaves");
    desyncs
}

fn position(f: &Fighter) -> IVec2 {
    IVec2::new(f.x, f.y)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shot_hits_where_the_shooters_view_showed_the_target_within_the_rewind_window() {
    // Light damage so the target survives every hit.
    let server = shooter_server("damage = 10").await;
    let url = server.url();
    let mut ada = Player::join(&url, "ada").await;
    let (stop, stopped) = watch::channel(false);
    let up = ShooterInput {
        move_y: 127,
        ..ShooterInput::default()
    };
    let bob = tokio::spawn(walker(url.clone(), "bob", up, stopped));
    // Wait until bob walks steadily: the same velocity in 16 views in a row.
    let mut steady = 0;
    let mut target = None;
    while steady < 16 {
        let view = ada.idle_tick().await;
        let walking = view.iter().find(|(id, f)| {
            **id != ada.me && f.team != ada.own(ada.views.tick()).team && f.vy > 0 && f.vx == 0
        });
        match walking {
            Some((id, f)) if target == Some((*id, f.vy)) => steady += 1,
            Some((id, f)) => (target, steady) = (Some((*id, f.vy)), 1),
            None => steady = 0,
        }
    }
    let (bob_id, _) = target.expect("bob is walking");
    let ada_id = ada.me;
    let hits = |events: &[ShooterEvent]| {
        events
            .iter()
            .filter(|e| matches!(e, ShooterEvent::Hit { shooter, target, .. } if *shooter == ada_id && *target == bob_id))
            .count()
    };

    // 1. Aimed where bob stood 5 ticks before ada's newest view, claiming that view delay:
    //    judged against that very tick, a hit.
    let newest = ada.views.tick();
    let seen_then = position(&ada.history[&(newest - 5)][&bob_id]);
    let ray = Ray {
        origin: position(&ada.own(newest)),
        aim: aim_at(position(&ada.own(newest)), seen_then),
        range: 1400.0 * 64.0,
    };
    let shots_before = ada.own(newest).shots;
    let seq = ada.send(ray.aim, true, 5).await;
    let events = ada.events_until_applied(seq).await;
    assert_eq!(
        hits(&events),
        1,
        "the compensated shot must hit: {events:?}"
    );
    assert_eq!(
        ada.own(ada.views.tick()).shots,
        shots_before.wrapping_add(1)
    );

    // 2. The same kind of aim without claiming the delay is judged against the present,
    //    where bob has walked on: a miss. (Bob's position at the newest tick is already
    //    clear of the line; later ones are further along.)
    for _ in 0..12 {
        ada.idle_tick().await;
    }
    let newest = ada.views.tick();
    let seen_then = position(&ada.history[&(newest - 5)][&bob_id]);
    let origin = position(&ada.own(newest));
    let ray = Ray {
        origin,
        aim: aim_at(origin, seen_then),
        range: 1400.0 * 64.0,
    };
    let now = position(&ada.history[&newest][&bob_id]);
    assert!(
        ray.reaches(now, RADIUS_STEPS * 1.5).is_none(),
        "test geometry: bob must have walked clear"
    );
    let seq = ada.send(ray.aim, true, 0).await;
    let events = ada.events_until_applied(seq).await;
    assert_eq!(
        hits(&events),
        0,
        "an uncompensated shot at an old position must miss: {events:?}"
    );

    // 3. Aimed where bob stood 14 ticks back, claiming 14 ticks of delay: older than the
    //    6-tick window, so judged 6 ticks back, where bob was already clear: a miss.
    for _ in 0..12 {
        ada.idle_tick().await;
    }
    let newest = ada.views.tick();
    let seen_then = position(&ada.history[&(newest - 14)][&bob_id]);
    let origin = position(&ada.own(newest));
    let ray = Ray {
        origin,
        aim: aim_at(origin, seen_then),
        range: 1400.0 * 64.0,
    };
    let at_edge = position(&ada.history[&(newest - WINDOW_TICKS)][&bob_id]);
    assert!(
        ray.reaches(at_edge, RADIUS_STEPS * 1.5).is_none(),
        "test geometry"
    );
    let shots_before = ada.own(newest).shots;
    let seq = ada.send(ray.aim, true, 14).await;
    let events = ada.events_until_applied(seq).await;
    assert_eq!(
        hits(&events),
        0,
        "a claim beyond the window must be clamped: {events:?}"
    );
    assert_eq!(
        ada.own(ada.views.tick()).shots,
        shots_before.wrapping_add(1),
        "the shot was fired"
    );

    // 4. And at the window's edge it still hits.
    for _ in 0..12 {
        ada.idle_tick().await;
    }
    let newest = ada.views.tick();
    let origin = position(&ada.own(newest));
    let aim = aim_at(
        origin,
        position(&ada.history[&(newest - WINDOW_TICKS)][&bob_id]),
    );
    let seq = ada.send(aim, true, WINDOW_TICKS as u8).await;
    let events = ada.events_until_applied(seq).await;
    assert_eq!(
        hits(&events),
        1,
        "a claim at the window's edge hits: {events:?}"
    );

    stop.send(true).unwrap();
    assert_eq!(bob.await.unwrap(), 0, "bob never desynced");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hits_kills_and_scores_show_in_the_very_next_snapshot() {
    let server = shooter_server("damage = 50\nrespawn_ms = 400").await;
    let url = server.url();
    let mut ada = Player::join(&url, "ada").await;
    let (stop, stopped) = watch::channel(false);
    let bob = tokio::spawn(walker(url.clone(), "bob", ShooterInput::default(), stopped));
    let mut kills = 0;
    let deadline = tokio::time::Instant::now() + WAIT;
    while kills < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no two kills in time: {:?}",
            ada.log.len()
        );
        match ada.next().await {
            Seen::Snapshot { tick, view, .. } => {
                let me = view[&ada.me];
                let enemy = view.values().find(|f| f.team != me.team && f.alive());
                let aim = enemy.map_or(0, |f| aim_at(position(&me), position(f)));
                ada.send(aim, enemy.is_some(), 0).await;
                let _ = tick;
            }
            Seen::Event(ShooterEvent::Killed { killer, .. }) if killer == ada.me => kills += 1,
            Seen::Event(_) => {}
        }
    }
    // Read on to the snapshot after the last event.
    while !matches!(ada.next().await, Seen::Snapshot { .. }) {}
    stop.send(true).unwrap();
    assert_eq!(bob.await.unwrap(), 0);

    let log = ada.log.clone();
    let view_around = |index: usize| {
        let before = log[..index].iter().rev().find_map(|s| match s {
            Seen::Snapshot { view, .. } => Some(view.clone()),
            _ => None,
        });
        let after = log[index..].iter().find_map(|s| match s {
            Seen::Snapshot { view, .. } => Some(view.clone()),
            _ => None,
        });
        (
            before.expect("a snapshot before"),
            after.expect("a snapshot after"),
        )
    };
    let (mut hits, mut killed, mut scored) = (0, 0, 0);
    for (index, seen) in log.iter().enumerate() {
        let Seen::Event(event) = seen else { continue };
        match event {
            ShooterEvent::Hit {
                target,
                health,
                damage,
                ..
            } => {
                let (before, after) = view_around(index);
                assert_eq!(after[target].health, *health, "after {event:?}");
                assert_eq!(before[target].health, health + damage, "before {event:?}");
                hits += 1;
            }
            ShooterEvent::Killed {
                killer,
                victim,
                killer_score,
                ..
            } => {
                let (before, after) = view_around(index);
                assert!(
                    before[victim].alive() && !after[victim].alive(),
                    "{event:?}"
                );
                killed += 1;
                // The score change it announces.
                assert_eq!(after[killer].score, *killer_score, "{event:?}");
                assert_eq!(before[killer].score + 1, *killer_score, "{event:?}");
                scored += 1;
            }
            _ => {}
        }
    }
    assert_eq!((hits, killed, scored), (4, 2, 2));
    server.stop().await;
}

/// Reads `client`'s events until `pick` finds one, failing after [`WAIT`].
async fn until<T>(
    client: &mut Client<ShooterSchema>,
    mut pick: impl FnMut(&ShooterEvent) -> Option<T>,
    seen: &mut Vec<ShooterEvent>,
) -> T {
    let wait = async {
        loop {
            match client.next_event().await {
                Some(ClientEvent::Message(event)) => {
                    let found = pick(&event);
                    seen.push(event);
                    if let Some(found) = found {
                        return found;
                    }
                }
                Some(ClientEvent::Error(error)) => panic!("{error}"),
                None => panic!("closed"),
                Some(_) => {}
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the event came in time")
}

fn chat_of(event: &ShooterEvent) -> Option<(String, String)> {
    match event {
        ShooterEvent::Chat { name, text, .. } => Some((name.clone(), text.clone())),
        _ => None,
    }
}

#[tokio::test]
async fn chat_reaches_everyone_in_the_room_and_nobody_elsewhere() {
    let server = shooter_server("").await;
    let join = |room: &str, name: &str| {
        let url = format!("{}?room={room}", server.url());
        let name = name.to_owned();
        async move {
            Client::<ShooterSchema>::connect(&url, ClientOptions::named(name))
                .await
                .expect("joins")
        }
    };
    let mut ada = join("one", "ada").await;
    let mut bob = join("one", "bob").await;
    let mut cyd = join("two", "cyd").await;
    ada.send_message(ShooterRequest::Say("hello room".into()))
        .await
        .unwrap();
    let line = ("ada".to_owned(), "hello room".to_owned());
    assert_eq!(until(&mut bob, chat_of, &mut Vec::new()).await, line);
    assert_eq!(until(&mut ada, chat_of, &mut Vec::new()).await, line);
    // Room one has delivered ada's line; cyd, in room two, hears only its own.
    cyd.send_message(ShooterRequest::Say("anyone?".into()))
        .await
        .unwrap();
    let mut heard = Vec::new();
    let own = until(&mut cyd, chat_of, &mut heard).await;
    assert_eq!(own, ("cyd".to_owned(), "anyone?".to_owned()));
    assert_eq!(heard.iter().filter_map(chat_of).count(), 1, "{heard:?}");
    // A line over the limit is refused to its sender.
    bob.send_message(ShooterRequest::Say("x".repeat(141)))
        .await
        .unwrap();
    until(
        &mut bob,
        |e| matches!(e, ShooterEvent::ChatRefused { .. }).then_some(()),
        &mut Vec::new(),
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_round_on_time_announces_its_result_then_restarts() {
    let server = shooter_server("round_seconds = 1\nintermission_seconds = 1").await;
    let url = server.url();
    let mut players = Vec::new();
    for name in ["ada", "bob"] {
        players.push(
            Client::<ShooterSchema>::connect(&url, ClientOptions::named(name))
                .await
                .unwrap(),
        );
    }
    for player in &mut players {
        let ended = until(
            player,
            |e| matches!(e, ShooterEvent::RoundEnded { .. }).then(|| e.clone()),
            &mut Vec::new(),
        )
        .await;
        assert_eq!(
            ended,
            ShooterEvent::RoundEnded {
                round: 1,
                winner: None,
                team_kills: [0, 0],
                best: None,
                reason: RoundEnd::Time,
            }
        );
        let round = until(
            player,
            |e| match e {
                ShooterEvent::RoundStarted { round, .. } => Some(*round),
                _ => None,
            },
            &mut Vec::new(),
        )
        .await;
        assert_eq!(round, 2);
    }
    server.stop().await;
}

#[tokio::test]
async fn a_room_that_ends_after_its_round_says_so_then_closes() {
    let server =
        shooter_server("round_seconds = 1\nintermission_seconds = 1\nafter_round = \"end\"").await;
    let (mut ada, _) = Raw::join(&server.url(), "ada").await.unwrap();
    let mut result = None;
    let close = loop {
        match ada.next_event().await.expect("an event") {
            RawEvent::Message(ServerMessage::Message(event @ ShooterEvent::RoundEnded { .. })) => {
                result = Some(event)
            }
            RawEvent::Message(_) => {}
            RawEvent::Closed(close) => break close,
        }
    };
    assert!(
        matches!(
            result,
            Some(ShooterEvent::RoundEnded {
                round: 1,
                reason: RoundEnd::Time,
                ..
            })
        ),
        "{result:?}"
    );
    let (code, reason) = close.expect("a close frame");
    assert_eq!(code, close_code::ROOM_ENDED);
    assert!(reason.contains("round 1 over"), "{reason}");
    server.stop().await;
}
