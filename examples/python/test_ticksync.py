"""Checks the generic Python client library (ticksync.py) against the Rust protocol crate.

Replays tests/browser/schema_vectors.json (made by tests/tests/schema_vectors.rs from the
Rust implementation, for the arena's schema and one with every wire type): every snapshot
frame in order, acknowledging every view applied. Each view, entity checksum and view
checksum must be the Rust one, and every snapshot the Rust client refuses must be refused.
Standard library only::

    python3 examples/python/test_ticksync.py        # or: python3 -m unittest (in this folder)
"""

from __future__ import annotations

import json
import struct
import unittest
from pathlib import Path

import ticksync

VECTORS = Path(__file__).resolve().parents[2] / "tests" / "browser" / "schema_vectors.json"


def exact(value):
    """A value compared bit for bit: floats by their f32 bits (so -0.0 is not 0.0)."""
    if isinstance(value, float):
        return ("f32", struct.pack("<f", value))
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    return value


class SchemaVectors(unittest.TestCase):
    def test_views_and_checksums_match_rust(self) -> None:
        vectors = json.loads(VECTORS.read_text())
        applied = refused = 0
        for case in vectors["cases"]:
            schema = ticksync.Schema(case["schema"])
            store = ticksync.ViewStore(schema)
            for index, step in enumerate(case["steps"]):
                where = f"{case['name']} step {index}"
                frame = json.loads(step["frame"])
                snapshot = ticksync.decode_snapshot(schema, frame["Snapshot"])
                try:
                    store.apply(snapshot)
                    store.mark_current_acked()
                    outcome = "applied"
                    applied += 1
                except ticksync.Desync:
                    outcome = "refused"
                    refused += 1
                self.assertEqual(outcome, step["expect"], where)
                self.assertEqual(store.tick, step["view_tick"], where)
                expected = {
                    e["id"]: schema.check_state(e["state"]) for e in json.loads(step["view"])
                }
                view = store.current
                self.assertEqual(list(view), list(expected), f"{where}: entity ids")
                self.assertEqual(
                    {i: exact(s) for i, s in view.items()},
                    {i: exact(s) for i, s in expected.items()},
                    where,
                )
                self.assertEqual(
                    [schema.entity_checksum(i, s) for i, s in view.items()],
                    step["entity_checksums"],
                    where,
                )
                self.assertEqual(schema.view_checksum(view), step["view_checksum"], where)
        self.assertGreater(applied, 50)
        self.assertGreater(refused, 5)

    def test_malformed_values_are_refused(self) -> None:
        schema = ticksync.Schema(json.loads(VECTORS.read_text())["cases"][0]["schema"])
        name = schema.fields[0].name
        for delta in ({"nope": 1}, {name: 2**40}, {name: True}, {name: 1.5}):
            with self.assertRaises(ticksync.ProtocolError, msg=repr(delta)):
                schema.check_delta(delta)
        with self.assertRaises(ticksync.ProtocolError):
            schema.check_state({})

    def test_schema_url_follows_the_websocket_url(self) -> None:
        self.assertEqual(
            ticksync.schema_url("ws://127.0.0.1:7878/ws?room=a&token=t"),
            "http://127.0.0.1:7878/schema",
        )
        self.assertEqual(ticksync.schema_url("wss://game.example/ws"), "https://game.example/schema")


if __name__ == "__main__":
    unittest.main()
