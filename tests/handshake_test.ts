import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  buildUpgradeResponseHead,
  type ClientRequestOptions,
  computeAcceptKey,
  createClientHandshake,
  type ExtensionOffer,
  formatExtensions,
  generateKey,
  HandshakeError,
  parseExtensions,
  parseProtocols,
  refusalResponse,
  selectProtocol,
  type UpgradeRequestInfo,
  validateUpgradeRequest,
  verifyServerResponse,
  WEBSOCKET_GUID,
} from "../handshake.ts";

const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// ---------------------------------------------------------------- helpers

/** A small SHA-1 (FIPS 180-4) written independently of the code under test,
 * so the accept key can be checked by a second method. */
function referenceSha1(message: Uint8Array): Uint8Array {
  const paddedLength = Math.ceil((message.length + 9) / 64) * 64;
  const padded = new Uint8Array(paddedLength);
  padded.set(message);
  padded[message.length] = 0x80;
  const view = new DataView(padded.buffer);
  const bitLength = message.length * 8;
  view.setUint32(paddedLength - 8, Math.floor(bitLength / 2 ** 32));
  view.setUint32(paddedLength - 4, bitLength >>> 0);
  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
  const words = new Uint32Array(80);
  const rotateLeft = (x: number, n: number) => (x << n) | (x >>> (32 - n));
  for (let block = 0; block < paddedLength; block += 64) {
    for (let t = 0; t < 16; t++) words[t] = view.getUint32(block + t * 4);
    for (let t = 16; t < 80; t++) {
      words[t] = rotateLeft(
        words[t - 3] ^ words[t - 8] ^ words[t - 14] ^ words[t - 16],
        1,
      );
    }
    let [a, b, c, d, e] = state;
    for (let t = 0; t < 80; t++) {
      let f: number;
      let k: number;
      if (t < 20) [f, k] = [(b & c) | (~b & d), 0x5a827999];
      else if (t < 40) [f, k] = [b ^ c ^ d, 0x6ed9eba1];
      else if (t < 60) [f, k] = [(b & c) | (b & d) | (c & d), 0x8f1bbcdc];
      else [f, k] = [b ^ c ^ d, 0xca62c1d6];
      const next = (rotateLeft(a, 5) + f + e + k + words[t]) >>> 0;
      [e, d, c, b, a] = [d, c, rotateLeft(b, 30) >>> 0, a, next];
    }
    state[0] = (state[0] + a) >>> 0;
    state[1] = (state[1] + b) >>> 0;
    state[2] = (state[2] + c) >>> 0;
    state[3] = (state[3] + d) >>> 0;
    state[4] = (state[4] + e) >>> 0;
  }
  const digest = new Uint8Array(20);
  const digestView = new DataView(digest.buffer);
  for (let i = 0; i < 5; i++) digestView.setUint32(i * 4, state[i]);
  return digest;
}

function toHex(bytes: Uint8Array): string {
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

const VALID_REQUEST_HEADERS: Record<string, string> = {
  Host: "server.example.com",
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": RFC_KEY,
  "Sec-WebSocket-Version": "13",
};

/** A valid upgrade request with some headers replaced (`null` removes one). */
function upgradeRequest(
  changes: Record<string, string | null> = {},
  method = "GET",
  httpVersion = "1.1",
): UpgradeRequestInfo {
  const headers = new Headers(VALID_REQUEST_HEADERS);
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) headers.delete(name);
    else headers.set(name, value);
  }
  return { method, httpVersion, headers };
}

/** Assert `action` throws a HandshakeError with `status` and a message
 * matching `message`. Returns the error for further checks. */
function assertRefused(
  action: () => unknown,
  status: number,
  message: RegExp,
): HandshakeError {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof HandshakeError, `expected a HandshakeError`);
  assert.equal(caught.status, status, caught.message);
  assert.match(caught.message, message);
  return caught;
}

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

/** Split a request or response head into its first line and headers, by
 * hand, checking the CRLF framing. Header order is kept in `names`. */
function parseHead(
  head: string,
): { startLine: string; headers: Headers; names: string[] } {
  assert.ok(head.endsWith("\r\n\r\n"), "head must end with CRLF CRLF");
  const lines = head.slice(0, -4).split("\r\n");
  const startLine = lines[0];
  const headers = new Headers();
  const names: string[] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    assert.ok(colon > 0, `header line without colon: ${line}`);
    const name = line.slice(0, colon);
    names.push(name);
    headers.append(name, line.slice(colon + 1).trim());
  }
  return { startLine, headers, names };
}

// ---------------------------------------------------------------- tests

