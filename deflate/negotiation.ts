/**
 * Negotiation of the `permessage-deflate` extension (RFC 7692 sections 5
 * and 7.1), both sides, with no I/O.
 *
 * This library compresses every message with a fresh `CompressionStream`
 * (the web platform's streams cannot flush, so no LZ77 window survives from
 * one message to the next) and inflates every message on its own with the
 * DEFLATE decoder of `inflate.ts`, which keeps no window either (see
 * `payload.ts`). Negotiation is shaped by that:
 *
 * - As a server we always answer `server_no_context_takeover` (we compress
 *   each message on its own anyway, and saying so lets the client drop its
 *   inflater state; RFC 7692 section 7.1.1.1 lets a server add it unasked)
 *   and `client_no_context_takeover` (we inflate each message on its own,
 *   so the client may not refer back to an earlier message; section 7.1.1.2
 *   lets a server add it unasked).
 * - An offer naming `server_max_window_bits` below 15 is declined: the
 *   platform compressor always uses a 32 KiB (15-bit) window and cannot
 *   promise a smaller one (section 7.1.2.1).
 * - `client_max_window_bits` is accepted and never echoed: our inflater
 *   reads any window up to 15 bits, so we never limit the client.
 * - As a client we offer `client_no_context_takeover` (a true hint, section
 *   7.1.1.2) and `server_no_context_takeover`, which we require in the
 *   answer. We never offer `client_max_window_bits`, since we could not
 *   honour a smaller window than 15 bits for our own compressor.
 *
 * @module
 */

import { HandshakeError } from "../errors.ts";
import {
  type ExtensionOffer,
  formatExtensions,
  parseExtensions,
  splitList,
  trimOptionalWhitespace,
} from "../http1/header_grammar.ts";
import { DEFAULTS } from "../defaults.ts";

/** The extension token (RFC 7692 section 7). */
export const PERMESSAGE_DEFLATE = "permessage-deflate";

/** Smallest LZ77 window a `*_max_window_bits` parameter may name (256 bytes). */
export const MIN_WINDOW_BITS = 8;

/** Largest LZ77 window a `*_max_window_bits` parameter may name (32 KiB),
 * and the window used when none is named. */
export const MAX_WINDOW_BITS = 15;

/** Options for `permessage-deflate`. */
export interface PerMessageDeflateOptions {
  /** Whether to negotiate the extension at all. Default true. */
  enabled?: boolean;
  /**
   * Smallest message in bytes that is sent compressed; default
   * `DEFAULTS.deflate.threshold`. 0 compresses every message.
   *
   * There are deliberately no `serverNoContextTakeover` /
   * `clientNoContextTakeover` options: both are always agreed, because the
   * platform's streams cannot keep a window across messages.
   */
  threshold?: number;
}

/** {@linkcode PerMessageDeflateOptions} with every default applied. */
export interface ResolvedDeflateOptions {
  /** Whether to negotiate the extension. */
  enabled: boolean;
  /** Smallest message in bytes that is sent compressed. */
  threshold: number;
}

/**
 * Apply the defaults to {@linkcode PerMessageDeflateOptions}.
 *
 * @throws {RangeError} when `threshold` is not a non-negative safe integer
 */
export function resolveDeflateOptions(
  options: PerMessageDeflateOptions = {},
): ResolvedDeflateOptions {
  const threshold = options.threshold ?? DEFAULTS.deflate.threshold;
  if (!Number.isSafeInteger(threshold) || threshold < 0) {
    throw new RangeError(
      `permessage-deflate threshold must be a non-negative safe integer, got ${threshold}`,
    );
  }
  return { enabled: options.enabled ?? true, threshold };
}

/** What both ends agreed for one connection. */
export interface PerMessageDeflateParams {
  /** The server compresses every message without earlier messages' window. */
  serverNoContextTakeover: boolean;
  /** The client compresses every message without earlier messages' window. */
  clientNoContextTakeover: boolean;
  /** Largest window (log2 bytes) the server's compressor uses. */
  serverMaxWindowBits: number;
  /** Largest window (log2 bytes) the client's compressor uses. */
  clientMaxWindowBits: number;
}

/** A server's decision on one offer: accepted with its parameters and
 * response element, or declined with the reason. */
export type DeflateOfferVerdict =
  | {
    /** The offer can be accepted. */
    accepted: true;
    /** What is agreed by accepting it. */
    params: PerMessageDeflateParams;
    /** The response element stating exactly what was agreed. */
    response: ExtensionOffer;
  }
  | {
    /** The offer is declined. */
    accepted: false;
    /** Why, for logs and tests. */
    reason: string;
  };

