import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import {
  acceptDeflateResponse,
  createDeflateOffer,
  deflateDirections,
  deflateThreshold,
  describeDeclinedOffers,
  evaluateDeflateOffer,
  negotiateDeflate,
  PERMESSAGE_DEFLATE,
  type PerMessageDeflateOptions,
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

/** What the server agrees to a bare offer with its defaults: context
 * takeover both ways, 32 KiB windows, nothing to say in the answer. */
const TAKEOVER = {
  serverNoContextTakeover: false,
  clientNoContextTakeover: false,
  serverMaxWindowBits: 15,
  clientMaxWindowBits: 15,
};

function responseFor(
  header: string,
  options?: PerMessageDeflateOptions,
): string | undefined {
  return negotiateDeflate(header, options)?.response;
}

function offer(params: Array<[string, string | true]>): ExtensionOffer {
  return { name: PERMESSAGE_DEFLATE, params: new Map(params) };
}

describe("server: one offer", () => {
  test("no header agrees nothing", () => {
    assert.equal(negotiateDeflate(null), undefined);
  });

  test("a bare offer is accepted with context takeover both ways", () => {
    assert.deepEqual(negotiateDeflate("permessage-deflate"), {
      response: "permessage-deflate",
      params: TAKEOVER,
    });
  });

  test("the offers browsers and ws send are accepted", () => {
    // Chromium, Python websockets and ws by default; Firefox.
    assert.equal(
      responseFor("permessage-deflate; client_max_window_bits"),
      "permessage-deflate",
    );
    assert.equal(responseFor("permessage-deflate"), "permessage-deflate");
  });

  test("the client's no_context_takeover parameters are honoured; a value declines", () => {
    assert.deepEqual(
      negotiateDeflate("permessage-deflate; server_no_context_takeover"),
      {
        response: "permessage-deflate; server_no_context_takeover",
        params: { ...TAKEOVER, serverNoContextTakeover: true },
      },
    );
    // A hint from the client: it keeps no context; we need not answer it.
    assert.deepEqual(
      negotiateDeflate("permessage-deflate; client_no_context_takeover")
        ?.params,
      TAKEOVER,
    );
    for (
      const name of ["server_no_context_takeover", "client_no_context_takeover"]
    ) {
      assert.equal(responseFor(`permessage-deflate; ${name}=1`), undefined);
      assert.equal(responseFor(`permessage-deflate; ${name}="x"`), undefined);
    }
  });

  test("the server's options decline context takeover either way", () => {
    assert.deepEqual(
      negotiateDeflate("permessage-deflate", {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
      }),
      {
        response:
          "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        params: {
          ...TAKEOVER,
          serverNoContextTakeover: true,
          clientNoContextTakeover: true,
        },
      },
    );
  });

  test("server_max_window_bits 8 to 15 is accepted and answered, at most the server's own", () => {
    for (let bits = 8; bits <= 15; bits++) {
      const negotiation = negotiateDeflate(
        `permessage-deflate; server_max_window_bits=${bits}`,
      );
      assert.equal(
        negotiation?.response,
        `permessage-deflate; server_max_window_bits=${bits}`,
      );
      assert.equal(negotiation?.params.serverMaxWindowBits, bits);
    }
    assert.equal(
      responseFor('permessage-deflate; server_max_window_bits="10"'),
      "permessage-deflate; server_max_window_bits=10",
      "a quoted value is unescaped first (RFC 6455 section 9.1)",
    );
    const options = { serverMaxWindowBits: 12 };
    assert.equal(
      responseFor("permessage-deflate; server_max_window_bits=14", options),
      "permessage-deflate; server_max_window_bits=12",
    );
    assert.equal(
      responseFor("permessage-deflate; server_max_window_bits=10", options),
      "permessage-deflate; server_max_window_bits=10",
    );
    // Unasked, a smaller window is announced (section 7.1.2.1).
    assert.equal(
      responseFor("permessage-deflate", options),
      "permessage-deflate; server_max_window_bits=12",
    );
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

  test("client_max_window_bits bounds the client to the server's option, at most the offered value", () => {
    const options = { clientMaxWindowBits: 10 };
    assert.deepEqual(
      negotiateDeflate("permessage-deflate; client_max_window_bits", options),
      {
        response: "permessage-deflate; client_max_window_bits=10",
        params: { ...TAKEOVER, clientMaxWindowBits: 10 },
      },
    );
    assert.equal(
      responseFor("permessage-deflate; client_max_window_bits=9", options),
      "permessage-deflate; client_max_window_bits=9",
    );
    assert.equal(
      responseFor("permessage-deflate; client_max_window_bits=12"),
      "permessage-deflate; client_max_window_bits=12",
      "a value offered is answered",
    );
    assert.equal(
      responseFor("permessage-deflate; client_max_window_bits"),
      "permessage-deflate",
      "15 without a value needs no answer",
    );
    for (const value of ["=7", "=16", "=08", "=0", "=abc", "=-9"]) {
      assert.equal(
        responseFor(`permessage-deflate; client_max_window_bits${value}`),
        undefined,
        `client_max_window_bits${value}`,
      );
    }
  });

  test("a client that cannot be bounded gets client_no_context_takeover instead", () => {
    assert.deepEqual(
      negotiateDeflate("permessage-deflate", { clientMaxWindowBits: 10 }),
      {
        response: "permessage-deflate; client_no_context_takeover",
        params: { ...TAKEOVER, clientNoContextTakeover: true },
      },
    );
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
      "permessage-deflate",
    );
    assert.equal(responseFor("Permessage-Deflate"), undefined);
    assert.equal(responseFor("permessage-deflate-x"), undefined);
  });

  test("evaluateDeflateOffer gives the reason for a decline", () => {
    const verdict = evaluateDeflateOffer(
      offer([["server_max_window_bits", "16"]]),
    );
    assert.equal(verdict.accepted, false);
    assert.match(
      (verdict as { reason: string }).reason,
      /server_max_window_bits="16".*not an integer from 8 to 15/,
    );
    const accepted = evaluateDeflateOffer(
      offer([["client_max_window_bits", true]]),
    );
    assert.equal(accepted.accepted, true);
    assert.equal(
      formatExtensions([(accepted as { response: ExtensionOffer }).response]),
      "permessage-deflate",
    );
  });
});

describe("server: several offers", () => {
  test("the first acceptable offer wins; declined ones are skipped", () => {
    assert.equal(
      responseFor(
        "permessage-deflate; server_max_window_bits=16, permessage-deflate; server_max_window_bits=10",
      ),
      "permessage-deflate; server_max_window_bits=10",
    );
    assert.equal(
      responseFor(
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover, permessage-deflate; client_max_window_bits",
      ),
      "permessage-deflate",
    );
  });

  test("when no offer is acceptable, nothing is agreed", () => {
    assert.equal(
      responseFor(
        "permessage-deflate; server_max_window_bits=7, permessage-deflate; x=1",
      ),
      undefined,
    );
  });

  test("a repeated parameter in another extension does not matter", () => {
    assert.equal(
      responseFor("x-other; a; a, permessage-deflate"),
      "permessage-deflate",
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
      "permessage-deflate",
    );
  });

  test("describeDeclinedOffers lists why, in order, up to the accepted offer", () => {
    const reasons = describeDeclinedOffers(
      "permessage-deflate; server_max_window_bits=7, x-other, " +
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
      ...TAKEOVER,
      threshold: undefined,
    });
    assert.equal(deflateThreshold(undefined, true), DEFAULTS.deflate.threshold);
    assert.equal(
      deflateThreshold(undefined, false),
      DEFAULTS.deflate.takeoverThreshold,
    );
    assert.equal(deflateThreshold(0, false), 0);
  });

  test("an invalid threshold or window is a RangeError", () => {
    for (const threshold of [-1, 1.5, NaN, Infinity]) {
      assert.throws(() => resolveDeflateOptions({ threshold }), RangeError);
      assert.throws(
        () => negotiateDeflate("permessage-deflate", { threshold }),
        RangeError,
      );
    }
    for (const bits of [7, 16, 12.5, NaN]) {
      assert.throws(
        () => resolveDeflateOptions({ serverMaxWindowBits: bits }),
        RangeError,
      );
      assert.throws(
        () => createDeflateOffer({ clientMaxWindowBits: bits }),
        RangeError,
      );
    }
  });

  test("deflateDirections: each end sends in its own direction", () => {
    const params = {
      serverNoContextTakeover: true,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 12,
    };
    assert.deepEqual(deflateDirections(params, "server"), {
      send: { noContextTakeover: true, windowBits: 9 },
      receive: { noContextTakeover: false, windowBits: 12 },
    });
    assert.deepEqual(deflateDirections(params, "client"), {
      send: { noContextTakeover: false, windowBits: 12 },
      receive: { noContextTakeover: true, windowBits: 9 },
    });
  });
});

