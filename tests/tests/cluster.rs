//! The cluster end to end: a real `redis-server` and nodes as processes of their own on
//! loopback, the matchmaker over HTTP, players over WebSocket.
//!
//! - Seats go to the node that holds the room; another node refuses a seat naming the right
//!   one; a seat admits one connection; a join without a seat may only resume.
//! - Matchmakers racing to join-or-create the same filters (or join the same name) make one
//!   room, not several.
//! - New rooms spread over the nodes by load; listings are by filter.
//! - A SIGKILLed node's rooms leave the directory within its lease; its room's name then
//!   goes to a live node.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ticksync_arena::ArenaSchema;
use ticksync_client::{
    matchmake as matchmake_with, Client, ClientError, ClientOptions, MatchRequest,
};
use ticksync_tests::cluster::{
    list_rooms, matchmake, redis_or_skip, Node, NodeSettings, RedisServer,
};
use ticksync_tests::WAIT;
use tokio::time::Instant;

/// The stock server as a process of its own.
const NODE: &str = env!("CARGO_BIN_EXE_cluster-node");

async fn three_nodes(redis: &RedisServer) -> Vec<Node> {
    let mut nodes = Vec::new();
    for id in ["n1", "n2", "n3"] {
        nodes.push(Node::start(NODE, &redis.url(), &NodeSettings::new(id)).await);
    }
    // Every node registered: a join-or-create on each lands somewhere.
    wait_registered(&nodes, 3).await;
    nodes
}

/// Waits until `count` distinct nodes take new rooms (each registered its lease).
async fn wait_registered(nodes: &[Node], count: usize) {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut seen = BTreeSet::new();
        for i in 0..count * 2 {
            let (status, seat) = matchmake(
                nodes[0].addr,
                "create",
                serde_json::json!({"private": true, "metadata": {"probe": i}}),
            )
            .await;
            if status == 200 {
                seen.insert(seat["node"].as_str().unwrap_or_default().to_owned());
            }
        }
        if seen.len() >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen:?} registered:\n{}",
            nodes[0].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn connect(url: &str, name: &str) -> Result<Client<ArenaSchema>, ClientError> {
    Client::<ArenaSchema>::connect(url, ClientOptions::named(name)).await
}

