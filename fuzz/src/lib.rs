//! The properties the fuzz targets check, as plain functions of the input bytes.
//!
//! Each `fuzz_targets/*.rs` file is a one-line libFuzzer entry point that calls one of these;
//! keeping the logic here means a crashing input can also be replayed from an ordinary test
//! or binary without libFuzzer. A panic anywhere in here is a finding: the harness may
//! `unwrap` and `assert!`, because an unwrap that fails means the code under test broke a
//! promise (never panic on peer data, round-trip exactly, produce decodable snapshots).

use std::collections::VecDeque;

use ticksync_arena::{Arena, ArenaEntity, ArenaSchema, ARENA_SPEED};
use ticksync_game::Game;
use ticksync_protocol::codec::{
    decode_client_message, decode_server_message, encode, encode_snapshot, is_snapshot_frame,
    EncodedBody, SnapshotHeader,
};
use ticksync_protocol::delta::apply;
use ticksync_protocol::replicated::view_checksum;
use ticksync_protocol::sync::{baseline_tick, ticks_between, ViewStore};
use ticksync_protocol::testing::TokenSchema;
use ticksync_protocol::{
    ClientMessage, Entity, EntityId, Input, InputSeq, PlayerId, Replicated, Schema, ServerMessage,
    Snapshot, Tick,
};
use ticksync_server::replication::{InterestPolicy, ReplicationSettings, Replicator};

/// The arena's input, the one `server_handling` plays.
type ArenaInputs = Input<ticksync_arena::ArenaInput>;

/// `decode_client`: decoding arbitrary bytes never panics; whatever decodes re-encodes to
/// bytes that decode to the same message; validating a decoded `Hello` never panics — for
/// the arena's schema and for the test schema (other input and message types, a `u8` and a
/// `bool` field).
pub fn check_decode_client(data: &[u8]) {
    check_decode_client_of::<ArenaSchema>(data);
    check_decode_client_of::<TokenSchema>(data);
}

fn check_decode_client_of<S: Schema>(data: &[u8]) {
    let Ok(message) = decode_client_message::<S>(data) else {
        return;
    };
    match &message {
        ClientMessage::Hello(hello) => {
            let _ = hello.validate();
        }
        ClientMessage::Resume(resume) => {
            let _ = resume.validate();
        }
        _ => {}
    }
    let reencoded = encode(&message).unwrap();
    let again = decode_client_message::<S>(&reencoded).unwrap();
    assert_eq!(again, message, "client message changed on a round trip");
}

/// `decode_server`: decoding arbitrary bytes never panics; whatever decodes round-trips;
/// the snapshot fast path (`is_snapshot_frame`, `encode_snapshot`) agrees with the generic
/// codec; applying a decoded snapshot's delta returns `Ok` or `Err`, never panics.
pub fn check_decode_server(data: &[u8]) {
    check_decode_server_of::<ArenaSchema>(data);
    check_decode_server_of::<TokenSchema>(data);
}

fn check_decode_server_of<S: Schema>(data: &[u8]) {
    let Ok(message) = decode_server_message::<S>(data) else {
        return;
    };
    let reencoded = encode(&message).unwrap();
    let again = decode_server_message::<S>(&reencoded).unwrap();
    assert_eq!(again, message, "server message changed on a round trip");
    // Judged on the canonical re-encoding: bincode also accepts non-canonical varints, e.g.
    // the tag `fb 01 00` for Snapshot, which `is_snapshot_frame` (one byte) cannot see
    // (artifacts/decode_server/crash-d85a721e…). Server-built frames are always canonical.
    assert_eq!(
        is_snapshot_frame(&reencoded),
        matches!(message, ServerMessage::Snapshot(_)),
        "is_snapshot_frame disagrees with the decoder"
    );
    if let ServerMessage::Snapshot(snapshot) = &message {
        check_snapshot_fast_path(snapshot, &reencoded);
        apply_untrusted_snapshot(snapshot);
    }
}

