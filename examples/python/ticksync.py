"""A generic ticksync client library in Python, over the JSON text codec.

It knows no game: everything game-specific comes from the schema description the server
publishes at ``GET /schema`` (entity fields with their wire types, dead-reckoning rules and
checksum order; the subprotocol names). With it, this module

- fetches the description (``fetch_schema``, standard library only) and compiles it
  (``Schema``): checks of every field's type and range, dead reckoning, delta application
  and the FNV-1a checksums of protocol/src/replicated.rs, for every wire type (u8 … i64,
  bool, f32);
- keeps the views a client needs as delta baselines (``ViewStore``, the Quake 3 model: every
  acknowledged view until a snapshot's baseline moves past it) and verifies the server's
  checksum after every snapshot;
- runs a session (``Session``, on ``websocket-client``'s ``WebSocketApp``, with TCP_NODELAY
  set): Hello or Resume, Welcome, snapshots, the game's messages, inputs (the game's
  payload), acknowledgements, Ping/Pong, Leave; a server that refuses the upgrade (another schema) has its answer passed
  on as the error.

``ticksync_client.py`` is an example game client on top of it (the arena).
tests/browser/schema_vectors.json, made by the Rust protocol crate, holds this module to the
Rust implementation (``test_ticksync.py``).
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import urlencode, urlsplit, urlunsplit

#: Version of the envelope (the messages every game shares); Hello and Resume name it.
ENVELOPE_VERSION = 2
#: Most views held as possible baselines, whatever the server does.
MAX_HELD_VIEWS = 64
SCHEMA_PATH = "/schema"
#: Socket options for the connection: Nagle off, so that inputs and pings leave at once.
TCP_NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

FNV_OFFSET_BASIS = 0x811C9DC5
FNV_PRIME = 0x01000193

#: Error codes of the server's ``Error`` message.
ERROR_CODES = {
    1: "MalformedMessage",
    2: "UnsupportedProtocolVersion",
    3: "UnexpectedTextFrame",
    4: "MessageTooLarge",
    5: "UnexpectedMessage",
    6: "InvalidHello",
    7: "RoomFull",
    8: "ServerShuttingDown",
    9: "TooSlow",
    10: "IdleTimeout",
    11: "Internal",
    12: "Flooding",
    13: "ResumeRefused",
    14: "Replaced",
    15: "NoRoomAvailable",
    16: "UnexpectedBinaryFrame",
    17: "JoinRefused",
    18: "Kicked",
    19: "RoomEnded",
    20: "TooManyMessages",
}


class ProtocolError(Exception):
    """A frame or a description that is not what the protocol allows."""


class Desync(Exception):
    """A snapshot that does not fit the views this client holds, or fails its checksum."""


# --- wire types ---------------------------------------------------------------------------


@dataclass(frozen=True)
class WireType:
    """One wire type: how a value is checked and fed to the checksum."""

    name: str
    bits: int = 0  # integers only
    signed: bool = False

    @property
    def integer(self) -> bool:
        return self.bits > 0

    @property
    def min(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def max(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def check(self, value: Any) -> Any:
        """The value as this type holds it; raises ``ProtocolError`` if it is not one."""
        if self.integer:
            if type(value) is int and self.min <= value <= self.max:
                return value
        elif self.name == "bool":
            if type(value) is bool:
                return value
        elif self.name == "f32":
            # serde_json writes a non-finite float as null: NaN or infinity, whose bits JSON
            # does not carry; taken as NaN (a checksum over it may then fail).
            if value is None:
                return float("nan")
            if type(value) in (int, float):
                try:
                    return struct.unpack("<f", struct.pack("<f", value))[0]
                except (OverflowError, struct.error):
                    pass
        raise ProtocolError(f"{value!r} is not a {self.name}")

    def clamp(self, value: int) -> int:
        return max(self.min, min(self.max, value))

    def wrap(self, value: int) -> int:
        """Two's-complement wrap-around into the type, like Rust's ``wrapping_add``."""
        value &= (1 << self.bits) - 1
        return value - (1 << self.bits) if value > self.max else value

    def bytes(self, value: Any) -> bytes:
        """The little-endian bytes the checksum reads."""
        if self.integer:
            return (value & ((1 << self.bits) - 1)).to_bytes(self.bits // 8, "little")
        if self.name == "bool":
            return b"\x01" if value else b"\x00"
        return struct.pack("<f", value)


WIRE_TYPES = {
    t.name: t
    for t in [
        WireType("u8", 8),
        WireType("i8", 8, True),
        WireType("u16", 16),
        WireType("i16", 16, True),
        WireType("u32", 32),
        WireType("i32", 32, True),
        WireType("u64", 64),
        WireType("i64", 64, True),
        WireType("bool"),
        WireType("f32"),
    ]
}


def fnv1a(data: bytes, state: int = FNV_OFFSET_BASIS) -> int:
    """32-bit FNV-1a."""
    for byte in data:
        state = ((state ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return state


# --- the schema ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    name: str
    wire: WireType
    velocity: Optional[str]  # the field that dead-reckons this one
    interest: Optional[str]


#: An entity's state: the schema's fields by name.
State = dict[str, Any]


class Schema:
    """A game's schema compiled from its description (``GET /schema``)."""

    def __init__(self, description: dict[str, Any]) -> None:
        try:
            if description["envelope_version"] != ENVELOPE_VERSION:
                raise ProtocolError(
                    f"the server speaks envelope v{description['envelope_version']}, "
                    f"this client v{ENVELOPE_VERSION}"
                )
            self.description = description
            self.game: str = description["game"]
            self.hash: str = description["hash"]
            self.subprotocols: dict[str, str] = dict(description["subprotocols"])
            entity = description["entity"]
            self.position_scale: int = entity.get("position_scale", 1)
            raw_fields = entity["fields"]
            by_name = {f["name"]: f for f in raw_fields}
            if not raw_fields or len(by_name) != len(raw_fields):
                raise ProtocolError("the entity has no fields, or repeats a name")
            fields = []
            for f in raw_fields:
                wire = WIRE_TYPES.get(f["type"])
                if wire is None:
                    raise ProtocolError(f"field {f['name']} has unknown type {f['type']!r}")
                velocity = f.get("predict")
                if velocity is not None:
                    v = by_name.get(velocity)
                    if (
                        v is None
                        or v.get("predict") is not None
                        or not wire.integer
                        or not WIRE_TYPES.get(v["type"], WIRE_TYPES["bool"]).integer
                    ):
                        raise ProtocolError(
                            f"field {f['name']} is predicted by {velocity!r}, "
                            "which is not an integer velocity field"
                        )
                fields.append(Field(f["name"], wire, velocity, f.get("interest")))
        except (KeyError, TypeError) as error:
            raise ProtocolError(f"malformed schema description: {error!r}") from error
        self.fields: list[Field] = fields
        self.fields_by_name = {f.name: f for f in fields}
        self.predicted = [f for f in fields if f.velocity is not None]

    def check_state(self, value: Any) -> State:
        """A full state from the wire, every field checked."""
        if not isinstance(value, dict) or set(value) != set(self.fields_by_name):
            raise ProtocolError(f"malformed entity state {value!r}")
        return {f.name: f.wire.check(value[f.name]) for f in self.fields}

    def check_delta(self, value: Any) -> State:
        """A delta from the wire: some fields (offsets for the dead-reckoned ones)."""
        if not isinstance(value, dict):
            raise ProtocolError(f"malformed entity delta {value!r}")
        delta = {}
        for name, v in value.items():
            f = self.fields_by_name.get(name)
            if f is None:
                raise ProtocolError(f"entity delta names unknown field {name!r}")
            delta[name] = f.wire.check(v)
        return delta

    def predict(self, state: State, ticks: int) -> State:
        """Dead reckoning: each predicted field becomes ``value + velocity × ticks``,
        saturated to its type; the others are unchanged."""
        if ticks == 0 or not self.predicted:
            return state
        out = dict(state)
        for f in self.predicted:
            out[f.name] = f.wire.clamp(state[f.name] + state[f.velocity] * ticks)
        return out

    def apply_delta(self, predicted: State, delta: State) -> State:
        """A predicted field's delta is an offset (wrapping in its type); any other
        field's is its new value."""
        state = dict(predicted)
        for name, value in delta.items():
            f = self.fields_by_name[name]
            state[name] = f.wire.wrap(predicted[name] + value) if f.velocity else value
        return state

    def entity_checksum(self, entity_id: int, state: State) -> int:
        """FNV-1a over the id (u32) and every field in declaration order, little-endian."""
        data = bytearray(struct.pack("<I", entity_id))
        for f in self.fields:
            data += f.wire.bytes(state[f.name])
        return fnv1a(bytes(data))

    def view_checksum(self, view: dict[int, State]) -> int:
        """FNV-1a over the entity checksums (u32, little-endian) in id order."""
        data = bytearray()
        for entity_id in sorted(view):
            data += struct.pack("<I", self.entity_checksum(entity_id, view[entity_id]))
        return fnv1a(bytes(data))


