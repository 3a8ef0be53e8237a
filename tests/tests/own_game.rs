//! A game that is not the arena, defined outside the core crates (`tests/src/token_game.rs`
//! on the protocol crate's test schema), run end to end over both codecs: join, deltas that
//! carry only the changed fields, checksums, game messages both ways and in order with the
//! snapshots, a refusal in `join`, a kick, the end of a room, and a client of another
//! schema refused at the upgrade with both schemas named.

use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_protocol::schema::SchemaIdentity;
use ticksync_protocol::sync::ViewStore;
use ticksync_protocol::testing::{
    Token, TokenClientMessage, TokenInput, TokenSchema, TokenServerMessage,
};
use ticksync_protocol::{close_code, ClientMessage, ErrorCode, Input, ServerMessage, WireFormat};
use ticksync_server::ServerConfig;
use ticksync_tests::token_game::TokenGame;
use ticksync_tests::{refused_upgrade, RawClient, RawClientOf, RawEvent, TestServer};

type Raw = RawClientOf<TokenSchema>;

async fn token_server() -> TestServer {
    TestServer::start_game(ServerConfig::default(), TokenGame::for_room, &[]).await
}

/// Reads one event, failing on a close.
async fn next(client: &mut Raw) -> ServerMessage<TokenSchema> {
    match client.next_event().await.expect("an event") {
        RawEvent::Message(message) => message,
        RawEvent::Closed(close) => panic!("closed: {close:?}"),
    }
}

fn input(seq: u32, ack_tick: u32, thrust: i8, fire: bool) -> ClientMessage<TokenSchema> {
    ClientMessage::Input(Input {
        seq,
        ack_tick,
        payload: TokenInput { thrust, fire },
    })
}

