#!/usr/bin/env python3
"""A ticksync arena player in Python, over the JSON text codec.

The generic part — the schema from ``GET /schema``, delta snapshots, checksums, the
session — is ``ticksync.py`` next to this file, which knows no game. What is the arena's is
here:

1. fetch the server's schema (``http://HOST:PORT/schema``, derived from ``--url``) and check
   it is an arena with the fields this player reads (``x``, ``y``); connect offering its
   JSON subprotocol (``ticksync.v2.arena.<hash>.json``), or the one of ``--schema HASH``
   when the player is pinned to a layout (a server running another one refuses, naming
   both: printed as the failure);
2. send ``Hello``, get ``Welcome`` (printed as
   ``joined: entity=#5 tick=... tick_rate=30Hz nodelay=1``, the last being TCP_NODELAY as
   the kernel reports it for the connection, which the library turns on) and the arena's
   ``World`` message (``world: 2000x2000``);
3. send one ``Input`` per tick whose payload is the arena's
   ``{"move_dir": {"x": .., "y": ..}, "buttons": 0}``, turning steadily so the entity runs
   in a circle (the input also acknowledges the last snapshot applied); the inputs are timed
   by the library's ``InputClock``, aimed with the arrival feedback of every snapshot
   (``input_margin_100us``: how long before its tick the last input arrived) so they reach
   the server just before the tick that takes them;
4. every ``Snapshot`` is applied and checked by the library; a ``Ping`` goes out once a
   second;
5. print once a second a status line such as
   ``t=3.0s tick=812 entity=#5 pos=(1012.3, 998.1) rtt=1.2ms entities=21 desyncs=0
   margin=3.1ms missed=0`` (margin: how early the last input arrived before its tick);
6. after ``--duration`` seconds (0: until Ctrl-C) send ``"Leave"``, wait for the server to
   close, print a final line and exit.

Exit status: 0 after a clean run; 1 when the connection failed, was refused or closed before
the end, the server sent an ``Error``, or a snapshot failed its checksum (a desync); 2 for bad
arguments.

Usage::

    python ticksync_client.py --url ws://127.0.0.1:7878/ws --name py --duration 10
    python ticksync_client.py --matchmake http://127.0.0.1:7878 --filter mode=ffa

With ``--matchmake`` (a cluster node's game port) the player first asks the matchmaker for a
seat — in ``--room``, else join-or-create by ``--filter`` — prints
``seat: room=... node=... url=...`` and connects to the node that holds the room.

Units on the wire: positions are 1/64 world unit (``x`` of 64000 is 1000.0 units; the
schema's ``position_scale``), velocities are position steps per tick.
"""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
import time
from typing import Any, Optional
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ticksync

DEFAULT_URL = "ws://127.0.0.1:7878/ws"
#: The game this player plays, and the entity fields it reads.
GAME = "arena"
REQUIRED_FIELDS = ("x", "y")
#: Move-direction steps per unit on each axis (a direction is an i8 pair of length <= 127).
DIRECTION_STEPS = 127
#: Seconds per full turn of the move direction. The arena moves at 300 units/s, so the
#: entity runs a circle of about 95 units radius.
CIRCLE_PERIOD_S = 2.0
#: How long to wait for `Welcome` after connecting, and for the server's close after `Leave`.
WELCOME_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 3.0


