// Deno only: the inputs behind known CVEs of other WebSocket servers
// (tests/support/cve_inputs.ts), fed to this library's server over TCP.
// Each gets its answer (400, 431, a 101 without the bad extension, 1009)
// and the server stays up; what each costs in time and memory is measured
// by bench/security_cases.ts, never asserted here.
import assert from "node:assert/strict";
import {
  CVE_CASES,
  emptyFragmentFlood,
  upgradeRequest,
} from "../support/cve_inputs.ts";
import { startCveEchoServer } from "../support/cve_server_deno.ts";
import { describe, test } from "../support/server_deno.ts";
import { DEFAULTS } from "../../defaults.ts";

const latin1 = (text: string) =>
  Uint8Array.from(text, (char) => char.charCodeAt(0));

/** Writes `bytes` in `chunkSize` pieces, stopping quietly if the server
 * closed the connection (it may answer before the input ends). */
async function writeInChunks(
  conn: Deno.Conn,
  bytes: Uint8Array,
  chunkSize: number,
): Promise<void> {
  try {
    for (let offset = 0; offset < bytes.length; offset += chunkSize) {
      let piece = bytes.subarray(offset, offset + chunkSize);
      while (piece.length > 0) piece = piece.subarray(await conn.write(piece));
    }
  } catch {
    // The server answered and closed: that is the point.
  }
}

/** Reads until the server closes, or until `enough` says stop. */
async function readUntil(
  conn: Deno.Conn,
  enough: (text: string) => boolean,
): Promise<string> {
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  try {
    while (!enough(text)) {
      const count = await conn.read(buffer);
      if (count === null) break;
      text += String.fromCharCode(...buffer.subarray(0, count));
    }
  } catch {
    // reset by the server after its answer
  }
  return text;
}

describe("known CVE inputs of other WebSocket servers", () => {
  for (const cve of CVE_CASES) {
    test(`${cve.name}: ${cve.status}`, async () => {
      const server = startCveEchoServer();
      try {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.addr.port,
        });
        try {
          const writing = writeInChunks(conn, latin1(cve.input), cve.chunkSize);
          const answer = await readUntil(
            conn,
            (text) => text.includes("\r\n\r\n"),
          );
          await writing;
          assert.match(answer, new RegExp(`^HTTP/1.1 ${cve.status} `));
          if (cve.noExtensions) {
            assert.doesNotMatch(answer, /sec-websocket-extensions/i);
          }
        } finally {
          conn.close();
        }
        // The server still serves.
        const check = await fetch(`http://127.0.0.1:${server.addr.port}/`);
        assert.equal(check.status, 400); // a plain GET is not an upgrade
        await check.body?.cancel();
      } finally {
        await server.shutdown();
      }
    });
  }

  test("ws/uWebSockets class: a flood of empty fragments ends with 1009 at maxFragments", async () => {
    const server = startCveEchoServer();
    try {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.addr.port,
      });
      try {
        await writeInChunks(conn, latin1(upgradeRequest()), 1024);
        const head = await readUntil(conn, (text) => text.includes("\r\n\r\n"));
        assert.match(head, /^HTTP\/1.1 101 /);
        const count = DEFAULTS.socket.maxFragments + 10;
        const writing = writeInChunks(
          conn,
          emptyFragmentFlood(count),
          64 * 1024,
        );
        const frames = await readUntil(conn, (text) => text.length >= 4);
        await writing;
        assert.equal(frames.charCodeAt(0), 0x88, "a close frame");
        assert.equal(
          (frames.charCodeAt(2) << 8) | frames.charCodeAt(3),
          1009,
        );
      } finally {
        conn.close();
      }
    } finally {
      await server.shutdown();
    }
  });
});
