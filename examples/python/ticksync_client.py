#!/usr/bin/env python3
"""A minimal ticksync client in Python, speaking the JSON text codec.

It shows everything a client of a ticksync server has to do, in one file that needs only
the ``websocket-client`` package (its callback API, ``WebSocketApp``):

1. connect to ``ws://HOST:PORT/ws`` offering the subprotocol ``ticksync.v1.json``, so
   every message travels as one JSON text frame (serde_json's default form of the
   server's Rust types);
2. send ``Hello`` and wait for ``Welcome``, which names the player's entity and the tick
   rate (printed as ``joined: entity=#5 tick=... tick_rate=30Hz world=2000x2000 nodelay=1``,
   the last being TCP_NODELAY as the kernel reports it for the connection);
3. send one ``Input`` per tick: a sequence number, the tick of the last snapshot applied
   (the acknowledgement the server encodes its next deltas against) and a move direction,
   which here turns steadily so the entity runs in a circle;
4. apply every ``Snapshot`` to a local view: a full one (``baseline_tick`` 0) replaces it,
   a delta is applied to the held view of its baseline tick after dead reckoning every
   entity forward; then check the server's FNV-1a checksum of the view;
5. send a ``Ping`` once a second and measure the round trip from its ``Pong``;
6. print once a second a status line such as
   ``t=3.0s tick=812 entity=#5 pos=(1012.3, 998.1) rtt=1.2ms entities=21 desyncs=0``;
7. after ``--duration`` seconds (0: until Ctrl-C) send ``"Leave"``, wait for the server to
   close, print a final line and exit.

Exit status: 0 after a clean run; 1 when the connection failed or closed before the end,
the server sent an ``Error``, or a snapshot failed its checksum (a desync); 2 for bad
arguments.

Usage::

    python ticksync_client.py --url ws://127.0.0.1:7878/ws --name py --duration 10

Units on the wire: positions are 1/64 world unit (``x`` of 64000 is 1000.0 units),
velocities are position steps per tick, headings are 1/65536 of a turn.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Optional, Union
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websocket

PROTOCOL_VERSION = 1
SUBPROTOCOL_JSON = "ticksync.v1.json"
DEFAULT_URL = "ws://127.0.0.1:7878/ws"

#: Position steps per world unit.
POSITION_STEPS_PER_UNIT = 64.0
#: Move-direction steps per unit on each axis (a direction is an i8 pair of length <= 127).
DIRECTION_STEPS = 127
#: Seconds per full turn of the move direction. The arena moves at 300 units/s, so the
#: entity runs a circle of about 95 units radius.
CIRCLE_PERIOD_S = 2.0
#: Most snapshot views kept as possible baselines (the server deltas against the last tick
#: acknowledged, about one round trip old).
MAX_HELD_VIEWS = 64
#: How long to wait for `Welcome` after connecting, and for the server's close after `Leave`.
WELCOME_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 3.0
#: Socket options for the connection: Nagle off, so that inputs and pings leave at once.
TCP_NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
FNV_OFFSET_BASIS = 0x811C9DC5
FNV_PRIME = 0x01000193


@dataclass(frozen=True)
class Entity:
    """One entity's replicated state, in wire units."""

    id: int
    x: int
    y: int
    vx: int
    vy: int
    heading: int

    def predict(self, ticks: int) -> Entity:
        """Dead reckoning: the position `ticks` ticks later if the velocity holds (saturating
        at the i32 range, as the server does)."""

        def advance(position: int, velocity: int) -> int:
            return max(I32_MIN, min(I32_MAX, position + velocity * ticks))

        return Entity(
            self.id,
            advance(self.x, self.vx),
            advance(self.y, self.vy),
            self.vx,
            self.vy,
            self.heading,
        )


def wrap_i32(value: int) -> int:
    """Two's-complement wrap-around to i32, like Rust's `wrapping_add`."""
    return (value + 2**31) % 2**32 - 2**31


def fnv1a(data: bytes, state: int = FNV_OFFSET_BASIS) -> int:
    """32-bit FNV-1a."""
    for byte in data:
        state = ((state ^ byte) * FNV_PRIME) & 0xFFFFFFFF
    return state


def view_checksum(view: dict[int, Entity]) -> int:
    """The server's `view_checksum`: FNV-1a over the little-endian u32 checksums of the
    entities in id order; each entity's checksum is FNV-1a over its fields
    (id u32, x i32, y i32, vx i16, vy i16, heading u16), little-endian."""
    per_entity = bytearray()
    for entity_id in sorted(view):
        e = view[entity_id]
        fields = struct.pack("<IiihhH", e.id, e.x, e.y, e.vx, e.vy, e.heading)
        per_entity += struct.pack("<I", fnv1a(fields))
    return fnv1a(bytes(per_entity))


