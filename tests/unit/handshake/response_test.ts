// The 101 response: the head buildUpgradeResponseHead writes, what
// verifyServerResponse accepts and refuses, and a whole round trip from the
// client's request head to its verification of the answer.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  buildUpgradeResponseHead,
  computeAcceptKey,
  createClientHandshake,
  formatExtensions,
  HandshakeError,
  parseExtensions,
  selectProtocol,
  validateUpgradeRequest,
  verifyServerResponse,
} from "../../../handshake.ts";
import {
  parseHead,
  RFC_ACCEPT,
  RFC_KEY,
  summarizeOffers,
} from "../../support/handshake.ts";

/** `promise` rejects with a HandshakeError with `status` and `message`. */
async function assertVerifyRefused(
  promise: Promise<unknown>,
  status: number,
  message: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof HandshakeError);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

describe("buildUpgradeResponseHead", () => {
  test("exact bytes for the RFC key", async () => {
    const accept = await computeAcceptKey(RFC_KEY);
    assert.equal(
      buildUpgradeResponseHead(accept),
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "\r\n",
    );
    assert.equal(
      buildUpgradeResponseHead(accept, {
        protocol: "chat",
        extensions: "permessage-deflate; server_no_context_takeover",
        headers: [["X-Served-By", "test"], ["Set-Cookie", "a=b"]],
      }),
      "HTTP/1.1 101 Switching Protocols\r\n" +
        "Upgrade: websocket\r\n" +
        "Connection: Upgrade\r\n" +
        "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n" +
        "Sec-WebSocket-Protocol: chat\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n" +
        "X-Served-By: test\r\n" +
        "Set-Cookie: a=b\r\n" +
        "\r\n",
    );
  });

  test("extra headers in every HeadersInit form", () => {
    const fromRecord = buildUpgradeResponseHead(RFC_ACCEPT, {
      headers: { "X-A": "1" },
    });
    assert.ok(fromRecord.endsWith("X-A: 1\r\n\r\n"));
    const fromHeaders = buildUpgradeResponseHead(RFC_ACCEPT, {
      headers: new Headers({ "X-A": "1" }),
    });
    assert.ok(fromHeaders.endsWith("x-a: 1\r\n\r\n"));
  });

  test("header injection and bad names or values throw TypeError", () => {
    const badOptions: Parameters<typeof buildUpgradeResponseHead>[1][] = [
      { headers: { "X-A": "a\r\nSet-Cookie: evil=1" } },
      { headers: { "X-A": "a\nb" } },
      { headers: { "X-A": "a\rb" } },
      { headers: { "X-A": "a\u0000b" } },
      { headers: [["X A", "1"]] },
      { headers: [["X-A:", "1"]] },
      { headers: [["", "1"]] },
      { headers: { "Sec-WebSocket-Accept": "x" } },
      { headers: { connection: "close" } },
      { protocol: "a b" },
      { protocol: "chat\r\nX: y" },
      { extensions: "x\r\nX-Evil: 1" },
      { extensions: "x; a=" },
    ];
    for (const options of badOptions) {
      assert.throws(
        () => buildUpgradeResponseHead(RFC_ACCEPT, options),
        TypeError,
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => buildUpgradeResponseHead("abc\r\nX: 1"),
      TypeError,
    );
  });
});

describe("verifyServerResponse", () => {
  const key = RFC_KEY;

  function response(
    changes: Record<string, string | null> = {},
    status = 101,
  ): { status: number; headers: Headers } {
    const headers = new Headers({
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Accept": RFC_ACCEPT,
    });
    for (const [name, value] of Object.entries(changes)) {
      if (value === null) headers.delete(name);
      else headers.set(name, value);
    }
    return { status, headers };
  }

  test("accepts a good answer; protocol is empty when none", async () => {
    assert.deepEqual(await verifyServerResponse(response(), { key }), {
      protocol: "",
      extensions: [],
    });
    const relaxed = response({
      Upgrade: "WebSocket",
      Connection: "x, upgrade",
    });
    assert.equal((await verifyServerResponse(relaxed, { key })).protocol, "");
  });

  test("returns the chosen protocol and accepted extensions", async () => {
    const offeredExtensions = parseExtensions(
      "permessage-deflate; client_max_window_bits, x-other",
    );
    const result = await verifyServerResponse(
      response({
        "Sec-WebSocket-Protocol": "superchat",
        "Sec-WebSocket-Extensions":
          "permessage-deflate; server_max_window_bits=10",
      }),
      { key, protocols: ["chat", "superchat"], offeredExtensions },
    );
    assert.equal(result.protocol, "superchat");
    assert.deepEqual(summarizeOffers(result.extensions), [
      ["permessage-deflate", [["server_max_window_bits", "10"]]],
    ]);
  });

  test("refuses each kind of bad answer", async () => {
    const offered = { key, protocols: ["chat"] };
    const cases: [
      ReturnType<typeof response>,
      Parameters<typeof verifyServerResponse>[1],
      number,
      RegExp,
    ][] = [
      [response({}, 200), { key }, 200, /expected status 101, got 200/],
      [response({}, 403), { key }, 403, /got 403/],
      [response({ Upgrade: null }), { key }, 101, /Upgrade header is missing/],
      [
        response({ Upgrade: "h2c" }),
        { key },
        101,
        /Upgrade header must contain "websocket", got "h2c"/,
      ],
      [
        response({ Connection: null }),
        { key },
        101,
        /Connection header is missing/,
      ],
      [
        response({ Connection: "close" }),
        { key },
        101,
        /Connection header must contain "Upgrade"/,
      ],
      [
        response({ "Sec-WebSocket-Accept": null }),
        { key },
        101,
        /no Sec-WebSocket-Accept/,
      ],
      [
        response(),
        { key: "x3JJHMbDL1EzLkh9GBhXDw==" },
        101,
        /Sec-WebSocket-Accept is wrong/,
      ],
      [
        response({ "Sec-WebSocket-Accept": RFC_ACCEPT.toLowerCase() }),
        { key },
        101,
        /Sec-WebSocket-Accept is wrong/,
      ],
      [
        response({ "Sec-WebSocket-Protocol": "chat" }),
        { key },
        101,
        /but none was offered/,
      ],
      [
        response({ "Sec-WebSocket-Protocol": "other" }),
        offered,
        101,
        /subprotocol "other", which was not offered/,
      ],
      [
        response({ "Sec-WebSocket-Protocol": "chat, chat" }),
        offered,
        101,
        /"chat, chat": several subprotocols/,
      ],
      [
        response({ "Sec-WebSocket-Protocol": "" }),
        offered,
        101,
        /subprotocol "", which was not offered/,
      ],
      [
        response({ "Sec-WebSocket-Extensions": "permessage-deflate" }),
        { key },
        101,
        /unoffered extension "permessage-deflate"/,
      ],
      [
        response({ "Sec-WebSocket-Extensions": "a, b" }),
        { key, offeredExtensions: parseExtensions("a") },
        101,
        /unoffered extension "b"/,
      ],
      [
        response({ "Sec-WebSocket-Extensions": "a; p=" }),
        { key, offeredExtensions: parseExtensions("a") },
        101,
        /server sent invalid Sec-WebSocket-Extensions/,
      ],
    ];
    for (const [answer, expected, status, message] of cases) {
      await assertVerifyRefused(
        verifyServerResponse(answer, expected),
        status,
        message,
      );
    }
  });
});

describe("round trip", () => {
  test("client head -> server validation -> 101 head -> client verification", async () => {
    const client = createClientHandshake("ws://127.0.0.1:8080/chat?room=1", {
      protocols: ["v2.chat", "v1.chat"],
      extensions: "permessage-deflate; client_max_window_bits",
      headers: { Origin: "http://127.0.0.1:8080" },
    });

    const request = parseHead(client.head);
    const [method, target, version] = request.startLine.split(" ");
    assert.equal(target, "/chat?room=1");
    assert.ok(version.startsWith("HTTP/"));
    const upgrade = validateUpgradeRequest({
      method,
      httpVersion: version.slice("HTTP/".length),
      headers: request.headers,
    });
    assert.equal(upgrade.key, client.key);
    assert.deepEqual(upgrade.protocols, ["v2.chat", "v1.chat"]);

    const protocol = selectProtocol(upgrade.protocols, ["v1.chat", "v2.chat"]);
    assert.equal(protocol, "v1.chat");
    assert.ok(upgrade.extensionsHeader !== null, "the offer arrived");
    const offers = parseExtensions(upgrade.extensionsHeader);
    const serverHead = buildUpgradeResponseHead(
      await computeAcceptKey(upgrade.key),
      { protocol, extensions: formatExtensions(offers) },
    );

    const answer = parseHead(serverHead);
    const [httpVersion, statusText] = answer.startLine.split(" ");
    assert.equal(httpVersion, "HTTP/1.1");
    const verified = await verifyServerResponse(
      { status: Number(statusText), headers: answer.headers },
      {
        key: client.key,
        protocols: ["v2.chat", "v1.chat"],
        offeredExtensions: parseExtensions(
          "permessage-deflate; client_max_window_bits",
        ),
      },
    );
    assert.equal(verified.protocol, "v1.chat");
    assert.deepEqual(summarizeOffers(verified.extensions), [
      ["permessage-deflate", [["client_max_window_bits", true]]],
    ]);
  });

  test("a tampered key fails verification", async () => {
    const client = createClientHandshake("ws://127.0.0.1/");
    const other = createClientHandshake("ws://127.0.0.1/");
    const serverHead = buildUpgradeResponseHead(
      await computeAcceptKey(other.key),
    );
    const answer = parseHead(serverHead);
    await assertVerifyRefused(
      verifyServerResponse(
        { status: 101, headers: answer.headers },
        { key: client.key },
      ),
      101,
      /Sec-WebSocket-Accept is wrong/,
    );
  });
});
