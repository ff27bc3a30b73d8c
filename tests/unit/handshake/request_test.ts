// The upgrade request: the head createClientHandshake writes, what
// validateUpgradeRequest accepts and refuses (with which status), and the
// refusal response.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ClientRequestOptions,
  createClientHandshake,
  HandshakeError,
  refusalResponse,
  validateUpgradeRequest,
} from "../../../handshake.ts";
import {
  assertRefused,
  base64ToBytes,
  bytesToBase64,
  parseHead,
  RFC_KEY,
  upgradeRequest,
  VALID_REQUEST_HEADERS,
} from "../../support/handshake.ts";

describe("validateUpgradeRequest accepts", () => {
  test("the RFC example request", () => {
    const upgrade = validateUpgradeRequest(upgradeRequest());
    assert.deepEqual(upgrade, {
      key: RFC_KEY,
      protocols: [],
      extensionsHeader: null,
    });
  });

  test("offered subprotocols and extensions", () => {
    const upgrade = validateUpgradeRequest(upgradeRequest({
      "Sec-WebSocket-Protocol": "chat, superchat",
      "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits",
    }));
    assert.deepEqual(upgrade.protocols, ["chat", "superchat"]);
    assert.equal(
      upgrade.extensionsHeader,
      "permessage-deflate; client_max_window_bits",
    );
  });

  test("extension offers with bad syntax, left to the extension to decline", () => {
    // RFC 7692 section 5: an offer repeating a parameter is declined, not
    // refused; so is any malformed element, and the handshake goes on.
    for (
      const value of [
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "foo; bar=",
        "x;;",
        ", ,",
      ]
    ) {
      const upgrade = validateUpgradeRequest(upgradeRequest({
        "Sec-WebSocket-Extensions": value,
      }));
      assert.equal(upgrade.key, RFC_KEY, value);
      assert.equal(upgrade.extensionsHeader, value);
    }
  });

  test("several Sec-WebSocket-Extensions lines arrive joined in order", () => {
    const headers = upgradeRequest().headers;
    headers.append("Sec-WebSocket-Extensions", "permessage-deflate; a");
    headers.append("Sec-WebSocket-Extensions", "permessage-deflate");
    const upgrade = validateUpgradeRequest({ method: "GET", headers });
    assert.equal(
      upgrade.extensionsHeader,
      "permessage-deflate; a, permessage-deflate",
    );
  });

  test("a Request object (treated as HTTP/1.1)", () => {
    const request = new Request("http://server.example.com/chat", {
      headers: VALID_REQUEST_HEADERS,
    });
    assert.equal(validateUpgradeRequest(request).key, RFC_KEY);
  });

  test("comma lists and any case in Upgrade and Connection", () => {
    for (
      const [upgrade, connection] of [
        ["foo, WebSocket", "keep-alive, Upgrade"],
        ["WEBSOCKET", "UPGRADE"],
        ["websocket ,h2c", "upgrade,keep-alive"],
      ]
    ) {
      const result = validateUpgradeRequest(
        upgradeRequest({ Upgrade: upgrade, Connection: connection }),
      );
      assert.equal(result.key, RFC_KEY, `${upgrade} / ${connection}`);
    }
  });

  test("HTTP/1.1 and later 1.x versions", () => {
    for (const version of ["1.1", "1.2", "1.10"]) {
      const request = upgradeRequest({}, "GET", version);
      assert.equal(validateUpgradeRequest(request).key, RFC_KEY);
    }
    const withoutVersion = { method: "GET", headers: upgradeRequest().headers };
    assert.equal(validateUpgradeRequest(withoutVersion).key, RFC_KEY);
  });
});