describe("computeAcceptKey and generateKey", () => {
  test("RFC 6455 section 1.3 example", async () => {
    assert.equal(await computeAcceptKey(RFC_KEY), RFC_ACCEPT);
  });

  test("a second published example (Wikipedia, WebSocket article)", async () => {
    assert.equal(
      await computeAcceptKey("x3JJHMbDL1EzLkh9GBhXDw=="),
      "HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
    );
  });

  test("SHA-1 paths agree with the FIPS 180 'abc' vector", async () => {
    const abc = new TextEncoder().encode("abc");
    const expected = "a9993e364706816aba3e25717850c26c9cd0d89d";
    const subtle = await crypto.subtle.digest("SHA-1", abc);
    assert.equal(toHex(new Uint8Array(subtle)), expected);
    assert.equal(toHex(referenceSha1(abc)), expected);
    const twoBlocks = new TextEncoder().encode(
      "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
    );
    assert.equal(
      toHex(referenceSha1(twoBlocks)),
      "84983e441c3bd26ebaae4aa1f95129e5e54670f1",
    );
  });

  test("accept keys match an independent SHA-1 for random keys", async () => {
    for (let i = 0; i < 20; i++) {
      const key = generateKey();
      const expected = referenceSha1(
        new TextEncoder().encode(key + WEBSOCKET_GUID),
      );
      const accept = await computeAcceptKey(key);
      assert.deepEqual(base64ToBytes(accept), expected);
    }
  });

  test("generateKey gives 16 random bytes as canonical base64", () => {
    const first = generateKey();
    const second = generateKey();
    assert.equal(first.length, 24);
    assert.equal(base64ToBytes(first).length, 16);
    assert.equal(bytesToBase64(base64ToBytes(first)), first);
    assert.notEqual(first, second);
    const upgrade = validateUpgradeRequest(
      upgradeRequest({ "Sec-WebSocket-Key": first }),
    );
    assert.equal(upgrade.key, first);
  });
});

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

describe("selectProtocol", () => {
  const offered = ["chat", "superchat", "v2.json"];

  test("a list picks by the server's order of preference", () => {
    assert.equal(selectProtocol(offered, ["v2.json", "chat"]), "v2.json");
    assert.equal(selectProtocol(offered, ["superchat", "chat"]), "superchat");
    assert.equal(selectProtocol(offered, ["other", "chat"]), "chat");
  });

  test("no overlap gives undefined", () => {
    assert.equal(selectProtocol(offered, ["other"]), undefined);
    assert.equal(selectProtocol(offered, []), undefined);
    assert.equal(selectProtocol([], ["chat"]), undefined);
    assert.equal(selectProtocol(offered, ["CHAT"]), undefined);
  });

  test("a callback sees the offers and may choose one or none", () => {
    const seen: (readonly string[])[] = [];
    const chosen = selectProtocol(offered, (list) => {
      seen.push(list);
      return list[list.length - 1];
    });
    assert.equal(chosen, "v2.json");
    assert.deepEqual(seen, [offered]);
    assert.equal(selectProtocol(offered, () => null), undefined);
    assert.equal(selectProtocol(offered, () => undefined), undefined);
  });

  test("a callback choosing something not offered is a TypeError", () => {
    assert.throws(() => selectProtocol(offered, () => "other"), TypeError);
    assert.throws(() => selectProtocol(offered, () => ""), TypeError);
    assert.throws(() => selectProtocol([], () => "chat"), TypeError);
  });
});

describe("parseProtocols", () => {
  test("comma-separated tokens with optional whitespace", () => {
    assert.deepEqual(parseProtocols("chat"), ["chat"]);
    assert.deepEqual(parseProtocols("chat,superchat"), ["chat", "superchat"]);
    assert.deepEqual(parseProtocols(" chat ,\tv1.json "), ["chat", "v1.json"]);
  });

  test("strict: empty elements, non-tokens and duplicates are 400", () => {
    const cases: [string, RegExp][] = [
      ["", /empty element/],
      ["chat,", /empty element/],
      [",chat", /empty element/],
      ["chat, , superchat", /empty element/],
      ["a b", /"a b" is not a token/],
      ["chat/1", /"chat\/1" is not a token/],
      ['"chat"', /not a token/],
      ["chat, chat", /lists "chat" twice/],
    ];
    for (const [value, message] of cases) {
      assertRefused(() => parseProtocols(value), 400, message);
    }
    assert.deepEqual(parseProtocols("chat, Chat"), ["chat", "Chat"]);
  });
});

/** Extension elements as plain arrays, for readable deep comparisons. */
function summarize(
  offers: ExtensionOffer[],
): [string, [string, string | true][]][] {
  return offers.map((offer) => [offer.name, [...offer.params]]);
}

