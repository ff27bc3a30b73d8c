/**
 * Long fuzzing runs: `deno task fuzz [count] [suite ...]`.
 *
 * - `count`: cases per property (sets `FUZZ_RUNS`; `_` separators and
 *   `1e6` are accepted). Default 1,000,000.
 * - `suite`: `frame`, `http`, `headers` or `deflate`, meaning the files
 *   `tests/fuzz/<suite>*_test.ts`; all of them when none is named.
 *
 * `FUZZ_SEED` is passed through to replay a failure fast-check reported.
 * Prints the count, the suites and the wall time at the end, and exits
 * with the test run's status.
 *
 * @module
 */

const SUITES = ["frame", "http", "headers", "deflate"];
const DEFAULT_COUNT = 1_000_000;

function usage(problem: string): never {
  console.error(
    `${problem}\nusage: deno task fuzz [count] [${SUITES.join("|")} ...]`,
  );
  Deno.exit(2);
}

let count = DEFAULT_COUNT;
const suites: string[] = [];
for (const argument of Deno.args) {
  const number = Number(argument.replaceAll("_", ""));
  if (argument.trim() !== "" && Number.isFinite(number)) {
    if (!Number.isSafeInteger(number) || number < 1) {
      usage(`count must be a positive integer, got ${argument}`);
    }
    count = number;
  } else if (SUITES.includes(argument)) {
    suites.push(argument);
  } else {
    usage(`unknown argument ${JSON.stringify(argument)}`);
  }
}
if (suites.length === 0) suites.push(...SUITES);

const files: string[] = [];
for await (const entry of Deno.readDir("tests/fuzz")) {
  const name = entry.name;
  if (!entry.isFile || !name.endsWith("_test.ts")) continue;
  if (suites.some((suite) => name.startsWith(suite))) {
    files.push(`tests/fuzz/${name}`);
  }
}
files.sort();
console.log(
  `fuzzing ${suites.join(", ")} with ${
    count.toLocaleString("en")
  } cases per property` +
    (Deno.env.get("FUZZ_SEED") ? ` (seed ${Deno.env.get("FUZZ_SEED")})` : ""),
);
const started = performance.now();
const { code } = await new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", ...files],
  env: { FUZZ_RUNS: String(count) },
  stdin: "null",
  stdout: "inherit",
  stderr: "inherit",
}).output();
const seconds = (performance.now() - started) / 1000;
console.log(
  `fuzz ${code === 0 ? "passed" : "FAILED"}: ${suites.join(", ")}, ` +
    `${count.toLocaleString("en")} cases per property, ${seconds.toFixed(0)} s`,
);
Deno.exit(code);