describe("validateUpgradeRequest refuses", () => {
  test("a method other than GET with 405 and Allow: GET", () => {
    for (const method of ["POST", "get", "CONNECT"]) {
      const error = assertRefused(
        () => validateUpgradeRequest(upgradeRequest({}, method)),
        405,
        new RegExp(`GET, got "${method}"`),
      );
      assert.deepEqual(error.headers, [["Allow", "GET"]]);
    }
  });

  test("HTTP versions before 1.1 (or not 1.x) with 505", () => {
    for (const version of ["1.0", "0.9", "2", "1.", "1.1x", "x"]) {
      assertRefused(
        () => validateUpgradeRequest(upgradeRequest({}, "GET", version)),
        505,
        new RegExp(`HTTP/1\\.1, got HTTP/${version.replace(".", "\\.")}$`),
      );
    }
  });

  test("a missing Host", () => {
    assertRefused(
      () => validateUpgradeRequest(upgradeRequest({ Host: null })),
      400,
      /Host header is missing/,
    );
  });

  test("an Upgrade header without the websocket token", () => {
    assertRefused(
      () => validateUpgradeRequest(upgradeRequest({ Upgrade: null })),
      400,
      /Upgrade header is missing/,
    );
    for (const value of ["h2c", "websocket2", "web socket", "websocket/13"]) {
      assertRefused(
        () => validateUpgradeRequest(upgradeRequest({ Upgrade: value })),
        400,
        new RegExp(`Upgrade header must contain "websocket", got "${value}"`),
      );
    }
  });

  test("a Connection header without the upgrade token", () => {
    assertRefused(
      () => validateUpgradeRequest(upgradeRequest({ Connection: null })),
      400,
      /Connection header is missing/,
    );
    for (const value of ["keep-alive", "close", "upgrades"]) {
      assertRefused(
        () => validateUpgradeRequest(upgradeRequest({ Connection: value })),
        400,
        new RegExp(`Connection header must contain "Upgrade", got "${value}"`),
      );
    }
  });

  test("a missing or malformed Sec-WebSocket-Key", () => {
    const sixteen = new Uint8Array(16).fill(7);
    const cases: [string | null, RegExp][] = [
      [null, /Sec-WebSocket-Key header is missing/],
      [RFC_KEY.slice(1), /24 base64 characters .* got 23 characters/],
      [RFC_KEY + "A", /24 base64 characters .* got 25 characters/],
      ["dGhlIHNhbXBsZSBub25j*Q==", /non-base64 character "\*" at index 20/],
      ["dGhlIHNhbXBsZSBub25j-Q==", /non-base64 character "-" at index 20/],
      [bytesToBase64(sixteen.subarray(0, 15)), /got 20 characters/],
      [bytesToBase64(new Uint8Array(17)), /must end with "=="/],
      ["dGhlIHNhbXBsZSBub25jZR==", /not canonical.*"R"/],
      ["dGhlIHNhbXBsZSBub25jZf==", /not canonical.*"f"/],
      ["", /got 0 characters/],
    ];
    for (const [key, message] of cases) {
      assertRefused(
        () =>
          validateUpgradeRequest(upgradeRequest({ "Sec-WebSocket-Key": key })),
        400,
        message,
      );
    }
  });

  test("a repeated Sec-WebSocket-Key", () => {
    const request = upgradeRequest();
    request.headers.append("Sec-WebSocket-Key", RFC_KEY);
    assertRefused(
      () => validateUpgradeRequest(request),
      400,
      /Sec-WebSocket-Key must appear exactly once/,
    );
  });

  test("a missing or wrong Sec-WebSocket-Version with 426", () => {
    const cases: [string | null, RegExp][] = [
      [null, /Sec-WebSocket-Version header is missing/],
      ["8", /Sec-WebSocket-Version must be 13, got "8"/],
      ["12", /got "12"/],
      ["13, 8", /got "13, 8"/],
    ];
    for (const [version, message] of cases) {
      const error = assertRefused(
        () =>
          validateUpgradeRequest(
            upgradeRequest({ "Sec-WebSocket-Version": version }),
          ),
        426,
        message,
      );
      assert.deepEqual(error.headers, [["Sec-WebSocket-Version", "13"]]);
    }
  });

  test("bad Sec-WebSocket-Protocol syntax", () => {
    assertRefused(
      () =>
        validateUpgradeRequest(
          upgradeRequest({ "Sec-WebSocket-Protocol": "chat, , superchat" }),
        ),
      400,
      /Sec-WebSocket-Protocol has an empty element/,
    );
  });
});

describe("refusalResponse", () => {
  test("carries status, message, the error's headers and Connection: close", async () => {
    const response = refusalResponse(
      new HandshakeError(426, 'Sec-WebSocket-Version must be 13, got "8"', [
        ["Sec-WebSocket-Version", "13"],
      ]),
    );
    assert.equal(response.status, 426);
    assert.equal(response.headers.get("sec-websocket-version"), "13");
    assert.equal(response.headers.get("connection"), "close");
    assert.match(response.headers.get("content-type") ?? "", /^text\/plain/);
    assert.equal(
      await response.text(),
      'Sec-WebSocket-Version must be 13, got "8"',
    );
  });

  test("a 405 refusal from validation keeps Allow: GET", () => {
    const error = assertRefused(
      () => validateUpgradeRequest(upgradeRequest({}, "POST")),
      405,
      /POST/,
    );
    const response = refusalResponse(error);
    assert.equal(response.status, 405);
    assert.equal(response.headers.get("allow"), "GET");
  });
});

