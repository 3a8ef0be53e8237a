// Headless Chromium test of the ticksync browser client: the generic library the server
// serves at /ticksync.js and the arena's page on top of it.
//
//   node browser_test.mjs <page url> [--screenshot PATH] [--min-entities N] [--hold-ms MS]
//                         [--timeout-ms MS] [--chromium PATH]
//
// First replays tests/browser/schema_vectors.json through the library in node (the Rust
// protocol crate's views and checksums for two schemas; see schema_vectors_test.mjs). Then
// opens the page, waits until it has joined and shows at least N entities, checks the
// figures it exposes on `window.ticksync.state()` (own entity id, the schema it fetched,
// the world size from the arena's `World` message, round trip, snapshot rate, bytes per
// second, no desync, canvas drawing), holds 'D' for a while and checks the page saw its
// entity move right, checks at eight common window sizes that the arena is fully visible
// and covered by nothing, and that no other entity's colour is near the own yellow, saves a
// screenshot (1280x720), and checks that a page pinned to another schema hash
// (`?schema=00000000`) refuses the server with a message naming both. Exits 0 when all
// passed; any failure exits 1 with a line starting `FAIL:`; the overall time limit exits 2.
//
// Lines on stdout are a small protocol for the Rust test driving this script
// (tests/tests/browser.rs), which checks the movement from the server's side:
//   ENTITY <id>            the page joined as entity <id>
//   PRESS <key>            the key went down now
//   RELEASE <key>          the key went up now
//   OK <json>              every check passed (the page's final state)
// Everything else is informational.

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { checkSchemaVectors } from "./schema_vectors_test.mjs";

