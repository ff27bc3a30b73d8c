// Subprotocol and extension negotiation: selectProtocol, parseProtocols,
// and the Sec-WebSocket-Extensions grammar of parseExtensions and
// formatExtensions.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
  parseProtocols,
  selectProtocol,
} from "../../../handshake.ts";
import { listContainsToken, splitList } from "../../../http1/header_grammar.ts";
import { assertRefused, summarizeOffers } from "../../support/handshake.ts";

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

describe("splitList", () => {
  test("splits at commas, trims optional whitespace, keeps empty elements", () => {
    assert.deepEqual(splitList(" a ,\tb,, c"), ["a", "b", "", "c"]);
    assert.deepEqual(splitList(""), [""]);
  });

  test("a comma inside a quoted string does not split", () => {
    assert.deepEqual(splitList('x; a="1, 2", y'), ['x; a="1, 2"', "y"]);
    // An escaped backslash does not hide the closing quote; an escaped
    // quote does.
    assert.deepEqual(splitList('x; a="\\\\", y'), ['x; a="\\\\"', "y"]);
    assert.deepEqual(splitList('x; a="\\", y'), ['x; a="\\", y']);
    assert.deepEqual(splitList('x; a="\\"", y'), ['x; a="\\""', "y"]);
    assert.deepEqual(splitList('x; a="open, y'), ['x; a="open, y']);
  });

  test("listContainsToken does not look inside quoted strings", () => {
    assert.equal(
      listContainsToken('keep-alive, "x, upgrade"', "upgrade"),
      false,
    );
    assert.equal(listContainsToken('"x, y", Upgrade', "upgrade"), true);
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

describe("parseExtensions", () => {
  test("names and params with and without values", () => {
    assert.deepEqual(summarizeOffers(parseExtensions("permessage-deflate")), [
      ["permessage-deflate", []],
    ]);
    assert.deepEqual(
      summarizeOffers(parseExtensions(
        "permessage-deflate; client_max_window_bits; server_max_window_bits=10",
      )),
      [["permessage-deflate", [
        ["client_max_window_bits", true],
        ["server_max_window_bits", "10"],
      ]]],
    );
  });

  test("quoted values and quoted-pair unescaping", () => {
    assert.deepEqual(summarizeOffers(parseExtensions('x; a="10"; b="c\\d"')), [
      ["x", [["a", "10"], ["b", "cd"]]],
    ]);
    assert.deepEqual(summarizeOffers(parseExtensions('x; a="\\1\\0"')), [
      ["x", [["a", "10"]]],
    ]);
  });

  test("whitespace around separators", () => {
    assert.deepEqual(
      summarizeOffers(parseExtensions(' x ;\ta = 1 ;  b ,\ty ; c="2"  ')),
      [["x", [["a", "1"], ["b", true]]], ["y", [["c", "2"]]]],
    );
  });

  test("several offers of the same extension stay in order", () => {
    const value = "permessage-deflate; client_max_window_bits=10, " +
      "permessage-deflate; server_no_context_takeover, permessage-deflate";
    assert.deepEqual(summarizeOffers(parseExtensions(value)), [
      ["permessage-deflate", [["client_max_window_bits", "10"]]],
      ["permessage-deflate", [["server_no_context_takeover", true]]],
      ["permessage-deflate", []],
    ]);
  });

  test("empty list elements are skipped; joined header lines work", () => {
    assert.deepEqual(summarizeOffers(parseExtensions(", , a ,, b,")), [
      ["a", []],
      ["b", []],
    ]);
    const headers = new Headers();
    headers.append("Sec-WebSocket-Extensions", "a; p=1");
    headers.append("Sec-WebSocket-Extensions", "b");
    assert.deepEqual(
      summarizeOffers(
        parseExtensions(headers.get("sec-websocket-extensions")!),
      ),
      [["a", [["p", "1"]]], ["b", []]],
    );
  });

  test("names are kept exactly as sent", () => {
    assert.deepEqual(summarizeOffers(parseExtensions("Foo; Bar=Baz")), [
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
    assert.deepEqual(
      summarizeOffers(parseExtensions(text)),
      summarizeOffers(offers),
    );
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
