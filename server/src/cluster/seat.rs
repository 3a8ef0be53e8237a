//! Seat tokens: what the matchmaker hands a client along with the URL of the node that holds
//! its room, and what that node checks at the WebSocket upgrade (`/ws?room=…&seat=…`).
//!
//! A seat token is a JWT signed with HMAC-SHA256 over the seat secret every node of the
//! cluster shares. It names the room, the node (by id and URL), a random seat id and an
//! expiry a few seconds ahead, and carries the room's metadata so the node can list the room
//! with it. A node takes a seat only if it names this node (else it refuses naming the right
//! one), only once ([`SeatLedger`]), and only before it expires.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::Secret;
use crate::metrics::RefusalReason;

/// Clock skew tolerated between the node that minted a seat and the node that takes it.
const SEAT_LEEWAY_SECS: u64 = 2;

/// The claims of a seat token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatClaims {
    /// The room the seat is in.
    pub room: String,
    /// The id of the node holding the room.
    pub node: String,
    /// The node's public URL.
    pub url: String,
    /// The seat's id, random: what makes a seat single-use.
    pub jti: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// The room's metadata (the filters it is found by).
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// The room is left out of listings and filter matches.
    #[serde(default)]
    pub private: bool,
}

/// Why a seat was refused at the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatRefusal {
    #[error("seat token refused: {0}; ask the matchmaker for a new seat")]
    Invalid(String),
    #[error("seat token has expired; ask the matchmaker for a new seat")]
    Expired,
    #[error("this seat is for node {node} at {url}, not this node ({this}); connect to {url}")]
    WrongNode {
        node: String,
        url: String,
        this: String,
    },
    #[error("this seat is for room {seat_room:?}, not {asked:?}; connect with ?room={seat_room}")]
    WrongRoom { seat_room: String, asked: String },
    #[error("this seat was already used; a seat admits one connection, ask the matchmaker for a new one")]
    Used,
    #[error("room {room:?} is not hosted on this node; in a cluster, join through the matchmaker (POST /matchmake/join) and connect with the seat it gives")]
    NoSeat { room: String },
}

impl SeatRefusal {
    /// HTTP status and reason of the refusal.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            SeatRefusal::Invalid(_) | SeatRefusal::Expired => (401, "Unauthorized"),
            SeatRefusal::WrongNode { .. } => (421, "Misdirected Request"),
            SeatRefusal::WrongRoom { .. } => (400, "Bad Request"),
            SeatRefusal::Used => (409, "Conflict"),
            SeatRefusal::NoSeat { .. } => (403, "Forbidden"),
        }
    }

    /// Short label for metrics and logs.
    pub fn label(&self) -> RefusalReason {
        match self {
            SeatRefusal::Invalid(_) => RefusalReason::SeatInvalid,
            SeatRefusal::Expired => RefusalReason::SeatExpired,
            SeatRefusal::WrongNode { .. } => RefusalReason::SeatWrongNode,
            SeatRefusal::WrongRoom { .. } => RefusalReason::SeatWrongRoom,
            SeatRefusal::Used => RefusalReason::SeatUsed,
            SeatRefusal::NoSeat { .. } => RefusalReason::NoSeat,
        }
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// A random seat id: 128 bits, hex.
pub fn new_seat_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Claims for a seat in `room` on node `node` at `url`, valid for `ttl`.
pub fn claims(
    room: &str,
    node: &str,
    url: &str,
    ttl: Duration,
    meta: BTreeMap<String, String>,
    private: bool,
) -> SeatClaims {
    SeatClaims {
        room: room.to_owned(),
        node: node.to_owned(),
        url: url.to_owned(),
        jti: new_seat_id(),
        exp: unix_now() + ttl.as_secs().max(1),
        meta,
        private,
    }
}

/// Signs `claims` with the seat secret.
pub fn mint(secret: &Secret, claims: &SeatClaims) -> Result<String, String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.expose()),
    )
    .map_err(|error| format!("could not sign a seat token: {error}"))
}

