//! Running a cluster, end to end with a real `redis-server` and node processes:
//!
//! - the matchmaker, the Redis link and the seats are on each node's `/metrics` (operations
//!   port), and move when what they count happens — Redis stopped and back included;
//! - the Rust client's `matchmake` reaches an `https://` matchmaker (a node with dev TLS)
//!   trusting what it trusts for `wss://`, and refuses what it should not trust;
//! - two live nodes cannot share a node id: the second refuses to start, naming the id and
//!   the first node's URL, and leaves the first one's registration alone; a node restarted
//!   under the id of a node that crashed takes it over.

use std::collections::BTreeMap;
use std::time::Duration;

use ticksync_arena::ArenaSchema;
use ticksync_client::{
    matchmake, tls_config, Client, ClientError, ClientOptions, MatchRequest, MatchmakeError,
    TlsTrust,
};
use ticksync_tests::cluster::{
    eventually, http_request, list_rooms, matchmake as post, redis_or_skip, Node, NodeSettings,
};
use ticksync_tests::WAIT;
use tokio::time::Instant;

const NODE: &str = env!("CARGO_BIN_EXE_cluster-node");

/// Waits until `series` on `node`'s `/metrics` reads `value`.
async fn metric_reads(node: &Node, series: &str, value: f64) {
    eventually(&format!("{series} reads {value}"), WAIT, || async {
        node.metric(series).await == Some(value)
    })
    .await;
}

