/**
 * The per-client caps of a server, each off unless configured: open
 * connections per client address (`maxConnectionsPerAddress`) and WebSocket
 * handshakes per second per client address (`maxHandshakesPerSecond`),
 * where the client address is the TCP peer's, or, behind a proxy listed in
 * `trustedProxies`, the one that proxy forwards (see `client_address.ts`).
 *
 * A connection from an ordinary peer is counted against its address as it
 * is accepted, and refused at once past the cap. A connection from a trusted
 * proxy carries requests of many clients, so it is counted only when it
 * becomes a WebSocket, against the client the proxy names.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import { type Clock, KeyedRateLimiter } from "../socket/rate_limit.ts";
import { addressKey, ClientAddressResolver } from "./client_address.ts";

/** What {@linkcode ClientLimits} is configured with. */
export interface ClientLimitOptions {
  /** Proxies whose forwarding headers are believed. */
  readonly trustedProxies?: readonly string[];
  /** Open connections per client address; default Infinity. */
  readonly maxConnectionsPerAddress?: number;
  /** WebSocket handshakes per second per client address; default
   * Infinity. */
  readonly maxHandshakesPerSecond?: number;
  /** The clock of the handshake rate; default `Date.now`. */
  readonly now?: Clock;
}

/** A refusal of a connection past a cap: answered 429 with `Retry-After`. */
export interface CapRefusal {
  /** Why, for the response body. */
  readonly message: string;
  /** Seconds for `Retry-After`. */
  readonly retryAfterSeconds: number;
}

/** A counted connection: call `release` once it is closed. */
export interface Admission {
  /** Frees the connection's place. */
  release(): void;
}

/** The admission of a connection no cap counts: releasing it does nothing. */
export const NOT_COUNTED: Admission = Object.freeze({ release() {} });

/**
 * Checks a positive limit option.
 *
 * @throws {RangeError} for anything but a positive integer or Infinity
 */
function checkLimit(name: string, value: number | undefined): number {
  if (value === undefined || value === Infinity) return Infinity;
  if (!(typeof value === "number" && value > 0 && Number.isFinite(value))) {
    throw new RangeError(
      `${name} must be a positive number or Infinity, got ${value}`,
    );
  }
  return value;
}

/** The per-client caps of one server. */
export class ClientLimits {
  readonly #resolver: ClientAddressResolver;
  readonly #maxConnections: number;
  readonly #handshakes: KeyedRateLimiter | null;
  readonly #open = new Map<string, number>();
  readonly #retryAfterSeconds: number;

  /**
   * @param options the caps
   * @param retryAfterSeconds `Retry-After` of a refused connection
   * @throws {TypeError} for a trusted proxy that is not an address or range
   * @throws {RangeError} for a cap that is not positive
   */
  constructor(options: ClientLimitOptions, retryAfterSeconds: number) {
    this.#resolver = new ClientAddressResolver(options.trustedProxies ?? []);
    this.#maxConnections = checkLimit(
      "maxConnectionsPerAddress",
      options.maxConnectionsPerAddress,
    );
    const rate = checkLimit(
      "maxHandshakesPerSecond",
      options.maxHandshakesPerSecond,
    );
    this.#handshakes = rate === Infinity
      ? null
      : new KeyedRateLimiter(rate, options.now);
    this.#retryAfterSeconds = retryAfterSeconds;
  }

  /**
   * Who a request comes from (the TCP peer, or the client a trusted proxy
   * names).
   *
   * @param peer the TCP peer's address
   * @param headers the request's headers
   * @returns the client's address, canonical
   */
  clientOf(peer: string, headers: Headers): string {
    return this.#resolver.resolve(peer, headers);
  }

  /**
   * Counts a connection as it is accepted, or refuses it past
   * `maxConnectionsPerAddress`. A trusted proxy's connections are not
   * counted here (see {@linkcode admitUpgrade}).
   *
   * @param peer the TCP peer's address
   * @returns the admission, or the refusal
   */
  admitConnection(peer: string): Admission | CapRefusal {
    if (this.#maxConnections === Infinity) return NOT_COUNTED;
    if (this.#resolver.isTrusted(peer)) return NOT_COUNTED;
    return this.#count(addressKey(peer));
  }

  /**
   * Checks a WebSocket handshake against `maxHandshakesPerSecond`, and, for
   * a connection from a trusted proxy, counts it against the forwarded
   * client's `maxConnectionsPerAddress`.
   *
   * @param peer the TCP peer's address
   * @param headers the request's headers
   * @returns the admission to release when the socket closes
   * @throws {HandshakeError} 429 with `Retry-After` past a cap
   */
  admitUpgrade(peer: string, headers: Headers): Admission {
    const client = this.clientOf(peer, headers);
    const wait = this.#handshakes?.take(client) ?? 0;
    if (wait > 0) {
      throw new HandshakeError(
        429,
        `too many WebSocket handshakes from ${client}; retry later`,
        [["Retry-After", String(wait)]],
      );
    }
    if (this.#maxConnections === Infinity) return NOT_COUNTED;
    if (!this.#resolver.isTrusted(peer)) return NOT_COUNTED; // counted at accept
    const admission = this.#count(client);
    if ("release" in admission) return admission;
    throw new HandshakeError(429, admission.message, [
      ["Retry-After", String(admission.retryAfterSeconds)],
    ]);
  }

  /** How many connections are counted against `client` now. */
  openConnections(client: string): number {
    return this.#open.get(addressKey(client)) ?? 0;
  }

  #count(client: string): Admission | CapRefusal {
    const open = this.#open.get(client) ?? 0;
    if (open >= this.#maxConnections) {
      return {
        message: `too many connections from ${client}; retry later`,
        retryAfterSeconds: this.#retryAfterSeconds,
      };
    }
    this.#open.set(client, open + 1);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#open.get(client) ?? 1) - 1;
        if (left <= 0) this.#open.delete(client);
        else this.#open.set(client, left);
      },
    };
  }
}