/// `encode_snapshot` (header + shared body) must write exactly the generic encoding.
fn check_snapshot_fast_path<E: Replicated>(snapshot: &Snapshot<E>, generic_encoding: &[u8]) {
    let body = EncodedBody::new(&snapshot.created, &snapshot.changed, &snapshot.removed).unwrap();
    let header = SnapshotHeader {
        tick: snapshot.tick,
        baseline_tick: snapshot.baseline_tick,
        last_input_seq: snapshot.last_input_seq,
        input_margin_100us: snapshot.input_margin_100us,
        checksum: snapshot.checksum,
    };
    let mut fast = Vec::new();
    encode_snapshot(header, &body, &mut fast).unwrap();
    assert_eq!(
        fast, generic_encoding,
        "encode_snapshot differs from encode"
    );
}

/// Applies a snapshot from an untrusted server to an empty view and, when the created list
/// is a valid view, to that view too: either may fail, neither may panic.
fn apply_untrusted_snapshot<E: Replicated>(snapshot: &Snapshot<E>) {
    let ticks = snapshot.tick.saturating_sub(snapshot.baseline_tick);
    let mut view = Vec::new();
    let applied = apply::<E>(
        &[],
        &snapshot.created,
        &snapshot.changed,
        &snapshot.removed,
        ticks,
        &mut view,
    );
    if applied.is_ok() {
        assert!(ids_strictly_increase(&view), "applied view is not sorted");
        let _ = view_checksum(&view);
    }
    // The created list as a baseline exercises the changed/removed paths against real ids.
    if ids_strictly_increase(&snapshot.created) {
        let mut out = Vec::new();
        if apply(
            &snapshot.created,
            &[],
            &snapshot.changed,
            &snapshot.removed,
            ticks,
            &mut out,
        )
        .is_ok()
        {
            assert!(ids_strictly_increase(&out), "applied view is not sorted");
        }
    }
}

fn ids_strictly_increase<E: Replicated>(entities: &[Entity<E>]) -> bool {
    entities.windows(2).all(|pair| pair[0].id < pair[1].id)
}

/// Fixed step of the simulated room (30 Hz, the arena's rate).
const DT: f32 = 1.0 / 30.0;
/// Connections the input can drive; the frame header picks one with its low bits.
const CONNECTIONS: usize = 4;
/// Frame header bit: run one room tick instead of delivering a frame.
const TICK_BIT: u8 = 0x80;
/// Room limits as in `ServerConfig::default()`: inputs applied per tick, inputs queued per
/// session, snapshot history (one second at 30 Hz).
const MAX_INPUTS_PER_TICK: usize = 4;
const INPUT_QUEUE_CAPACITY: usize = 16;
const HISTORY_TICKS: usize = 30;
/// World sides to fuzz with: the arena's, and tiny ones where every input hits an edge
/// (the arena clamps 0 to 1).
const WORLD_SIZES: [u32; 4] = [2000, 20, 1, 0];
/// Position steps per unit (1/64 unit), for the speed bound.
const STEPS_PER_UNIT: f32 = 64.0;

/// `server_handling`: drives the server's handling path — decode, `Hello::validate`, the
/// session's acknowledgement and sequence rules, the room's input queue and tick, the arena,
/// the replicator — with frames cut from the input, and checks after every tick that the
/// world is sane and every client's snapshot decodes and applies to the view it holds, with
/// the checksum the snapshot promises.
///
/// Input layout: one settings byte (bit 0: area of interest, bit 1: cap it to 2 entities,
/// bits 2–3: world size), then records: a header byte whose bit 7 means "tick now" and
/// whose low bits otherwise pick a connection, followed by a length byte and that many
/// bytes of one WebSocket frame.
pub fn check_server_handling(data: &[u8]) {
    let Some((&settings_byte, mut rest)) = data.split_first() else {
        return;
    };
    let mut room = FuzzRoom::new(settings_byte);
    while let Some((&header, after_header)) = rest.split_first() {
        if header & TICK_BIT != 0 {
            room.tick();
            rest = after_header;
            continue;
        }
        let Some((&length, after_length)) = after_header.split_first() else {
            break;
        };
        let length = usize::from(length).min(after_length.len());
        let (frame, after_frame) = after_length.split_at(length);
        room.receive(usize::from(header) % CONNECTIONS, frame);
        rest = after_frame;
    }
    room.tick();
}