fn requests(action: &str, outcome: &str) -> String {
    format!("ticksync_matchmaking_requests_total{{action=\"{action}\",outcome=\"{outcome}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matchmaker_the_redis_link_and_the_seats_are_on_metrics() {
    let Some(mut redis) = redis_or_skip("the_matchmaker_the_redis_link_and_the_seats").await else {
        return;
    };
    // One player per room: a second seat in a room finds it full.
    let mut settings = NodeSettings::new("m1");
    settings.max_players = 1;
    let node = Node::start(NODE, &redis.url(), &settings).await;
    metric_reads(&node, "ticksync_cluster_redis_reachable", 1.0).await;
    // Each outcome's series is there from the start.
    assert_eq!(node.metric(&requests("join", "seated")).await, Some(0.0));

    let (status, seat) = post(node.addr, "join", serde_json::json!({"room": "m"})).await;
    assert_eq!(status, 200, "{seat}\n{}", node.log());
    let (status, body) = post(node.addr, "join", serde_json::json!({"room": "m"})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = post(node.addr, "create", serde_json::json!({"room": "m"})).await;
    assert_eq!(status, 409, "{body}");
    let (status, body) = post(node.addr, "join-or-create", serde_json::json!([1])).await;
    assert_eq!(status, 400, "{body}");
    let answer = http_request(node.addr, "GET", "/matchmake/nonsense", None)
        .await
        .unwrap();
    assert_eq!(answer.status, 404);
    let (status, _) = list_rooms(node.addr, &BTreeMap::new()).await;
    assert_eq!(status, 200);

    // The seat admits once; its second use is refused at the upgrade.
    let connect = seat["connect"].as_str().unwrap();
    let player = Client::<ArenaSchema>::connect(connect, ClientOptions::named("m"))
        .await
        .expect("the seat admits");
    let again = Client::<ArenaSchema>::connect(connect, ClientOptions::named("again")).await;
    assert!(
        matches!(
            &again,
            Err(ClientError::UpgradeRejected { status: 409, .. })
        ),
        "{:?}",
        again.as_ref().err()
    );

    for (series, value) in [
        (requests("join", "seated"), 1.0),
        (requests("join", "full"), 1.0),
        (requests("create", "exists"), 1.0),
        (requests("join_or_create", "bad_request"), 1.0),
        (requests("unknown", "bad_request"), 1.0),
        (requests("rooms", "listed"), 1.0),
        (
            "ticksync_matchmaking_duration_seconds_count{action=\"join\"}".to_owned(),
            2.0,
        ),
        ("ticksync_cluster_seats_redeemed_total".to_owned(), 1.0),
        (
            "ticksync_cluster_seats_refused_total{reason=\"seat_used\"}".to_owned(),
            1.0,
        ),
        (
            "ticksync_cluster_lease_renewals_failed_total".to_owned(),
            0.0,
        ),
    ] {
        metric_reads(&node, &series, value).await;
    }

    // Redis gone: the matchmaker answers 503, counted as unavailable; the renewals fail and
    // the link reads 0. Back: it reads 1 again.
    redis.stop();
    let (status, body) = post(node.addr, "join", serde_json::json!({"room": "n"})).await;
    assert_eq!(status, 503, "{body}");
    metric_reads(&node, &requests("join", "unavailable"), 1.0).await;
    metric_reads(&node, "ticksync_cluster_redis_reachable", 0.0).await;
    eventually("a failed renewal is counted", WAIT, || async {
        node.metric("ticksync_cluster_lease_renewals_failed_total")
            .await
            .is_some_and(|failed| failed >= 1.0)
    })
    .await;
    redis.restart().await;
    metric_reads(&node, "ticksync_cluster_redis_reachable", 1.0).await;
    drop(player);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_matchmakes_over_https_with_the_trust_it_uses_for_wss() {
    let Some(redis) = redis_or_skip("the_rust_client_matchmakes_over_https").await else {
        return;
    };
    let mut settings = NodeSettings::new("tls1");
    settings.dev_tls = true;
    let node = Node::start(NODE, &redis.url(), &settings).await;
    let matchmaker = format!("https://{}", node.addr);
    let request =
        MatchRequest::JoinOrCreate(BTreeMap::from([("mode".to_owned(), "tls".to_owned())]));
    // The node writes its certificate, then registers; until then there is no seat.
    let deadline = Instant::now() + WAIT;
    let (trusted, seat) = loop {
        let trusted = ClientOptions {
            tls: tls_config(&TlsTrust::CaFile(node.cert_path()))
                .ok()
                .flatten(),
            ..ClientOptions::named("tls")
        };
        let answer = match trusted.tls {
            Some(_) => matchmake(&matchmaker, &request, &trusted).await,
            None => Err(MatchmakeError::NoTlsTrust("no certificate yet".to_owned())),
        };
        match answer {
            Ok(seat) => break (trusted, seat),
            Err(error) => assert!(
                Instant::now() < deadline,
                "no https seat in time: {error}\n{}",
                node.log()
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(seat.node, "tls1");
    assert_eq!(seat.url, node.ws_url());
    assert!(seat.connect.starts_with("wss://"), "{}", seat.connect);
    let player = Client::<ArenaSchema>::connect(&seat.connect, trusted.clone())
        .await
        .expect("the seat admits over wss with the same trust");
    assert!(player.entity_id().is_some());

    // The development option accepts the self-signed certificate too.
    let insecure = ClientOptions {
        tls: tls_config(&TlsTrust::Insecure).unwrap(),
        ..ClientOptions::named("insecure")
    };
    let second = matchmake(&matchmaker, &request, &insecure)
        .await
        .expect("a seat with --insecure");
    assert_eq!(second.room, seat.room);

    // No trust set: refused before dialling, saying what to set.
    let error = matchmake(&matchmaker, &request, &ClientOptions::named("none"))
        .await
        .unwrap_err();
    assert!(matches!(error, MatchmakeError::NoTlsTrust(_)), "{error}");
    // Trusting another CA: the handshake fails, naming what to trust.
    let stranger = ticksync_tests::cluster::Scratch::new("stranger-ca");
    let other_cert = stranger.0.join("other.pem");
    ticksync_server::net::tls::dev_acceptor(&other_cert).expect("another certificate");
    let strangers = ClientOptions {
        tls: tls_config(&TlsTrust::CaFile(other_cert)).unwrap(),
        ..ClientOptions::named("stranger")
    };
    let error = matchmake(&matchmaker, &request, &strangers)
        .await
        .unwrap_err();
    assert!(matches!(error, MatchmakeError::Tls { .. }), "{error}");
    assert!(error.to_string().contains("--ca-cert"), "{error}");
    // Plain http:// to the TLS port fails within the timeout instead of hanging.
    let plain = ClientOptions {
        handshake_timeout: Duration::from_secs(5),
        ..ClientOptions::named("plain")
    };
    assert!(matchmake(&node.http(), &request, &plain).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_live_node_with_the_same_id_refuses_to_start() {
    let Some(redis) = redis_or_skip("a_second_live_node_with_the_same_id").await else {
        return;
    };
    let mut first = Node::start(NODE, &redis.url(), &NodeSettings::new("twin")).await;
    metric_reads(&first, "ticksync_cluster_redis_reachable", 1.0).await;

    let mut second = Node::spawn(NODE, &redis.url(), &NodeSettings::new("twin"));
    let exited = second.exit_status(WAIT).await;
    assert_eq!(
        exited,
        Some(false),
        "the second node should exit with an error\n{}",
        second.log()
    );
    let log = second.log();
    assert!(
        log.contains("node_id \"twin\"") && log.contains(&first.ws_url()),
        "the error names the id and the other node's URL:\n{log}"
    );
    // The first node's registration is untouched: seats still name it.
    let (status, seat) = post(first.addr, "join", serde_json::json!({"room": "t"})).await;
    assert_eq!(status, 200, "{seat}");
    assert_eq!(seat["url"], first.ws_url().as_str());

    // A node that crashed leaves its registration until its lease runs out; a node
    // restarted under its id waits for that and takes the id over.
    first.kill();
    let restarted = Node::start(NODE, &redis.url(), &NodeSettings::new("twin")).await;
    eventually("the restarted node holds the id", WAIT, || async {
        let (status, seat) = post(restarted.addr, "join", serde_json::json!({"room": "t2"})).await;
        status == 200 && seat["url"] == restarted.ws_url().as_str()
    })
    .await;
}