/** A successful server-side negotiation. */
export interface DeflateNegotiation {
  /** The `Sec-WebSocket-Extensions` value to answer with. */
  response: string;
  /** What was agreed. */
  params: PerMessageDeflateParams;
}

/**
 * Parse a `*_max_window_bits` value: a decimal integer from 8 to 15 without
 * leading zeros (RFC 7692 sections 7.1.2.1 and 7.1.2.2), or `undefined`.
 */
function parseWindowBits(value: string): number | undefined {
  if (value.length < 1 || value.length > 2) return undefined;
  if (value[0] === "0") return undefined;
  let bits = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return undefined;
    bits = bits * 10 + (code - 0x30);
  }
  if (bits < MIN_WINDOW_BITS || bits > MAX_WINDOW_BITS) return undefined;
  return bits;
}

const BAD_WINDOW_BITS = "not an integer from 8 to 15 without leading zeros";

/** A parameter as it appeared, for messages: `name` or `name="value"`. */
function describe(name: string, value: string | true): string {
  return value === true ? name : `${name}=${JSON.stringify(value)}`;
}

/**
 * Decide on one `permessage-deflate` offer as a server (RFC 7692 section 5:
 * decline an offer with an unknown parameter, an invalid value, or a
 * configuration we cannot honour; never accept half of it). The offer's
 * name is not checked. Duplicated parameters cannot be represented in an
 * {@linkcode ExtensionOffer}; {@linkcode negotiateDeflate} declines them
 * before they get here.
 */
export function evaluateDeflateOffer(
  offer: ExtensionOffer,
): DeflateOfferVerdict {
  const decline = (reason: string): DeflateOfferVerdict => ({
    accepted: false,
    reason,
  });
  let serverWindowNamed = false;
  for (const [name, value] of offer.params) {
    const shown = describe(name, value);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) {
          return decline(`${shown}: this parameter takes no value`);
        }
        break;
      case "server_max_window_bits": {
        if (value === true) {
          return decline(`${name} needs a value from 8 to 15 in an offer`);
        }
        const bits = parseWindowBits(value);
        if (bits === undefined) return decline(`${shown}: ${BAD_WINDOW_BITS}`);
        if (bits < MAX_WINDOW_BITS) {
          return decline(
            `${shown}: the platform compressor always uses a 15-bit window`,
          );
        }
        serverWindowNamed = true;
        break;
      }
      case "client_max_window_bits":
        if (value !== true && parseWindowBits(value) === undefined) {
          return decline(`${shown}: ${BAD_WINDOW_BITS}`);
        }
        break;
      default:
        return decline(`unknown parameter ${shown}`);
    }
  }
  const response = new Map<string, string | true>([
    ["server_no_context_takeover", true],
    ["client_no_context_takeover", true],
  ]);
  // Section 7.1.2.1: accepting an offer that names server_max_window_bits
  // means answering with it (same or smaller value).
  if (serverWindowNamed) {
    response.set("server_max_window_bits", String(MAX_WINDOW_BITS));
  }
  return {
    accepted: true,
    params: {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: MAX_WINDOW_BITS,
      clientMaxWindowBits: MAX_WINDOW_BITS,
    },
    response: { name: PERMESSAGE_DEFLATE, params: response },
  };
}

/** The extension name at the start of an element, for elements that do not
 * parse: the characters before the first `;`, without optional whitespace. */
function leadingName(element: string): string {
  const end = element.indexOf(";");
  return trimOptionalWhitespace(end === -1 ? element : element.slice(0, end));
}

/** What a scan of a client's header found. */
interface OfferScan {
  negotiation: DeflateNegotiation | undefined;
  declined: string[];
}

/** Walk the `permessage-deflate` elements of a header in order until one is
 * acceptable, noting why each earlier one was declined. */
function scanOffers(header: string): OfferScan {
  const declined: string[] = [];
  let considered = 0;
  for (const element of splitList(header)) {
    // Other extensions and empty list elements are skipped unparsed.
    if (leadingName(element) !== PERMESSAGE_DEFLATE) continue;
    if (++considered > DEFAULTS.limits.maxDeflateOffers) {
      declined.push(
        `more than ${DEFAULTS.limits.maxDeflateOffers} permessage-deflate offers; the rest are ignored`,
      );
      break;
    }
    let offer: ExtensionOffer;
    try {
      offer = parseExtensions(element)[0];
    } catch (error) {
      if (!(error instanceof HandshakeError)) throw error;
      // Malformed, or repeats a parameter: declined.
      declined.push(error.message);
      continue;
    }
    const verdict = evaluateDeflateOffer(offer);
    if (!verdict.accepted) {
      declined.push(verdict.reason);
      continue;
    }
    const negotiation = {
      response: formatExtensions([verdict.response]),
      params: verdict.params,
    };
    return { negotiation, declined };
  }
  return { negotiation: undefined, declined };
}