class ArenaPlayer:
    """Runs one arena player on a ``ticksync.Session``.

    The session's callbacks run on the thread that calls ``run()``; a sender thread sends
    the inputs and pings, prints the status and ends the session.
    """

    def __init__(
        self, url: str, name: str, duration_s: float, schema: ticksync.Schema, pinned: Optional[str]
    ) -> None:
        self.duration_s = duration_s
        self.position_scale = float(schema.position_scale)
        self.world: Optional[tuple[int, int]] = None
        self.welcomed_at = 0.0
        self.failure: Optional[str] = None  # why the run failed, if it did
        self.left = False  # "Leave" sent: a close from now on is the expected end
        self.stop_requested = threading.Event()  # Ctrl-C / SIGTERM
        self.welcomed = threading.Event()
        self.closed = threading.Event()
        subprotocol = f"ticksync.v{ticksync.ENVELOPE_VERSION}.{GAME}.{pinned}.json" if pinned else None
        self.session = ticksync.Session(
            url,
            schema,
            ticksync.Callbacks(
                on_welcome=self.on_welcome,
                on_message=self.on_message,
                on_error=self.fail,
                on_close=self.on_close,
            ),
            player_name=name,
            subprotocol=subprotocol,
        )

    # --- session callbacks (the WebSocket's thread) ---

    def on_welcome(self, welcome: dict[str, Any]) -> None:
        self.welcomed_at = time.monotonic()
        entity = welcome["entity_id"]
        log(
            f"joined: entity=#{entity if entity is not None else '-'} tick={welcome['tick']} "
            f"tick_rate={welcome['tick_rate_hz']}Hz nodelay={self.session.nodelay()}"
        )
        self.welcomed.set()

    def on_message(self, message: Any, tick: int) -> None:
        """The arena's messages: ``{"World": {"width": .., "height": ..}}`` at join."""
        world = message.get("World") if isinstance(message, dict) else None
        if isinstance(world, dict):
            self.world = (world["width"], world["height"])
            log(f"world: {self.world[0]}x{self.world[1]}")
        else:
            log(f"unknown arena message {message!r}", error=True)

    def on_close(self, code: Optional[int], reason: Optional[str]) -> None:
        if not self.left and self.failure is None:
            self.fail(f"the server closed the connection early (code {code}, reason {reason!r})")
        elif self.failure is not None and code is not None:
            log(f"connection closed: code {code}, reason {reason!r}", error=True)
        self.closed.set()

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
                self.session.close()
                return
            if time.monotonic() > deadline:
                self.fail(f"no Welcome within {WELCOME_TIMEOUT_S:.0f} s")
                self.session.close()
                return
        welcome = self.session.welcome
        assert welcome is not None
        start = time.monotonic()
        next_tick = start
        next_ping = start
        next_status = start + 1.0
        while not self.closed.is_set():
            now = time.monotonic()
            if self.stop_requested.is_set() or (
                self.duration_s > 0 and now - start >= self.duration_s
            ):
                break
            with self.session.lock:
                clock = self.session.input_clock
                if clock is not None:
                    next_tick = clock.next_send
            if now >= next_tick:
                angle = 2.0 * math.pi * (now - start) / CIRCLE_PERIOD_S
                # Truncation keeps the length at most 127 (the server clamps it anyway).
                move = {
                    "x": int(DIRECTION_STEPS * math.cos(angle)),
                    "y": int(DIRECTION_STEPS * math.sin(angle)),
                }
                # The session's input clock, aimed with the arrival feedback of every
                # snapshot (input_margin_100us), says when the next input is due.
                with self.session.lock:
                    clock = self.session.input_clock
                    if clock is not None:
                        clock.advance(now)
                        next_tick = clock.next_send
                self.session.send_input({"move_dir": move, "buttons": 0})
            if now >= next_ping:
                self.session.ping()
                next_ping += 1.0
            if now >= next_status:
                log(self.status_line(now - start))
                next_status += 1.0
            time.sleep(max(0.0, min(next_tick, next_ping, next_status) - time.monotonic()))
        if self.closed.is_set():
            return
        self.left = True
        self.session.leave()
        # The server answers `Leave` by closing with 1000; close ourselves if it does not.
        if not self.closed.wait(CLOSE_TIMEOUT_S):
            self.session.close()

    # --- helpers ---

    def status_line(self, elapsed_s: float) -> str:
        session = self.session
        with session.lock:
            me = session.welcome["entity_id"] if session.welcome else None
            view = session.views.current
            entity = view.get(me) if me is not None else None
            tick = session.views.tick
            pos = "(?, ?)"
            if entity is not None:
                x, y = entity["x"] / self.position_scale, entity["y"] / self.position_scale
                pos = f"({x:.1f}, {y:.1f})"
            rtt = f"{session.rtt_ms:.1f}ms" if session.rtt_ms is not None else "?"
            clock = session.input_clock
            margin = "?"
            if clock is not None and clock.last_margin_s is not None:
                margin = f"{clock.last_margin_s * 1000:.1f}ms"
            missed = clock.missed if clock is not None else 0
            return (
                f"t={elapsed_s:.1f}s tick={tick} entity=#{me} pos={pos} rtt={rtt} "
                f"entities={len(view)} desyncs={session.counters.desyncs} "
                f"margin={margin} missed={missed}"
            )

    def fail(self, reason: str) -> None:
        if self.failure is None:
            self.failure = reason
        log(reason, error=True)

    def run(self) -> int:
        """Runs the session to its end; returns the process exit status."""
        driver = threading.Thread(target=self.drive, name="ticksync-sender", daemon=True)
        driver.start()
        self.session.run()
        self.closed.set()
        driver.join(timeout=CLOSE_TIMEOUT_S + 1.0)
        counters = self.session.counters
        elapsed = time.monotonic() - self.welcomed_at if self.welcomed.is_set() else 0.0
        summary = (
            f"snapshots={counters.snapshots} deltas={counters.deltas} "
            f"inputs={counters.inputs_sent}"
        )
        if self.failure is None and not self.left:
            self.failure = "the connection ended before the run did"
        if self.failure is None and counters.desyncs:
            self.failure = f"{counters.desyncs} snapshot(s) did not match the server's checksum"
        if self.failure is None and self.world is None:
            self.failure = "the server never sent the arena's World message"
        if self.failure is not None:
            when = f" after {elapsed:.1f}s" if self.welcomed.is_set() else " before Welcome"
            log(f"FAILED{when}: {self.failure}; {summary} desyncs={counters.desyncs}", error=True)
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
        description="A ticksync arena player over the JSON codec: runs in a circle."
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
    parser.add_argument(
        "--matchmake",
        metavar="URL",
        help="join through a cluster's matchmaker (any node, http://host:port) instead of "
        "--url: a seat in --room, else join-or-create by --filter",
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="join-or-create filter on the rooms' metadata (with --matchmake); repeatable",
    )
    parser.add_argument("--token", help="join token (appended as ?token=)")
    parser.add_argument(
        "--schema",
        metavar="HASH",
        help="the arena layout this player is built for (8 hex digits): offered as the "
        "subprotocol, so a server running another one refuses, naming both",
    )
    args = parser.parse_args(argv)
    if args.duration < 0:
        parser.error("--duration must be 0 or positive")
    if args.filter and not args.matchmake:
        parser.error("--filter chooses rooms through the matchmaker: add --matchmake")
    if any("=" not in pair for pair in args.filter):
        parser.error("--filter takes KEY=VALUE")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    url = with_query(args.url, room=args.room, token=args.token)
    if args.matchmake:
        if args.room:
            action, body = "join", {"room": args.room}
        else:
            filters = dict(pair.split("=", 1) for pair in args.filter)
            action, body = "join-or-create", {"filters": filters}
        try:
            seat = ticksync.matchmake(args.matchmake, action, body)
        except ticksync.ProtocolError as error:
            log(f"FAILED before connecting: {error}", error=True)
            return 1
        log(f"seat: room={seat['room']} node={seat['node']} url={seat['url']}")
        url = with_query(seat["connect"], token=args.token)
    try:
        schema = ticksync.fetch_schema(url)
    except ticksync.ProtocolError as error:
        log(f"FAILED before connecting: {error}", error=True)
        return 1
    missing = [name for name in REQUIRED_FIELDS if name not in schema.fields_by_name]
    if schema.game != GAME or missing:
        log(
            f"FAILED before connecting: the server runs {schema.game} {schema.hash}, "
            f"not an {GAME} with fields {', '.join(REQUIRED_FIELDS)}",
            error=True,
        )
        return 1
    player = ArenaPlayer(url, args.name, args.duration, schema, args.schema)

    def request_stop(signum: int, frame: Any) -> None:
        # Leave cleanly on Ctrl-C or SIGTERM: the sender thread sends "Leave".
        player.stop_requested.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    return player.run()


if __name__ == "__main__":
    sys.exit(main())
