import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  acceptDeflateResponse,
  createDeflateOffer,
  describeDeclinedOffers,
  evaluateDeflateOffer,
  MAX_WINDOW_BITS,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  resolveDeflateOptions,
} from "../../../deflate/negotiation.ts";
import {
  computeAcceptKey,
  type ExtensionOffer,
  formatExtensions,
  HandshakeError,
  parseExtensions,
  verifyServerResponse,
} from "../../../handshake.ts";
import { DEFAULTS } from "../../../defaults.ts";

// ws's own header grammar and permessage-deflate negotiation, as a second
// implementation to check ours against. Its package exports only its main
// entry, so the internal files are loaded by path.
const require = createRequire(import.meta.url);
function loadWs(file: string): unknown {
  return require(
    new URL(`../../../node_modules/ws/lib/${file}`, import.meta.url).pathname,
  );
}
type WsParams = Record<string, Array<string | true>>;
const wsExtension = loadWs("extension.js") as {
  parse(header: string): Record<string, WsParams[]>;
  format(extensions: Record<string, unknown>): string;
};
interface WsDeflate {
  offer(): Record<string, unknown>;
  accept(configurations: WsParams[]): Record<string, unknown>;
}
const WsPerMessageDeflate = loadWs("permessage-deflate.js") as new (
  options: Record<string, unknown>,
) => WsDeflate;

/** The answer our server gives to every acceptable offer that does not name
 * server_max_window_bits, written out by hand. */
const PLAIN_RESPONSE =
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
const WINDOW_RESPONSE = PLAIN_RESPONSE + "; server_max_window_bits=15";

function responseFor(header: string): string | undefined {
  return negotiateDeflate(header)?.response;
}

function offer(params: Array<[string, string | true]>): ExtensionOffer {
  return { name: PERMESSAGE_DEFLATE, params: new Map(params) };
}

describe("server: one offer", () => {
  test("no header, or the extension disabled, agrees nothing", () => {
    assert.equal(negotiateDeflate(null), undefined);
    assert.equal(
      negotiateDeflate("permessage-deflate", { enabled: false }),
      undefined,
    );
  });

  test("a bare offer is answered with both no_context_takeover parameters", () => {
    const negotiation = negotiateDeflate("permessage-deflate");
    assert.deepEqual(negotiation, {
      response: PLAIN_RESPONSE,
      params: {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 15,
        clientMaxWindowBits: 15,
      },
    });
  });

  test("the offers browsers and ws send are accepted", () => {
    // Chromium, Python websockets and ws by default; Firefox.
    assert.equal(
      responseFor("permessage-deflate; client_max_window_bits"),
      PLAIN_RESPONSE,
    );
    assert.equal(responseFor("permessage-deflate"), PLAIN_RESPONSE);
  });

  test("no_context_takeover parameters are accepted bare, declined with a value", () => {
    for (
      const name of ["server_no_context_takeover", "client_no_context_takeover"]
    ) {
      assert.equal(responseFor(`permessage-deflate; ${name}`), PLAIN_RESPONSE);
      assert.equal(responseFor(`permessage-deflate; ${name}=1`), undefined);
      assert.equal(responseFor(`permessage-deflate; ${name}="x"`), undefined);
    }
    assert.equal(
      responseFor(
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
      ),
      PLAIN_RESPONSE,
    );
  });

  test("server_max_window_bits=15 is accepted and echoed; smaller windows are declined", () => {
    assert.equal(
      responseFor("permessage-deflate; server_max_window_bits=15"),
      WINDOW_RESPONSE,
    );
    assert.equal(
      responseFor('permessage-deflate; server_max_window_bits="15"'),
      WINDOW_RESPONSE,
      "a quoted value is unescaped first (RFC 6455 section 9.1)",
    );
    for (let bits = 8; bits < 15; bits++) {
      assert.equal(
        responseFor(`permessage-deflate; server_max_window_bits=${bits}`),
        undefined,
        `server_max_window_bits=${bits}`,
      );
    }
  });

  test("server_max_window_bits needs a valid value", () => {
    for (
      const value of [
        "",
        "=7",
        "=16",
        "=08",
        "=015",
        "=abc",
        "=+9",
        "=1e1",
        "=150",
      ]
    ) {
      assert.equal(
        responseFor(`permessage-deflate; server_max_window_bits${value}`),
        undefined,
        `server_max_window_bits${value}`,
      );
    }
  });

  test("client_max_window_bits is accepted bare or 8-15 and never echoed", () => {
    for (const value of ["", "=8", "=9", "=12", "=15", '="10"']) {
      assert.equal(
        responseFor(`permessage-deflate; client_max_window_bits${value}`),
        PLAIN_RESPONSE,
        `client_max_window_bits${value}`,
      );
    }
    for (const value of ["=7", "=16", "=08", "=0", "=abc", "=-9"]) {
      assert.equal(
        responseFor(`permessage-deflate; client_max_window_bits${value}`),
        undefined,
        `client_max_window_bits${value}`,
      );
    }
  });

  test("an unknown parameter declines the offer", () => {
    assert.equal(responseFor("permessage-deflate; foo"), undefined);
    assert.equal(responseFor("permessage-deflate; mem_level=9"), undefined);
    assert.equal(
      responseFor("permessage-deflate; Server_No_Context_Takeover"),
      undefined,
      "parameter names are matched exactly",
    );
  });

  test("a repeated parameter declines that offer instead of refusing the handshake", () => {
    const header =
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover";
    assert.throws(() => parseExtensions(header), HandshakeError);
    assert.equal(responseFor(header), undefined);
    assert.equal(
      responseFor(
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
      ),
      undefined,
    );
  });

  test("other extensions and the extension name's spelling", () => {
    assert.equal(responseFor("x-webkit-deflate-frame"), undefined);
    assert.equal(
      responseFor("x-webkit-deflate-frame, permessage-deflate"),
      PLAIN_RESPONSE,
    );
    assert.equal(responseFor("Permessage-Deflate"), undefined);
    assert.equal(responseFor("permessage-deflate-x"), undefined);
  });

  test("evaluateDeflateOffer gives the reason for a decline", () => {
    const verdict = evaluateDeflateOffer(
      offer([["server_max_window_bits", "10"]]),
    );
    assert.equal(verdict.accepted, false);
    assert.match(
      (verdict as { reason: string }).reason,
      /server_max_window_bits="10".*15-bit window/,
    );
    const accepted = evaluateDeflateOffer(
      offer([["client_max_window_bits", true]]),
    );
    assert.equal(accepted.accepted, true);
    assert.equal(
      formatExtensions([(accepted as { response: ExtensionOffer }).response]),
      PLAIN_RESPONSE,
    );
  });
});