const here = dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const options = {
    url: null,
    screenshot: resolve(here, "../../target/browser-screenshot.png"),
    minEntities: 21,
    holdMs: 2000,
    timeoutMs: 60000,
    chromium: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${arg} needs a value`);
      return argv[++i];
    };
    const number = () => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < 0) usage(`${arg} needs a non-negative number`);
      return n;
    };
    switch (arg) {
      case "--screenshot":
        options.screenshot = resolve(value());
        break;
      case "--min-entities":
        options.minEntities = number();
        break;
      case "--hold-ms":
        options.holdMs = number();
        break;
      case "--timeout-ms":
        options.timeoutMs = number();
        break;
      case "--chromium":
        options.chromium = value();
        break;
      default:
        if (arg.startsWith("--") || options.url !== null) usage(`unexpected argument ${arg}`);
        options.url = arg;
    }
  }
  if (options.url === null) usage("the page URL is missing");
  return options;
}

function usage(message) {
  console.error(`FAIL: ${message}`);
  console.error(
    "usage: node browser_test.mjs <page url> [--screenshot PATH] [--min-entities N] [--hold-ms MS] [--timeout-ms MS] [--chromium PATH]",
  );
  process.exit(1);
}

const options = parseArgs(process.argv.slice(2));

class TestFailure extends Error {}

function check(condition, message) {
  if (!condition) throw new TestFailure(message);
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Page errors and console errors: any of them fails the test. */
const pageProblems = [];

/** The persistent context: the browser with its temporary profile. */
let browser = null;
let page = null;
const profile = mkdtempSync(join(tmpdir(), "ticksync-chromium-"));

async function cleanup() {
  if (browser) {
    const closing = browser.close().catch(() => {});
    browser = null;
    await Promise.race([closing, sleep(5000)]);
  }
  rmSync(profile, { recursive: true, force: true });
}

// The overall bound: whatever hangs, the script ends.
const watchdog = setTimeout(async () => {
  console.log(`FAIL: the browser test did not finish within ${options.timeoutMs} ms`);
  await cleanup();
  process.exit(2);
}, options.timeoutMs);

async function state(page) {
  return page.evaluate(() => window.ticksync.state());
}

/** Waits until `predicate(state)` holds, at most `ms`; fails with `what` and the last state. */
async function waitForState(page, what, predicate, ms) {
  const deadline = Date.now() + ms;
  let last = null;
  while (Date.now() < deadline) {
    last = await page.evaluate(() => (window.ticksync ? window.ticksync.state() : null));
    if (last !== null && predicate(last)) return last;
    if (pageProblems.length) break;
    // Broken for good: no point waiting out the deadline.
    if (last !== null && (last.desyncs > 0 || last.malformed > 0 || last.status === "closed" || last.status === "error")) {
      throw new TestFailure(
        `while waiting for ${what}: status ${last.status}, ${last.desyncs} desyncs, ${last.malformed} malformed frames; ` +
          `last error: ${last.lastError}; close: ${JSON.stringify(last.close)}`,
      );
    }
    await sleep(100);
  }
  const problems = pageProblems.length ? `; page errors: ${pageProblems.join(" | ")}` : "";
  throw new TestFailure(
    last === null
      ? `window.ticksync never appeared (app.js did not load or run) while waiting for ${what}${problems}`
      : `timed out waiting for ${what}; last state: ${JSON.stringify(last)}${problems}`,
  );
}

async function run() {
  // The library against the Rust implementation, before any browser.
  const vectors = checkSchemaVectors();
  check(
    vectors.failures.length === 0,
    `the library disagrees with the Rust protocol crate on schema_vectors.json (${vectors.failures.length} checks): ${vectors.failures.slice(0, 3).join(" | ")}`,
  );
  console.log(`schema vectors: ${vectors.summary}`);

  // A fresh profile in a temporary folder (Playwright passes it as --user-data-dir).
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    timeout: 30000,
    viewport: { width: 1000, height: 800 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(15000);
  page.on("pageerror", (error) => pageProblems.push(`page error: ${error.message}`));
  let consoleLines = 0;
  page.on("console", (message) => {
    if (message.type() === "error") pageProblems.push(`console error: ${message.text()}`);
    consoleLines += 1;
    if (consoleLines <= 10) console.log(`console.${message.type()}: ${message.text()}`);
    if (consoleLines === 10) console.log("(further console messages not shown)");
  });
  page.on("requestfailed", (request) =>
    pageProblems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`),
  );

  const response = await page.goto(options.url, { waitUntil: "load" });
  check(response !== null && response.ok(), `GET ${options.url} answered ${response ? response.status() : "nothing"}`);
  const contentType = response.headers()["content-type"] || "";
  check(contentType.startsWith("text/html"), `GET ${options.url} has content type ${JSON.stringify(contentType)}`);

  const joined = await waitForState(
    page,
    `the page to join and show ${options.minEntities} entities`,
    (s) => s.status === "playing" && s.entityId !== null && s.entities >= options.minEntities,
    20000,
  );
  console.log(`ENTITY ${joined.entityId}`);
  console.log(
    `joined as #${joined.entityId} at tick ${joined.tick} with ${joined.entities} entities in view ` +
      `(schema ${joined.schema?.game} ${joined.schema?.hash})`,
  );
  check(joined.schema !== null && joined.schema.game === "arena", `the page's schema is ${JSON.stringify(joined.schema)}`);
  // The arena sends `World` at join, before the first snapshot.
  check(
    joined.worldSize !== null && joined.worldSize.width > 0 && joined.worldSize.height > 0 && joined.messages >= 1,
    `no World message before the entities showed: worldSize ${JSON.stringify(joined.worldSize)}, ${joined.messages} messages`,
  );

  // A second of play: round trips measured, the snapshot stream steady, the canvas drawing.
  const steady = await waitForState(
    page,
    "RTT, snapshot rate, bytes per second and drawn entities",
    (s) =>
      s.rttMs !== null &&
      s.snapshotRate > 5 &&
      s.bytesInPerSecond > 0 &&
      s.bytesOutPerSecond > 0 &&
      s.ownServer !== null &&
      s.ownPredicted !== null &&
      s.drawn >= options.minEntities &&
      s.frames > 10,
    10000,
  );
  check(steady.entityIds.includes(steady.entityId), `own entity #${steady.entityId} is not in the page's view`);
  check(steady.rttMs >= 0 && steady.rttMs < 5000, `implausible RTT ${steady.rttMs} ms`);
  check(steady.desyncs === 0, `${steady.desyncs} desyncs: ${steady.lastError}`);
  check(steady.malformed === 0, `${steady.malformed} malformed frames: ${steady.lastError}`);
  console.log(
    `steady: rtt ${steady.rttMs.toFixed(2)} ms, ${steady.snapshotRate.toFixed(1)} snapshots/s, ` +
      `${Math.round(steady.bytesInPerSecond)} B/s down, ${Math.round(steady.bytesOutPerSecond)} B/s up, ` +
      `${steady.drawn} drawn`,
  );

  // The canvas is not blank: the own entity's yellow is on it.
  const yellow = await page.evaluate(() => {
    const canvas = document.getElementById("arena");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i] > 230 && data[i + 1] > 190 && data[i + 1] < 230 && data[i + 2] < 100) count++;
    }
    return count;
  });
  check(yellow > 20, `the own entity (yellow) is not drawn on the canvas (${yellow} yellow pixels)`);

  // Inputs aimed at the tick: the arrival feedback has come in and the aim settled.
  const aimed = await waitForState(
    page,
    "arrival feedback for 30 inputs",
    (s) => s.inputFeedbackSamples >= 30 && s.inputMarginMs !== null,
    10000,
  );
  console.log(
    `input timing: last input arrived ${aimed.inputMarginMs.toFixed(1)} ms before its tick ` +
      `(aim ${aimed.inputAimMs.toFixed(1)} ms), ${aimed.inputsMissedTick} missed`,
  );

  // Hold D: the page predicts the move at once and the server's state follows. Prediction
  // follows the server's per-tick rule, so in steady state holding a key never corrects.
  const before = await state(page);
  await page.locator("#arena").focus();
  await page.keyboard.down("d");
  console.log("PRESS D");
  const heldAt = Date.now();
  // The press itself may correct once (its input may land a tick off); from then on the
  // key is held and the prediction must be exact.
  await sleep(Math.min(500, options.holdMs / 4));
  const during = await state(page);
  check(
    during.moveDir.x === 127 && during.moveDir.y === 0,
    `holding D sends move_dir ${JSON.stringify(during.moveDir)}, expected {x:127,y:0}`,
  );
  await sleep(Math.max(0, options.holdMs - (Date.now() - heldAt)));
  const heldEnd = await state(page);
  await page.keyboard.up("d");
  console.log("RELEASE D");
  // Let the last inputs reach the server and come back.
  const after = await waitForState(
    page,
    "the server to apply every input",
    (s) => s.pendingInputs <= 2 && s.ownServer !== null,
    5000,
  );
  await sleep(300);
  const settled = await state(page);

  const movedServer = settled.ownServer.x - before.ownServer.x;
  const movedPredicted = settled.ownPredicted.x - before.ownPredicted.x;
  const driftY = Math.abs(settled.ownServer.y - before.ownServer.y);
  const expected = (300 * options.holdMs) / 1000;
  console.log(
    `held D for ${options.holdMs} ms: server x +${movedServer.toFixed(1)}, predicted x +${movedPredicted.toFixed(1)}, ` +
      `y drift ${driftY.toFixed(1)} (full speed would be +${expected}); ${after.corrections} corrections, last ${after.lastCorrectionUnits.toFixed(1)} u`,
  );
  const heldCorrections = heldEnd.corrections - during.corrections;
  console.log(
    `while held: ${heldCorrections} corrections over ${heldEnd.snapshots - during.snapshots} snapshots, ` +
      `${heldEnd.inputsMissedTick - during.inputsMissedTick} inputs missed their tick`,
  );
  check(
    heldCorrections === 0,
    `holding D corrected the prediction ${heldCorrections} times (last ${heldEnd.lastCorrectionUnits.toFixed(1)} u); ` +
      `prediction must follow the server's per-tick rule`,
  );
  check(movedServer > expected / 3, `own entity moved only ${movedServer.toFixed(1)} units right in the server's snapshots`);
  check(movedServer < expected * 1.5, `own entity moved ${movedServer.toFixed(1)} units right, too far for ${options.holdMs} ms`);
  check(Math.abs(movedPredicted - movedServer) < 30, `prediction (+${movedPredicted}) and server (+${movedServer}) disagree after the stop`);
  check(driftY < 5, `own entity drifted ${driftY} units vertically`);
  check(settled.moveDir.x === 0 && settled.moveDir.y === 0, `still moving after the key went up: ${JSON.stringify(settled.moveDir)}`);
  check(settled.entities >= options.minEntities, `only ${settled.entities} entities in view at the end`);
  check(settled.desyncs === 0, `${settled.desyncs} desyncs: ${settled.lastError}`);
  check(settled.malformed === 0, `${settled.malformed} malformed frames: ${settled.lastError}`);
  check(settled.status === "playing", `status ${settled.status} at the end (${JSON.stringify(settled.close)})`);
  check(pageProblems.length === 0, `the page reported problems: ${pageProblems.join(" | ")}`);

  await checkLayout(page);
  checkColors(await page.evaluate(() => Array.from({ length: 2000 }, (_, i) => window.ticksync.colorOf(i + 1))));

  mkdirSync(dirname(options.screenshot), { recursive: true });
  await page.screenshot({ path: options.screenshot });
  console.log(`screenshot saved to ${options.screenshot}`);

  // A page built for another layout of the arena refuses this server, naming both schemas.
  const pinned = new URL(options.url);
  pinned.searchParams.set("schema", "00000000");
  pinned.searchParams.set("name", "pinned");
  const other = await browser.newPage();
  other.on("pageerror", (error) => pageProblems.push(`pinned page error: ${error.message}`));
  await other.goto(pinned.toString(), { waitUntil: "load" });
  let refusal = null;
  for (let waited = 0; waited < 10000; waited += 100) {
    refusal = await other.evaluate(() => (window.ticksync ? window.ticksync.state() : null));
    if (refusal !== null && refusal.status === "error") break;
    await sleep(100);
  }
  check(
    refusal !== null &&
      refusal.status === "error" &&
      refusal.entityId === null &&
      refusal.lastError.includes("arena 00000000") &&
      refusal.lastError.includes(`arena ${settled.schema.hash}`),
    `a page pinned to schema 00000000 was not refused with both schemas named: ${JSON.stringify(refusal)}`,
  );
  const statusText = await other.locator("#status").textContent();
  check(statusText.includes("00000000"), `the pinned page does not show the refusal: ${JSON.stringify(statusText)}`);
  console.log(`pinned to another schema: ${refusal.lastError}`);
  await other.close();

  console.log(`OK ${JSON.stringify(settled)}`);
}

