// The package's pure entry (`codec.ts`: frames, protocol, handshake,
// errors) must run in a browser: bundle it with `deno bundle` and with
// esbuild, each for the browser platform, load each bundle into headless
// Chromium from a local server (127.0.0.1 is a secure context, so
// crypto.subtle exists), compute in the page and assert here on what comes
// back. Expected bytes are written out from RFC 6455, never computed by the
// code under test.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import type * as codec from "../../codec.ts";
import { bundleForBrowser, BUNDLERS } from "./browser/bundle.ts";
import {
  type BrowserSession,
  chromiumInstalled,
  launchChromium,
} from "./browser/chromium.ts";
import { skipUnlessAvailable, withDeadline } from "./peers/bounded.ts";

const skip = skipUnlessAvailable(await chromiumInstalled(), "Chromium");

const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>rfc6455 browser check</title>
<script type="module">
import * as codec from "/codec.js";
globalThis.rfc6455 = codec;
</script>
`;

/** The page's view of the bundle. */
type PageGlobals = { rfc6455: typeof codec };

const ENTRY = fileURLToPath(new URL("../../codec.ts", import.meta.url));

for (const bundler of BUNDLERS) {
  describe(`the pure entry bundled by ${bundler}, in headless Chromium`, {
    skip,
  }, () => {
    let session: BrowserSession | undefined;
    let server: Deno.HttpServer<Deno.NetAddr> | undefined;

    before(async () => {
      const bundle = await bundleForBrowser(ENTRY, bundler);
      server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        (request) => {
          const path = new URL(request.url).pathname;
          if (path === "/") {
            return new Response(PAGE, {
              headers: { "content-type": "text/html; charset=utf-8" },
            });
          }
          if (path === "/codec.js") {
            return new Response(bundle, {
              headers: { "content-type": "text/javascript; charset=utf-8" },
            });
          }
          return new Response("not found", { status: 404 });
        },
      );
      session = await launchChromium();
      const { page } = session;
      await withDeadline(
        page.goto(`http://127.0.0.1:${server.addr.port}/`),
        15_000,
        "loading the page",
      );
      await page.waitForFunction(
        () => (globalThis as unknown as PageGlobals).rfc6455 !== undefined,
        null,
        { timeout: 15_000 },
      );
    });

    after(async () => {
      try {
        await session?.close();
      } finally {
        await server?.shutdown();
      }
    });

    function page(): BrowserSession["page"] {
      assert.ok(session, "the browser did not start");
      return session.page;
    }

    test("the bundle loads in a secure context without page errors", async () => {
      const loaded = await page().evaluate(() => {
        const codec = (globalThis as unknown as PageGlobals).rfc6455;
        return {
          secure: (globalThis as unknown as { isSecureContext: boolean })
            .isSecureContext,
          hasSubtle: typeof crypto.subtle?.digest === "function",
          names: Object.keys(codec).sort(),
        };
      });
      assert.deepEqual(session?.pageErrors, []);
      assert.equal(loaded.secure, true);
      assert.equal(loaded.hasSubtle, true);
      for (
        const name of ["encodeFrame", "FrameDecoder", "applyMask", "Opcode"]
      ) {
        assert.ok(loaded.names.includes(name), `the entry exports ${name}`);
      }
      for (const name of ["Protocol", "ReadyState"]) {
        assert.ok(loaded.names.includes(name), `the entry exports ${name}`);
      }
      assert.ok(loaded.names.includes("computeAcceptKey"));
      for (const name of ["CloseCode", "WebSocketError", "ProtocolError"]) {
        assert.ok(loaded.names.includes(name), `the entry exports ${name}`);
      }
    });

    test("encodeFrame produces the RFC 6455 section 5.7 example frames", async () => {
      const encoded = await page().evaluate(() => {
        const frame = (globalThis as unknown as PageGlobals).rfc6455;
        const { encodeFrame, Opcode } = frame;
        const bytesOf = (text: string) => new TextEncoder().encode(text);
        const key = new Uint8Array([0x37, 0xfa, 0x21, 0x3d]);
        const big256 = encodeFrame(Opcode.Binary, new Uint8Array(256));
        const big64k = encodeFrame(Opcode.Binary, new Uint8Array(65536));
        return {
          unmaskedHello: Array.from(encodeFrame(Opcode.Text, bytesOf("Hello"))),
          maskedHello: Array.from(
            encodeFrame(Opcode.Text, bytesOf("Hello"), { mask: key }),
          ),
          fragmentHel: Array.from(
            encodeFrame(Opcode.Text, bytesOf("Hel"), { fin: false }),
          ),
          fragmentLo: Array.from(
            encodeFrame(Opcode.Continuation, bytesOf("lo")),
          ),
          ping: Array.from(encodeFrame(Opcode.Ping, bytesOf("Hello"))),
          maskedPong: Array.from(
            encodeFrame(Opcode.Pong, bytesOf("Hello"), { mask: key }),
          ),
          header256: Array.from(big256.subarray(0, 4)),
          length256: big256.length,
          header64k: Array.from(big64k.subarray(0, 10)),
          length64k: big64k.length,
        };
      });
      assert.deepEqual(encoded.unmaskedHello, [
        0x81,
        0x05,
        0x48,
        0x65,
        0x6c,
        0x6c,
        0x6f,
      ]);
      assert.deepEqual(encoded.maskedHello, [
        0x81,
        0x85,
        0x37,
        0xfa,
        0x21,
        0x3d,
        0x7f,
        0x9f,
        0x4d,
        0x51,
        0x58,
      ]);
      assert.deepEqual(encoded.fragmentHel, [0x01, 0x03, 0x48, 0x65, 0x6c]);
      assert.deepEqual(encoded.fragmentLo, [0x80, 0x02, 0x6c, 0x6f]);
      assert.deepEqual(encoded.ping, [
        0x89,
        0x05,
        0x48,
        0x65,
        0x6c,
        0x6c,
        0x6f,
      ]);
      assert.deepEqual(encoded.maskedPong, [
        0x8a,
        0x85,
        0x37,
        0xfa,
        0x21,
        0x3d,
        0x7f,
        0x9f,
        0x4d,
        0x51,
        0x58,
      ]);
      assert.deepEqual(encoded.header256, [0x82, 0x7e, 0x01, 0x00]);
      assert.equal(encoded.length256, 4 + 256);
      assert.deepEqual(encoded.header64k, [
        0x82,
        0x7f,
        0x00,
        0x00,
        0x00,
        0x00,
        0x00,
        0x01,
        0x00,
        0x00,
      ]);
      assert.equal(encoded.length64k, 10 + 65536);
    });

    test("FrameDecoder decodes the masked 'Hello' frame fed byte by byte", async () => {
      const decoded = await page().evaluate(() => {
        const frame = (globalThis as unknown as PageGlobals).rfc6455;
        const wire = [
          0x81,
          0x85,
          0x37,
          0xfa,
          0x21,
          0x3d,
          0x7f,
          0x9f,
          0x4d,
          0x51,
          0x58,
        ];
        const decoder = new frame.FrameDecoder({ expectMasked: true });
        const early: boolean[] = [];
        for (let index = 0; index < wire.length - 1; index++) {
          decoder.push(new Uint8Array([wire[index]]));
          early.push(decoder.next() !== undefined);
        }
        decoder.push(new Uint8Array([wire[wire.length - 1]]));
        const result = decoder.next();
        if (result === undefined) return null;
        return {
          anyEarly: early.some((value) => value),
          fin: result.fin,
          opcode: result.opcode,
          masked: result.masked,
          payload: Array.from(result.payload),
          afterwards: decoder.next() === undefined,
        };
      });
      assert.ok(decoded, "the decoder returned no frame");
      assert.equal(decoded.anyEarly, false);
      assert.equal(decoded.fin, true);
      assert.equal(decoded.opcode, 1);
      assert.equal(decoded.masked, true);
      assert.deepEqual(decoded.payload, [0x48, 0x65, 0x6c, 0x6c, 0x6f]);
      assert.equal(decoded.afterwards, true);
    });

    test("computeAcceptKey gives the RFC 6455 section 1.3 answer", async () => {
      const accept = await page().evaluate(() => {
        const handshake = (globalThis as unknown as PageGlobals).rfc6455;
        return handshake.computeAcceptKey("dGhlIHNhbXBsZSBub25jZQ==");
      });
      assert.equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    });

    test("Protocol reassembles a fragmented text message and answers a ping in between", async () => {
      const outcome = await page().evaluate(() => {
        const protocol = (globalThis as unknown as PageGlobals).rfc6455;
        const frame = protocol;
        const client = new protocol.Protocol({ role: "client" });
        const wire = [
          0x01,
          0x03,
          0x48,
          0x65,
          0x6c, // "Hel", FIN clear
          0x89,
          0x02,
          0x68,
          0x69, // ping "hi" between the fragments
          0x80,
          0x02,
          0x6c,
          0x6f, // "lo", FIN set
        ];
        const events: { type: string; text?: string; bytes?: number[] }[] = [];
        // Split the stream into 3-byte chunks, across frame boundaries.
        for (let start = 0; start < wire.length; start += 3) {
          const chunk = new Uint8Array(wire.slice(start, start + 3));
          for (const event of client.receive(chunk)) {
            if (event.type === "text") {
              events.push({ type: event.type, text: event.data });
            } else if (event.type === "ping" || event.type === "pong") {
              events.push({ type: event.type, bytes: Array.from(event.data) });
            } else events.push({ type: event.type });
          }
        }
        // The automatic pong must be masked (client role) and carry "hi".
        const outgoing = client.takeOutgoing();
        const decoder = new frame.FrameDecoder({ expectMasked: true });
        for (const bytes of outgoing) decoder.push(bytes);
        const pong = decoder.next();
        return {
          events,
          readyState: client.readyState,
          pong: pong === undefined ? null : {
            opcode: pong.opcode,
            masked: pong.masked,
            payload: Array.from(pong.payload),
          },
          moreOutgoing: decoder.next() !== undefined,
        };
      });
      assert.deepEqual(outcome.events, [
        { type: "ping", bytes: [0x68, 0x69] },
        { type: "text", text: "Hello" },
      ]);
      assert.equal(outcome.readyState, 1);
      assert.deepEqual(outcome.pong, {
        opcode: 0x0a,
        masked: true,
        payload: [0x68, 0x69],
      });
      assert.equal(outcome.moreOutgoing, false);
    });

    test("Protocol fails invalid UTF-8 with close code 1007 and a typed error", async () => {
      const outcome = await page().evaluate(() => {
        const protocol = (globalThis as unknown as PageGlobals).rfc6455;
        const client = new protocol.Protocol({ role: "client" });
        // A text frame holding 0xC3 0x28, an invalid two-byte sequence.
        const events = client.receive(new Uint8Array([0x81, 0x02, 0xc3, 0x28]));
        const first = events[0];
        if (first === undefined || first.type !== "error") {
          return { kind: first?.type ?? "none" };
        }
        return {
          kind: first.type,
          name: first.error.name,
          closeCode: first.error.closeCode,
          readyState: client.readyState,
        };
      });
      assert.deepEqual(outcome, {
        kind: "error",
        name: "InvalidPayloadError",
        closeCode: 1007,
        readyState: 3,
      });
    });
  });
}
