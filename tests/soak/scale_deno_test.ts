// Deno only: 2,000 concurrent WebSocket connections to one server in its
// own process (tests/scale/), each echoing one message; every one must be
// served and closed cleanly, and the server must exit 0 on SIGTERM. No
// timing is asserted; the server's memory per connection is printed.
// `deno task scale [N]` runs the same with 10,000 by default.
import assert from "node:assert/strict";
import { formatReport, openFilesLimit, runScale } from "./scale/run.ts";

/** Connections in CI. */
const COUNT = 2_000;

/** Each phase (opening, closing) may take this long, in milliseconds. */
const PHASE_DEADLINE = 120_000;

Deno.test(`scale: ${COUNT} concurrent connections to one server each echo, then close cleanly`, async () => {
  const limit = await openFilesLimit();
  assert.ok(
    limit === null || limit >= COUNT + 100,
    `the open-files limit (${limit}) is too low for ${COUNT} connections: ulimit -n 65536`,
  );
  const report = await runScale(COUNT, PHASE_DEADLINE);
  console.log(formatReport(report));
  assert.equal(report.served, COUNT, JSON.stringify(report.failures));
  assert.deepEqual(report.closes, { clean: COUNT });
  assert.equal(report.open.openSockets, COUNT);
  assert.equal(report.after.openSockets, 0);
  assert.equal(report.exitCode, 0);
});
