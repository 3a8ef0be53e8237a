// Checks the browser library's matchmaker call (server/web/ticksync.js `matchmake`,
// `resumeUrl`) against a real cluster node: asks for a seat by join-or-create and prints it
// as one JSON line (`SEAT {...}`), which tests/tests/cluster_clients.rs then connects with;
// then checks that a refusal rejects with the matchmaker's reason.
//
//   node tests/browser/matchmake_test.mjs http://127.0.0.1:PORT
//
// Needs only node 18+ (fetch), no browser and no npm packages.

import { matchmake, resumeUrl } from "../../server/web/ticksync.js";

const matchmaker = process.argv[2];
const seat = await matchmake(matchmaker, "join-or-create", { filters: { mode: "js" } });
for (const key of ["room", "node", "url", "seat", "connect"]) {
  if (typeof seat[key] !== "string" || seat[key] === "") {
    console.log(`FAIL: the seat has no ${key}: ${JSON.stringify(seat)}`);
    process.exit(1);
  }
}
const resume = resumeUrl(seat);
if (!resume.startsWith(seat.url) || resume.includes("seat=")) {
  console.log(`FAIL: resumeUrl gave ${resume}`);
  process.exit(1);
}
try {
  await matchmake(matchmaker, "create", { room: seat.room });
  console.log("FAIL: creating an existing room was not refused");
  process.exit(1);
} catch (error) {
  if (!/refused \(409\)/.test(error.message) || !/already exists/.test(error.message)) {
    console.log(`FAIL: unexpected refusal: ${error.message}`);
    process.exit(1);
  }
}
console.log(`SEAT ${JSON.stringify(seat)}`);