/**
 * As a server, pick the first acceptable `permessage-deflate` offer from a
 * client's `Sec-WebSocket-Extensions` header (RFC 7692 section 5: offers are
 * in the client's order of preference) and build the answer.
 *
 * Takes the raw header value rather than parsed offers because RFC 7692
 * section 5 wants an offer that repeats a parameter declined, not the
 * handshake refused, and `parseExtensions` refuses a whole header for that.
 * Each element is parsed on its own; an element that does not parse
 * (repeated parameter or bad syntax) is declined and the next one is tried.
 * Other extensions are ignored.
 *
 * @param header the `Sec-WebSocket-Extensions` value, or `null` when absent
 * @param options the server's options; nothing is agreed when `enabled` is false
 * @returns the answer and the agreed parameters, or `undefined` when no
 * offer is acceptable (then the server answers without the extension)
 * @throws {RangeError} for an invalid `threshold` option
 */
export function negotiateDeflate(
  header: string | null,
  options: PerMessageDeflateOptions = {},
): DeflateNegotiation | undefined {
  if (!resolveDeflateOptions(options).enabled || header === null) {
    return undefined;
  }
  return scanOffers(header).negotiation;
}

/**
 * Why each `permessage-deflate` element of a header before the accepted one
 * (or all of them, when none is acceptable) is declined, in order. For
 * server logs: a client asked for compression and did not get it.
 */
export function describeDeclinedOffers(header: string): string[] {
  return scanOffers(header).declined;
}

/**
 * The offer a client sends: `permessage-deflate; client_no_context_takeover;
 * server_no_context_takeover`. A fresh object each call (its `Map` may be
 * changed by the caller).
 */
export function createDeflateOffer(): ExtensionOffer {
  return {
    name: PERMESSAGE_DEFLATE,
    params: new Map<string, string | true>([
      ["client_no_context_takeover", true],
      ["server_no_context_takeover", true],
    ]),
  };
}

/** The status a client reports in a `HandshakeError` about a 101 answer. */
const SWITCHING_PROTOCOLS = 101;

/**
 * As a client, check the extensions a server accepted (as returned by
 * `verifyServerResponse`, which already refuses names that were not offered
 * and syntax errors, including a repeated parameter) and return what was
 * agreed for `permessage-deflate`.
 *
 * @param accepted the server's response elements, in order
 * @param offered whether this client offered {@linkcode createDeflateOffer}
 * @returns the agreed parameters, or `undefined` when the server did not
 * accept the extension
 * @throws {HandshakeError} (status 101) when the answer must fail the
 * connection (RFC 7692 section 5): `permessage-deflate` accepted but not
 * offered or accepted twice, an unknown parameter, a value where none is
 * allowed or an invalid one, `server_no_context_takeover` missing (we inflate
 * every message on its own, keeping no window), or `client_max_window_bits`,
 * which we never offer (section 7.1.2.2 forbids it then).
 */
export function acceptDeflateResponse(
  accepted: readonly ExtensionOffer[],
  offered: boolean,
): PerMessageDeflateParams | undefined {
  const refuse = (problem: string): HandshakeError =>
    new HandshakeError(
      SWITCHING_PROTOCOLS,
      `server's permessage-deflate answer is not acceptable: ${problem}`,
    );
  const elements = accepted.filter((element) =>
    element.name === PERMESSAGE_DEFLATE
  );
  if (elements.length === 0) return undefined;
  if (!offered) throw refuse("the extension was not offered");
  if (elements.length > 1) throw refuse("it was accepted more than once");
  const params: PerMessageDeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: MAX_WINDOW_BITS,
    clientMaxWindowBits: MAX_WINDOW_BITS,
  };
  for (const [name, value] of elements[0].params) {
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) {
          throw refuse(`${describe(name, value)} takes no value`);
        }
        if (name === "server_no_context_takeover") {
          params.serverNoContextTakeover = true;
        } else {
          params.clientNoContextTakeover = true;
        }
        break;
      case "server_max_window_bits": {
        // Section 7.1.2.1: a server may limit its own window even unasked;
        // our inflater reads any window.
        const bits = value === true ? undefined : parseWindowBits(value);
        if (bits === undefined) {
          throw refuse(
            `${describe(name, value)} is not an integer from 8 to 15`,
          );
        }
        params.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits":
        throw refuse(`${describe(name, value)} was not offered`);
      default:
        throw refuse(`unknown parameter ${describe(name, value)}`);
    }
  }
  if (!params.serverNoContextTakeover) {
    throw refuse(
      "server_no_context_takeover is missing; this client inflates every message on its own",
    );
  }
  return params;
}