/// Plays a few seconds of the token game over `format`: every snapshot applies to a view
/// the client holds and matches the server's checksum; a steady thrust costs nothing; a
/// shot changes exactly the shooter's hit points; a message sent in reply during tick T
/// arrives before snapshot T.
async fn plays_over(format: WireFormat) {
    let server = token_server().await;
    let url = server.url();
    let (mut ada, welcome) = Raw::connect_format(&url, format)
        .await
        .unwrap()
        .hello("ada")
        .await
        .unwrap();
    let me = welcome
        .entity_id
        .expect("the token game gives every player a token");
    let mut views = ViewStore::<Token>::new();
    let mut seq = 0;
    let mut fired_at = None;
    let mut ready_sent = false;
    let mut scored = None;
    let mut saw_hp_delta = false;
    let mut steady_deltas = 0;
    let mut last_snapshot_tick = 0;
    while views.tick() < welcome.tick + 60 {
        match next(&mut ada).await {
            ServerMessage::Snapshot(snapshot) => {
                views
                    .apply(&snapshot)
                    .unwrap_or_else(|error| panic!("desync at tick {}: {error}", snapshot.tick));
                views.mark_current_acked();
                last_snapshot_tick = snapshot.tick;
                // A steady thrust is predicted: no change of ours travels.
                if fired_at.is_none() && seq > 3 && !snapshot.is_full() {
                    assert!(
                        snapshot.changed.iter().all(|c| c.id != me),
                        "a steady thrust must cost nothing: {snapshot:?}"
                    );
                    steady_deltas += 1;
                }
                if let Some(fired) = fired_at {
                    if let Some(change) = snapshot.changed.iter().find(|c| c.id == me) {
                        assert!(snapshot.tick > fired);
                        assert_eq!(change.delta.hp, Some(9), "only the hit points: {change:?}");
                        assert_eq!(
                            (change.delta.x, change.delta.dx, change.delta.down),
                            (None, None, None)
                        );
                        saw_hp_delta = true;
                    }
                }
                seq += 1;
                let fire = seq == 20;
                if fire {
                    fired_at = Some(snapshot.tick);
                }
                ada.send(&input(seq, views.tick(), 5, fire)).await.unwrap();
                if seq == 30 && !ready_sent {
                    ada.send(&ClientMessage::Message(TokenClientMessage::Ready))
                        .await
                        .unwrap();
                    ready_sent = true;
                }
            }
            ServerMessage::Message(TokenServerMessage::Scored(step)) => {
                // Sent during tick `step`: it must come before that tick's snapshot.
                assert!(
                    last_snapshot_tick < step,
                    "Scored({step}) arrived after snapshot {last_snapshot_tick}"
                );
                scored = Some(step);
            }
            ServerMessage::Message(TokenServerMessage::Said { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        steady_deltas > 5,
        "too few deltas to judge: {steady_deltas}"
    );
    assert!(saw_hp_delta, "the shot never showed in a delta");
    assert!(scored.is_some(), "Ready was never answered");
    let token = views
        .current()
        .iter()
        .find(|e| e.id == me)
        .expect("my token is in my view");
    assert_eq!((token.state.hp, token.state.dx), (9, 5));
    server.stop().await;
}

#[tokio::test]
async fn a_game_of_its_own_plays_over_bincode() {
    plays_over(WireFormat::Bincode).await;
}

#[tokio::test]
async fn a_game_of_its_own_plays_over_json() {
    plays_over(WireFormat::Json).await;
}

#[tokio::test]
async fn chat_reaches_everyone_in_order_through_the_typed_client() {
    let server = token_server().await;
    let url = server.url();
    let mut ada = Client::<TokenSchema>::connect(&url, ClientOptions::named("ada"))
        .await
        .unwrap();
    let options = ClientOptions {
        format: WireFormat::Json,
        ..ClientOptions::named("bob")
    };
    let mut bob = Client::<TokenSchema>::connect(&url, options).await.unwrap();
    for line in ["one", "two", "three"] {
        ada.send_message(TokenClientMessage::Say(line.into()))
            .await
            .unwrap();
    }
    // Bob hears ada's lines, in order, whatever else arrives in between (the game's
    // announcement of ada's arrival too, when both joined in the same tick).
    let mut heard = Vec::new();
    while heard.len() < 3 {
        match bob.next_event().await.expect("bob's connection stays open") {
            ClientEvent::Message(TokenServerMessage::Said { from, text })
                if from == ada.player_id() && text != "ada joined" =>
            {
                heard.push(text)
            }
            ClientEvent::Closed { code, reason } => panic!("closed {code:?}: {reason}"),
            _ => {}
        }
    }
    assert_eq!(heard, ["one", "two", "three"]);
    assert_eq!(bob.counters().desyncs, 0);
    server.stop().await;
}

#[tokio::test]
async fn the_game_refuses_kicks_and_ends_the_room() {
    let server = token_server().await;
    let url = server.url();
    // Refused in join: error 17, close 4006, the game's reason.
    let mut banned = Raw::connect(&url).await.unwrap();
    banned
        .send(&ClientMessage::Hello(ticksync_protocol::Hello {
            protocol_version: ticksync_protocol::PROTOCOL_VERSION,
            player_name: "banned-bob".into(),
        }))
        .await
        .unwrap();
    let (error, close) = banned.expect_close().await.unwrap();
    let error = error.expect("an error message before the close");
    assert_eq!(error.code, ErrorCode::JoinRefused);
    assert!(error.message.contains("banned-bob is banned"), "{error:?}");
    assert_eq!(close.map(|(code, _)| code), Some(close_code::JOIN_REFUSED));

    // Kicked: error 18, close 4007; the others play on.
    let (mut ada, _) = Raw::join(&url, "ada").await.unwrap();
    let (mut carl, _) = Raw::join(&url, "carl").await.unwrap();
    carl.send(&ClientMessage::Message(TokenClientMessage::Say(
        "kick me".into(),
    )))
    .await
    .unwrap();
    let (said, error, close) = game_messages_until_close(&mut carl).await;
    assert_eq!(
        said.last().map(String::as_str),
        Some("bye"),
        "the game's last words arrive before the kick: {said:?}"
    );
    assert_eq!(error.map(|e| e.code), Some(ErrorCode::Kicked));
    assert_eq!(close.map(|(code, _)| code), Some(close_code::KICKED));
    let before = ada.next_snapshot().await.unwrap().tick;
    let after = ada.next_snapshot().await.unwrap().tick;
    assert_eq!(after, before + 1, "the room ticks on after a kick");

    // The room ends: everyone gets error 19 and close 4008 with the game's reason...
    let (mut dora, _) = Raw::join(&url, "dora").await.unwrap();
    ada.send(&ClientMessage::Message(TokenClientMessage::Say(
        "end".into(),
    )))
    .await
    .unwrap();
    for client in [&mut ada, &mut dora] {
        let (said, error, close) = game_messages_until_close(client).await;
        assert_eq!(
            said.last().map(String::as_str),
            Some("final score"),
            "the game's last words arrive before the end: {said:?}"
        );
        let error = error.expect("the final message");
        assert_eq!(error.code, ErrorCode::RoomEnded);
        assert!(error.message.contains("match over"), "{error:?}");
        assert_eq!(close.map(|(code, _)| code), Some(close_code::ROOM_ENDED));
    }
    // ...and the next join of that name starts a new game: a fresh entity numbering.
    let (_erin, welcome) = Raw::join(&url, "erin").await.unwrap();
    assert_eq!(welcome.entity_id.map(|id| id.0), Some(1));
    server.stop().await;
}

/// What a client hears from the game (the text of each `Said`) until the connection closes,
/// with the error and close that end it.
async fn game_messages_until_close(
    client: &mut Raw,
) -> (
    Vec<String>,
    Option<ticksync_protocol::ErrorMessage>,
    Option<(u16, String)>,
) {
    let mut said = Vec::new();
    let mut error = None;
    let reading = async {
        loop {
            match client.next_event().await.unwrap() {
                RawEvent::Message(ServerMessage::Message(TokenServerMessage::Said {
                    text,
                    ..
                })) => said.push(text),
                RawEvent::Message(ServerMessage::Error(message)) => error = Some(message),
                RawEvent::Message(_) => {}
                RawEvent::Closed(close) => return close,
            }
        }
    };
    let close = tokio::time::timeout(std::time::Duration::from_secs(10), reading)
        .await
        .expect("the server closes the connection");
    (said, error, close)
}

#[tokio::test]
async fn a_client_of_another_schema_is_refused_naming_both() {
    let server = token_server().await;
    let (status, body) = refused_upgrade(RawClient::connect(&server.url()).await);
    assert_eq!(status, 400);
    let arena = SchemaIdentity::of::<ticksync_arena::ArenaSchema>();
    let tokens = SchemaIdentity::of::<TokenSchema>();
    assert!(
        body.contains(&format!("{} {}", arena.game, arena.hash))
            && body.contains(&tokens.to_string())
            && body.contains("/schema"),
        "{body}"
    );
    // The schema the server describes is the one it speaks.
    let schema = ticksync_tests::http_get(server.addr, "/schema")
        .await
        .unwrap();
    assert_eq!(schema.status, 200);
    let description: serde_json::Value = serde_json::from_str(&schema.body).unwrap();
    assert_eq!(description["game"], "tokens");
    assert_eq!(description["hash"], tokens.hash.as_str());
    assert_eq!(description["entity"]["fields"][4]["name"], "hp");
    assert_eq!(description["entity"]["fields"][4]["type"], "u8");
    server.stop().await;
}

/// The README's tutorial game runs with its own bots through the stock swarm machinery: every
/// bot connects, paints, hears the others paint, and never desyncs.
#[tokio::test]
async fn the_tutorial_game_runs_with_the_swarm() {
    use ticksync_example_paint::{Paint, PaintBots};
    let server = TestServer::start_game(ServerConfig::default(), Paint::for_room, &[]).await;
    let config =
        ticksync_sim::SwarmConfig::new(server.url(), 8, std::time::Duration::from_millis(2500));
    let report = ticksync_sim::run_swarm_with(config, PaintBots)
        .await
        .expect("the swarm runs");
    assert_eq!(report.bots_connected, 8);
    assert_eq!(report.desyncs, 0);
    assert_eq!(report.disconnects, 0);
    // Each bot paints about once per two seconds and hears everyone's.
    let seen = report
        .game_counters
        .get("painted_seen")
        .copied()
        .unwrap_or(0);
    assert!(seen >= 8 * 8, "paint events seen: {seen}");
    server.stop().await;
}