/** Window sizes the arena must be fully visible at: common desktop, laptop and phone ones. */
const VIEWPORTS = [
  { width: 1280, height: 720 },
  { width: 1366, height: 768 },
  { width: 1920, height: 1080 },
  { width: 1440, height: 900 },
  { width: 1024, height: 768 },
  { width: 800, height: 600 },
  { width: 768, height: 1024 },
  { width: 390, height: 844 },
];
/** Points sampled along each side of the arena (corners included). */
const LAYOUT_SAMPLES = 9;

/**
 * At each size, the arena's border lies inside the window and nothing covers it: the
 * topmost element at every sampled point of the arena (a grid, its edges and corners) is the
 * canvas. Ends at 1280x720, where the screenshot is taken.
 */
async function checkLayout(page) {
  for (const viewport of [...VIEWPORTS, VIEWPORTS[0]]) {
    await page.setViewportSize(viewport);
    const size = `${viewport.width}x${viewport.height}`;
    // A few frames at the new size, so that the arena's rectangle is the resized one.
    let rect = null;
    for (let i = 0; i < 20; i++) {
      await sleep(50);
      rect = await page.evaluate(() => window.ticksync.arenaRect());
      const stable = await page.evaluate(
        () => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(window.ticksync.arenaRect())))),
      );
      if (rect && stable && rect.width === stable.width && rect.left === stable.left && rect.top === stable.top) break;
    }
    check(rect !== null, `${size}: the page reports no arena rectangle`);
    check(rect.width >= 200, `${size}: the arena is only ${rect.width.toFixed(0)} px wide`);
    check(
      rect.left >= 0 && rect.top >= 0 && rect.left + rect.width <= viewport.width && rect.top + rect.height <= viewport.height,
      `${size}: the arena ${JSON.stringify(rect)} is not inside the window`,
    );
    const covered = await page.evaluate(
      ({ rect, samples }) => {
        const canvas = document.getElementById("arena");
        const hits = [];
        for (let i = 0; i < samples; i++) {
          for (let j = 0; j < samples; j++) {
            // From 1 px inside one edge to 1 px inside the other.
            const x = rect.left + 1 + ((rect.width - 2) * i) / (samples - 1);
            const y = rect.top + 1 + ((rect.height - 2) * j) / (samples - 1);
            const top = document.elementFromPoint(x, y);
            if (top !== canvas) {
              hits.push(`(${x.toFixed(0)}, ${y.toFixed(0)}) is under ${top ? `${top.tagName.toLowerCase()}#${top.id}` : "nothing"}`);
            }
          }
        }
        return hits;
      },
      { rect, samples: LAYOUT_SAMPLES },
    );
    check(covered.length === 0, `${size}: the arena is covered: ${covered.slice(0, 5).join("; ")}`);
    console.log(`layout ${size}: arena at (${rect.left.toFixed(0)}, ${rect.top.toFixed(0)}), ${rect.width.toFixed(0)} px, uncovered`);
  }
}