/// A room as the server runs it, minus sockets and clocks.
struct FuzzRoom {
    arena: Arena,
    replicator: Replicator<ArenaEntity>,
    next_player: u32,
    interest: Option<InterestPolicy>,
    tick: Tick,
    connections: Vec<Connection>,
}

/// One connection: before `Hello`, or a joined player.
enum Connection {
    AwaitingHello,
    Playing(Player),
}

/// A joined player, with both the server's bookkeeping (session + room member) and what
/// the client holds.
struct Player {
    player: PlayerId,
    entity: EntityId,
    /// Session: the highest sequence forwarded to the room.
    last_forwarded_seq: InputSeq,
    /// Session → room: the bounded input queue.
    queued_inputs: VecDeque<ArenaInputs>,
    /// Room member: the last input applied.
    last_applied_seq: InputSeq,
    /// Shared session/room acknowledgement.
    acked_tick: Tick,
    /// Client: the views it holds, kept by the protocol's view store as every client does.
    views: ViewStore<ArenaEntity>,
    /// Client: the ticks of the snapshots it applied, the last second of them.
    applied: VecDeque<Tick>,
}

impl FuzzRoom {
    fn new(settings_byte: u8) -> FuzzRoom {
        let world_units = WORLD_SIZES[usize::from(settings_byte >> 2) % WORLD_SIZES.len()];
        let arena = Arena::new(world_units);
        let interest = (settings_byte & 1 != 0).then(|| InterestPolicy {
            radius_steps: 100 * 64,
            max_entities: (settings_byte & 2 != 0).then_some(2),
        });
        let replicator = Replicator::new(ReplicationSettings {
            history_ticks: HISTORY_TICKS,
            interest,
        });
        FuzzRoom {
            arena,
            replicator,
            next_player: 1,
            interest,
            tick: 0,
            connections: (0..CONNECTIONS)
                .map(|_| Connection::AwaitingHello)
                .collect(),
        }
    }

    /// One binary frame from connection `index`, handled as `session.rs` does.
    fn receive(&mut self, index: usize, frame: &[u8]) {
        let Ok(message) = decode_client_message::<ArenaSchema>(frame) else {
            // Malformed or too large: the session ends with an error and a close code.
            return self.close(index);
        };
        let current_tick = self.tick;
        match (&mut self.connections[index], message) {
            (Connection::AwaitingHello, ClientMessage::Hello(hello)) => {
                if hello.validate().is_err() {
                    return;
                }
                let player = PlayerId(self.next_player);
                self.next_player += 1;
                let entity = self.arena.spawn(player);
                self.connections[index] = Connection::Playing(Player {
                    player,
                    entity,
                    last_forwarded_seq: 0,
                    queued_inputs: VecDeque::new(),
                    last_applied_seq: 0,
                    acked_tick: 0,
                    views: ViewStore::new(),
                    applied: VecDeque::new(),
                });
            }
            // A Resume names a token this model never issued: refused, like anything else
            // before Hello, and the session ends without joining.
            (Connection::AwaitingHello, ClientMessage::Resume(resume)) => {
                let _ = resume.validate();
            }
            (Connection::AwaitingHello, _) => {}
            (Connection::Playing(player), ClientMessage::Input(input)) => {
                player.acknowledge(input.ack_tick, current_tick);
                if input.seq > player.last_forwarded_seq {
                    player.last_forwarded_seq = input.seq;
                    if player.queued_inputs.len() < INPUT_QUEUE_CAPACITY {
                        player.queued_inputs.push_back(input);
                    }
                }
            }
            (Connection::Playing(player), ClientMessage::Ack(ack)) => {
                player.acknowledge(ack.tick, current_tick)
            }
            // The arena has no client messages: `NoMessage` never decodes, so this arm
            // cannot be reached; a game message to a game without any ends the session.
            (Connection::Playing(_), ClientMessage::Ping(_) | ClientMessage::Message(_)) => {}
            (
                Connection::Playing(_),
                ClientMessage::Leave | ClientMessage::Hello(_) | ClientMessage::Resume(_),
            ) => self.close(index),
        }
    }