describe("parseExtensions", () => {
  test("names and params with and without values", () => {
    assert.deepEqual(summarize(parseExtensions("permessage-deflate")), [
      ["permessage-deflate", []],
    ]);
    assert.deepEqual(
      summarize(parseExtensions(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
      )),
      [["permessage-deflate", [
        ["client_max_window_bits", true],
        ["server_max_window_bits", "10"],
      ]]],
    );
  });

  test("quoted values and quoted-pair unescaping", () => {
    assert.deepEqual(summarize(parseExtensions('x; a="10"; b="c\\d"')), [
      ["x", [["a", "10"], ["b", "cd"]]],
    ]);
    assert.deepEqual(summarize(parseExtensions('x; a="\\1\\0"')), [
      ["x", [["a", "10"]]],
    ]);
  });

  test("whitespace around separators", () => {
    assert.deepEqual(
      summarize(parseExtensions(' x ;\ta = 1 ;  b ,\ty ; c="2"  ')),
      [["x", [["a", "1"], ["b", true]]], ["y", [["c", "2"]]]],
    );
  });

  test("several offers of the same extension stay in order", () => {
    const value = "permessage-deflate; client_max_window_bits=10, " +
      "permessage-deflate; server_no_context_takeover, permessage-deflate";
    assert.deepEqual(summarize(parseExtensions(value)), [
      ["permessage-deflate", [["client_max_window_bits", "10"]]],
      ["permessage-deflate", [["server_no_context_takeover", true]]],
      ["permessage-deflate", []],
    ]);
  });

  test("empty list elements are skipped; joined header lines work", () => {
    assert.deepEqual(summarize(parseExtensions(", , a ,, b,")), [
      ["a", []],
      ["b", []],
    ]);
    const headers = new Headers();
    headers.append("Sec-WebSocket-Extensions", "a; p=1");
    headers.append("Sec-WebSocket-Extensions", "b");
    assert.deepEqual(
      summarize(parseExtensions(headers.get("sec-websocket-extensions")!)),
      [["a", [["p", "1"]]], ["b", []]],
    );
  });

  test("names are kept exactly as sent", () => {
    assert.deepEqual(summarize(parseExtensions("Foo; Bar=Baz")), [
      ["Foo", [["Bar", "Baz"]]],
    ]);
  });

  test("prototype-looking param names are ordinary Map keys", () => {
    const [offer] = parseExtensions(
      "x; __proto__=1; constructor; toString=2; hasOwnProperty",
    );
    assert.ok(offer.params instanceof Map);
    assert.deepEqual([...offer.params], [
      ["__proto__", "1"],
      ["constructor", true],
      ["toString", "2"],
      ["hasOwnProperty", true],
    ]);
    assert.equal(Object.getPrototypeOf(offer.params), Map.prototype);
    assert.equal(
      ({} as Record<string, unknown>)["toString"],
      Object.prototype.toString,
    );
  });

  test("bad syntax is a 400 naming the problem", () => {
    const cases: [string, RegExp][] = [
      ["", /no extension/],
      [" , ,", /no extension/],
      ['x; a="10', /unterminated quoted string/],
      ['x; a="1\\', /unterminated quoted string/],
      ["; a", /expected an extension name/],
      ["x, ; a", /expected an extension name/],
      ["x;;a", /expected a parameter name after ";" in "x"/],
      ["x;", /expected a parameter name/],
      ["x; a=", /expected a value after "=" for "a"/],
      ["x; a= ; b", /expected a value after "=" for "a"/],
      ["x; a=, y", /expected a value after "=" for "a"/],
      ["x; =1", /expected a parameter name/],
      ["x y", /unexpected character "y"/],
      ["x; a=1/2", /unexpected character "\/"/],
      ["x@y", /unexpected character "@"/],
      ["x; a b", /unexpected character "b"/],
      ['x; a="1 0"', /quoted value of "a" is not a token/],
      ['x; a=""', /quoted value of "a" is not a token/],
      ['x; a="1,2"', /quoted value of "a" is not a token/],
      ['x; a="\u0001"', /invalid character in quoted string/],
      ['x; a="1"2', /unexpected character "2"/],
      ["x; a=1; a=2", /parameter "a" repeated in "x"/],
    ];
    for (const [value, message] of cases) {
      assertRefused(() => parseExtensions(value), 400, message);
    }
  });
});

describe("formatExtensions", () => {
  test("serializes names and params", () => {
    const offers: ExtensionOffer[] = [
      {
        name: "permessage-deflate",
        params: new Map<string, string | true>([
          ["client_max_window_bits", "10"],
          ["server_no_context_takeover", true],
        ]),
      },
      { name: "x-other", params: new Map() },
    ];
    const text = formatExtensions(offers);
    assert.equal(
      text,
      "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, x-other",
    );
    assert.deepEqual(summarize(parseExtensions(text)), summarize(offers));
    assert.equal(formatExtensions([]), "");
  });

  test("refuses non-token names and values", () => {
    const bad: [string, [string, string | true][]][] = [
      ["a b", []],
      ["", []],
      ["x", [["p\r\n", true]]],
      ["x", [["p", "1 2"]]],
      ["x", [["p", ""]]],
      ["x", [["p", "1\r\nEvil: 1"]]],
    ];
    for (const [name, params] of bad) {
      const offer: ExtensionOffer = { name, params: new Map(params) };
      assert.throws(() => formatExtensions([offer]), TypeError, name);
    }
  });
});

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
    assert.deepEqual(summarize(result.extensions), [
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
    assert.deepEqual(summarize(verified.extensions), [
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
