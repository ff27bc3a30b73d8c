/**
 * Negotiation of the `permessage-deflate` extension (RFC 7692 sections 5
 * and 7.1), both sides, every parameter, with no I/O.
 *
 * The options use the names users know from `ws`
 * ({@linkcode PerMessageDeflateOptions}); what both ends agreed is a
 * {@linkcode PerMessageDeflateParams}, and {@linkcode deflateDirections}
 * turns it into what this end's compressor and inflater must do.
 *
 * - As a server we accept every valid offer: the peer's
 *   `server_no_context_takeover` and `server_max_window_bits` are honoured
 *   (our compressor can reset per message and use any window), and
 *   `client_max_window_bits` lets us bound the client's window to
 *   `clientMaxWindowBits`. A client that cannot be bounded (its offer lacks
 *   `client_max_window_bits`) while we want a window under 32 KiB is told
 *   `client_no_context_takeover`, so the memory our inflater keeps between
 *   messages stays within the bound either way.
 * - As a client we offer what the options ask (and `client_max_window_bits`
 *   always: we honour any window the server picks), and accept every valid
 *   answer; a server that ignores what we asked of its own compressor is
 *   inflated as it answered (context kept, 32 KiB window).
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

/**
 * What to negotiate, in `ws`'s vocabulary. "Server" and "client" name the
 * direction a parameter governs, whichever end this is: the server's
 * compressor (and the client's inflater), or the client's compressor (and
 * the server's inflater).
 */
export interface PerMessageDeflateOptions {
  /**
   * The server compresses every message on its own. A server with this set
   * answers `server_no_context_takeover`; a client asks for it. Default
   * false: context takeover, which compresses streams of similar messages
   * several times better.
   */
  serverNoContextTakeover?: boolean;
  /**
   * The client compresses every message on its own. A server with this set
   * answers `client_no_context_takeover`; a client offers it and keeps no
   * context. Default false.
   */
  clientNoContextTakeover?: boolean;
  /**
   * Largest LZ77 window of the server's compressor, as a power of two (8 to
   * 15: 256 B to 32 KiB). A server uses at most this; a client asks the
   * server for at most this (`server_max_window_bits`), which bounds what
   * its inflater keeps. Default 15.
   */
  serverMaxWindowBits?: number;
  /**
   * Largest LZ77 window of the client's compressor (8 to 15). A server
   * bounds the client to it when the client allows that, or else agrees
   * `client_no_context_takeover` (when below 15), so its inflater never
   * keeps more than this per connection; a client uses at most this. Default
   * 15.
   */
  clientMaxWindowBits?: number;
  /**
   * Smallest message in bytes (UTF-8 bytes for text) sent compressed unless
   * `send` says otherwise. 0 compresses every message. Default, once
   * agreed: `DEFAULTS.deflate.takeoverThreshold` when this end compresses
   * with context takeover, else `DEFAULTS.deflate.threshold`.
   */
  threshold?: number;
}

/** {@linkcode PerMessageDeflateOptions} with every default applied. */
export interface ResolvedDeflateOptions {
  /** See {@linkcode PerMessageDeflateOptions.serverNoContextTakeover}. */
  serverNoContextTakeover: boolean;
  /** See {@linkcode PerMessageDeflateOptions.clientNoContextTakeover}. */
  clientNoContextTakeover: boolean;
  /** See {@linkcode PerMessageDeflateOptions.serverMaxWindowBits}. */
  serverMaxWindowBits: number;
  /** See {@linkcode PerMessageDeflateOptions.clientMaxWindowBits}. */
  clientMaxWindowBits: number;
  /** The threshold given; undefined picks the default once agreed. */
  threshold: number | undefined;
}

/**
 * The threshold a connection compresses from.
 *
 * @param threshold the option given, if any
 * @param noContextTakeover whether this end compresses without context
 * takeover
 * @returns the option, or its default for how this end compresses
 */