    /// Ends connection `index`; a player's entity leaves the world.
    fn close(&mut self, index: usize) {
        if let Connection::Playing(player) =
            std::mem::replace(&mut self.connections[index], Connection::AwaitingHello)
        {
            self.arena.remove(player.player);
        }
    }

    fn players(&self) -> impl Iterator<Item = &Player> {
        self.connections.iter().filter_map(|c| match c {
            Connection::Playing(player) => Some(player),
            Connection::AwaitingHello => None,
        })
    }

    /// One room tick: apply queued inputs, step, capture, and send each player a snapshot.
    fn tick(&mut self) {
        for connection in &mut self.connections {
            if let Connection::Playing(player) = connection {
                let mut inputs: Vec<ArenaInputs> = Vec::new();
                while inputs.len() < MAX_INPUTS_PER_TICK {
                    let Some(input) = player.queued_inputs.pop_front() else {
                        break;
                    };
                    if input.seq > player.last_applied_seq {
                        inputs.push(input);
                    }
                }
                inputs.sort_unstable_by_key(|input| input.seq);
                inputs.dedup_by_key(|input| input.seq);
                for input in &inputs {
                    self.arena.steer(player.player, input.payload.move_dir);
                    player.last_applied_seq = input.seq;
                }
            }
        }
        self.arena.advance(DT);
        self.tick += 1;
        let world = self.check_world();
        let arena = &self.arena;
        self.replicator
            .capture(self.tick, |out| arena.write_entities(out));
        let tick = self.tick;
        let everyone_sees_everyone = self.interest.is_none();
        for connection in &mut self.connections {
            if let Connection::Playing(player) = connection {
                let frame = self
                    .replicator
                    .snapshot_for(Some(player.entity), player.acked_tick, player.last_applied_seq)
                    .unwrap();
                let world_if_seen_whole = everyone_sees_everyone.then_some(&world[..]);
                player.receive_snapshot(&frame, tick, world_if_seen_whole);
            }
        }
    }

    /// The world after a step: ids sorted and unique, one entity per player, every position
    /// inside the world, no entity faster than the arena speed. Returns the entities.
    fn check_world(&self) -> Vec<Entity<ArenaEntity>> {
        let mut entities = Vec::new();
        self.arena.write_entities(&mut entities);
        assert!(ids_strictly_increase(&entities), "entity ids not sorted");
        assert_eq!(entities.len(), self.players().count(), "entity per player");
        let max = self.arena.size_steps();
        // One step at full speed, plus rounding.
        let max_speed = (ARENA_SPEED * DT * STEPS_PER_UNIT).round() as i32 + 1;
        for Entity { state: entity, .. } in &entities {
            assert!(
                (0..=max).contains(&entity.x) && (0..=max).contains(&entity.y),
                "entity outside the world: {entity:?}, side {max}"
            );
            let (vx, vy) = (i32::from(entity.vx), i32::from(entity.vy));
            assert!(
                vx * vx + vy * vy <= max_speed * max_speed,
                "entity faster than the arena speed: {entity:?}"
            );
        }
        for player in self.players() {
            assert!(
                self.arena.entity(player.entity).is_some(),
                "player's entity is missing"
            );
        }
        entities
    }
}

impl Player {
    /// The session's acknowledgement rule: forward only, never past the room's tick.
    fn acknowledge(&mut self, tick: Tick, current_tick: Tick) {
        if tick != 0 && tick <= current_tick {
            self.acked_tick = self.acked_tick.max(tick);
        }
    }