class Desync(Exception):
    """A snapshot that cannot be applied to the views this client holds."""


class ViewStore:
    """The views of recent snapshots, by tick: the current one, and older ones the server
    may still use as delta baselines."""

    def __init__(self) -> None:
        self.views: dict[int, dict[int, Entity]] = {}
        self.tick = 0  # tick of the current view; 0 before the first snapshot

    @property
    def current(self) -> dict[int, Entity]:
        return self.views.get(self.tick, {})

    def apply(self, snapshot: dict[str, Any]) -> None:
        """Applies a snapshot and makes the result current; raises `Desync` (changing
        nothing) when it does not fit or its checksum does not match."""
        tick: int = snapshot["tick"]
        baseline_tick: int = snapshot["baseline_tick"]
        if tick <= self.tick:
            raise Desync(f"snapshot {tick} is not newer than the view at {self.tick}")
        if baseline_tick == 0:
            view: dict[int, Entity] = {}
        else:
            baseline = self.views.get(baseline_tick)
            if baseline is None:
                raise Desync(f"baseline tick {baseline_tick} is not a view this client holds")
            ticks = tick - baseline_tick
            view = {entity_id: e.predict(ticks) for entity_id, e in baseline.items()}

        for change in snapshot["changed"]:
            predicted = view.get(change["id"])
            if predicted is None:
                raise Desync(f"changed entity #{change['id']} is not in the view")
            x, y, vx, vy, heading = (
                predicted.x,
                predicted.y,
                predicted.vx,
                predicted.vy,
                predicted.heading,
            )
            if change["position_offset"] is not None:
                dx, dy = change["position_offset"]
                x, y = wrap_i32(x + dx), wrap_i32(y + dy)
            if change["velocity"] is not None:
                vx, vy = change["velocity"]
            if change["heading"] is not None:
                heading = change["heading"]
            view[predicted.id] = Entity(predicted.id, x, y, vx, vy, heading)
        for entity_id in snapshot["removed"]:
            if view.pop(entity_id, None) is None:
                raise Desync(f"removed entity #{entity_id} is not in the view")
        for created in snapshot["created"]:
            if created["id"] in view:
                raise Desync(f"created entity #{created['id']} is already in the view")
            view[created["id"]] = Entity(
                created["id"],
                created["x"],
                created["y"],
                created["vx"],
                created["vy"],
                created["heading"],
            )

        actual = view_checksum(view)
        if actual != snapshot["checksum"]:
            raise Desync(f"view checksum {actual:#010x} != server's {snapshot['checksum']:#010x}")

        self.views[tick] = view
        self.tick = tick
        # The server's baseline only moves forward (it is the latest acknowledgement), so
        # views older than this snapshot's baseline are never needed again.
        if baseline_tick:
            for old in [t for t in self.views if t < baseline_tick]:
                del self.views[old]
        while len(self.views) > MAX_HELD_VIEWS:
            del self.views[min(self.views)]


