/**
 * HTTP heads for fuzzing the request- and response-head parsers: valid
 * WebSocket upgrade requests and 101 answers as structured values, and
 * mutations at the level an attacker thinks in (a CR in a header name, an
 * obs-fold line, a duplicated Host, a 20 KiB value, a bare LF) before the
 * byte-level mutations of `bytes.ts` are applied on top.
 *
 * Strings here hold only characters U+0000 to U+00FF, one per byte.
 *
 * @module
 */
import fc from "fast-check";

/** The key and accept value of RFC 6455 section 1.3, the only pair the
 * response fuzzing needs (taken from the RFC, not computed). */
export const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
/** `Sec-WebSocket-Accept` for {@linkcode RFC_KEY}. */
export const RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/** Subprotocols the fuzzed client offers. */
export const OFFERED_PROTOCOLS: readonly string[] = ["chat", "superchat"];

/** A head as lines: the first line (request or status line), the header
 * lines as name and value, and the line ending after each line. */
export interface HeadSpec {
  /** Empty lines (CRLF) before the first line. */
  leadingEmptyLines: number;
  /** The request line or status line, without its ending. */
  startLine: string;
  /** Header fields, in order; `raw` lines are written as they are. */
  headers: Array<{ name: string; value: string; raw?: string }>;
  /** Line endings by line index (0 = start line, last = the empty line
   * that ends the head); "\r\n" where not set. */
  endings: Map<number, string>;
}

/** Encodes a string of characters up to U+00FF one per byte. */
export function latin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

/** The bytes of a head. */
export function serializeHead(spec: HeadSpec): Uint8Array {
  const ending = (index: number) => spec.endings.get(index) ?? "\r\n";
  let text = "\r\n".repeat(spec.leadingEmptyLines);
  text += spec.startLine + ending(0);
  spec.headers.forEach((header, index) => {
    text += (header.raw ?? `${header.name}: ${header.value}`) +
      ending(index + 1);
  });
  text += ending(spec.headers.length + 1);
  return latin1(text);
}

const TOKEN_CHARS =
  "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

const tokenArbitrary = fc.array(fc.constantFrom(...TOKEN_CHARS), {
  minLength: 1,
  maxLength: 12,
}).map((chars) => chars.join(""));

/** Header value characters: visible ASCII, space, tab, obs-text. */
const valueArbitrary = fc.array(
  fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0x21, max: 0x7e }) },
    { weight: 1, arbitrary: fc.constantFrom(0x20, 0x09) },
    { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  ),
  { maxLength: 24 },
).map((codes) => String.fromCharCode(...codes));

/** Random case, as clients send header names in any case. */
function recase(name: string, pattern: number): string {
  let result = "";
  for (let i = 0; i < name.length; i++) {
    result += (pattern >>> (i % 30)) & 1
      ? name[i].toUpperCase()
      : name[i].toLowerCase();
  }
  return result;
}

/** Optional whitespace around a value. */
const owsArbitrary = fc.constantFrom("", "", " ", "\t", "  ", " \t");

const BASE64 =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Base64 of 16 bytes, written by hand (independent of the code under test). */
function base64Key(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < 15; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    text += BASE64[n >>> 18] + BASE64[(n >>> 12) & 63] +
      BASE64[(n >>> 6) & 63] + BASE64[n & 63];
  }
  const last = bytes[15];
  return text + BASE64[last >>> 2] + BASE64[(last & 3) << 4] + "==";
}

const EXTENSION_OFFERS = [
  "permessage-deflate",
  "permessage-deflate; client_max_window_bits",
  "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
  'permessage-deflate; server_max_window_bits="15", permessage-deflate',
  "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10",
];

/** A valid upgrade request (RFC 6455 section 4.1) with extra headers, in
 * random order, case and whitespace. */