fn rejection(result: Result<Client<ArenaSchema>, ClientError>) -> (u16, String) {
    match result {
        Err(ClientError::UpgradeRejected { status, body }) => (status, body),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, got a session"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_admit_once_on_their_own_node_and_another_node_names_the_right_one() {
    let Some(redis) = redis_or_skip("seats_admit_once_on_their_own_node").await else {
        return;
    };
    let nodes = three_nodes(&redis).await;
    let (status, seat) =
        matchmake(nodes[1].addr, "join", serde_json::json!({"room": "lobby"})).await;
    assert_eq!(status, 200, "{seat}");
    let owner = seat["node"].as_str().unwrap().to_owned();
    let url = seat["url"].as_str().unwrap().to_owned();
    let connect_url = seat["connect"].as_str().unwrap().to_owned();
    let owner_node = nodes.iter().find(|node| node.id == owner).unwrap();
    assert_eq!(url, format!("ws://{}/ws", owner_node.addr));

    // The same seat offered to another node: refused, naming the node that holds the room.
    let other = nodes.iter().find(|node| node.id != owner).unwrap();
    let misdirected = connect_url.replace(&owner_node.addr.to_string(), &other.addr.to_string());
    let (status, body) = rejection(connect(&misdirected, "lost").await);
    assert_eq!(status, 421, "{body}");
    assert!(
        body.contains(&format!("this seat is for node {owner} at {url}")),
        "{body}"
    );

    let client = connect(&connect_url, "ada")
        .await
        .expect("the seat admits at its node");
    assert!(client.entity_id().is_some());
    // A seat admits once.
    let (status, body) = rejection(connect(&connect_url, "again").await);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("already used"), "{body}");
    // Without a seat: only a room that runs here (what a resume needs) ...
    connect(&format!("{url}?room=lobby"), "resumer")
        .await
        .expect("a room hosted here admits without a seat");
    // ... never a room the matchmaker did not place here.
    let (status, body) = rejection(connect(&format!("{url}?room=elsewhere"), "sneaky").await);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("matchmaker"), "{body}");
    // A forged seat.
    let (status, _) = rejection(connect(&format!("{url}?room=lobby&seat=a.b.c"), "forger").await);
    assert_eq!(status, 401);

    // Joining the named room again goes to the same node, whichever node is asked.
    for node in &nodes {
        let (status, again) =
            matchmake(node.addr, "join", serde_json::json!({"room": "lobby"})).await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["node"], owner.as_str());
    }
    // Creating it again is a conflict.
    let (status, body) = matchmake(
        nodes[2].addr,
        "create",
        serde_json::json!({"room": "lobby"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_joins_through_the_matchmaker_and_resumes_on_the_same_node() {
    let Some(redis) = redis_or_skip("the_rust_client_joins_through_the_matchmaker").await else {
        return;
    };
    let nodes = three_nodes(&redis).await;
    let filters = BTreeMap::from([("mode".to_owned(), "resume".to_owned())]);
    let asking = ClientOptions {
        handshake_timeout: WAIT,
        ..ClientOptions::named("ada")
    };
    let seat = matchmake_with(
        &nodes[2].http(),
        &MatchRequest::JoinOrCreate(filters),
        &asking,
    )
    .await
    .expect("a seat");
    let client = connect(&seat.connect, "ada")
        .await
        .expect("the seat admits");
    let entity = client.entity_id();
    let token = client.welcome().resume_token.clone();
    // The connection drops without a Leave.
    drop(client);
    let options = ClientOptions {
        resume_token: Some(token),
        ..ClientOptions::named("ada")
    };
    let resumed = Client::<ArenaSchema>::connect(&seat.resume_url(), options)
        .await
        .expect("resumes on the node that holds the room");
    assert_eq!(resumed.entity_id(), entity, "the same entity, back");
    // Refusals come back as errors naming the reason.
    let full = matchmake_with(
        &nodes[0].http(),
        &MatchRequest::Create {
            room: Some(seat.room.clone()),
            metadata: BTreeMap::new(),
            private: false,
        },
        &asking,
    )
    .await
    .unwrap_err();
    assert_eq!(full.status(), Some(409), "{full}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_matchmakers_make_one_room_per_filters_and_per_name() {
    let Some(redis) = redis_or_skip("racing_matchmakers_make_one_room").await else {
        return;
    };
    let nodes = three_nodes(&redis).await;
    let addrs: Vec<_> = nodes.iter().map(|node| node.addr).collect();
    for round in 0..3 {
        let mut calls = Vec::new();
        for i in 0..24 {
            let addr = addrs[i % addrs.len()];
            let (action, body) = if i % 2 == 0 {
                (
                    "join-or-create",
                    serde_json::json!({"filters": {"mode": "race", "round": round}}),
                )
            } else {
                (
                    "join",
                    serde_json::json!({"room": format!("named-{round}")}),
                )
            };
            calls.push(tokio::spawn(async move {
                (action, matchmake(addr, action, body).await)
            }));
        }
        let mut rooms: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for call in calls {
            let (action, (status, seat)) = call.await.unwrap();
            assert_eq!(status, 200, "{seat}");
            rooms
                .entry(action)
                .or_default()
                .insert(format!("{}@{}", seat["room"], seat["node"]));
        }
        assert_eq!(rooms["join-or-create"].len(), 1, "round {round}: {rooms:?}");
        assert_eq!(rooms["join"].len(), 1, "round {round}: {rooms:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_rooms_spread_over_the_nodes_and_listings_filter() {
    let Some(redis) = redis_or_skip("new_rooms_spread_over_the_nodes").await else {
        return;
    };
    let nodes = three_nodes(&redis).await;
    let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
    let mut players = Vec::new();
    for i in 0..6 {
        let mode = if i % 2 == 0 { "ctf" } else { "duel" };
        let (status, seat) = matchmake(
            nodes[i % 3].addr,
            "create",
            serde_json::json!({"metadata": {"mode": mode, "n": i}}),
        )
        .await;
        assert_eq!(status, 200, "{seat}");
        *per_node
            .entry(seat["node"].as_str().unwrap().to_owned())
            .or_default() += 1;
        players.push(
            connect(seat["connect"].as_str().unwrap(), &format!("p{i}"))
                .await
                .expect("seat admits"),
        );
    }
    assert_eq!(
        per_node.len(),
        3,
        "six new rooms on three idle nodes: {per_node:?}"
    );
    assert!(per_node.values().all(|&n| n == 2), "{per_node:?}");
    let (status, ctf) = list_rooms(nodes[0].addr, &BTreeMap::from([("mode", "ctf")])).await;
    assert_eq!(status, 200);
    let ctf = ctf.as_array().unwrap();
    assert_eq!(ctf.len(), 3, "{ctf:?}");
    assert!(ctf.iter().all(|room| room["meta"]["mode"] == "ctf"));
    let (_, one) = list_rooms(
        nodes[1].addr,
        &BTreeMap::from([("mode", "duel"), ("n", "3")]),
    )
    .await;
    assert_eq!(one.as_array().unwrap().len(), 1, "{one}");
    let (_, none) = list_rooms(nodes[2].addr, &BTreeMap::from([("mode", "chess")])).await;
    assert_eq!(none.as_array().unwrap().len(), 0);
    // Bad requests are answered, not crashed on.
    let (status, body) = matchmake(
        nodes[0].addr,
        "join-or-create",
        serde_json::json!({"filters": ["x"]}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let (status, body) = matchmake(nodes[0].addr, "nonsense", serde_json::json!({})).await;
    assert_eq!(status, 404, "{body}");
    let get = ticksync_tests::cluster::http_request(nodes[0].addr, "GET", "/matchmake/join", None)
        .await
        .expect("an answer");
    assert_eq!(get.status, 405, "{}", get.body);
    let not_json = ticksync_tests::cluster::http_request(
        nodes[0].addr,
        "POST",
        "/matchmake/join",
        Some(&serde_json::json!("not an object")),
    )
    .await
    .expect("an answer");
    assert_eq!(not_json.status, 400, "{}", not_json.body);
    let big = serde_json::json!({"filters": {"k": "v".repeat(5000)}});
    let (status, _) = matchmake(nodes[0].addr, "join-or-create", big).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_nodes_rooms_leave_the_directory_within_its_lease() {
    let Some(redis) = redis_or_skip("a_killed_nodes_rooms_leave_the_directory").await else {
        return;
    };
    let mut nodes = three_nodes(&redis).await;
    let mut players = Vec::new();
    let mut rooms = BTreeMap::new();
    for i in 0..3 {
        let (status, seat) = matchmake(
            nodes[0].addr,
            "join",
            serde_json::json!({"room": format!("keep-{i}")}),
        )
        .await;
        assert_eq!(status, 200, "{seat}");
        rooms.insert(
            seat["room"].as_str().unwrap().to_owned(),
            seat["node"].as_str().unwrap().to_owned(),
        );
        players.push(
            connect(seat["connect"].as_str().unwrap(), &format!("p{i}"))
                .await
                .expect("seat admits"),
        );
    }
    let (victim_room, victim) = rooms
        .iter()
        .find(|(_, node)| *node != "n1")
        .map(|(r, n)| (r.clone(), n.clone()))
        .unwrap();
    // Its rooms are listed until it dies.
    let (_, listed) = list_rooms(nodes[0].addr, &BTreeMap::new()).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|room| room["node"] == victim.as_str()),
        "{listed}"
    );
    let index = nodes.iter().position(|node| node.id == victim).unwrap();
    nodes[index].kill();
    let killed_at = Instant::now();
    let survivor = nodes.iter().find(|node| node.id == "n1").unwrap().addr;
    ticksync_tests::cluster::eventually(
        "the killed node's rooms leave the listing",
        WAIT,
        || async {
            let (_, listed) = list_rooms(survivor, &BTreeMap::new()).await;
            !listed
                .as_array()
                .unwrap()
                .iter()
                .any(|room| room["node"] == victim.as_str())
        },
    )
    .await;
    let gone_after = killed_at.elapsed();
    // The lease is 1.5 s; polling and a loaded machine add a little. (Without leases the
    // rooms would stay listed for good: the wait above would time out.)
    assert!(gone_after < Duration::from_secs(8), "{gone_after:?}");
    // The room's name now goes to a live node.
    let (status, seat) =
        matchmake(survivor, "join", serde_json::json!({"room": victim_room})).await;
    assert_eq!(status, 200, "{seat}");
    assert_ne!(seat["node"], victim.as_str());
    connect(seat["connect"].as_str().unwrap(), "newcomer")
        .await
        .expect("joins on a live node");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cluster_settings_there_is_no_matchmaker_and_no_redis() {
    let server = ticksync_tests::TestServer::start().await;
    let (status, body) = matchmake(server.addr, "join", serde_json::json!({"room": "a"})).await;
    assert_eq!(status, 404);
    assert!(
        body["error"].as_str().unwrap().contains("[cluster]"),
        "{body}"
    );
    // The default room runs at once, as always.
    let client = connect(&server.url(), "solo")
        .await
        .expect("joins the one node");
    assert!(client.entity_id().is_some());
}