/** Hue of the own entity's yellow, #ffd33d. */
const OWN_HUE = 46.4;
/** The least hue distance from it another entity's colour may have. */
const MIN_HUE_DISTANCE = 25;

/** No other entity is drawn in a colour close to the own entity's yellow. */
function checkColors(colors) {
  for (const [index, color] of colors.entries()) {
    const match = /^hsl\(([\d.]+),/.exec(color);
    check(match !== null, `entity #${index + 1} has colour ${color}, not hsl(...)`);
    const hue = Number(match[1]);
    const distance = Math.min(Math.abs(hue - OWN_HUE), 360 - Math.abs(hue - OWN_HUE));
    check(distance >= MIN_HUE_DISTANCE, `entity #${index + 1} is drawn in ${color}, ${distance.toFixed(1)}° from the own yellow`);
  }
  console.log(`colours: ${colors.length} entity colours, none within ${MIN_HUE_DISTANCE}° of the own yellow`);
}

let exitCode = 0;
try {
  await run();
} catch (error) {
  exitCode = 1;
  const message = error instanceof TestFailure ? error.message : `${error.stack || error}`;
  console.log(`FAIL: ${message}`);
  if (page) {
    // What the page looked like when it failed, where the passing screenshot would go.
    try {
      mkdirSync(dirname(options.screenshot), { recursive: true });
      await page.screenshot({ path: options.screenshot, timeout: 5000 });
      console.log(`screenshot of the failure saved to ${options.screenshot}`);
    } catch (screenshotError) {
      console.log(`no screenshot: ${screenshotError.message}`);
    }
  }
}
clearTimeout(watchdog);
await cleanup();
process.exit(exitCode);