describe("createClientHandshake", () => {
  const cases: [string, string, string][] = [
    ["ws://example.com", "/", "example.com"],
    ["ws://example.com:80/chat", "/chat", "example.com"],
    ["ws://example.com:8080/chat?a=1&b=2", "/chat?a=1&b=2", "example.com:8080"],
    ["ws://example.com?x", "/?x", "example.com"],
    ["wss://example.com/", "/", "example.com"],
    ["wss://example.com:443/s", "/s", "example.com"],
    ["wss://example.com:80/", "/", "example.com:80"],
    ["ws://example.com:443/", "/", "example.com:443"],
    ["ws://[::1]:9000/x", "/x", "[::1]:9000"],
    ["ws://[2001:db8::1]/", "/", "[2001:db8::1]"],
    ["ws://127.0.0.1:1234", "/", "127.0.0.1:1234"],
    ["http://example.com:80/h", "/h", "example.com"],
    ["https://example.com:8443/h", "/h", "example.com:8443"],
    ["ws://user:pass@example.com/", "/", "example.com"],
  ];
  for (const [url, target, host] of cases) {
    test(`request head for ${url}`, () => {
      const { key, head } = createClientHandshake(url);
      const parsed = parseHead(head);
      assert.equal(parsed.startLine, `GET ${target} HTTP/1.1`);
      assert.deepEqual(parsed.names, [
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
      ]);
      assert.equal(parsed.headers.get("host"), host);
      assert.equal(parsed.headers.get("upgrade"), "websocket");
      assert.equal(parsed.headers.get("connection"), "Upgrade");
      assert.equal(parsed.headers.get("sec-websocket-key"), key);
      assert.equal(parsed.headers.get("sec-websocket-version"), "13");
      assert.equal(base64ToBytes(key).length, 16);
    });
  }

  test("a URL object and a fresh key each time", () => {
    const first = createClientHandshake(new URL("ws://example.com/a"));
    const second = createClientHandshake(new URL("ws://example.com/a"));
    assert.notEqual(first.key, second.key);
    assert.match(first.head, /^GET \/a HTTP\/1\.1\r\n/);
  });

  test("protocols, extensions and extra headers in order", () => {
    const { head } = createClientHandshake("ws://example.com/", {
      protocols: ["chat", "superchat"],
      extensions: "permessage-deflate; client_max_window_bits",
      headers: [["Origin", "http://example.com"], ["X-Trace", "1"]],
    });
    const parsed = parseHead(head);
    assert.deepEqual(parsed.names.slice(5), [
      "Sec-WebSocket-Protocol",
      "Sec-WebSocket-Extensions",
      "Origin",
      "X-Trace",
    ]);
    assert.equal(
      parsed.headers.get("sec-websocket-protocol"),
      "chat, superchat",
    );
    assert.equal(
      parsed.headers.get("sec-websocket-extensions"),
      "permessage-deflate; client_max_window_bits",
    );
    assert.equal(parsed.headers.get("origin"), "http://example.com");
    const empty = parseHead(
      createClientHandshake("ws://h/", { protocols: [] }).head,
    );
    assert.equal(empty.headers.has("sec-websocket-protocol"), false);
  });

  test("bad URLs are TypeErrors", () => {
    for (
      const url of [
        "ftp://example.com/",
        "file:///tmp/x",
        "ws://example.com/#frag",
        "ws://example.com/#",
        "not a url",
        "/relative",
      ]
    ) {
      assert.throws(() => createClientHandshake(url), TypeError, url);
    }
  });

  test("bad protocols, extensions and headers are TypeErrors", () => {
    const badOptions: ClientRequestOptions[] = [
      { protocols: ["a b"] },
      { protocols: [""] },
      { protocols: ["chat", "chat"] },
      { protocols: ["chat\r\nX: y"] },
      { extensions: "x;;" },
      { extensions: "x\r\nEvil: 1" },
      { headers: { "Sec-WebSocket-Key": RFC_KEY } },
      { headers: { host: "other" } },
      { headers: { Upgrade: "h2c" } },
      { headers: { "sec-websocket-version": "8" } },
      { headers: { "Sec-WebSocket-Protocol": "chat" } },
      { headers: { "X-A": "1\r\nX-B: 2" } },
    ];
    for (const options of badOptions) {
      assert.throws(
        () => createClientHandshake("ws://example.com/", options),
        TypeError,
        JSON.stringify(options),
      );
    }
  });
});
