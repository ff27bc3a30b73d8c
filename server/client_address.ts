/**
 * Who a request comes from, for the per-client caps: the TCP peer, unless
 * that peer is one of the proxies the server was told to trust, in which
 * case the client named in their `Forwarded` (RFC 7239) or
 * `X-Forwarded-For` header. Headers from any other peer are ignored: a
 * client can write whatever it likes there.
 *
 * Addresses and ranges are parsed by hand, in linear code.
 *
 * @module
 */

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
type AddressBytes = Uint8Array;

function parseIPv4(text: string): AddressBytes | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let index = 0; index < 4; index++) {
    const part = parts[index];
    if (part.length === 0 || part.length > 3) return null;
    if (part.length > 1 && part[0] === "0") return null; // no octal look-alikes
    let value = 0;
    for (let i = 0; i < part.length; i++) {
      const digit = part.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) return null;
      value = value * 10 + digit;
    }
    if (value > 255) return null;
    bytes[index] = value;
  }
  return bytes;
}

function parseHexGroup(group: string): number {
  if (group.length === 0 || group.length > 4) return -1;
  let value = 0;
  for (let i = 0; i < group.length; i++) {
    const code = group.charCodeAt(i);
    let digit: number;
    if (code >= 0x30 && code <= 0x39) digit = code - 0x30;
    else if (code >= 0x61 && code <= 0x66) digit = code - 0x57;
    else if (code >= 0x41 && code <= 0x46) digit = code - 0x37;
    else return -1;
    value = value * 16 + digit;
  }
  return value;
}

function parseIPv6(text: string): AddressBytes | null {
  const zone = text.indexOf("%");
  const address = zone === -1 ? text : text.slice(0, zone);
  const halves = address.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === "") return [];
    const groups: number[] = [];
    const parts = half.split(":");
    for (let index = 0; index < parts.length; index++) {
      const part = parts[index];
      if (index === parts.length - 1 && part.includes(".")) {
        const v4 = parseIPv4(part);
        if (v4 === null) return null;
        groups.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      const value = parseHexGroup(part);
      if (value < 0) return null;
      groups.push(value);
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const groups = [
    ...head,
    ...new Array<number>(Math.max(missing, 0)).fill(0),
    ...tail,
  ];
  const bytes = new Uint8Array(16);
  for (let index = 0; index < 8; index++) {
    bytes[index * 2] = groups[index] >> 8;
    bytes[index * 2 + 1] = groups[index] & 0xff;
  }
  return bytes;
}

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as its IPv4 address. */
function unmapIPv4(bytes: AddressBytes): AddressBytes {
  if (bytes.length !== 16) return bytes;
  for (let index = 0; index < 10; index++) {
    if (bytes[index] !== 0) return bytes;
  }
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return bytes;
  return bytes.slice(12);
}

/**
 * Parses an IPv4 or IPv6 address (a zone id is ignored; an IPv4-mapped
 * IPv6 address is taken as its IPv4 address).
 *
 * @param text the address
 * @returns its bytes, or null when it is not an IP address
 */
function parseAddress(text: string): AddressBytes | null {
  const bytes = text.includes(":") ? parseIPv6(text) : parseIPv4(text);
  return bytes === null ? null : unmapIPv4(bytes);
}

/**
 * The canonical text of an address, used as the key of the per-client
 * counters: `127.0.0.1` and `::ffff:127.0.0.1` are one client.
 *
 * @param text an IP address, or any other client identity
 * @returns the key
 */
export function addressKey(text: string): string {
  const bytes = parseAddress(text);
  if (bytes === null) return text;
  if (bytes.length === 4) return bytes.join(".");
  const groups: string[] = [];
  for (let index = 0; index < 16; index += 2) {
    groups.push(((bytes[index] << 8) | bytes[index + 1]).toString(16));
  }
  return groups.join(":");
}

/** A range of addresses: a network address and a prefix length. */
interface AddressRange {
  readonly network: AddressBytes;
  readonly prefix: number;
}

function parseRange(text: string): AddressRange | null {
  const slash = text.indexOf("/");
  const network = parseAddress(slash === -1 ? text : text.slice(0, slash));
  if (network === null) return null;
  const bits = network.length * 8;
  if (slash === -1) return { network, prefix: bits };
  const prefixText = text.slice(slash + 1);
  const prefix = Number(prefixText);
  if (
    prefixText === "" || !Number.isInteger(prefix) || prefix < 0 ||
    prefix > bits
  ) {
    return null;
  }
  // A range given as ::ffff:a.b.c.d/n covers IPv4 addresses.
  const unmappedPrefix = network.length === 4 && text.includes(":")
    ? prefix - 96
    : prefix;
  if (unmappedPrefix < 0) return null;
  return { network, prefix: unmappedPrefix };
}

function inRange(address: AddressBytes, range: AddressRange): boolean {
  if (address.length !== range.network.length) return false;
  let remaining = range.prefix;
  for (let index = 0; index < address.length && remaining > 0; index++) {
    const bits = Math.min(8, remaining);
    const mask = (0xff << (8 - bits)) & 0xff;
    if ((address[index] & mask) !== (range.network[index] & mask)) {
      return false;
    }
    remaining -= bits;
  }
  return true;
}

/** The value of a `for=` parameter: an address without port or brackets,
 * or null for `unknown`, an obfuscated name or anything unparseable. */
function forwardedAddress(value: string): string | null {
  let text = value.trim();
  if (text.length >= 2 && text[0] === '"' && text.at(-1) === '"') {
    text = text.slice(1, -1);
  }
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end === -1) return null;
    text = text.slice(1, end);
  } else if (
    text.indexOf(":") !== -1 && text.indexOf(":") === text.lastIndexOf(":")
  ) {
    text = text.slice(0, text.indexOf(":")); // IPv4 with a port
  }
  return parseAddress(text) === null ? null : text;
}

