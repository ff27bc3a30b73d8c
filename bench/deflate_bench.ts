/**
 * `deno bench -A bench/deflate_bench.ts`: permessage-deflate at the codec
 * level, this library against the npm `ws` package on the same messages
 * (see `deflate_cases.ts`), per message: deflate, inflate, and both in a
 * row (what a compressed echo costs a server). Bytes on the wire are
 * printed first. On a busy machine `deflate_summary.ts` (best of several
 * rounds) gives steadier ratios.
 *
 * @module
 */

import { deflateCases, ours, wireTable, ws } from "./deflate_cases.ts";

const cases = await deflateCases();
console.log(wireTable(cases));

for (const { name, message, oursPayload, wsPayload } of cases) {
  const size = `${name} (${message.length} B)`;
  for (const codec of [ours, ws]) {
    const payload = codec === ours ? oursPayload : wsPayload;
    const baseline = codec === ours;
    Deno.bench({
      name: `deflate ${name}: ${codec.name}`,
      group: `deflate ${size}`,
      baseline,
      async fn() {
        await codec.deflate(message);
      },
    });
    Deno.bench({
      name: `inflate ${name}: ${codec.name}`,
      group: `inflate ${size}`,
      baseline,
      async fn() {
        await codec.inflate(payload, message.length);
      },
    });
    Deno.bench({
      name: `echo ${name}: ${codec.name}`,
      group: `echo (inflate + deflate) ${size}`,
      baseline,
      async fn() {
        await codec.deflate(await codec.inflate(payload, message.length));
      },
    });
  }
}
