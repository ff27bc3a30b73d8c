/**
 * `Sec-WebSocket-Extensions` and `Sec-WebSocket-Protocol` values for
 * fuzzing: well-formed lists, lists built from the characters that matter
 * to the grammar (quotes, backslashes, `=`, `;`, `,`, whitespace,
 * non-ASCII) and names that would pollute a plain object (`__proto__`,
 * `constructor`, ...), and 16 KiB pathological values for the linear-time
 * check.
 *
 * @module
 */
import fc from "fast-check";

/** Names that would reach `Object.prototype` if parsed parameters were
 * stored in a plain object. */
export const PROTOTYPE_NAMES: readonly string[] = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "__defineGetter__",
  "isPrototypeOf",
];

/** permessage-deflate names and values (RFC 7692). */
const DEFLATE_WORDS = [
  "permessage-deflate",
  "server_no_context_takeover",
  "client_no_context_takeover",
  "server_max_window_bits",
  "client_max_window_bits",
  "15",
  "8",
  "9",
  "10",
  "08",
  "16",
  "7",
];

/** A token, often one that means something. */
export const nameArbitrary: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...DEFLATE_WORDS) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES) },
  {
    weight: 2,
    arbitrary: fc.array(
      fc.constantFrom(..."abcxyzXYZ019-_.!#$%&'*+^`|~"),
      { minLength: 1, maxLength: 8 },
    ).map((chars) => chars.join("")),
  },
);

/** One extension element as the test means it (params by name, in order). */
export interface OfferSpec {
  /** The extension name. */
  name: string;
  /** Parameters: `true` for a bare name, else a token value. */
  params: Array<[string, string | true]>;
  /** Whether each value is sent quoted (and with which escapes). */
  quoting: number[];
}

const owsArbitrary = fc.constantFrom("", "", " ", "\t", "  ");

/** A well-formed extension element. Parameter names may repeat (the parser
 * must refuse that). */
export const offerArbitrary: fc.Arbitrary<OfferSpec> = fc.record({
  name: nameArbitrary,
  params: fc.array(
    fc.tuple(nameArbitrary, fc.option(nameArbitrary, { nil: undefined })).map((
      [name, value],
    ): [string, string | true] => [name, value ?? true]),
    { maxLength: 4 },
  ),
  quoting: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
});

/** Writes a value as a token or a quoted string, escaping some characters
 * (any character may be escaped in a quoted-pair). */
function writeValue(value: string, quoting: number): string {
  if (quoting === 0 || quoting === 1) return value;
  let quoted = '"';
  for (let i = 0; i < value.length; i++) {
    quoted += quoting === 3 && i % 2 === 0 ? `\\${value[i]}` : value[i];
  }
  return quoted + '"';
}

/** Renders well-formed elements as one header value with random optional
 * whitespace and empty list elements. */
export function renderOffers(
  offers: readonly OfferSpec[],
  spacing: readonly string[],
): string {
  let index = 0;
  const space = () => spacing[index++ % spacing.length] ?? "";
  const elements = offers.map((offer) => {
    let element = offer.name;
    offer.params.forEach(([name, value], i) => {
      element += `${space()};${space()}${name}`;
      if (value !== true) {
        element += `${space()}=${space()}${
          writeValue(value, offer.quoting[i])
        }`;
      }
    });
    return element;
  });
  return space() + elements.join(`${space()},${space()}`) + space();
}

/** Well-formed `Sec-WebSocket-Extensions` values and the elements in them. */
export const wellFormedExtensionsArbitrary: fc.Arbitrary<
  { offers: OfferSpec[]; value: string }
> = fc.record({
  offers: fc.array(offerArbitrary, { minLength: 1, maxLength: 4 }),
  spacing: fc.array(owsArbitrary, { minLength: 1, maxLength: 8 }),
}).map(({ offers, spacing }) => ({
  offers,
  value: renderOffers(offers, spacing),
}));