    /// The client's side: decode the frame, apply it with the protocol's view store (as
    /// every client does) and check the promised checksum. With everyone seeing everyone the
    /// view must be the whole world.
    fn receive_snapshot(
        &mut self,
        frame: &[u8],
        tick: Tick,
        whole_world: Option<&[Entity<ArenaEntity>]>,
    ) {
        let snapshot = match decode_server_message::<ArenaSchema>(frame).unwrap() {
            ServerMessage::Snapshot(snapshot) => snapshot,
            other => panic!("snapshot_for produced {other:?}"),
        };
        assert_eq!(snapshot.tick, tick);
        assert_eq!(snapshot.last_input_seq, self.last_applied_seq);
        assert!(ids_strictly_increase(&snapshot.created), "created unsorted");
        assert!(
            snapshot.changed.windows(2).all(|w| w[0].id < w[1].id),
            "changed unsorted"
        );
        assert!(
            snapshot.removed.windows(2).all(|w| w[0] < w[1]),
            "removed unsorted"
        );
        // The baseline rule, as the protocol states it, with the history the room keeps.
        let oldest_held = tick.saturating_sub(HISTORY_TICKS as Tick - 1).max(1);
        let expected = baseline_tick(self.acked_tick, tick, |held| held >= oldest_held);
        assert_eq!(
            snapshot.baseline_tick,
            expected.unwrap_or(0),
            "the baseline must follow the protocol's rule"
        );
        let holds_baseline =
            snapshot.is_full() || self.applied.contains(&snapshot.baseline_tick);
        match self.views.apply(&snapshot) {
            Ok(()) => {
                self.views.mark_current_acked();
                self.applied.push_back(tick);
                if self.applied.len() > HISTORY_TICKS {
                    self.applied.pop_front();
                }
                let view = self.views.current();
                assert_eq!(view_checksum(view), snapshot.checksum, "checksum mismatch");
                assert!(
                    view.iter().any(|e| e.id == self.entity),
                    "a player always sees its own entity"
                );
                if let Some(world) = whole_world {
                    assert_eq!(view, world, "view differs from the world");
                }
            }
            // The client acknowledged a tick it never received (from before it joined): a
            // lie the server cannot detect. It only has to survive it, and must never see
            // a failure for a baseline it does hold.
            Err(error) => {
                assert!(
                    !holds_baseline,
                    "a snapshot against a view the client applied failed: {error}"
                );
                let ticks = ticks_between(snapshot.baseline_tick, tick);
                let mut view = Vec::new();
                let _ = apply(
                    &[],
                    &snapshot.created,
                    &snapshot.changed,
                    &snapshot.removed,
                    ticks,
                    &mut view,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticksync_arena::{ArenaInput, MoveDir};
    use ticksync_protocol::codec::encode;
    use ticksync_protocol::{Hello, PROTOCOL_VERSION};

    fn record(connection: u8, message: &ClientMessage<ArenaSchema>) -> Vec<u8> {
        let bytes = encode(message).unwrap();
        let mut out = vec![connection, bytes.len() as u8];
        out.extend(bytes);
        out
    }

    /// A hand-written session exercises every branch of the model once, so a broken
    /// harness shows up here rather than as a fuzzer that never gets past `Hello`.
    #[test]
    fn a_scripted_session_passes_the_checks() {
        for settings in 0..16u8 {
            let mut data = vec![settings];
            for connection in 0..3 {
                data.extend(record(
                    connection,
                    &ClientMessage::Hello(Hello {
                        protocol_version: PROTOCOL_VERSION,
                        player_name: format!("p{connection}"),
                    }),
                ));
            }
            for seq in 1..60u32 {
                data.extend(record(
                    (seq % 3) as u8,
                    &ClientMessage::Input(Input {
                        seq,
                        ack_tick: seq.saturating_sub(2),
                        payload: ArenaInput {
                            move_dir: MoveDir { x: 127, y: -128 },
                            buttons: 0,
                        },
                    }),
                ));
                data.push(TICK_BIT);
            }
            data.extend(record(1, &ClientMessage::Leave));
            data.push(TICK_BIT);
            check_server_handling(&data);
        }
    }

    #[test]
    fn decoders_survive_simple_inputs() {
        for data in [&[][..], &[0], &[1, 0, 0, 0, 0, 0, 0, 0], &[255; 64]] {
            check_decode_client(data);
            check_decode_server(data);
        }
    }
}
