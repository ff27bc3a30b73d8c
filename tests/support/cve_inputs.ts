/**
 * The inputs that broke other WebSocket servers (each named by its
 * advisory), as request bytes to feed this library's server. Shared by the
 * regression tests (`tests/integration/security_cves_deno_test.ts`) and the
 * benchmark that measures what each costs (`bench/security_cases.ts`).
 *
 * @module
 */

const HANDSHAKE = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n" +
  "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/** One known attack, its bytes and the answer it must get. */
export interface CveCase {
  /** The advisory and what it hit. */
  readonly name: string;
  /** The request head, or the whole input, as Latin-1 text. */
  readonly input: string;
  /** Bytes per write (the attack's own pacing, for the trickled ones). */
  readonly chunkSize: number;
  /** The status line's code the server must answer with. */
  readonly status: number;
  /** Whether the upgrade agreed no extension (for the 101 cases). */
  readonly noExtensions?: boolean;
}

/** The cases, by advisory. */
export const CVE_CASES: readonly CveCase[] = [
  {
    name:
      "ws CVE-2021-32640: ReDoS in Sec-WebSocket-Protocol ('b' + 12,000 spaces + 'x')",
    input: HANDSHAKE +
      `Sec-WebSocket-Protocol: b${" ".repeat(12_000)}x\r\n\r\n`,
    chunkSize: 64 * 1024,
    status: 400,
  },
  {
    name:
      'websocket-extensions GHSA-g78m-2chm-r7qv: ReDoS in an unclosed quoted parameter (a; b="\\c\\c...)',
    input: HANDSHAKE +
      `Sec-WebSocket-Extensions: a; b="${"\\c".repeat(6_000)}\r\n\r\n`,
    chunkSize: 64 * 1024,
    status: 101,
    noExtensions: true,
  },
  {
    name:
      "ws CVE-2024-37890 (GHSA-3h5v-q93c-6h6q): a handshake with 2,000 headers",
    input: HANDSHAKE +
      Array.from({ length: 2_000 }, (_, index) => `X-H${index}: v\r\n`).join(
        "",
      ) + "\r\n",
    chunkSize: 64 * 1024,
    status: 431,
  },
  {
    name:
      "tungstenite CVE-2023-43669: one 1 MiB header trickled in 1 KiB writes",
    input: HANDSHAKE + `X-Long: ${"a".repeat(1024 * 1024)}\r\n\r\n`,
    chunkSize: 1024,
    status: 431,
  },
  {
    name:
      "python-websockets: quadratic head parsing (a 6 KiB head of 90 headers, one byte per write)",
    input: HANDSHAKE +
      Array.from(
        { length: 90 },
        (_, index) => `X-H${index}: ${"v".repeat(60)}\r\n`,
      ).join("") + "\r\n",
    chunkSize: 1,
    status: 101,
  },
];

/**
 * A flood of empty fragments (the ws and uWebSockets "tiny fragments"
 * memory exhaustion class): one text frame without FIN, then `count`
 * empty continuation frames, masked as a client sends them.
 *
 * @param count how many empty continuations
 * @returns the frames, back to back
 */
export function emptyFragmentFlood(count: number): Uint8Array {
  const frameBytes = 6; // 2-byte header + 4-byte mask, no payload
  const flood = new Uint8Array(frameBytes * (count + 1));
  flood[0] = 0x01; // text, FIN clear
  flood[1] = 0x80; // masked, length 0
  for (let index = 1; index <= count; index++) {
    flood[index * frameBytes] = 0x00; // continuation, FIN clear
    flood[index * frameBytes + 1] = 0x80;
  }
  return flood;
}

/**
 * The head of a handshake that upgrades (for the fragment flood).
 *
 * @returns the request head
 */
export function upgradeRequest(): string {
  return HANDSHAKE + "\r\n";
}
