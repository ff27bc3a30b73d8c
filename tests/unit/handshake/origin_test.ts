import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ForbiddenOriginError,
  normalizeOrigin,
  OriginPolicy,
} from "../../../handshake/origin.ts";
import { HandshakeError } from "../../../errors.ts";

describe("normalizeOrigin", () => {
  test("serialises as RFC 6454: lower case, no default port, no path", () => {
    assert.equal(
      normalizeOrigin("https://Example.COM:443"),
      "https://example.com",
    );
    assert.equal(
      normalizeOrigin("http://example.com:80/"),
      "http://example.com",
    );
    assert.equal(
      normalizeOrigin("http://example.com:8080"),
      "http://example.com:8080",
    );
    assert.equal(normalizeOrigin(" https://[::1]:443 "), "https://[::1]");
    assert.equal(
      normalizeOrigin("https://bücher.example"),
      "https://xn--bcher-kva.example",
    );
  });

  test("opaque and unparseable origins are the string null", () => {
    assert.equal(normalizeOrigin("null"), "null");
    assert.equal(normalizeOrigin("file:///etc/passwd"), "null");
    assert.equal(normalizeOrigin("not a url"), "null");
    assert.equal(normalizeOrigin(""), "null");
  });
});

describe("OriginPolicy", () => {
  test("admits the listed origins, however they are spelt", () => {
    const policy = new OriginPolicy(["https://chat.example"]);
    policy.check("https://chat.example");
    policy.check("https://CHAT.example:443");
    assert.throws(
      () => policy.check("https://evil.example"),
      ForbiddenOriginError,
    );
    assert.throws(
      () => policy.check("http://chat.example"),
      ForbiddenOriginError,
    );
    assert.throws(
      () => policy.check("https://chat.example:8443"),
      ForbiddenOriginError,
    );
  });

  test("a missing Origin is admitted only when null is listed", () => {
    assert.throws(
      () => new OriginPolicy(["https://a.example"]).check(null),
      ForbiddenOriginError,
    );
    new OriginPolicy(["https://a.example", null]).check(null);
  });

  test("an opaque origin is admitted only when the string null is listed", () => {
    assert.throws(
      () => new OriginPolicy([null]).check("null"),
      ForbiddenOriginError,
    );
    new OriginPolicy(["null"]).check("null");
  });

  test("the refusal is a 403 HandshakeError that names the origin", () => {
    try {
      new OriginPolicy([]).check("https://evil.example");
      assert.fail("not refused");
    } catch (error) {
      assert.ok(error instanceof ForbiddenOriginError);
      assert.ok(error instanceof HandshakeError);
      assert.equal(error.status, 403);
      assert.equal(error.origin, "https://evil.example");
      assert.match(error.message, /"https:\/\/evil\.example" is not allowed/);
    }
  });

  test("a configured entry that is not an origin is a TypeError", () => {
    assert.throws(() => new OriginPolicy(["example.com"]), TypeError);
    assert.throws(() => new OriginPolicy(["ftp://example.com"]), TypeError);
  });
});
