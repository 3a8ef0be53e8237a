//! End to end: arrival feedback against a real server on loopback.
//!
//! - Every snapshot reports how early the client's last applied input arrived
//!   (`input_margin_100us`); a client that aims its input clock with it
//!   ([`InputTiming::Synced`]) receives a sample for (almost) every input, and its inputs land
//!   one per tick: the tick each is applied at stays the same distance from the tick the
//!   client numbered it for ([`Client::inputs`], what a game's per-tick prediction replays).
//! - A client that ignores the feedback ([`InputTiming::Free`]) keeps playing as before.

use std::collections::HashMap;
use std::time::Duration;

use ticksync_arena::{ArenaEntity, ArenaInput, ArenaSchema, MoveDir};
use ticksync_client::{Client, ClientError, ClientHandler, ClientOptions, InputTiming};
use ticksync_protocol::{InputSeq, Snapshot, Tick};
use ticksync_tests::{TestServer, WAIT};

/// Snapshots a walker plays for: three seconds at 30 Hz.
const PLAY_SNAPSHOTS: usize = 90;

/// The first second is the clock finding its phase.
const SETTLE_SNAPSHOTS: usize = 30;

/// Walks east, recording the tick each input was meant for and the tick it landed at.
#[derive(Default)]
struct Walker {
    snapshots: usize,
    last_applied: InputSeq,
    /// Input sequence → the tick the client numbered it for.
    meant: HashMap<InputSeq, Tick>,
    /// How many settled inputs landed at each offset from the tick they were meant for.
    landed_offsets: HashMap<i64, usize>,
    margins_100us: Vec<i16>,
}

impl ClientHandler<ArenaSchema> for Walker {
    async fn on_tick(&mut self, client: &mut Client<ArenaSchema>) -> Result<(), ClientError> {
        if client.has_left() {
            return Ok(());
        }
        let east = ArenaInput {
            move_dir: MoveDir::from_vector(1.0, 0.0),
            buttons: 0,
        };
        let tick = client.inputs().next_tick();
        let seq = client.send_input(east).await?;
        self.meant.insert(seq, tick);
        Ok(())
    }

    async fn on_snapshot(
        &mut self,
        client: &mut Client<ArenaSchema>,
        snapshot: &Snapshot<ArenaEntity>,
    ) -> Result<(), ClientError> {
        self.snapshots += 1;
        self.margins_100us.push(snapshot.input_margin_100us);
        // The snapshot of the tick that first reports an input applied is the tick it landed.
        if snapshot.last_input_seq > self.last_applied {
            self.last_applied = snapshot.last_input_seq;
            if let (Some(meant), true) = (
                self.meant.get(&snapshot.last_input_seq),
                self.snapshots > SETTLE_SNAPSHOTS,
            ) {
                let offset = i64::from(snapshot.tick) - i64::from(*meant);
                *self.landed_offsets.entry(offset).or_default() += 1;
            }
        }
        // What a game's prediction replays: only inputs the server has not applied yet.
        assert!(client
            .inputs()
            .pending()
            .all(|input| input.seq > snapshot.last_input_seq));
        if self.snapshots == PLAY_SNAPSHOTS {
            client.leave().await?;
        }
        Ok(())
    }
}

async fn walk(server: &TestServer, input_timing: InputTiming) -> (Walker, Client<ArenaSchema>) {
    let options = ClientOptions {
        input_timing,
        ..ClientOptions::named("walker")
    };
    let mut client = Client::<ArenaSchema>::connect(&server.url(), options)
        .await
        .expect("walker connects");
    let mut walker = Walker::default();
    let closed = tokio::time::timeout(Duration::from_secs(20), client.run(&mut walker))
        .await
        .expect("the walk ends")
        .expect("the walk runs to its close");
    assert_eq!(closed.code, Some(1000), "{closed:?}");
    (walker, client)
}

#[tokio::test]
async fn a_synced_client_gets_feedback_for_its_inputs_and_lands_one_per_tick() {
    let server = TestServer::start().await;
    let (walker, client) = walk(&server, InputTiming::Synced).await;
    let samples = client.input_clock().samples();
    let inputs = client.counters().inputs_sent;
    let landed: usize = walker.landed_offsets.values().sum();
    let steady = walker.landed_offsets.values().max().copied().unwrap_or(0);
    println!(
        "{samples} feedback samples for {inputs} inputs, aim {:?}, {} missed; landing offsets {:?}",
        client.input_clock().target_margin(),
        client.input_clock().missed(),
        walker.landed_offsets,
    );
    assert!(
        samples * 10 >= inputs * 8,
        "feedback for only {samples} of {inputs} inputs"
    );
    assert!(
        walker.margins_100us.iter().any(|m| *m != 0),
        "every margin reported was 0: {:?}",
        walker.margins_100us
    );
    // One input per tick: each lands the same number of ticks after the tick it was
    // numbered for (a loaded machine may shift the numbering once or twice).
    assert!(landed >= 20, "only {landed} inputs landed after settling");
    assert!(
        steady * 10 >= landed * 8,
        "inputs landed at scattered offsets from their ticks: {:?}",
        walker.landed_offsets
    );
    assert_eq!(client.counters().desyncs, 0);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_ignores_the_feedback_plays_as_before() {
    let server = TestServer::start().await;
    let (walker, client) = walk(&server, InputTiming::Free).await;
    assert_eq!(walker.snapshots, PLAY_SNAPSHOTS);
    assert!(client.last_acked_input() > 0, "no input was applied");
    assert_eq!(client.counters().desyncs, 0);
    tokio::time::timeout(WAIT, server.stop())
        .await
        .expect("server stops");
}