export function deflateThreshold(
  threshold: number | undefined,
  noContextTakeover: boolean,
): number {
  if (threshold !== undefined) return threshold;
  return noContextTakeover
    ? DEFAULTS.deflate.threshold
    : DEFAULTS.deflate.takeoverThreshold;
}

function checkWindowBits(name: string, value: number): number {
  if (
    !Number.isInteger(value) || value < MIN_WINDOW_BITS ||
    value > MAX_WINDOW_BITS
  ) {
    throw new RangeError(
      `permessage-deflate ${name} must be an integer from 8 to 15, got ${value}`,
    );
  }
  return value;
}

/**
 * Apply the defaults to {@linkcode PerMessageDeflateOptions} and check them.
 *
 * @param options what the caller set
 * @returns every option
 * @throws {RangeError} when `threshold` is not a non-negative safe integer
 * or a window is not an integer from 8 to 15
 */
export function resolveDeflateOptions(
  options: PerMessageDeflateOptions = {},
): ResolvedDeflateOptions {
  const threshold = options.threshold;
  if (
    threshold !== undefined &&
    (!Number.isSafeInteger(threshold) || threshold < 0)
  ) {
    throw new RangeError(
      `permessage-deflate threshold must be a non-negative safe integer, got ${threshold}`,
    );
  }
  return {
    serverNoContextTakeover: options.serverNoContextTakeover ?? false,
    clientNoContextTakeover: options.clientNoContextTakeover ?? false,
    serverMaxWindowBits: checkWindowBits(
      "serverMaxWindowBits",
      options.serverMaxWindowBits ?? MAX_WINDOW_BITS,
    ),
    clientMaxWindowBits: checkWindowBits(
      "clientMaxWindowBits",
      options.clientMaxWindowBits ?? MAX_WINDOW_BITS,
    ),
    threshold,
  };
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

/** How one direction of a connection compresses. */
export interface DeflateDirection {
  /** Every message is compressed on its own: nothing refers back. */
  noContextTakeover: boolean;
  /** Largest LZ77 window, log2 bytes (8 to 15). */
  windowBits: number;
}

/**
 * What this end's compressor and inflater must do under an agreement.
 *
 * @param params what was agreed
 * @param role which end this is
 * @returns the direction this end sends in and the one it receives in
 */
export function deflateDirections(
  params: PerMessageDeflateParams,
  role: "server" | "client",
): { send: DeflateDirection; receive: DeflateDirection } {
  const server = {
    noContextTakeover: params.serverNoContextTakeover,
    windowBits: params.serverMaxWindowBits,
  };
  const client = {
    noContextTakeover: params.clientNoContextTakeover,
    windowBits: params.clientMaxWindowBits,
  };
  return role === "server"
    ? { send: server, receive: client }
    : { send: client, receive: server };
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

/** What a server read from one offer. */
interface ReadOffer {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The offer's `server_max_window_bits`, when named. */
  serverMaxWindowBits: number | undefined;
  /** `client_max_window_bits`: absent, named without a value, or a value. */
  clientMaxWindowBits: number | true | undefined;
}

/** Reads an offer's parameters, or returns why it must be declined. */
function readOffer(offer: ExtensionOffer): ReadOffer | string {
  const read: ReadOffer = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  for (const [name, value] of offer.params) {
    const shown = describe(name, value);
    switch (name) {
      case "server_no_context_takeover":
      case "client_no_context_takeover":
        if (value !== true) return `${shown}: this parameter takes no value`;
        if (name === "server_no_context_takeover") {
          read.serverNoContextTakeover = true;
        } else read.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits": {
        if (value === true) {
          return `${name} needs a value from 8 to 15 in an offer`;
        }
        const bits = parseWindowBits(value);
        if (bits === undefined) return `${shown}: ${BAD_WINDOW_BITS}`;
        read.serverMaxWindowBits = bits;
        break;
      }
      case "client_max_window_bits": {
        if (value === true) {
          read.clientMaxWindowBits = true;
          break;
        }
        const bits = parseWindowBits(value);
        if (bits === undefined) return `${shown}: ${BAD_WINDOW_BITS}`;
        read.clientMaxWindowBits = bits;
        break;
      }
      default:
        return `unknown parameter ${shown}`;
    }
  }
  return read;
}

/**
 * Decide on one `permessage-deflate` offer as a server (RFC 7692 section
 * 5): an offer with an unknown parameter or an invalid value is declined,
 * every other one accepted and answered with exactly what is agreed. The
 * offer's name is not checked. Duplicated parameters cannot be represented
 * in an {@linkcode ExtensionOffer}; {@linkcode negotiateDeflate} declines
 * them before they get here.
 *
 * @param offer one offer element
 * @param options the server's options, resolved
 * @returns the verdict
 */
export function evaluateDeflateOffer(
  offer: ExtensionOffer,
  options: ResolvedDeflateOptions = resolveDeflateOptions(),
): DeflateOfferVerdict {
  const read = readOffer(offer);
  if (typeof read === "string") return { accepted: false, reason: read };
  const serverMaxWindowBits = Math.min(
    options.serverMaxWindowBits,
    read.serverMaxWindowBits ?? MAX_WINDOW_BITS,
  );
  let clientNoContextTakeover = options.clientNoContextTakeover;
  let clientMaxWindowBits = MAX_WINDOW_BITS;
  if (read.clientMaxWindowBits !== undefined) {
    const offered = read.clientMaxWindowBits === true
      ? MAX_WINDOW_BITS
      : read.clientMaxWindowBits;
    clientMaxWindowBits = Math.min(offered, options.clientMaxWindowBits);
  } else if (options.clientMaxWindowBits < MAX_WINDOW_BITS) {
    // The client may use 32 KiB: keep nothing between its messages instead.
    clientNoContextTakeover = true;
  }
  const params: PerMessageDeflateParams = {
    serverNoContextTakeover: options.serverNoContextTakeover ||
      read.serverNoContextTakeover,
    clientNoContextTakeover,
    serverMaxWindowBits,
    clientMaxWindowBits,
  };
  const response = new Map<string, string | true>();
  if (params.serverNoContextTakeover) {
    response.set("server_no_context_takeover", true);
  }
  if (params.clientNoContextTakeover) {
    response.set("client_no_context_takeover", true);
  }
  // Section 7.1.2.1: an offer naming server_max_window_bits is accepted by
  // answering it; a server may also name it unasked.
  if (
    read.serverMaxWindowBits !== undefined ||
    serverMaxWindowBits < MAX_WINDOW_BITS
  ) {
    response.set("server_max_window_bits", String(serverMaxWindowBits));
  }
  // Section 7.1.2.2: only when offered, at most the offered value.
  if (
    read.clientMaxWindowBits !== undefined &&
    (clientMaxWindowBits < MAX_WINDOW_BITS ||
      read.clientMaxWindowBits !== true)
  ) {
    response.set("client_max_window_bits", String(clientMaxWindowBits));
  }
  return {
    accepted: true,
    params,
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
function scanOffers(
  header: string,
  options: ResolvedDeflateOptions,
): OfferScan {
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
    const verdict = evaluateDeflateOffer(offer, options);
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
 * @param options the server's options
 * @returns the answer and the agreed parameters, or `undefined` when no
 * offer is acceptable (then the server answers without the extension)
 * @throws {RangeError} for an invalid option
 */
export function negotiateDeflate(
  header: string | null,
  options: PerMessageDeflateOptions = {},
): DeflateNegotiation | undefined {
  const resolved = resolveDeflateOptions(options);
  if (header === null) return undefined;
  return scanOffers(header, resolved).negotiation;
}

/**
 * Why each `permessage-deflate` element of a header before the accepted one
 * (or all of them, when none is acceptable) is declined, in order. For
 * server logs: a client asked for compression and did not get it.
 *
 * @param header the `Sec-WebSocket-Extensions` value
 * @returns the reasons, in order
 */
export function describeDeclinedOffers(header: string): string[] {
  return scanOffers(header, resolveDeflateOptions()).declined;
}

/**
 * The offer a client sends for its options: `permessage-deflate;
 * client_max_window_bits` (this client honours any window the server
 * picks), with the value when `clientMaxWindowBits` is below 15, plus
 * `server_max_window_bits`, `server_no_context_takeover` and
 * `client_no_context_takeover` when the options ask for them. A fresh
 * object each call (its `Map` may be changed by the caller).
 *
 * @param options the client's options
 * @returns the offer element
 * @throws {RangeError} for an invalid option
 */
export function createDeflateOffer(
  options: PerMessageDeflateOptions = {},
): ExtensionOffer {
  const resolved = resolveDeflateOptions(options);
  const params = new Map<string, string | true>();
  if (resolved.serverNoContextTakeover) {
    params.set("server_no_context_takeover", true);
  }
  if (resolved.clientNoContextTakeover) {
    params.set("client_no_context_takeover", true);
  }
  if (resolved.serverMaxWindowBits < MAX_WINDOW_BITS) {
    params.set("server_max_window_bits", String(resolved.serverMaxWindowBits));
  }
  params.set(
    "client_max_window_bits",
    resolved.clientMaxWindowBits < MAX_WINDOW_BITS
      ? String(resolved.clientMaxWindowBits)
      : true,
  );
  return { name: PERMESSAGE_DEFLATE, params };
}

/** The status a client reports in a `HandshakeError` about a 101 answer. */
const SWITCHING_PROTOCOLS = 101;

/**
 * As a client, check the extensions a server accepted (as returned by
 * `verifyServerResponse`, which already refuses names that were not offered
 * and syntax errors, including a repeated parameter) and return what was
 * agreed for `permessage-deflate`. Every valid answer to
 * {@linkcode createDeflateOffer} is accepted: context takeover either way or
 * not, any window.
 *
 * @param accepted the server's response elements, in order
 * @param offered the options this client offered with, or `undefined` when
 * it did not offer permessage-deflate
 * @returns the agreed parameters, or `undefined` when the server did not
 * accept the extension
 * @throws {HandshakeError} (status 101) when the answer must fail the
 * connection (RFC 7692 section 5): `permessage-deflate` accepted but not
 * offered or accepted twice, an unknown parameter, a value where none is
 * allowed or an invalid one, or a window larger than the one offered. A
 * server that leaves out `server_no_context_takeover` or
 * `server_max_window_bits` we asked for is read as it says: with its
 * context kept and a 32 KiB window.
 */
export function acceptDeflateResponse(
  accepted: readonly ExtensionOffer[],
  offered: PerMessageDeflateOptions | undefined,
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
  if (offered === undefined) throw refuse("the extension was not offered");
  if (elements.length > 1) throw refuse("it was accepted more than once");
  const options = resolveDeflateOptions(offered);
  const params: PerMessageDeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: options.clientNoContextTakeover,
    serverMaxWindowBits: MAX_WINDOW_BITS,
    clientMaxWindowBits: options.clientMaxWindowBits,
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
        } else params.clientNoContextTakeover = true;
        break;
      case "server_max_window_bits":
      case "client_max_window_bits": {
        const bits = value === true ? undefined : parseWindowBits(value);
        if (bits === undefined) {
          throw refuse(`${describe(name, value)}: ${BAD_WINDOW_BITS}`);
        }
        const limit = name === "server_max_window_bits"
          ? options.serverMaxWindowBits
          : options.clientMaxWindowBits;
        // A server may name its own window unasked (section 7.1.2.1), and
        // bound ours at or below what we offered (section 7.1.2.2).
        if (bits > limit) {
          throw refuse(
            `${describe(name, value)} is above the ${limit} offered`,
          );
        }
        if (name === "server_max_window_bits") {
          params.serverMaxWindowBits = bits;
        } else params.clientMaxWindowBits = bits;
        break;
      }
      default:
        throw refuse(`unknown parameter ${describe(name, value)}`);
    }
  }
  return params;
}
