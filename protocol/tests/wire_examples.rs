//! scratch
use ticksync_protocol::codec::encode;
use ticksync_protocol::replicated::{entity_checksum, view_checksum};
use ticksync_protocol::*;
fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
fn e(id: u32, x: i32, y: i32, vx: i16, vy: i16, heading: u16) -> EntityState {
    EntityState {
        id: EntityId(id),
        x,
        y,
        vx,
        vy,
        heading,
    }
}
#[test]
fn dump() {
    let two = [
        e(2, 70000, 12800, -453, 453, 24576),
        e(7, 64000, 64000, 0, 0, 0),
    ];
    for t in &two {
        let mut b = vec![];
        b.extend(t.id.0.to_le_bytes());
        b.extend(t.x.to_le_bytes());
        b.extend(t.y.to_le_bytes());
        b.extend(t.vx.to_le_bytes());
        b.extend(t.vy.to_le_bytes());
        b.extend(t.heading.to_le_bytes());
        println!(
            "{:?} {} -> {:#010x} = {}",
            t.id,
            hex(&b),
            entity_checksum(t),
            entity_checksum(t)
        );
    }
    let v = view_checksum(&two);
    println!("view {v:#010x} = {v}");
    let m = ServerMessage::Snapshot(Snapshot {
        tick: 1235,
        baseline_tick: 0,
        last_input_seq: 0,
        checksum: v,
        created: two.to_vec(),
        changed: vec![],
        removed: vec![],
    });
    println!(
        "{}\n{}",
        hex(&encode(&m).unwrap()),
        String::from_utf8(WireFormat::Json.encode(&m).unwrap()).unwrap()
    );
}
