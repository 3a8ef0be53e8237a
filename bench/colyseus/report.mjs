// Sums up the per-bot records that one or more bots.mjs processes wrote for one run of
// bench/colyseus.sh into the run's figures (means per bot over the window, and the checks
// that say whether the run was whole), printed as one JSON object.
//
// Usage: node report.mjs BOTS.json [BOTS.json ...]
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node report.mjs BOTS.json [BOTS.json ...]");
  process.exit(2);
}
const reports = files.map((file) => JSON.parse(readFileSync(file, "utf8")));
const bots = reports.flatMap((report) => report.bots);
const joined = bots.filter((bot) => bot.joined);
const measured = joined.filter((bot) => bot.window !== null);
const joinFailures = {};
for (const report of reports) {
  for (const [reason, count] of Object.entries(report.join_failures)) {
    joinFailures[reason] = (joinFailures[reason] ?? 0) + count;
  }
}

const mean = (values) => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : 0);
const min = (values) => (values.length ? Math.min(...values) : 0);
const max = (values) => (values.length ? Math.max(...values) : 0);
const windowPatches = measured.map((bot) => bot.window.patches);
const seen = joined.filter((bot) => bot.players_seen !== null).map((bot) => bot.players_seen);
const roomIds = [...new Set(joined.map((bot) => bot.room_id))];

console.log(JSON.stringify({
  bots_requested: bots.length,
  bots_joined: joined.length,
  bots_measured: measured.length,
  join_failures: joinFailures,
  last_join_after_s: max(joined.map((bot) => bot.joined_after_s)),
  disconnects: joined.filter((bot) => bot.left).length,
  rooms: roomIds.length,
  room_ids: roomIds,
  decoded_patches: reports.every((report) => report.decoded_patches),
  players_seen_min: min(seen),
  players_seen_max: max(seen),
  downlink_bytes_per_bot_per_s: mean(measured.map((bot) => bot.window.down)),
  uplink_bytes_per_bot_per_s: mean(measured.map((bot) => bot.window.up)),
  patches_per_bot_per_s: mean(windowPatches),
  patches_per_bot_per_s_min: min(windowPatches),
  patches_per_bot_per_s_max: max(windowPatches),
  whole_run_downlink_bytes_per_bot_per_s: mean(joined.filter((b) => b.whole_run).map((b) => b.whole_run.down)),
  whole_run_patches_per_bot_per_s: mean(joined.filter((b) => b.whole_run).map((b) => b.whole_run.patches)),
}, null, 2));