export const upgradeRequestArbitrary: fc.Arbitrary<HeadSpec> = fc.record({
  leadingEmptyLines: fc.oneof(
    { weight: 9, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
  target: fc.array(
    fc.constantFrom(..."abcz09-._~/?=&%+!$'()*,;:@"),
    { maxLength: 30 },
  ).map((chars) => "/" + chars.join("")),
  host: fc.constantFrom("example.com", "127.0.0.1:8080", "[::1]:80", "a"),
  upgrade: fc.constantFrom("websocket", "WebSocket", "h2c, websocket"),
  connection: fc.constantFrom("Upgrade", "upgrade", "keep-alive, Upgrade"),
  key: fc.uint8Array({ minLength: 16, maxLength: 16 }).map(base64Key),
  protocols: fc.option(
    fc.uniqueArray(tokenArbitrary, { minLength: 1, maxLength: 4 }).map((
      list,
    ) => list.join(", ")),
    { nil: undefined },
  ),
  extensions: fc.option(fc.constantFrom(...EXTENSION_OFFERS), {
    nil: undefined,
  }),
  extra: fc.array(fc.tuple(tokenArbitrary, valueArbitrary), { maxLength: 5 }),
  order: fc.array(fc.nat(), { minLength: 16, maxLength: 16 }),
  casing: fc.nat(),
  ows: fc.array(fc.tuple(owsArbitrary, owsArbitrary), {
    minLength: 16,
    maxLength: 16,
  }),
}).map((fields) => {
  const headers: Array<[string, string]> = [
    ["Host", fields.host],
    ["Upgrade", fields.upgrade],
    ["Connection", fields.connection],
    ["Sec-WebSocket-Key", fields.key],
    ["Sec-WebSocket-Version", "13"],
  ];
  if (fields.protocols !== undefined) {
    headers.push(["Sec-WebSocket-Protocol", fields.protocols]);
  }
  if (fields.extensions !== undefined) {
    headers.push(["Sec-WebSocket-Extensions", fields.extensions]);
  }
  for (const [name, value] of fields.extra) {
    // Extra headers never repeat a handshake header.
    if (!name.toLowerCase().startsWith("sec-") && name.length > 4) {
      headers.push([`X-${name}`, value.trim()]);
    }
  }
  // Shuffle by sort keys, then vary case and whitespace.
  const keyed = headers.map((header, index) => ({
    header,
    key: fields.order[index % 16] * 64 + index,
  })).sort((a, b) => a.key - b.key);
  return {
    leadingEmptyLines: fields.leadingEmptyLines,
    startLine: `GET ${fields.target} HTTP/1.1`,
    headers: keyed.map(({ header: [name, value] }, index) => {
      const [before, after] = fields.ows[index % 16];
      return {
        name: recase(name, fields.casing + index),
        value: before + value + after,
      };
    }),
    endings: new Map(),
  };
});

/** A valid 101 answer to {@linkcode RFC_KEY}. */
export const upgradeResponseArbitrary: fc.Arbitrary<HeadSpec> = fc.record({
  reason: fc.constantFrom("Switching Protocols", "", "OK", "Web Socket \xe9"),
  protocol: fc.option(fc.constantFrom(...OFFERED_PROTOCOLS), {
    nil: undefined,
  }),
  extensions: fc.option(
    fc.constantFrom(
      "permessage-deflate; server_no_context_takeover",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
      "permessage-deflate;server_no_context_takeover;server_max_window_bits=10",
    ),
    { nil: undefined },
  ),
  extra: fc.array(fc.tuple(tokenArbitrary, valueArbitrary), { maxLength: 4 }),
  casing: fc.nat(),
  ows: fc.tuple(owsArbitrary, owsArbitrary),
}).map((fields) => {
  const headers: Array<[string, string]> = [
    ["Upgrade", "websocket"],
    ["Connection", "Upgrade"],
    ["Sec-WebSocket-Accept", RFC_ACCEPT],
  ];
  if (fields.protocol !== undefined) {
    headers.push(["Sec-WebSocket-Protocol", fields.protocol]);
  }
  if (fields.extensions !== undefined) {
    headers.push(["Sec-WebSocket-Extensions", fields.extensions]);
  }
  for (const [name, value] of fields.extra) {
    headers.push([`X-${name}`, value.trim()]);
  }
  const [before, after] = fields.ows;
  return {
    leadingEmptyLines: 0,
    startLine: `HTTP/1.1 101 ${fields.reason}`,
    headers: headers.map(([name, value], index) => ({
      name: recase(name, fields.casing + index),
      value: before + value + after,
    })),
    endings: new Map(),
  };
});

/** One edit of a head's structure. Indexes are taken modulo the count. */
export type HeadMutation =
  | { kind: "startLine"; text: string }
  | { kind: "startLinePart"; part: number; text: string }
  | { kind: "nameInsert"; header: number; at: number; text: string }
  | { kind: "valueInsert"; header: number; at: number; text: string }
  | { kind: "value"; header: number; text: string }
  | { kind: "obsFold"; header: number; text: string }
  | { kind: "duplicate"; header: number }
  | { kind: "remove"; header: number }
  | { kind: "many"; count: number; size: number }
  | { kind: "ending"; line: number; text: string }
  | { kind: "leading"; text: string };

const CONTROL_TEXT = fc.constantFrom(
  "\r",
  "\n",
  "\r\n",
  "\x00",
  "\x7f",
  "\x01",
  "\t",
  " ",
  ":",
  "\x80",
  "\xff",
  "(",
  '"',
  ",",
);

const START_LINE_PARTS = fc.constantFrom(
  "",
  " ",
  "GET",
  "get",
  "POST",
  "PRI",
  "G\x00T",
  "GET ",
  "\x80",
  "*",
  "/a b",
  "/\x7f",
  "http://[::1",
  "http://example.com/x",
  "HTTP/1.0",
  "HTTP/1.1",
  "HTTP/2.0",
  "HTTP/1.2",
  "HTTP/0.9",
  "HTTP/1",
  "HTTP/1.10",
  "http/1.1",
  "HTTP/11",
  "HTTP/1.1 ",
  "HTTP/3",
  "101",
  "200",
  "1O1",
  "99",
  "600",
  "1011",
  "Switching\x00",
  "\xe9",
);

/** One random {@linkcode HeadMutation}. */
export const headMutationArbitrary: fc.Arbitrary<HeadMutation> = fc.oneof(
  fc.record({
    kind: fc.constant("startLine" as const),
    text: fc.array(START_LINE_PARTS, { maxLength: 4 }).map((parts) =>
      parts.join(" ")
    ),
  }),
  fc.record({
    kind: fc.constant("startLinePart" as const),
    part: fc.nat(2),
    text: START_LINE_PARTS,
  }),
  fc.record({
    kind: fc.constant("nameInsert" as const),
    header: fc.nat(),
    at: fc.nat(),
    text: CONTROL_TEXT,
  }),
  fc.record({
    kind: fc.constant("valueInsert" as const),
    header: fc.nat(),
    at: fc.nat(),
    text: CONTROL_TEXT,
  }),
  fc.record({
    kind: fc.constant("value" as const),
    header: fc.nat(),
    text: fc.oneof(
      valueArbitrary,
      fc.tuple(fc.constantFrom("a", " ", ",", "\xff"), fc.nat(20_000)).map((
        [char, count],
      ) => char.repeat(count)),
    ),
  }),
  fc.record({
    kind: fc.constant("obsFold" as const),
    header: fc.nat(),
    text: fc.constantFrom(" folded", "\tfolded", " ", ""),
  }),
  fc.record({ kind: fc.constant("duplicate" as const), header: fc.nat() }),
  fc.record({ kind: fc.constant("remove" as const), header: fc.nat() }),
  fc.record({
    kind: fc.constant("many" as const),
    count: fc.integer({ min: 1, max: 160 }),
    size: fc.integer({ min: 0, max: 200 }),
  }),
  fc.record({
    kind: fc.constant("ending" as const),
    line: fc.nat(),
    text: fc.constantFrom("\n", "\r", "\r\r\n", "\n\r", "", "\r\n\r\n"),
  }),
  fc.record({
    kind: fc.constant("leading" as const),
    text: fc.constantFrom("\r\n", "\n", "\r\n\r\n", " \r\n"),
  }),
);

function insertAt(text: string, at: number, insert: string): string {
  const position = at % (text.length + 1);
  return text.slice(0, position) + insert + text.slice(position);
}

/** Applies one structural mutation, returning a new spec. */
export function mutateHead(spec: HeadSpec, mutation: HeadMutation): HeadSpec {
  const headers = spec.headers.map((header) => ({ ...header }));
  const endings = new Map(spec.endings);
  const pick = (index: number) =>
    headers.length === 0 ? undefined : headers[index % headers.length];
  let { startLine, leadingEmptyLines } = spec;
  switch (mutation.kind) {
    case "startLine":
      startLine = mutation.text;
      break;
    case "startLinePart": {
      const parts = startLine.split(" ");
      parts[mutation.part % parts.length] = mutation.text;
      startLine = parts.join(" ");
      break;
    }
    case "nameInsert": {
      const header = pick(mutation.header);
      if (header) {
        header.name = insertAt(header.name, mutation.at, mutation.text);
      }
      break;
    }
    case "valueInsert": {
      const header = pick(mutation.header);
      if (header) {
        header.value = insertAt(header.value, mutation.at, mutation.text);
      }
      break;
    }
    case "value": {
      const header = pick(mutation.header);
      if (header) header.value = mutation.text;
      break;
    }
    case "obsFold":
      if (headers.length > 0) {
        const index = mutation.header % headers.length;
        headers.splice(index + 1, 0, {
          name: "",
          value: "",
          raw: mutation.text,
        });
      }
      break;
    case "duplicate":
      if (headers.length > 0) {
        const index = mutation.header % headers.length;
        headers.splice(index, 0, { ...headers[index] });
      }
      break;
    case "remove":
      if (headers.length > 0) {
        headers.splice(mutation.header % headers.length, 1);
      }
      break;
    case "many":
      for (let i = 0; i < mutation.count; i++) {
        headers.push({
          name: `X-Filler-${i}`,
          value: "v".repeat(mutation.size),
        });
      }
      break;
    case "ending":
      endings.set(mutation.line % (headers.length + 2), mutation.text);
      break;
    case "leading":
      startLine = mutation.text + startLine;
      leadingEmptyLines += 1;
      break;
  }
  return { leadingEmptyLines, startLine, headers, endings };
}

/** Applies structural mutations in order. */
export function mutateHeadAll(
  spec: HeadSpec,
  mutations: readonly HeadMutation[],
): HeadSpec {
  let mutated = spec;
  for (const mutation of mutations) mutated = mutateHead(mutated, mutation);
  return mutated;
}
