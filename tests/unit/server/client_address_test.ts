import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  addressKey,
  ClientAddressResolver,
} from "../../../server/client_address.ts";

describe("addressKey", () => {
  test("writes addresses canonically: IPv4-mapped IPv6 is IPv4", () => {
    assert.equal(addressKey("127.0.0.1"), "127.0.0.1");
    assert.equal(addressKey("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(addressKey("::FFFF:7f00:1"), "127.0.0.1");
    assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0:0:0:0:1");
    assert.equal(addressKey("2001:0db8:0000::0001"), "2001:db8:0:0:0:0:0:1");
    assert.equal(addressKey("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1");
  });

  test("anything else is kept as it is", () => {
    assert.equal(addressKey("01.2.3.4"), "01.2.3.4");
    assert.equal(addressKey("1.2.3.256"), "1.2.3.256");
    assert.equal(addressKey("1:2:3:4:5:6:7:8:9"), "1:2:3:4:5:6:7:8:9");
    assert.equal(addressKey("unknown"), "unknown");
  });
});

describe("ClientAddressResolver", () => {
  const headers = (entries: Record<string, string>) => new Headers(entries);

  test("with no trusted proxy the peer is the client, whatever the headers say", () => {
    const resolver = new ClientAddressResolver([]);
    assert.equal(
      resolver.resolve(
        "192.0.2.1",
        headers({
          "x-forwarded-for": "203.0.113.7",
          forwarded: "for=198.51.100.2",
        }),
      ),
      "192.0.2.1",
    );
  });

  test("a trusted proxy's X-Forwarded-For names the client, skipping trusted hops", () => {
    const resolver = new ClientAddressResolver(["10.0.0.0/8", "127.0.0.1"]);
    assert.equal(
      resolver.resolve(
        "127.0.0.1",
        headers({ "x-forwarded-for": "198.51.100.9, 203.0.113.7, 10.1.2.3" }),
      ),
      "203.0.113.7",
    );
    assert.equal(
      resolver.resolve(
        "::ffff:10.9.9.9",
        headers({ "x-forwarded-for": "203.0.113.8" }),
      ),
      "203.0.113.8",
    );
  });

  test("Forwarded wins over X-Forwarded-For, with ports, brackets and quotes", () => {
    const resolver = new ClientAddressResolver(["::1"]);
    assert.equal(
      resolver.resolve(
        "::1",
        headers({
          forwarded:
            'for=192.0.2.43:47011, for="[2001:db8:cafe::17]:4711";proto=https',
          "x-forwarded-for": "198.51.100.1",
        }),
      ),
      "2001:db8:cafe:0:0:0:0:17",
    );
  });

  test("an unknown hop stops the walk at the nearest trusted address", () => {
    const resolver = new ClientAddressResolver(["127.0.0.1"]);
    assert.equal(
      resolver.resolve("127.0.0.1", headers({ forwarded: "for=unknown" })),
      "127.0.0.1",
    );
    assert.equal(resolver.resolve("127.0.0.1", headers({})), "127.0.0.1");
  });

  test("a trusted range that is not an address is a TypeError", () => {
    assert.throws(() => new ClientAddressResolver(["10.0.0.0/33"]), TypeError);
    assert.throws(() => new ClientAddressResolver(["proxy.local"]), TypeError);
  });
});
