//! Where a new room goes: the least-loaded live node that is not draining and is under its
//! caps. Load is the larger of two fractions — players over the node's player cap, and the
//! worst room's tick p99 over one tick period — so a node with few players whose ticks run
//! long (a heavy game, a noisy neighbour) counts as busy too. Rooms break ties.

use serde::{Deserialize, Serialize};

/// A node as its registration in the directory describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeLoad {
    pub id: String,
    pub url: String,
    pub players: usize,
    pub rooms: usize,
    /// Worst tick p99 of its rooms, µs.
    pub tick_p99_us: u64,
    /// One tick period of the node, µs.
    pub tick_budget_us: u64,
    pub max_players: usize,
    pub max_rooms: usize,
    pub draining: bool,
}

impl NodeLoad {
    /// How full the node is, 0 (idle) to 1 (at a cap) and past.
    pub fn load(&self) -> f64 {
        let players = self.players as f64 / self.max_players.max(1) as f64;
        let ticks = self.tick_p99_us as f64 / self.tick_budget_us.max(1) as f64;
        players.max(ticks)
    }

    /// Whether the node may take one more room.
    pub fn takes_a_room(&self) -> bool {
        !self.draining && self.rooms < self.max_rooms && self.players < self.max_players
    }
}

/// The nodes that may take a new room, least loaded first.
pub fn rank(nodes: &[NodeLoad]) -> Vec<&NodeLoad> {
    let mut open: Vec<&NodeLoad> = nodes.iter().filter(|node| node.takes_a_room()).collect();
    open.sort_by(|a, b| {
        a.load()
            .total_cmp(&b.load())
            .then(a.rooms.cmp(&b.rooms))
            .then(a.id.cmp(&b.id))
    });
    open
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, players: usize, rooms: usize, tick_p99_us: u64) -> NodeLoad {
        NodeLoad {
            id: id.into(),
            url: format!("ws://{id}/ws"),
            players,
            rooms,
            tick_p99_us,
            tick_budget_us: 33_333,
            max_players: 1000,
            max_rooms: 10,
            draining: false,
        }
    }

    fn ids(nodes: &[NodeLoad]) -> Vec<&str> {
        rank(nodes)
            .into_iter()
            .map(|node| node.id.as_str())
            .collect()
    }

    #[test]
    fn fewer_players_first_then_fewer_rooms() {
        let nodes = [
            node("a", 300, 1, 0),
            node("b", 100, 5, 0),
            node("c", 100, 2, 0),
        ];
        assert_eq!(ids(&nodes), ["c", "b", "a"]);
    }

    #[test]
    fn slow_ticks_count_as_load() {
        // b has fewer players but its ticks take 90 % of the period.
        let nodes = [node("a", 500, 1, 1_000), node("b", 10, 1, 30_000)];
        assert_eq!(ids(&nodes), ["a", "b"]);
    }

    #[test]
    fn draining_and_full_nodes_take_no_room() {
        let mut draining = node("a", 0, 0, 0);
        draining.draining = true;
        let full_rooms = node("b", 0, 10, 0);
        let full_players = node("c", 1000, 1, 0);
        let open = node("d", 999, 9, 0);
        assert_eq!(ids(&[draining, full_rooms, full_players, open]), ["d"]);
    }
}