def schema_url(ws_url: str) -> str:
    """The ``GET /schema`` URL of the server behind a WebSocket URL (ws → http, wss → https)."""
    parts = urlsplit(ws_url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return urlunsplit((scheme, parts.netloc, SCHEMA_PATH, "", ""))


def fetch_schema(ws_url: str, timeout_s: float = 10.0) -> Schema:
    """Fetches and compiles the schema of the server behind ``ws_url``."""
    url = schema_url(ws_url)
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return Schema(json.loads(response.read().decode("utf-8")))
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ProtocolError(f"cannot fetch the game schema from {url}: {error}") from error


# --- the cluster's matchmaker --------------------------------------------------------------


def matchmake(
    matchmaker: str, action: str, body: dict[str, Any], timeout_s: float = 10.0
) -> dict[str, Any]:
    """Asks a cluster's matchmaker for a seat: ``action`` is ``join`` (``{"room": NAME}``),
    ``create`` (``{"room"?, "metadata"?, "private"?}``) or ``join-or-create``
    (``{"filters": {...}}``); ``matchmaker`` is any node's game port, ``http://host:port``.

    Returns the seat reservation: ``room``, ``node``, ``url`` (the node's WebSocket URL),
    ``seat`` (single-use, short-lived), ``connect`` (the URL to dial) and ``expires_in_s``.
    A refusal raises ``ProtocolError`` with the status and the matchmaker's reason.
    """
    url = matchmaker.rstrip("/") + "/matchmake/" + action
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read().decode("utf-8")).get("error", "")
        except ValueError:
            reason = ""
        raise ProtocolError(f"the matchmaker at {url} refused ({error.code}): {reason}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ProtocolError(f"cannot reach the matchmaker at {url}: {error}") from error


def resume_url(seat: dict[str, Any]) -> str:
    """Where a player with this seat resumes after a drop: the same node and room, no seat
    (a node admits a resume into a room it runs)."""
    parts = urlsplit(seat["url"])
    return urlunsplit(parts._replace(query=urlencode([("room", seat["room"])])))


# --- snapshots and views ------------------------------------------------------------------


def _sorted_ids(ids: list[int]) -> bool:
    return all(a < b for a, b in zip(ids, ids[1:]))


def decode_snapshot(schema: Schema, body: Any) -> dict[str, Any]:
    """A ``Snapshot`` body with every envelope and entity field checked."""
    try:
        snapshot = {
            key: body[key] for key in ("tick", "baseline_tick", "last_input_seq", "checksum")
        }
        if not all(type(v) is int and 0 <= v <= 0xFFFFFFFF for v in snapshot.values()):
            raise ProtocolError("snapshot header out of range")
        # Arrival feedback (PROTOCOL.md §7): how early the last applied input arrived, 0.1 ms.
        snapshot["input_margin_100us"] = WIRE_TYPES["i16"].check(body["input_margin_100us"])
        snapshot["created"] = [
            (WIRE_TYPES["u32"].check(e["id"]), schema.check_state(e["state"]))
            for e in body["created"]
        ]
        snapshot["changed"] = [
            (WIRE_TYPES["u32"].check(e["id"]), schema.check_delta(e["delta"]))
            for e in body["changed"]
        ]
        snapshot["removed"] = [WIRE_TYPES["u32"].check(i) for i in body["removed"]]
    except (KeyError, TypeError) as error:
        raise ProtocolError(f"malformed snapshot: {error!r}") from error
    return snapshot


@dataclass
class HeldView:
    tick: int
    entities: dict[int, State]  # by id, in id order
    acked: bool = False


class ViewStore:
    """The views of recent snapshots, newest last (protocol/src/sync/view.rs): the server
    deltas against the latest tick this client acknowledged, so every acknowledged view is
    kept until a snapshot's baseline moves past it, and a view never acknowledged is dropped
    once a newer one exists."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.views: list[HeldView] = []

    @property
    def tick(self) -> int:
        """Tick of the current view (the one to acknowledge); 0 before the first."""
        return self.views[-1].tick if self.views else 0

    @property
    def current(self) -> dict[int, State]:
        return self.views[-1].entities if self.views else {}

    def mark_current_acked(self) -> None:
        if self.views:
            self.views[-1].acked = True

    def apply(self, snapshot: dict[str, Any]) -> dict[int, State]:
        """Applies a decoded snapshot and makes the result current; raises ``Desync``
        (changing nothing) when it does not fit or its checksum does not match."""
        tick, baseline_tick = snapshot["tick"], snapshot["baseline_tick"]
        if tick <= self.tick:
            raise Desync(f"snapshot {tick} is not newer than the view at {self.tick}")
        baseline: dict[int, State] = {}
        ticks = 0
        if baseline_tick != 0:
            held = next((v for v in self.views if v.tick == baseline_tick), None)
            if held is None:
                raise Desync(f"its baseline (tick {baseline_tick}) is not a view this client holds")
            baseline, ticks = held.entities, tick - baseline_tick
        created, changed, removed = snapshot["created"], snapshot["changed"], snapshot["removed"]
        if not (
            _sorted_ids([i for i, _ in created])
            and _sorted_ids([i for i, _ in changed])
            and _sorted_ids(removed)
        ):
            raise Desync("delta lists are not sorted by id")
        gone = set(removed)
        view = {i: self.schema.predict(s, ticks) for i, s in baseline.items() if i not in gone}
        for entity_id in removed:
            if entity_id not in baseline:
                raise Desync(f"entity #{entity_id} is removed but does not exist")
        for entity_id, delta in changed:
            if entity_id not in view:
                raise Desync(f"entity #{entity_id} is changed but does not exist")
            view[entity_id] = self.schema.apply_delta(view[entity_id], delta)
        for entity_id, state in created:
            if entity_id in baseline:
                raise Desync(f"entity #{entity_id} is created but already exists")
            view[entity_id] = state
        view = dict(sorted(view.items()))
        actual = self.schema.view_checksum(view)
        if actual != snapshot["checksum"]:
            raise Desync(
                f"view checksum {actual:#010x} does not match the server's {snapshot['checksum']:#010x}"
            )
        self.views = [v for v in self.views if v.acked and v.tick >= baseline_tick]
        self.views.append(HeldView(tick, view))
        del self.views[:-MAX_HELD_VIEWS]
        return view


# --- input timing -------------------------------------------------------------------------

#: Microseconds per unit of Snapshot.input_margin_100us (arrival feedback).
INPUT_MARGIN_UNIT_US = 100


class InputClock:
    """When to send the next input (``time.monotonic()`` seconds), aimed with the server's
    arrival feedback so inputs arrive a small margin before the tick (PROTOCOL.md §7).

    Phase: the next send moves by half of (sample - aim), at most an eighth of a tick, then
    waits for the feedback of an input sent after that move. Rate: a slow, bounded trim of
    the period for clock drift. Aim: a floor plus 1.5x the late spread (p50 - p5) of recent
    samples, after taking out the clock's own moves; a missed tick raises it at once. The
    same controller as the Rust client's (client/src/input_clock.rs); it reads only the
    envelope's feedback, so it serves any game.
    """

    MIN_MARGIN_S = 0.002  # Python's sleep is coarser than a native timer
    WINDOW = 64

    def __init__(self, period_s: float, first_s: float) -> None:
        self.period = period_s
        self.next_send = first_s
        self.trim = 0.0
        self.settle_seq = 0
        self.sampled_seq = 0
        self.offset = 0.0
        self.due_offset = 0.0
        self.sent: dict[int, tuple[int, float]] = {}
        self.recent: list[float] = []
        self.miss_bump = 0.0
        self.missed = 0
        self.samples = 0
        self.last_margin_s: Optional[float] = None

    def advance(self, now: float) -> None:
        """The send that was due happened at ``now``; schedules the next one."""
        self.due_offset = self.offset
        self.offset += self.trim
        self.next_send += self.period + self.trim
        if self.next_send + self.period < now:  # stalled: restart rather than burst
            self.next_send = now + self.period

    def on_sent(self, seq: int) -> None:
        self.sent[seq % 64] = (seq, self.due_offset)

    def aim(self) -> float:
        jitter = 0.0
        if len(self.recent) >= 8:
            ordered = sorted(self.recent)
            last = len(ordered) - 1
            jitter = ordered[round(last * 0.5)] - ordered[round(last * 0.05)]
        return min(self.MIN_MARGIN_S + 1.5 * jitter + self.miss_bump, self.period / 2)

    def on_feedback(self, last_input_seq: int, margin_100us: int, next_seq: int) -> None:
        if last_input_seq == 0 or last_input_seq <= self.sampled_seq:
            return
        self.sampled_seq = last_input_seq
        self.samples += 1
        sample = margin_100us * INPUT_MARGIN_UNIT_US / 1e6
        self.last_margin_s = sample
        if sample < 0:
            self.missed += 1
            self.miss_bump += 0.001
        else:
            self.miss_bump *= 0.98
        seq, offset = self.sent.get(last_input_seq % 64, (0, self.due_offset))
        corrected = sample + (offset if seq == last_input_seq else self.due_offset)
        if self.recent:
            while corrected - self.recent[-1] > self.period / 2:
                corrected -= self.period
            while self.recent[-1] - corrected > self.period / 2:
                corrected += self.period
        self.recent = (self.recent + [corrected])[-self.WINDOW :]
        error = min(sample, self.period) - self.aim()
        if abs(error) <= 0.06 * self.period:
            limit = 0.001 * self.period
            self.trim = max(-limit, min(limit, self.trim + 0.002 * error))
        if last_input_seq < self.settle_seq:
            return
        step = max(-self.period / 8, min(self.period / 8, 0.5 * error))
        self.next_send += step
        self.offset += step
        self.settle_seq = next_seq


# --- a session ----------------------------------------------------------------------------


@dataclass
class Callbacks:
    """What a game hears from a ``Session``, on the WebSocket's thread, in arrival order."""

    on_welcome: Callable[[dict[str, Any]], None] = lambda welcome: None
    #: (decoded snapshot, the view after it)
    on_snapshot: Callable[[dict[str, Any], dict[int, State]], None] = lambda s, v: None
    #: (the game's message as parsed JSON, the tick of the last snapshot applied before it)
    on_message: Callable[[Any, int], None] = lambda message, tick: None
    #: a failure: the server's Error, a refused upgrade, a desync, a broken frame
    on_error: Callable[[str], None] = lambda reason: None
    on_close: Callable[[Optional[int], Optional[str]], None] = lambda code, reason: None


@dataclass
class Counters:
    snapshots: int = 0
    deltas: int = 0  # applied against a baseline (not full)
    desyncs: int = 0
    inputs_sent: int = 0
    messages_in: int = 0
    messages_out: int = 0
    acks_sent: int = 0


class Session:
    """One player session over the JSON codec, for any game, on ``websocket.WebSocketApp``.

    ``run()`` blocks in the WebSocket's loop (callbacks run there); ``send_input``,
    ``send_ack``, ``send_message``, ``ping`` and ``leave`` may be called from any thread.
    ``subprotocol`` defaults to the schema's JSON one; a client built for a fixed layout
    passes its own, and a server running another one refuses the upgrade with a message
    naming both (passed to ``on_error``).
    """

    def __init__(
        self,
        url: str,
        schema: Schema,
        callbacks: Callbacks,
        player_name: str = "py",
        resume_token: Optional[str] = None,
        subprotocol: Optional[str] = None,
    ) -> None:
        import websocket  # websocket-client; imported here so the rest needs only stdlib

        self._websocket = websocket
        self.url = url
        self.schema = schema
        self.callbacks = callbacks
        self.player_name = player_name
        self.resume_token = resume_token
        self.subprotocol = subprotocol or schema.subprotocols["json"]
        self.lock = threading.Lock()
        self.views = ViewStore(schema)
        self.welcome: Optional[dict[str, Any]] = None
        self.rtt_ms: Optional[float] = None
        self.counters = Counters()
        self.next_seq = 1
        #: Aims the inputs at the server's tick; created by ``Welcome``.
        self.input_clock: Optional[InputClock] = None
        self.leaving = False  # "Leave" sent: the connection's end is expected
        self.epoch = time.monotonic()
        self.app = websocket.WebSocketApp(
            url,
            subprotocols=[self.subprotocol],
            on_open=self._on_open,
            on_message=self._on_frame,
            on_error=self._on_error,
            on_close=self._on_close,
        )

    def run(self) -> None:
        # Nagle off (PROTOCOL.md §2): with it on, a small frame written while an earlier one
        # is unacknowledged waits for the server's next packet, so a Ping sent right after
        # an Input would wait for the next snapshot. websocket-client sets TCP_NODELAY by
        # default; it is named here so that the session does not depend on that default.
        self.app.run_forever(sockopt=TCP_NODELAY)

    def nodelay(self) -> str:
        """TCP_NODELAY on the connection as the kernel reports it: "1", "0", or "?"."""
        sock = getattr(self.app.sock, "sock", None)
        if sock is None:
            return "?"
        try:
            return str(int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0))
        except OSError:
            return "?"

    def close(self) -> None:
        self.app.close()

    # --- sending (any thread) ---

    def send(self, message: Any) -> bool:
        try:
            self.app.send(json.dumps(message, separators=(",", ":")))
            return True
        except self._websocket.WebSocketException:
            return False

    def send_input(self, payload: Any) -> int:
        """Sends the game's input with the next sequence number, acknowledging the last
        snapshot applied; returns the sequence number (0: not sent)."""
        with self.lock:
            seq, ack_tick = self.next_seq, self.views.tick
            self.views.mark_current_acked()
            self.next_seq += 1
            if self.input_clock is not None:
                self.input_clock.on_sent(seq)
        if not self.send({"Input": {"seq": seq, "ack_tick": ack_tick, "payload": payload}}):
            return 0
        self.counters.inputs_sent += 1
        return seq

    def send_ack(self) -> int:
        """Acknowledges the last snapshot applied (for a client sending no inputs)."""
        with self.lock:
            tick = self.views.tick
            self.views.mark_current_acked()
        if tick and self.send({"Ack": {"tick": tick}}):
            self.counters.acks_sent += 1
            return tick
        return 0

    def send_message(self, message: Any) -> bool:
        """Sends a game message (its serde JSON form, e.g. ``{"Say": "hi"}`` or ``"Ready"``)."""
        sent = self.send({"Message": message})
        if sent:
            self.counters.messages_out += 1
        return sent

    def ping(self) -> None:
        self.send({"Ping": {"client_time_us": self._now_us()}})

    def leave(self) -> None:
        """Sends ``Leave``; the server removes the player and closes (1000)."""
        self.leaving = True
        self.send("Leave")

    # --- receiving (the WebSocket's thread) ---

    def _on_open(self, app: Any) -> None:
        if self.resume_token:
            self.send({"Resume": {"protocol_version": ENVELOPE_VERSION, "resume_token": self.resume_token}})
        else:
            self.send({"Hello": {"protocol_version": ENVELOPE_VERSION, "player_name": self.player_name}})

    def _on_frame(self, app: Any, text: Any) -> None:
        if isinstance(text, bytes):
            self.callbacks.on_error("received a binary frame on the JSON codec")
            return
        try:
            message = json.loads(text)
            if not isinstance(message, dict) or len(message) != 1:
                raise ProtocolError(f"unexpected message: {text[:200]}")
            ((kind, body),) = message.items()
            if kind == "Snapshot":
                self._on_snapshot(decode_snapshot(self.schema, body))
            elif kind == "Message":
                self.counters.messages_in += 1
                self.callbacks.on_message(body, self.views.tick)
            elif kind == "Pong":
                self.rtt_ms = (self._now_us() - body["client_time_us"]) / 1000.0
            elif kind == "Welcome":
                self.welcome = body
                with self.lock:
                    rate = max(1, int(body["tick_rate_hz"]))
                    self.input_clock = InputClock(1.0 / rate, time.monotonic())
                self.callbacks.on_welcome(body)
            elif kind == "Error":
                name = ERROR_CODES.get(body["code"], "unknown")
                self.callbacks.on_error(f"server error {body['code']} ({name}): {body['message']}")
            else:
                raise ProtocolError(f"unknown message {kind!r}")
        except (ProtocolError, ValueError, KeyError, TypeError) as error:
            self.callbacks.on_error(f"malformed frame: {error}")

    def _on_snapshot(self, snapshot: dict[str, Any]) -> None:
        with self.lock:
            self.counters.snapshots += 1
            if self.input_clock is not None:
                self.input_clock.on_feedback(
                    snapshot["last_input_seq"], snapshot["input_margin_100us"], self.next_seq
                )
            try:
                view = self.views.apply(snapshot)
            except Desync as desync:
                # The view, and so the tick acknowledged, stays at the last good snapshot.
                self.counters.desyncs += 1
                reason = f"desync at tick {snapshot['tick']}: {desync}"
            else:
                reason = None
                if snapshot["baseline_tick"] != 0:
                    self.counters.deltas += 1
        if reason is not None:
            self.callbacks.on_error(reason)
            return
        self.callbacks.on_snapshot(snapshot, view)

    def _on_error(self, app: Any, error: Exception) -> None:
        body = getattr(error, "resp_body", None)
        if body:
            # A refused upgrade: the server says why (e.g. another schema, naming both).
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
            status = getattr(error, "status_code", "?")
            self.callbacks.on_error(f"the server refused the connection ({status}): {text.strip()}")
        elif not self.leaving:
            self.callbacks.on_error(f"connection error: {error!r}")

    def _on_close(self, app: Any, code: Optional[int], reason: Optional[str]) -> None:
        self.callbacks.on_close(code, reason)

    def _now_us(self) -> int:
        return int((time.monotonic() - self.epoch) * 1_000_000)
