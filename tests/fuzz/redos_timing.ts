/**
 * Prints how long each header parser takes on the pathological values of
 * `header_values.ts` at 16, 32 and 64 KiB, so a reader can see that time
 * grows linearly (about 2x per doubling). Timing is never asserted in
 * tests; run this by hand: `deno run tests/fuzz/redos_timing.ts`.
 *
 * @module
 */
import {
  describeDeclinedOffers,
  negotiateDeflate,
} from "../../deflate/negotiation.ts";
import { parseExtensions, parseProtocols } from "../../http1/header_grammar.ts";
import { RequestHeadParser } from "../../http1/request.ts";
import { ResponseHeadParser } from "../../http1/response.ts";
import { pathologicalValues } from "./header_values.ts";

const SIZES = [16 * 1024, 32 * 1024, 64 * 1024];
const REPEATS = 20;

function swallow(run: () => unknown): void {
  try {
    run();
  } catch {
    // Refusals are expected; only the time matters here.
  }
}

/** The median time of `REPEATS` runs, in milliseconds. */
function median(run: () => unknown): number {
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const start = performance.now();
    swallow(run);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

const parsers: Array<[string, (value: string) => unknown]> = [
  ["parseExtensions", parseExtensions],
  ["parseProtocols", parseProtocols],
  ["negotiateDeflate", negotiateDeflate],
  ["describeDeclinedOffers", describeDeclinedOffers],
  ["RequestHeadParser (as a header value)", (value) => {
    const text = `GET / HTTP/1.1\r\nHost: a\r\nX: ${value}\r\n\r\n`;
    const parser = new RequestHeadParser({ maxHeadBytes: 1 << 20 });
    parser.push(new Uint8Array([...text].map((c) => c.charCodeAt(0) & 0xff)));
  }],
  ["ResponseHeadParser (as a header value)", (value) => {
    const text = `HTTP/1.1 101 OK\r\nX: ${value}\r\n\r\n`;
    const parser = new ResponseHeadParser({ maxHeadBytes: 1 << 20 });
    parser.push(new Uint8Array([...text].map((c) => c.charCodeAt(0) & 0xff)));
  }],
];

const byLabel = SIZES.map((size) => pathologicalValues(size));
console.log(
  `median of ${REPEATS} runs, ms: ${
    SIZES.map((s) => `${s / 1024} KiB`).join(" / ")
  }`,
);
for (const [name, parse] of parsers) {
  console.log(`\n${name}`);
  for (const label of byLabel[0].keys()) {
    const times = byLabel.map((values) =>
      median(() => parse(values.get(label)!))
    );
    const ratio = times[1] / Math.max(times[0], 1e-3);
    console.log(
      `  ${label.padEnd(52)} ${
        times.map((t) => t.toFixed(3).padStart(8)).join(" ")
      }   x${ratio.toFixed(1)}`,
    );
  }
}