/// Checks `token`'s signature and expiry, and that it names node `this` and room `room`.
pub fn verify(
    secret: &Secret,
    token: &str,
    this: &str,
    room: &str,
) -> Result<SeatClaims, SeatRefusal> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = SEAT_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp"]);
    let claims = jsonwebtoken::decode::<SeatClaims>(
        token,
        &DecodingKey::from_secret(secret.expose()),
        &validation,
    )
    .map_err(|error| match error.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => SeatRefusal::Expired,
        jsonwebtoken::errors::ErrorKind::InvalidSignature => SeatRefusal::Invalid(
            "signature is invalid (another cluster's secret, or altered)".into(),
        ),
        _ => SeatRefusal::Invalid(error.to_string()),
    })?
    .claims;
    if claims.node != this {
        return Err(SeatRefusal::WrongNode {
            node: claims.node,
            url: claims.url,
            this: this.to_owned(),
        });
    }
    if claims.room != room {
        return Err(SeatRefusal::WrongRoom {
            seat_room: claims.room,
            asked: room.to_owned(),
        });
    }
    Ok(claims)
}

/// The seats this node has taken, until they expire: a seat admits one connection.
/// Bounded: an entry lives at most a seat's lifetime, and expired entries are dropped as new
/// ones arrive.
#[derive(Debug, Default)]
pub struct SeatLedger {
    used: Mutex<Used>,
}

/// The seats taken, and the size at which expired ones are dropped next: twice what was
/// left at the last sweep, so a sweep's cost is spread over as many inserts.
#[derive(Debug)]
struct Used {
    seats: HashMap<String, u64>,
    sweep_at: usize,
}

impl Default for Used {
    fn default() -> Used {
        Used {
            seats: HashMap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
}

/// Seats remembered before the first sweep.
const MIN_SWEEP: usize = 1024;

impl SeatLedger {
    /// Takes the seat `jti` expiring at `exp`; `false` when it was taken before.
    pub fn take(&self, jti: &str, exp: u64) -> bool {
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if used.seats.len() >= used.sweep_at {
            let now = unix_now();
            used.seats
                .retain(|_, expiry| *expiry + SEAT_LEEWAY_SECS >= now);
            used.sweep_at = (used.seats.len() * 2).max(MIN_SWEEP);
        }
        used.seats.insert(jti.to_owned(), exp).is_none()
    }

    /// Seats remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .seats
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("s".repeat(32))
    }

    #[test]
    fn a_seat_admits_its_room_on_its_node_once() {
        let claims = claims(
            "r1",
            "n1",
            "ws://n1/ws",
            Duration::from_secs(10),
            BTreeMap::new(),
            false,
        );
        let token = mint(&secret(), &claims).unwrap();
        assert_eq!(verify(&secret(), &token, "n1", "r1").unwrap(), claims);
        let ledger = SeatLedger::default();
        assert!(ledger.take(&claims.jti, claims.exp));
        assert!(!ledger.take(&claims.jti, claims.exp));
    }

    #[test]
    fn another_node_another_room_another_secret_or_an_old_seat_are_refused() {
        let claims = claims(
            "r1",
            "n1",
            "ws://n1/ws",
            Duration::from_secs(10),
            BTreeMap::new(),
            false,
        );
        let token = mint(&secret(), &claims).unwrap();
        let wrong_node = verify(&secret(), &token, "n2", "r1").unwrap_err();
        assert_eq!(
            wrong_node.to_string(),
            "this seat is for node n1 at ws://n1/ws, not this node (n2); connect to ws://n1/ws"
        );
        assert_eq!(wrong_node.status().0, 421);
        assert!(matches!(
            verify(&secret(), &token, "n1", "r2"),
            Err(SeatRefusal::WrongRoom { .. })
        ));
        assert!(matches!(
            verify(&Secret::new("t".repeat(32)), &token, "n1", "r1"),
            Err(SeatRefusal::Invalid(_))
        ));
        let old = SeatClaims {
            exp: unix_now() - 60,
            ..claims
        };
        let token = mint(&secret(), &old).unwrap();
        assert_eq!(
            verify(&secret(), &token, "n1", "r1"),
            Err(SeatRefusal::Expired)
        );
        assert!(matches!(
            verify(&secret(), "garbage", "n1", "r1"),
            Err(SeatRefusal::Invalid(_))
        ));
    }

    #[test]
    fn the_ledger_forgets_expired_seats() {
        let ledger = SeatLedger::default();
        let past = unix_now() - 60;
        for i in 0..5_000 {
            ledger.take(&format!("seat-{i}"), past);
        }
        assert!(ledger.len() <= 1024, "{}", ledger.len());
    }
}
