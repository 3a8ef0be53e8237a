//! Delta tests over the test schema: diff and apply are inverse, straight lines cost nothing,
//! and bad deltas are refused rather than applied.

use super::*;
use crate::replicated::view_checksum;
use crate::testing::Token;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn token(id: u32, x: i32, dx: i16) -> Entity<Token> {
    Entity {
        id: EntityId(id),
        state: Token {
            x,
            y: 100,
            dx,
            dy: 0,
            hp: 10,
            down: false,
        },
    }
}

fn predicted(view: &[Entity<Token>], ticks: u32) -> Vec<Entity<Token>> {
    view.iter()
        .map(|e| Entity {
            id: e.id,
            state: e.state.predict(ticks),
        })
        .collect()
}

#[test]
fn straight_line_motion_costs_nothing() {
    let baseline = vec![token(1, 0, 10), token(2, 500, -3)];
    let target = predicted(&baseline, 4);
    let mut delta = Delta::default();
    diff(&baseline, &target, 4, &mut delta);
    assert!(delta.is_empty(), "{delta:?}");
}

#[test]
fn only_changed_fields_travel_and_positions_as_offsets() {
    let baseline = vec![token(1, 0, 10)];
    let mut target = predicted(&baseline, 2);
    target[0].state.x += 3;
    target[0].state.hp = 7;
    let mut delta = Delta::default();
    diff(&baseline, &target, 2, &mut delta);
    let change = &delta.changed[0].delta;
    assert_eq!(change.x, Some(3), "the offset from the prediction");
    assert_eq!(change.hp, Some(7));
    assert_eq!(
        (change.y, change.dx, change.dy, change.down),
        (None, None, None, None)
    );
    let mut out = Vec::new();
    apply(
        &baseline,
        &delta.created,
        &delta.changed,
        &delta.removed,
        2,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, target);
}

#[test]
fn bad_deltas_are_refused() {
    let baseline = vec![token(1, 0, 0), token(3, 0, 0)];
    let mut out = Vec::new();
    assert_eq!(
        apply(&baseline, &[token(3, 1, 1)], &[], &[], 1, &mut out),
        Err(ApplyError::CreatedExists(EntityId(3)))
    );
    assert_eq!(
        apply(&baseline, &[], &[], &[EntityId(2)], 1, &mut out),
        Err(ApplyError::Unknown(EntityId(2)))
    );
    assert_eq!(
        apply(
            &baseline,
            &[],
            &[],
            &[EntityId(3), EntityId(1)],
            1,
            &mut out
        ),
        Err(ApplyError::Unsorted)
    );
}

fn arb_token() -> impl Strategy<Value = Token> {
    (
        any::<i32>(),
        any::<i32>(),
        any::<i16>(),
        any::<i16>(),
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(x, y, dx, dy, hp, down)| Token {
            x,
            y,
            dx,
            dy,
            hp,
            down,
        })
}

fn arb_view() -> impl Strategy<Value = Vec<Entity<Token>>> {
    proptest::collection::btree_map(0u32..64, arb_token(), 0..24).prop_map(
        |map: BTreeMap<u32, Token>| {
            map.into_iter()
                .map(|(id, state)| Entity {
                    id: EntityId(id),
                    state,
                })
                .collect()
        },
    )
}

proptest! {
    #[test]
    fn apply_inverts_diff(baseline in arb_view(), target in arb_view(), ticks in 0u32..100) {
        let mut delta = Delta::default();
        diff(&baseline, &target, ticks, &mut delta);
        let mut out = Vec::new();
        apply(&baseline, &delta.created, &delta.changed, &delta.removed, ticks, &mut out).unwrap();
        prop_assert_eq!(view_checksum(&out), view_checksum(&target));
        prop_assert_eq!(out, target);
    }

    #[test]
    fn derived_apply_inverts_derived_diff(base in arb_token(), target in arb_token(), ticks in 0u32..1000) {
        let predicted = base.predict(ticks);
        match target.diff(&predicted) {
            None => prop_assert_eq!(&predicted, &target),
            Some(delta) => prop_assert_eq!(Token::apply(&predicted, &delta), target),
        }
    }
}