describe("server: several offers", () => {
  test("the first acceptable offer wins; declined ones are skipped", () => {
    assert.equal(
      responseFor(
        "permessage-deflate; server_max_window_bits=10, permessage-deflate",
      ),
      PLAIN_RESPONSE,
    );
    assert.equal(
      responseFor(
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=15, permessage-deflate",
      ),
      WINDOW_RESPONSE,
    );
    assert.equal(
      responseFor(
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate; client_max_window_bits",
      ),
      PLAIN_RESPONSE,
    );
  });

  test("when no offer is acceptable, nothing is agreed", () => {
    assert.equal(
      responseFor(
        "permessage-deflate; server_max_window_bits=9, permessage-deflate; x=1",
      ),
      undefined,
    );
  });

  test("a repeated parameter in another extension does not matter", () => {
    assert.equal(
      responseFor("x-other; a; a, permessage-deflate"),
      PLAIN_RESPONSE,
    );
  });

  test("commas inside quoted strings do not split elements", () => {
    assert.equal(
      responseFor('x-other; a="x, permessage-deflate"'),
      undefined,
      "the permessage-deflate inside the quotes is not an offer",
    );
    assert.equal(
      responseFor('x-other; a="x, \\"y", permessage-deflate'),
      PLAIN_RESPONSE,
    );
  });

  test("describeDeclinedOffers lists why, in order, up to the accepted offer", () => {
    const reasons = describeDeclinedOffers(
      "permessage-deflate; server_max_window_bits=10, x-other, " +
        "permessage-deflate; a; a, permessage-deflate; bogus, " +
        "permessage-deflate, permessage-deflate; never_examined",
    );
    assert.equal(reasons.length, 3);
    assert.match(reasons[0], /server_max_window_bits/);
    assert.match(reasons[1], /repeated/);
    assert.match(reasons[2], /unknown parameter bogus/);
    assert.deepEqual(describeDeclinedOffers("permessage-deflate"), []);
  });
});

describe("options", () => {
  test("defaults", () => {
    assert.deepEqual(resolveDeflateOptions(), {
      enabled: true,
      threshold: DEFAULTS.deflate.threshold,
    });
    assert.equal(DEFAULTS.deflate.threshold, 1024);
    assert.deepEqual(resolveDeflateOptions({ enabled: false, threshold: 0 }), {
      enabled: false,
      threshold: 0,
    });
  });

  test("an invalid threshold is a RangeError", () => {
    for (const threshold of [-1, 1.5, NaN, Infinity]) {
      assert.throws(() => resolveDeflateOptions({ threshold }), RangeError);
      assert.throws(
        () => negotiateDeflate("permessage-deflate", { threshold }),
        RangeError,
      );
    }
  });
});