/** Pieces that matter to the list, parameter and quoted-string grammar. */
const GRAMMAR_PIECES = [
  '"',
  "\\",
  '\\"',
  "\\\\",
  "=",
  ";",
  ",",
  " ",
  "\t",
  ", ,",
  '="',
  "\u00e9",
  "\u00ff",
  "\u0100",
  "\u{1F600}",
  "\x00",
  "\x7f",
  "\r\n",
  "(",
  "/",
  "@",
];

/** Values built from names and grammar characters. */
export const grammarSoupArbitrary: fc.Arbitrary<string> = fc.array(
  fc.oneof(nameArbitrary, fc.constantFrom(...GRAMMAR_PIECES)),
  { maxLength: 24 },
).map((pieces) => pieces.join(""));

/** A string edit: insert, delete or duplicate (positions modulo length). */
export type TextMutation =
  | { kind: "insert"; at: number; text: string }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number };

/** One {@linkcode TextMutation}. */
export const textMutationArbitrary: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...GRAMMAR_PIECES), nameArbitrary),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 30 }),
  }),
);

/** Applies text mutations in order. */
export function mutateText(
  text: string,
  mutations: readonly TextMutation[],
): string {
  let result = text;
  for (const mutation of mutations) {
    const at = mutation.at % (result.length + 1);
    if (mutation.kind === "insert") {
      result = result.slice(0, at) + mutation.text + result.slice(at);
    } else if (mutation.kind === "delete") {
      result = result.slice(0, at) + result.slice(at + mutation.length);
    } else {
      const range = result.slice(at, at + mutation.length);
      result = result.slice(0, at) + range + result.slice(at);
    }
  }
  return result;
}

/** Any header value worth trying: well-formed, mutated or soup. */
export const extensionValueArbitrary: fc.Arbitrary<string> = fc.oneof(
  wellFormedExtensionsArbitrary.map(({ value }) => value),
  fc.tuple(
    wellFormedExtensionsArbitrary,
    fc.array(textMutationArbitrary, { minLength: 1, maxLength: 3 }),
  ).map(([{ value }, mutations]) => mutateText(value, mutations)),
  grammarSoupArbitrary,
);

/** Snapshot of the prototypes a parser could pollute. */
export function prototypeSnapshot(): string {
  const describe = (target: object) =>
    Reflect.ownKeys(target).map(String).sort().join(",");
  return [
    describe(Object.prototype),
    describe(Map.prototype),
    describe(Array.prototype),
    describe(String.prototype),
    describe(Function.prototype),
  ].join("|");
}

/** 16 KiB (or `size`) pathological values: repeats that would make a
 * backtracking or quadratic parser slow. */
export function pathologicalValues(size: number): Map<string, string> {
  const fill = (unit: string) => unit.repeat(Math.ceil(size / unit.length));
  let uniqueParams = "a";
  for (let i = 0; uniqueParams.length < size; i++) uniqueParams += `;p${i}`;
  let uniqueProtocols = "p0";
  for (let i = 1; uniqueProtocols.length < size; i++) {
    uniqueProtocols += `, p${i}`;
  }
  return new Map([
    ["a;a;a;...", fill("a;")],
    ["a;p0;p1;... (distinct params)", uniqueParams],
    ['a; b="\\\\\\\\..." (escaped backslashes)', `a; b="${fill("\\\\")}"`],
    ['a; b="\\\\\\... (unterminated)', `a; b="${fill("\\")}`],
    ['"""...', fill('"')],
    ["spaces", fill(" ")],
    ["tabs and spaces", fill(" \t")],
    [", , , ...", fill(", ")],
    [",,,...", fill(",")],
    ["a, a, a, ...", fill("a, ")],
    ["p0, p1, ... (distinct)", uniqueProtocols],
    ["aaaa... (one long token)", fill("a")],
    ["===...", fill("=")],
    [";;;...", "a" + fill(";")],
    ["a; b = c ; b = c ...", "a" + fill(" ; b = c")],
    [
      "permessage-deflate;x, ... (declined offers)",
      fill("permessage-deflate;x, "),
    ],
    [
      "permessage-deflate; server_max_window_bits=111...",
      `permessage-deflate; server_max_window_bits=${fill("1")}`,
    ],
    ['a; b="x,y,z,...', `a; b="${fill("x,")}`],
  ]);
}
