//! The cluster's faults end to end, with a real `redis-server` and node processes:
//!
//! - Redis stopped: players in play keep their snapshots, the matchmaker answers 503 with
//!   the reason; Redis back (empty, as after a crash): the nodes register again with their
//!   rooms, and the rooms' names go back to the nodes that hold them.
//! - A draining node (SIGTERM with `drain_period`) takes no new seats, its rooms leave the
//!   listings at once, and the node leaves the directory when its last player is gone.

use std::collections::BTreeMap;
use std::time::Duration;

use ticksync_arena::ArenaSchema;
use ticksync_client::{Client, ClientEvent, ClientOptions};
use ticksync_tests::cluster::{
    eventually, list_rooms, matchmake, redis_or_skip, Node, NodeSettings,
};
use ticksync_tests::WAIT;
use tokio::time::Instant;

const NODE: &str = env!("CARGO_BIN_EXE_cluster-node");

async fn seat_in(node: &Node, room: &str) -> serde_json::Value {
    let (status, seat) = matchmake(node.addr, "join", serde_json::json!({ "room": room })).await;
    assert_eq!(status, 200, "{seat}\n{}", node.log());
    seat
}

/// Snapshots the client receives within `within`.
async fn snapshots_within(client: &mut Client<ArenaSchema>, within: Duration) -> usize {
    let deadline = Instant::now() + within;
    let mut snapshots = 0;
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, client.next_event()).await {
        match event {
            ClientEvent::Snapshot(_) => snapshots += 1,
            ClientEvent::Closed { code, reason } => panic!("closed ({code:?}): {reason}"),
            _ => {}
        }
    }
    snapshots
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_keeps_players_playing_and_its_return_registers_the_nodes_again() {
    let Some(mut redis) = redis_or_skip("redis_down_keeps_players_playing").await else {
        return;
    };
    let n1 = Node::start(NODE, &redis.url(), &NodeSettings::new("n1")).await;
    eventually("n1 registered", WAIT, || async {
        matchmake(n1.addr, "create", serde_json::json!({"private": true}))
            .await
            .0
            == 200
    })
    .await;
    let seat = seat_in(&n1, "steady").await;
    let mut player = Client::<ArenaSchema>::connect(
        seat["connect"].as_str().unwrap(),
        ClientOptions::named("steady"),
    )
    .await
    .expect("seat admits");

    redis.stop();
    let (status, body) = matchmake(n1.addr, "join", serde_json::json!({"room": "other"})).await;
    assert_eq!(status, 503, "{body}");
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("unreachable") && error.contains("players in play are not affected"),
        "{error}"
    );
    let (status, _) = list_rooms(n1.addr, &BTreeMap::new()).await;
    assert_eq!(status, 503);
    // Over a few lease periods without Redis, the player plays on at the tick rate.
    let seen = snapshots_within(&mut player, Duration::from_secs(3)).await;
    assert!(seen >= 30, "{seen} snapshots in 3 s at 30 Hz");

    redis.restart().await;
    // Redis came back empty: the next renewal registers the node and its room again.
    eventually("the room is listed again", WAIT, || async {
        let (status, rooms) = list_rooms(n1.addr, &BTreeMap::new()).await;
        status == 200
            && rooms
                .as_array()
                .is_some_and(|rooms| rooms.iter().any(|room| room["name"] == "steady"))
    })
    .await;
    let again = seat_in(&n1, "steady").await;
    assert_eq!(again["node"], "n1");
    assert!(snapshots_within(&mut player, Duration::from_millis(500)).await > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_takes_no_seats_and_leaves_the_directory_when_empty() {
    let Some(redis) = redis_or_skip("a_draining_node_takes_no_seats").await else {
        return;
    };
    let mut draining = NodeSettings::new("n1");
    draining.drain_period = "30s";
    let n1 = Node::start(NODE, &redis.url(), &draining).await;
    // n1 alone first, so the room lands there.
    eventually("n1 registered", WAIT, || async {
        matchmake(n1.addr, "create", serde_json::json!({"private": true}))
            .await
            .0
            == 200
    })
    .await;
    let seat = seat_in(&n1, "farewell").await;
    let mut player = Client::<ArenaSchema>::connect(
        seat["connect"].as_str().unwrap(),
        ClientOptions::named("last"),
    )
    .await
    .expect("seat admits");
    let n2 = Node::start(NODE, &redis.url(), &NodeSettings::new("n2")).await;
    eventually("the room is listed", WAIT, || async {
        let (_, rooms) = list_rooms(n2.addr, &BTreeMap::new()).await;
        rooms
            .as_array()
            .is_some_and(|rooms| rooms.iter().any(|room| room["name"] == "farewell"))
    })
    .await;

    n1.terminate();
    eventually(
        "the draining node's room leaves the listing",
        WAIT,
        || async {
            let (_, rooms) = list_rooms(n2.addr, &BTreeMap::new()).await;
            rooms
                .as_array()
                .is_some_and(|rooms| rooms.iter().all(|room| room["name"] != "farewell"))
        },
    )
    .await;
    // Its room keeps its name while it drains: no second room of that name elsewhere.
    let (status, body) = matchmake(n2.addr, "join", serde_json::json!({"room": "farewell"})).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("draining"),
        "{body}"
    );
    // New rooms go to the other node.
    for _ in 0..4 {
        let (status, seat) = matchmake(n2.addr, "create", serde_json::json!({})).await;
        assert_eq!(status, 200, "{seat}");
        assert_eq!(seat["node"], "n2");
    }
    // The player in play keeps playing through the drain.
    assert!(snapshots_within(&mut player, Duration::from_millis(500)).await > 0);

    // The last player leaves: the node leaves the directory, and the name is free again.
    player.leave().await.expect("leave sent");
    drop(player);
    eventually("the drained node left the directory", WAIT, || async {
        let (status, seat) =
            matchmake(n2.addr, "join", serde_json::json!({"room": "farewell"})).await;
        status == 200 && seat["node"] == "n2"
    })
    .await;
}