class TicksyncClient:
    """Runs one player session on a `websocket.WebSocketApp`.

    The app's callbacks run on the thread that calls `run()`; a sender thread sends the
    inputs and pings, prints the status and ends the session. Shared state is guarded by
    `self.lock`; `WebSocketApp.send` is safe to call from both threads.
    """

    def __init__(self, url: str, name: str, duration_s: float) -> None:
        self.url = url
        self.name = name
        self.duration_s = duration_s
        self.lock = threading.Lock()
        self.views = ViewStore()
        self.welcome: Optional[dict[str, Any]] = None
        self.welcomed_at = 0.0
        self.rtt_ms: Optional[float] = None
        self.snapshots = 0
        self.delta_snapshots = 0  # applied against a baseline (not full)
        self.desyncs = 0
        self.inputs_sent = 0
        self.failure: Optional[str] = None  # why the run failed, if it did
        self.left = False  # "Leave" sent: a close from now on is the expected end
        self.stop_requested = threading.Event()  # Ctrl-C / SIGTERM
        self.welcomed = threading.Event()
        self.closed = threading.Event()
        self.epoch = time.monotonic()
        self.app = websocket.WebSocketApp(
            url,
            subprotocols=[SUBPROTOCOL_JSON],
            on_open=self.on_open,
            on_message=self.on_message,
            on_error=self.on_error,
            on_close=self.on_close,
        )

    # --- WebSocketApp callbacks (run_forever's thread) ---

    def on_open(self, app: websocket.WebSocketApp) -> None:
        self.send({"Hello": {"protocol_version": PROTOCOL_VERSION, "player_name": self.name}})

    def on_message(self, app: websocket.WebSocketApp, text: Union[str, bytes]) -> None:
        if isinstance(text, bytes):
            self.fail("received a binary frame on the JSON codec")
            app.close()
            return
        # Every server message is an object with one key, the message's name.
        message = json.loads(text)
        if not isinstance(message, dict) or len(message) != 1:
            self.fail(f"unexpected message: {text[:200]}")
            return
        ((kind, body),) = message.items()
        if kind == "Snapshot":
            self.on_snapshot(body)
        elif kind == "Pong":
            rtt_ms = (self.now_us() - body["client_time_us"]) / 1000.0
            with self.lock:
                self.rtt_ms = rtt_ms
        elif kind == "Welcome":
            self.on_welcome(body)
        elif kind == "Error":
            self.fail(f"server error {body['code']}: {body['message']}")
        else:
            self.fail(f"unknown message {kind!r}")

    def on_error(self, app: websocket.WebSocketApp, error: Exception) -> None:
        # After a failure (e.g. the server's Error message) this is usually its echo.
        if not self.left and self.failure is None:
            self.fail(f"connection error: {error!r}")

    def on_close(
        self, app: websocket.WebSocketApp, code: Optional[int], reason: Optional[str]
    ) -> None:
        if not self.left and self.failure is None:
            self.fail(f"the server closed the connection early (code {code}, reason {reason!r})")
        elif self.failure is not None and code is not None:
            log(f"connection closed: code {code}, reason {reason!r}", error=True)
        self.closed.set()

    # --- message handling ---

    def on_welcome(self, welcome: dict[str, Any]) -> None:
        with self.lock:
            self.welcome = welcome
            self.welcomed_at = time.monotonic()
        size = welcome["world_size"]
        log(
            f"joined: entity=#{welcome['entity_id']} tick={welcome['tick']} "
            f"tick_rate={welcome['tick_rate_hz']}Hz world={size['width']}x{size['height']} "
            f"nodelay={self.nodelay()}"
        )
        self.welcomed.set()

    def nodelay(self) -> str:
        """TCP_NODELAY on the connection as the kernel reports it: "1", "0", or "?"."""
        sock = getattr(self.app.sock, "sock", None)
        if sock is None:
            return "?"
        try:
            return str(int(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0))
        except OSError:
            return "?"

    def on_snapshot(self, snapshot: dict[str, Any]) -> None:
        with self.lock:
            self.snapshots += 1
            try:
                self.views.apply(snapshot)
                if snapshot["baseline_tick"] != 0:
                    self.delta_snapshots += 1
            except Desync as desync:
                # The view, and so the tick acknowledged, stays at the last good snapshot.
                self.desyncs += 1
                log(f"desync at tick {snapshot['tick']}: {desync}", error=True)

    # --- the sender thread ---

    def drive(self) -> None:
        """Waits for `Welcome`, then sends an input per tick and a ping per second until
        the duration is over or the connection closes; then leaves."""
        deadline = time.monotonic() + WELCOME_TIMEOUT_S
        while not self.welcomed.wait(0.05):
            if self.closed.is_set():
                return
            if self.stop_requested.is_set():
                self.fail("interrupted before Welcome")
                self.app.close()
                return
            if time.monotonic() > deadline:
                self.fail(f"no Welcome within {WELCOME_TIMEOUT_S:.0f} s")
                self.app.close()
                return
        assert self.welcome is not None
        period = 1.0 / self.welcome["tick_rate_hz"]
        start = time.monotonic()
        next_tick = start
        next_ping = start
        next_status = start + 1.0
        seq = 0
        while not self.closed.is_set():
            now = time.monotonic()
            if self.stop_requested.is_set() or (
                self.duration_s > 0 and now - start >= self.duration_s
            ):
                break
            if now >= next_tick:
                seq += 1
                angle = 2.0 * math.pi * (now - start) / CIRCLE_PERIOD_S
                with self.lock:
                    ack_tick = self.views.tick
                # Truncation keeps the length at most 127 (the server clamps it anyway).
                move = {
                    "x": int(DIRECTION_STEPS * math.cos(angle)),
                    "y": int(DIRECTION_STEPS * math.sin(angle)),
                }
                self.send(
                    {"Input": {"seq": seq, "ack_tick": ack_tick, "move_dir": move, "buttons": 0}}
                )
                self.inputs_sent = seq
                next_tick += period
                if next_tick < now - 4 * period:
                    # Fell far behind (a stalled process): skip ahead rather than burst.
                    next_tick = now + period
            if now >= next_ping:
                self.send({"Ping": {"client_time_us": self.now_us()}})
                next_ping += 1.0
            if now >= next_status:
                log(self.status_line(now - start))
                next_status += 1.0
            time.sleep(max(0.0, min(next_tick, next_ping, next_status) - time.monotonic()))
        if self.closed.is_set():
            return
        self.left = True
        self.send("Leave")
        # The server answers `Leave` by closing with 1000; close ourselves if it does not.
        if not self.closed.wait(CLOSE_TIMEOUT_S):
            self.app.close()

    # --- helpers ---

    def status_line(self, elapsed_s: float) -> str:
        with self.lock:
            me = self.welcome["entity_id"] if self.welcome else None
            view = self.views.current
            entity = view.get(me) if me is not None else None
            pos = "(?, ?)"
            if entity is not None:
                x, y = entity.x / POSITION_STEPS_PER_UNIT, entity.y / POSITION_STEPS_PER_UNIT
                pos = f"({x:.1f}, {y:.1f})"
            rtt = f"{self.rtt_ms:.1f}ms" if self.rtt_ms is not None else "?"
            return (
                f"t={elapsed_s:.1f}s tick={self.views.tick} entity=#{me} pos={pos} rtt={rtt} "
                f"entities={len(view)} desyncs={self.desyncs}"
            )

    def send(self, message: Any) -> None:
        try:
            self.app.send(json.dumps(message, separators=(",", ":")))
        except websocket.WebSocketException as error:
            if not self.left:
                self.fail(f"send failed: {error!r}")

    def now_us(self) -> int:
        return int((time.monotonic() - self.epoch) * 1_000_000)

    def fail(self, reason: str) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = reason
        log(reason, error=True)

    def run(self) -> int:
        """Runs the session to its end; returns the process exit status."""
        driver = threading.Thread(target=self.drive, name="ticksync-sender", daemon=True)
        driver.start()
        # Nagle off (PROTOCOL.md §2): with it on, a small frame written while an earlier one
        # is unacknowledged waits for the server's next packet, so a Ping sent right after
        # an Input would wait for the next snapshot. websocket-client sets TCP_NODELAY by
        # default; it is named here so that the client does not depend on that default.
        self.app.run_forever(sockopt=TCP_NODELAY)
        self.closed.set()
        driver.join(timeout=CLOSE_TIMEOUT_S + 1.0)
        with self.lock:
            elapsed = time.monotonic() - self.welcomed_at if self.welcome else 0.0
            summary = (
                f"snapshots={self.snapshots} deltas={self.delta_snapshots} "
                f"inputs={self.inputs_sent}"
            )
        if self.failure is None and not self.left:
            self.failure = "the connection ended before the run did"
        if self.failure is None and self.desyncs:
            self.failure = f"{self.desyncs} snapshot(s) did not match the server's checksum"
        if self.failure is not None:
            when = f" after {elapsed:.1f}s" if self.welcome else " before Welcome"
            log(f"FAILED{when}: {self.failure}; {summary} desyncs={self.desyncs}", error=True)
            return 1
        log(f"done: {self.status_line(elapsed)} {summary}")
        return 0


def log(line: str, error: bool = False) -> None:
    print(line, file=sys.stderr if error else sys.stdout, flush=True)


def with_query(url: str, **params: Optional[str]) -> str:
    """`url` with the given query parameters added (those that are not None)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(key, value) for key, value in params.items() if value is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="A ticksync player over the JSON codec: runs in a circle."
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"server WebSocket URL (default {DEFAULT_URL})"
    )
    parser.add_argument("--name", default="py", help="player name (default py)")
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="seconds to play; 0 = until Ctrl-C (default)",
    )
    parser.add_argument("--room", help="room to join (appended as ?room=)")
    parser.add_argument("--token", help="join token (appended as ?token=)")
    args = parser.parse_args(argv)
    if args.duration < 0:
        parser.error("--duration must be 0 or positive")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    client = TicksyncClient(
        with_query(args.url, room=args.room, token=args.token), args.name, args.duration
    )

    def request_stop(signum: int, frame: Any) -> None:
        # Leave cleanly on Ctrl-C or SIGTERM: the sender thread sends "Leave".
        client.stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return client.run()


if __name__ == "__main__":
    sys.exit(main())
