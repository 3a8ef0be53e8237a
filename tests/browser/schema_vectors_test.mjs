// Checks the generic browser library (server/web/ticksync.js) against the Rust protocol
// crate: replays tests/browser/schema_vectors.json (made by tests/tests/schema_vectors.rs from
// the Rust implementation) and requires every view, entity checksum and view checksum to be
// the Rust ones, and every snapshot the Rust client refuses to be refused.
//
//   node tests/browser/schema_vectors_test.mjs [vectors.json]
//
// Needs only node (no browser, no npm packages). Prints `OK …` and exits 0, or prints
// `FAIL: …` lines and exits 1. browser_test.mjs runs the same checks (`checkSchemaVectors`)
// before it opens the browser.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import {
  DesyncError,
  ProtocolError,
  Schema,
  ViewStore,
  decodeServerMessage,
  parseJson,
  stringifyJson,
} from "../../server/web/ticksync.js";

const here = dirname(fileURLToPath(import.meta.url));
export const VECTORS_PATH = join(here, "schema_vectors.json");

/** Deep equality that tells -0 from 0 (f32 fields keep their sign) and compares BigInt. */
function same(a, b) {
  if (typeof a === "number" && typeof b === "number") return Object.is(a, b);
  if (typeof a !== typeof b) return false;
  if (a === null || typeof a !== "object") return a === b;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => Object.hasOwn(b, k) && same(a[k], b[k]));
}

const show = (v) => stringifyJson(v);

/**
 * Replays the vectors at `path` through the library. Returns `{ failures, summary }`:
 * `failures` a list of messages (empty when the library agrees with Rust everywhere).
 */
export function checkSchemaVectors(path = VECTORS_PATH) {
  const vectors = JSON.parse(readFileSync(path, "utf8"));
  const failures = [];
  const fail = (message) => failures.push(message);
  let applied = 0;
  let refused = 0;
  for (const testCase of vectors.cases) {
    const schema = new Schema(testCase.schema);
    const store = new ViewStore(schema);
    testCase.steps.forEach((step, index) => {
      const where = `${testCase.name} step ${index}`;
      let snapshot;
      try {
        const message = decodeServerMessage(schema, step.frame);
        if (message.type !== "Snapshot") throw new Error(`decoded as ${message.type}`);
        snapshot = message.body;
      } catch (error) {
        fail(`${where}: the frame does not decode: ${error.message}`);
        return;
      }
      let outcome = "applied";
      try {
        store.apply(snapshot);
        store.markCurrentAcked();
      } catch (error) {
        if (!(error instanceof DesyncError)) throw error;
        outcome = `refused (${error.message})`;
      }
      if (!outcome.startsWith(step.expect)) {
        fail(`${where}: expected ${step.expect}, got ${outcome}`);
        return;
      }
      if (step.expect === "applied") applied += 1;
      else refused += 1;
      if (store.tick() !== step.view_tick) fail(`${where}: view tick ${store.tick()}, Rust ${step.view_tick}`);
      const expected = parseJson(step.view).map((e) => ({ id: e.id, state: schema.checkState(e.state) }));
      const view = store.current();
      if (!same(view, expected)) {
        fail(`${where}: view differs from Rust's\n  js:   ${show(view)}\n  rust: ${show(expected)}`);
      }
      const checksums = view.map((e) => schema.entityChecksum(e.id, e.state));
      if (!same(checksums, step.entity_checksums)) {
        fail(`${where}: entity checksums ${show(checksums)}, Rust ${show(step.entity_checksums)}`);
      }
      const checksum = schema.viewChecksum(view);
      if (checksum !== step.view_checksum) fail(`${where}: view checksum ${checksum}, Rust ${step.view_checksum}`);
    });
  }

  // The envelope's own checks: a delta naming an unknown field or a value out of its type's
  // range is malformed, not applied.
  {
    const schema = new Schema(vectors.cases[0].schema);
    const field = schema.fields[0];
    const bad = [
      `{"Snapshot":{"tick":2,"baseline_tick":1,"last_input_seq":0,"input_margin_100us":0,"checksum":0,"created":[],"changed":[{"id":1,"delta":{"nope":1}}],"removed":[]}}`,
      `{"Snapshot":{"tick":2,"baseline_tick":0,"last_input_seq":0,"input_margin_100us":0,"checksum":0,"created":[{"id":1,"state":{}}],"changed":[],"removed":[]}}`,
      `{"Snapshot":{"tick":2,"baseline_tick":1,"last_input_seq":0,"input_margin_100us":0,"checksum":0,"created":[],"changed":[{"id":1,"delta":{"${field.name}":1e99}}],"removed":[]}}`,
    ];
    for (const frame of bad) {
      try {
        decodeServerMessage(schema, frame);
        fail(`accepted a malformed frame: ${frame}`);
      } catch (error) {
        if (!(error instanceof ProtocolError)) fail(`${frame}: ${error}`);
      }
    }
  }

  // 64-bit integers survive parsing and writing exactly.
  {
    const text = `{"a":18446744073709551615,"b":-9223372036854775808,"c":[1.5,"x\\"1234567890123456",9007199254740991]}`;
    const value = parseJson(text);
    if (value.a !== 18446744073709551615n || value.b !== -9223372036854775808n || value.c[2] !== 9007199254740991) {
      fail(`parseJson lost precision: ${show(value)}`);
    }
    if (stringifyJson(value) !== text) fail(`stringifyJson: ${stringifyJson(value)} != ${text}`);
  }

  return {
    failures,
    summary: `${vectors.cases.length} schemas, ${applied} snapshots applied and ${refused} refused as Rust does`,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { failures, summary } = checkSchemaVectors(process.argv[2] ?? VECTORS_PATH);
  for (const message of failures.slice(0, 20)) console.log(`FAIL: ${message}`);
  if (failures.length) {
    console.log(`FAIL: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log(`OK ${summary}`);
}
