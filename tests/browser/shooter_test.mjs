// shooter_test.mjs — the shooter's page in headless Chromium, driven by Playwright
// (tests/tests/shooter_browser.rs runs it against a server where one enemy stands still):
//
//   node shooter_test.mjs <page url> [--screenshot PATH] [--timeout-ms MS] [--chromium PATH]
//
// It loads the page, waits until it has joined and shows the enemy, moves the mouse onto
// the enemy where the page draws it and clicks, again until the kill feed shows the page's
// own kill; it fails on any page error, desync or closed connection. Prints `OK <text>` and
// exits 0 on success, `FAIL <why>` and exits 1 otherwise.

import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

const options = { url: null, screenshot: null, timeoutMs: 60000, chromium: process.env.CHROMIUM_PATH || "/usr/bin/chromium" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (arg === "--screenshot") options.screenshot = resolve(argv[++i]);
  else if (arg === "--timeout-ms") options.timeoutMs = Number(argv[++i]);
  else if (arg === "--chromium") options.chromium = argv[++i];
  else if (!arg.startsWith("--") && options.url === null) options.url = arg;
  else {
    console.log(`FAIL unexpected argument ${arg}`);
    process.exit(2);
  }
}
if (!options.url || !Number.isFinite(options.timeoutMs)) {
  console.log("FAIL usage: node shooter_test.mjs <page url> [--screenshot PATH] [--timeout-ms MS] [--chromium PATH]");
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const problems = [];
const profile = mkdtempSync(join(tmpdir(), "ticksync-shooter-"));
let browser = null;

async function state(page) {
  return page.evaluate(() => (window.shooter ? window.shooter.state() : null));
}

async function waitFor(page, what, predicate, ms) {
  const deadline = Date.now() + ms;
  let last = null;
  while (Date.now() < deadline) {
    last = await state(page);
    if (problems.length) throw new Error(`${problems.join(" | ")} (while waiting for ${what})`);
    if (last && (last.desyncs > 0 || last.status === "closed" || last.status === "error")) {
      throw new Error(`while waiting for ${what}: ${JSON.stringify(last)}`);
    }
    if (last && predicate(last)) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}; last state: ${JSON.stringify(last)}`);
}

async function run() {
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: options.chromium,
    headless: true,
    timeout: 30000,
    viewport: { width: 1000, height: 800 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console error: ${message.text()}`);
  });
  const response = await page.goto(options.url, { waitUntil: "load" });
  if (!response || !response.ok()) throw new Error(`GET ${options.url} answered ${response ? response.status() : "nothing"}`);

  const joined = await waitFor(
    page,
    "the page to join and show an enemy",
    (s) => s.status === "playing" && s.team !== null && s.fighters.some((f) => f.team !== s.team && f.health > 0),
    20000,
  );
  const enemy = joined.fighters.find((f) => f.team !== joined.team).id;
  console.log(`JOINED as #${joined.entityId} on team ${joined.team}; enemy #${enemy}`);

  // Aim at the enemy where the page draws it, and click; again until the kill shows.
  const deadline = Date.now() + options.timeoutMs / 2;
  let clicks = 0;
  let last = joined;
  while (Date.now() < deadline) {
    const at = await page.evaluate((id) => window.shooter.screenOf(id), enemy);
    if (at && at.alive) {
      await page.mouse.move(at.x, at.y);
      await page.mouse.down();
      await sleep(120);
      await page.mouse.up();
      clicks += 1;
    }
    last = await state(page);
    if (problems.length) throw new Error(problems.join(" | "));
    if (last.desyncs > 0 || last.status !== "playing") throw new Error(`page broke: ${JSON.stringify(last)}`);
    const kill = last.feed.find((line) => line.kill && line.kill.killer === joined.entityId && line.kill.victim === enemy);
    if (kill) {
      if (options.screenshot) {
        mkdirSync(dirname(options.screenshot), { recursive: true });
        await page.screenshot({ path: options.screenshot });
      }
      console.log(`OK ${kill.text} after ${clicks} clicks; ${last.shots} shots, ${last.hitsGiven} hits, ${last.events} events`);
      return;
    }
    await sleep(300);
  }
  throw new Error(`no kill in the feed after ${clicks} clicks; last state: ${JSON.stringify(last)}`);
}

let code = 0;
try {
  await run();
} catch (error) {
  console.log(`FAIL ${error.message}`);
  code = 1;
} finally {
  if (browser) await browser.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
}
process.exit(code);