describe("client", () => {
  test("the offer says client_max_window_bits and what the options ask", () => {
    assert.equal(
      formatExtensions([createDeflateOffer()]),
      "permessage-deflate; client_max_window_bits",
    );
    assert.equal(
      formatExtensions([createDeflateOffer({
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 9,
      })]),
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    );
    const first = createDeflateOffer();
    first.params.set("x", true);
    assert.equal(createDeflateOffer().params.has("x"), false);
  });

  test("a server that does not accept the extension agrees nothing", () => {
    assert.equal(acceptDeflateResponse([], {}), undefined);
    assert.equal(
      acceptDeflateResponse(parseExtensions("x-other"), {}),
      undefined,
    );
  });

  test("every valid answer is accepted", () => {
    const accept = (value: string, options: PerMessageDeflateOptions = {}) =>
      acceptDeflateResponse(parseExtensions(value), options);
    assert.deepEqual(accept("permessage-deflate"), TAKEOVER);
    assert.deepEqual(accept("permessage-deflate; server_no_context_takeover"), {
      ...TAKEOVER,
      serverNoContextTakeover: true,
    });
    assert.deepEqual(
      accept(
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=9; server_no_context_takeover; client_max_window_bits=8",
      ),
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 9,
        clientMaxWindowBits: 8,
      },
    );
    // A server that ignores what we asked of its compressor is read as it
    // answered: context kept, 32 KiB.
    assert.deepEqual(
      accept("permessage-deflate", {
        serverNoContextTakeover: true,
        serverMaxWindowBits: 10,
      }),
      TAKEOVER,
    );
    // What we offered ourselves holds without being answered.
    assert.deepEqual(
      accept("permessage-deflate; server_max_window_bits=10", {
        clientNoContextTakeover: true,
        clientMaxWindowBits: 11,
        serverMaxWindowBits: 10,
      }),
      {
        serverNoContextTakeover: false,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 10,
        clientMaxWindowBits: 11,
      },
    );
  });

  test("answers that fail the connection", () => {
    const cases: Array<[string, PerMessageDeflateOptions, RegExp]> = [
      [
        "permessage-deflate; server_max_window_bits=11",
        { serverMaxWindowBits: 10 },
        /above the 10 offered/,
      ],
      [
        "permessage-deflate; client_max_window_bits=12",
        { clientMaxWindowBits: 11 },
        /above the 11 offered/,
      ],
      ["permessage-deflate; server_no_context_takeover=1", {}, /no value/],
      ["permessage-deflate; client_no_context_takeover=x", {}, /no value/],
      ["permessage-deflate; client_max_window_bits", {}, /not an integer/],
      ["permessage-deflate; server_max_window_bits", {}, /not an integer/],
      ["permessage-deflate; server_max_window_bits=16", {}, /not an integer/],
      ["permessage-deflate; server_max_window_bits=08", {}, /not an integer/],
      ["permessage-deflate; foo", {}, /unknown parameter foo/],
      [
        "permessage-deflate, permessage-deflate",
        {},
        /more than once/,
      ],
    ];
    for (const [value, options, message] of cases) {
      assert.throws(
        () => acceptDeflateResponse(parseExtensions(value), options),
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
          undefined,
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
  const wsClientOptions: Array<Record<string, unknown>> = [
    {},
    { serverNoContextTakeover: true },
    { clientMaxWindowBits: 10, serverMaxWindowBits: 11 },
    { clientNoContextTakeover: true, serverMaxWindowBits: 8 },
  ];
  const ourServerOptions: PerMessageDeflateOptions[] = [
    {},
    { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
    { serverNoContextTakeover: true, clientNoContextTakeover: true },
  ];

  test("ws as a client: its offer is accepted and it accepts our answer as we agreed", () => {
    for (const clientOptions of wsClientOptions) {
      for (const serverOptions of ourServerOptions) {
        const client = new WsPerMessageDeflate({
          isServer: false,
          ...clientOptions,
        });
        const offerValue = wsExtension.format({
          [PERMESSAGE_DEFLATE]: [client.offer()],
        });
        const negotiation = negotiateDeflate(offerValue, serverOptions);
        assert.ok(negotiation, offerValue);
        const answer = wsExtension.parse(negotiation.response);
        const agreed = client.accept(answer[PERMESSAGE_DEFLATE]);
        const label = `${offerValue} -> ${negotiation.response}`;
        const params = negotiation.params;
        assert.equal(
          agreed.server_no_context_takeover === true,
          params.serverNoContextTakeover,
          label,
        );
        assert.equal(
          Number(agreed.server_max_window_bits ?? 15),
          params.serverMaxWindowBits,
          label,
        );
        // ws compresses with at most the window we bound it to.
        assert.ok(
          Number(agreed.client_max_window_bits ?? 15) <=
            params.clientMaxWindowBits,
          label,
        );
      }
    }
  });

  test("ws as a server: it accepts our offer and we accept its answer", () => {
    const ourClientOptions: PerMessageDeflateOptions[] = [
      {},
      { serverMaxWindowBits: 12, clientMaxWindowBits: 12 },
      { serverNoContextTakeover: true, clientNoContextTakeover: true },
    ];
    for (const serverMaxWindowBits of [undefined, 10]) {
      for (const clientOptions of ourClientOptions) {
        const server = new WsPerMessageDeflate({
          isServer: true,
          serverMaxWindowBits,
        });
        const offered = wsExtension.parse(
          formatExtensions([createDeflateOffer(clientOptions)]),
        );
        const accepted = server.accept(offered[PERMESSAGE_DEFLATE]);
        const answer = wsExtension.format({ [PERMESSAGE_DEFLATE]: accepted });
        const params = acceptDeflateResponse(
          parseExtensions(answer),
          clientOptions,
        );
        assert.ok(params, answer);
        assert.equal(
          params.serverNoContextTakeover,
          clientOptions.serverNoContextTakeover ?? false,
        );
        assert.equal(
          params.serverMaxWindowBits,
          Math.min(
            serverMaxWindowBits ?? 15,
            clientOptions.serverMaxWindowBits ?? 15,
          ),
        );
      }
    }
  });

  test("our answer parses the same with ws's grammar", () => {
    const response = negotiateDeflate(
      "permessage-deflate; client_max_window_bits",
      {
        serverNoContextTakeover: true,
        clientNoContextTakeover: true,
        serverMaxWindowBits: 12,
        clientMaxWindowBits: 11,
      },
    )!.response;
    const parsed = wsExtension.parse(response);
    assert.deepEqual(Object.keys(parsed), [PERMESSAGE_DEFLATE]);
    assert.deepEqual({ ...parsed[PERMESSAGE_DEFLATE][0] }, {
      server_no_context_takeover: [true],
      client_no_context_takeover: [true],
      server_max_window_bits: ["12"],
      client_max_window_bits: ["11"],
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