describe("client", () => {
  test("the offer asks for server_no_context_takeover and promises client_no_context_takeover", () => {
    assert.equal(
      formatExtensions([createDeflateOffer()]),
      "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    );
    const first = createDeflateOffer();
    first.params.set("x", true);
    assert.equal(createDeflateOffer().params.has("x"), false);
  });

  test("a server that does not accept the extension agrees nothing", () => {
    assert.equal(acceptDeflateResponse([], true), undefined);
    assert.equal(
      acceptDeflateResponse(parseExtensions("x-other"), true),
      undefined,
    );
  });

  test("valid answers", () => {
    const accept = (value: string) =>
      acceptDeflateResponse(parseExtensions(value), true);
    assert.deepEqual(accept("permessage-deflate; server_no_context_takeover"), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    assert.deepEqual(
      accept(
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; server_no_context_takeover",
      ),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 15,
      },
    );
    assert.equal(accept(PLAIN_RESPONSE)?.serverNoContextTakeover, true);
    assert.equal(accept(WINDOW_RESPONSE)?.serverMaxWindowBits, MAX_WINDOW_BITS);
  });

  test("answers that fail the connection", () => {
    const cases: Array<[string, RegExp]> = [
      ["permessage-deflate", /server_no_context_takeover is missing/],
      ["permessage-deflate; client_no_context_takeover", /missing/],
      [
        "permessage-deflate; server_no_context_takeover=1",
        /takes no value/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover=x",
        /takes no value/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        /client_max_window_bits="10" was not offered/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; client_max_window_bits",
        /was not offered/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; server_max_window_bits",
        /not an integer/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=16",
        /not an integer/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=08",
        /not an integer/,
      ],
      [
        "permessage-deflate; server_no_context_takeover; foo",
        /unknown parameter foo/,
      ],
      [
        "permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover",
        /more than once/,
      ],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => acceptDeflateResponse(parseExtensions(value), true),
        (error: unknown) => {
          assert.ok(error instanceof HandshakeError, value);
          assert.equal(error.status, 101);
          assert.match(error.message, message, value);
          return true;
        },
      );
    }
  });

  test("an answer for an extension that was not offered fails the connection", () => {
    assert.throws(
      () =>
        acceptDeflateResponse(
          parseExtensions("permessage-deflate; server_no_context_takeover"),
          false,
        ),
      /not offered/,
    );
  });

  test("a repeated parameter in the answer fails in verifyServerResponse", async () => {
    const key = "dGhlIHNhbXBsZSBub25jZQ==";
    const headers = new Headers({
      Upgrade: "websocket",
      Connection: "Upgrade",
      "Sec-WebSocket-Accept": await computeAcceptKey(key),
      "Sec-WebSocket-Extensions":
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    });
    await assert.rejects(
      verifyServerResponse({ status: 101, headers }, {
        key,
        offeredExtensions: [createDeflateOffer()],
      }),
      HandshakeError,
    );
  });
});

describe("against ws's negotiation", () => {
  test("ws as a client: its offer is accepted and it accepts our answer", () => {
    const client = new WsPerMessageDeflate({ isServer: false });
    const offerValue = wsExtension.format({
      [PERMESSAGE_DEFLATE]: [client.offer()],
    });
    const negotiation = negotiateDeflate(offerValue);
    assert.ok(negotiation, offerValue);
    const answer = wsExtension.parse(negotiation.response);
    const agreed = client.accept(answer[PERMESSAGE_DEFLATE]);
    assert.equal(agreed.server_no_context_takeover, true);
    assert.equal(agreed.client_no_context_takeover, true);
  });

  test("ws as a server: it accepts our offer and we accept its answer", () => {
    for (const serverMaxWindowBits of [undefined, 10]) {
      const server = new WsPerMessageDeflate({
        isServer: true,
        serverMaxWindowBits,
      });
      const offered = wsExtension.parse(
        formatExtensions([createDeflateOffer()]),
      );
      const accepted = server.accept(offered[PERMESSAGE_DEFLATE]);
      const answer = wsExtension.format({ [PERMESSAGE_DEFLATE]: accepted });
      const params = acceptDeflateResponse(parseExtensions(answer), true);
      assert.ok(params, answer);
      assert.equal(params.serverNoContextTakeover, true);
      assert.equal(params.clientNoContextTakeover, true);
      assert.equal(params.serverMaxWindowBits, serverMaxWindowBits ?? 15);
    }
  });

  test("our answer parses the same with ws's grammar", () => {
    const parsed = wsExtension.parse(WINDOW_RESPONSE);
    assert.deepEqual(Object.keys(parsed), [PERMESSAGE_DEFLATE]);
    assert.deepEqual({ ...parsed[PERMESSAGE_DEFLATE][0] }, {
      server_no_context_takeover: [true],
      client_no_context_takeover: [true],
      server_max_window_bits: ["15"],
    });
  });
});

describe("offer scanning bounds", () => {
  test("only the first DEFAULTS.limits.maxDeflateOffers permessage-deflate offers are considered", () => {
    const bad = Array(DEFAULTS.limits.maxDeflateOffers).fill(
      "permessage-deflate; x=1",
    );
    const good = "permessage-deflate";
    assert.equal(
      negotiateDeflate([...bad.slice(1), good].join(", "))?.response !==
        undefined,
      true,
    );
    assert.equal(negotiateDeflate([...bad, good].join(", ")), undefined);
    const declined = describeDeclinedOffers([...bad, good].join(", "));
    assert.equal(declined.length, DEFAULTS.limits.maxDeflateOffers + 1);
    assert.match(declined.at(-1)!, /more than 16/);
  });

  test("empty elements and other extensions are skipped, not counted", () => {
    const header = ",".repeat(5_000) + "x-other; a=1, ".repeat(50) +
      "permessage-deflate";
    assert.ok(negotiateDeflate(header) !== undefined);
    assert.deepEqual(describeDeclinedOffers(header), []);
  });
});
