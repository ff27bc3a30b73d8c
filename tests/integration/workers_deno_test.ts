// Deno only: `deno task serve --workers 2` as a user runs it: two echo
// processes share one port (reusePort), the kernel gives connections to
// both, a worker that is killed is restarted and the port keeps answering,
// and SIGTERM to the supervisor stops everything.
import assert from "node:assert/strict";
import { freeLoopbackPort } from "../support/redis_server_deno.ts";
import { withDeadline } from "../interop/peers/bounded.ts";

const ECHO_SERVER = new URL("../../examples/echo/server.ts", import.meta.url)
  .pathname;
const DEADLINE_MS = 30_000;

/** The supervisor's output, line by line, with a wait for a line. */
class Lines {
  readonly all: string[] = [];
  #wake: (() => void) | null = null;

  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      let pending = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let newline = pending.indexOf("\n");
        while (newline !== -1) {
          this.all.push(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
          newline = pending.indexOf("\n");
        }
        this.#wake?.();
      }
    })();
  }

  /** Resolves once `count` lines satisfy `test`; returns the last. */
  async until(test: (line: string) => boolean, count = 1): Promise<string> {
    for (;;) {
      const matching = this.all.filter(test);
      if (matching.length >= count) return matching[count - 1];
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
  }
}

async function echoOnce(port: number): Promise<void> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  const echoed = new Promise<void>((resolve, reject) => {
    socket.onopen = () => socket.send("hello");
    socket.onmessage = (event) => {
      assert.equal(event.data, "hello");
      socket.close();
    };
    socket.onclose = () => resolve();
    socket.onerror = () => reject(new Error("the connection failed"));
  });
  await withDeadline(echoed, 5_000, "an echo");
}

Deno.test("--workers 2: two processes on one port, a killed one restarted", async () => {
  const port = freeLoopbackPort();
  const supervisor = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-env",
      "--allow-run",
      ECHO_SERVER,
      "--workers",
      "2",
      "--port",
      String(port),
      "--hostname",
      "127.0.0.1",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = new Lines(supervisor.stdout);
  const listening = (line: string) => line.includes("echo server listening");
  try {
    await withDeadline(
      (async () => {
        await lines.until(listening, 2);
        // Connections until both workers have served one.
        for (let attempt = 0; attempt < 200; attempt++) {
          await echoOnce(port);
          const served = new Set(
            lines.all.filter((line) => line.includes(": connect "))
              .map((line) => line.slice(0, line.indexOf(":"))),
          );
          if (served.size === 2) break;
        }
        const served = lines.all.filter((line) => line.includes(": connect "));
        assert.ok(served.some((line) => line.startsWith("worker 1:")));
        assert.ok(served.some((line) => line.startsWith("worker 2:")));
        const started = await lines.until((line) =>
          line.startsWith("supervisor: worker 1 started")
        );
        const pid = Number(started.slice(started.indexOf("pid ") + 4, -1));
        Deno.kill(pid, "SIGKILL");
        await lines.until((line) =>
          line.startsWith(`worker 1 (pid ${pid}) exited`)
        );
        await lines.until(listening, 3);
        for (let attempt = 0; attempt < 5; attempt++) await echoOnce(port);
      })(),
      DEADLINE_MS,
      "the workers",
    );
  } finally {
    supervisor.kill("SIGTERM");
    const status = await withDeadline(
      supervisor.status,
      DEADLINE_MS,
      "the supervisor stopping",
    ).catch(async (error) => {
      supervisor.kill("SIGKILL");
      await supervisor.status;
      throw error;
    });
    assert.equal(status.code, 0, lines.all.join("\n"));
  }
  assert.equal(
    lines.all.filter((line) => line === "echo server stopped").length,
    2,
  );
});
