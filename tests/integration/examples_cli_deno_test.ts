// Deno only: the command line the demos share (examples/cli.ts), and how
// `deno task serve` and `deno task chat` start: --port in both spellings,
// and one line, no stack trace, for a bad PORT or a port in use.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListenSettings } from "../../examples/cli.ts";
import {
  DEFAULT_ECHO_HOSTNAME,
  DEFAULT_ECHO_PORT,
} from "../../examples/echo/server.ts";
import { DEFAULT_CHAT_PORT } from "../../examples/chat/server.ts";
import { runBounded } from "../interop/peers/bounded.ts";

const DEFAULTS = { port: 3000, hostname: "0.0.0.0" };
const ROOT = new URL("../../", import.meta.url).pathname;

/** Runs a demo's server file with `args` until it prints its address,
 * then stops it; returns what it printed. */
async function startDemo(file: string, args: string[]): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", file, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const decoder = new TextDecoder();
  let stdout = "";
  try {
    for await (const chunk of child.stdout) {
      stdout += decoder.decode(chunk);
      if (stdout.includes(" listening on ")) child.kill("SIGTERM");
    }
    await child.status;
    return stdout;
  } finally {
    clearTimeout(timer);
  }
}

describe("the demos' command line", () => {
  const noEnv = () => undefined;

  test("defaults to the demo's port and address", () => {
    assert.deepEqual(parseListenSettings([], noEnv, DEFAULTS), DEFAULTS);
    assert.equal(DEFAULT_ECHO_PORT, 3000);
    assert.equal(DEFAULT_ECHO_HOSTNAME, "0.0.0.0");
    assert.equal(DEFAULT_CHAT_PORT, 3000);
  });

  test("reads --port and --hostname in both spellings", () => {
    assert.deepEqual(
      parseListenSettings(
        ["--port", "8080", "--hostname=127.0.0.1"],
        noEnv,
        DEFAULTS,
      ),
      { port: 8080, hostname: "127.0.0.1" },
    );
    assert.deepEqual(
      parseListenSettings(["--port=0", "--hostname", "::1"], noEnv, DEFAULTS),
      { port: 0, hostname: "::1" },
    );
  });

  test("falls back to PORT and HOST; flags win over them", () => {
    const env = (name: string) =>
      new Map([["PORT", "9000"], ["HOST", "127.0.0.2"]]).get(name);
    assert.deepEqual(parseListenSettings([], env, DEFAULTS), {
      port: 9000,
      hostname: "127.0.0.2",
    });
    assert.deepEqual(parseListenSettings(["--port", "81"], env, DEFAULTS), {
      port: 81,
      hostname: "127.0.0.2",
    });
  });

  test("rejects bad ports, unknown arguments and missing values", () => {
    for (const args of [["--port", "65536"], ["--port", "x"], ["--port="]]) {
      assert.throws(
        () => parseListenSettings(args, noEnv, DEFAULTS),
        RangeError,
      );
    }
    assert.throws(
      () => parseListenSettings([], () => "-1", DEFAULTS),
      RangeError,
    );
    assert.throws(
      () => parseListenSettings(["--verbose"], noEnv, DEFAULTS),
      RangeError,
    );
    assert.throws(
      () => parseListenSettings(["--port"], noEnv, DEFAULTS),
      RangeError,
    );
  });

  for (
    const [task, file] of [
      ["serve", "examples/echo/server.ts"],
      ["chat", "examples/chat/server.ts"],
    ]
  ) {
    test(`deno task ${task} --port N and --port=N listen on N`, async () => {
      for (const args of [["--port", "0"], ["--port=0"]]) {
        const printed = await startDemo(file, [
          ...args,
          "--hostname=127.0.0.1",
        ]);
        assert.match(printed, / listening on http:\/\/127\.0\.0\.1:\d+\//);
        assert.doesNotMatch(printed, /:3000\//);
      }
    });

    test(`deno task ${task} with PORT=abc says so in one line`, async () => {
      const run = await runBounded(
        Deno.execPath(),
        ["run", "-A", file],
        30_000,
        { PORT: "abc", NO_COLOR: "1" },
        ROOT,
      );
      assert.equal(run.code, 2);
      assert.match(run.stderr, /PORT: "abc" is not a port number/);
      assert.doesNotMatch(run.stderr, /Uncaught| {4}at /);
    });

    test(`deno task ${task} on a port in use says so in one line`, async () => {
      const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      try {
        const port = (taken.addr as Deno.NetAddr).port;
        const run = await runBounded(
          Deno.execPath(),
          ["run", "-A", file, "--port", String(port), "--hostname=127.0.0.1"],
          30_000,
          { NO_COLOR: "1" },
          ROOT,
        );
        assert.equal(run.code, 1);
        assert.match(run.stderr, /already in use; choose another port/);
        assert.doesNotMatch(run.stderr, /Uncaught| {4}at /);
      } finally {
        taken.close();
      }
    });
  }
});