/** Splits on commas outside quoted strings. */
function splitOutsideQuotes(value: string, separator: string): string[] {
  const parts: string[] = [];
  let start = 0;
  let quoted = false;
  for (let index = 0; index < value.length; index++) {
    const char = value[index];
    if (char === "\\" && quoted) index++;
    else if (char === '"') quoted = !quoted;
    else if (char === separator && !quoted) {
      parts.push(value.slice(start, index));
      start = index + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

/** The `for=` addresses of a `Forwarded` header, first hop first; null for
 * a hop whose address is unknown or obfuscated. */
function forwardedChain(header: string): Array<string | null> {
  const chain: Array<string | null> = [];
  for (const element of splitOutsideQuotes(header, ",")) {
    let address: string | null = null;
    for (const pair of splitOutsideQuotes(element, ";")) {
      const equals = pair.indexOf("=");
      if (equals === -1) continue;
      if (pair.slice(0, equals).trim().toLowerCase() !== "for") continue;
      address = forwardedAddress(pair.slice(equals + 1));
    }
    chain.push(address);
  }
  return chain;
}

/** The addresses of an `X-Forwarded-For` header, first hop first. */
function xForwardedChain(header: string): Array<string | null> {
  return header.split(",").map((part) => forwardedAddress(part));
}

/**
 * Finds the client behind trusted proxies. Built once per server from its
 * `trustedProxies` option.
 */
export class ClientAddressResolver {
  readonly #trusted: AddressRange[];

  /**
   * @param trustedProxies addresses and CIDR ranges (`10.0.0.0/8`,
   * `::1`) of the proxies whose forwarding headers are believed
   * @throws {TypeError} for an entry that is not an address or range
   */
  constructor(trustedProxies: readonly string[]) {
    this.#trusted = trustedProxies.map((text) => {
      const range = parseRange(text.trim());
      if (range === null) {
        throw new TypeError(
          `trustedProxies: ${
            JSON.stringify(text)
          } is not an IP address or CIDR range`,
        );
      }
      return range;
    });
  }

  /** Whether any proxy is trusted at all. */
  get trustsProxies(): boolean {
    return this.#trusted.length > 0;
  }

  /**
   * Whether `address` is one of the trusted proxies.
   *
   * @param address an IP address
   * @returns true when its headers are believed
   */
  isTrusted(address: string): boolean {
    const bytes = parseAddress(address);
    return bytes !== null &&
      this.#trusted.some((range) => inRange(bytes, range));
  }

  /**
   * The client a request comes from: the TCP peer, or, when the peer is a
   * trusted proxy, the last hop before the trusted ones in its `Forwarded`
   * header (or `X-Forwarded-For` when there is no `Forwarded`). A hop
   * whose address is unknown or unreadable ends the walk: the nearest
   * trusted hop then stands for the client.
   *
   * @param peer the TCP peer's address
   * @param headers the request's headers
   * @returns the client's address, canonical ({@linkcode addressKey})
   */
  resolve(peer: string, headers: Headers): string {
    if (!this.isTrusted(peer)) return addressKey(peer);
    const forwarded = headers.get("forwarded");
    const xForwarded = headers.get("x-forwarded-for");
    const chain = forwarded !== null
      ? forwardedChain(forwarded)
      : xForwarded !== null
      ? xForwardedChain(xForwarded)
      : [];
    let client = peer;
    for (let index = chain.length - 1; index >= 0; index--) {
      const hop = chain[index];
      if (hop === null) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return addressKey(client);
  }
}
