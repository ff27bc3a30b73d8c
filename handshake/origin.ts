/**
 * The `Origin` check that stops cross-site WebSocket hijacking: browsers
 * send a page's cookies with a WebSocket handshake to any site, and the
 * same-origin policy does not apply to WebSockets, so a server that
 * authenticates by cookie must refuse handshakes from pages it does not
 * know. An {@linkcode OriginPolicy} holds the origins a server accepts and
 * decides for each request's `Origin` header.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";

/** Default ports, dropped when an origin is normalised (RFC 6454). */
const DEFAULT_PORTS: ReadonlyMap<string, string> = new Map([
  ["http:", "80"],
  ["https:", "443"],
  ["ws:", "80"],
  ["wss:", "443"],
]);

/**
 * An origin as RFC 6454 serialises it: lower-case scheme and host, no
 * default port, no path. `"null"` for an opaque origin (what a sandboxed
 * page or a file sends) and for anything that does not parse.
 *
 * @param text an `Origin` header value or a configured origin
 * @returns the serialised origin
 */
export function normalizeOrigin(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "null") return "null";
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return "null";
  }
  const defaultPort = DEFAULT_PORTS.get(url.protocol);
  if (defaultPort === undefined || url.hostname === "") return "null";
  const port = url.port === "" || url.port === defaultPort
    ? ""
    : `:${url.port}`;
  return `${url.protocol}//${url.hostname}${port}`;
}

/**
 * The handshake was refused because its `Origin` is not one the server
 * accepts: HTTP 403 (cross-site WebSocket hijacking protection).
 */
export class ForbiddenOriginError extends HandshakeError {
  /** The `Origin` header as sent, or `null` when there was none. */
  readonly origin: string | null;

  /**
   * Creates the refusal.
   *
   * @param origin the `Origin` header as sent, or null
   */
  constructor(origin: string | null) {
    super(
      403,
      origin === null
        ? "a WebSocket handshake without an Origin header is not allowed here"
        : `a WebSocket handshake from origin ${
          JSON.stringify(origin)
        } is not allowed here`,
    );
    this.name = "ForbiddenOriginError";
    this.origin = origin;
  }
}

/**
 * The origins a server accepts. A string is compared after normalising both
 * sides ({@linkcode normalizeOrigin}): `https://Example.com:443` and
 * `https://example.com` are the same origin. `null` (the value, not the
 * string) admits requests that carry no `Origin` header at all, as
 * non-browser clients send them; the string `"null"` admits opaque
 * origins, which is rarely wise.
 */
export class OriginPolicy {
  readonly #allowed: ReadonlySet<string>;
  readonly #allowMissing: boolean;

  /**
   * Builds the policy, normalising each origin once.
   *
   * @param origins the origins to accept
   * @throws {TypeError} for an entry that is neither null nor an origin
   */
  constructor(origins: ReadonlyArray<string | null>) {
    const allowed = new Set<string>();
    let allowMissing = false;
    for (const origin of origins) {
      if (origin === null) {
        allowMissing = true;
        continue;
      }
      const normalized = normalizeOrigin(origin);
      if (normalized === "null" && origin.trim() !== "null") {
        throw new TypeError(
          `origins: ${
            JSON.stringify(origin)
          } is not an origin (scheme://host[:port])`,
        );
      }
      allowed.add(normalized);
    }
    this.#allowed = allowed;
    this.#allowMissing = allowMissing;
  }

  /**
   * Checks a request's `Origin` header.
   *
   * @param origin the header's value, or null when the request has none
   * @throws {ForbiddenOriginError} (403) when it is not accepted
   */
  check(origin: string | null): void {
    if (origin === null) {
      if (this.#allowMissing) return;
    } else if (this.#allowed.has(normalizeOrigin(origin))) {
      return;
    }
    throw new ForbiddenOriginError(origin);
  }
}
