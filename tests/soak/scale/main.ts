// deno task scale [N]: N concurrent WebSocket connections (default 10,000)
// to one server in its own process; each echoes one message; prints how
// many were served and the server's memory per connection. Needs an
// open-files limit above N in this process and in the server's
// (`ulimit -n 65536` first if needed).
import { formatReport, openFilesLimit, runScale } from "./run.ts";

/** Connections when no N is given. */
const DEFAULT_COUNT = 10_000;

/** Each phase (opening, closing) may take this long, in milliseconds. */
const PHASE_DEADLINE = 300_000;

const count = Deno.args[0] === undefined ? DEFAULT_COUNT : Number(Deno.args[0]);
if (!Number.isSafeInteger(count) || count < 1) {
  console.error("usage: deno task scale [N]   (N connections, default 10000)");
  Deno.exit(2);
}
const limit = await openFilesLimit();
if (limit !== null && limit < count + 100) {
  console.error(
    `the open-files limit is ${limit}: raise it above ${count + 100} ` +
      `(ulimit -n 65536) or ask for fewer connections`,
  );
  Deno.exit(2);
}
console.log(`opening ${count} connections...`);
const report = await runScale(count, PHASE_DEADLINE);
console.log(formatReport(report));
if (report.served !== count || report.exitCode !== 0) Deno.exit(1);
