/**
 * Every default and bound of the library in one place: {@linkcode DEFAULTS}.
 * Its groups mirror the options objects (`socket` is what
 * `WebSocketOptions` falls back to, `server` what `ServeOptions` falls back
 * to, and so on), and `limits` holds the fixed bounds on what a peer can
 * make the library hold or do. The README's limits table is this object.
 *
 * @module
 */

const KiB = 1024;
const MiB = 1024 * KiB;

/** The defaults of a socket's options (`WebSocketOptions`). */
export interface SocketDefaults {
  /** Largest message accepted, in bytes: 64 MiB. A larger one fails the
   * connection with 1009, decided from the frame header. */
  readonly maxMessageSize: number;
  /** Most frames one message may arrive in, empty ones included: 131,072.
   * More fail the connection with 1009. */
  readonly maxFragments: number;
  /** Milliseconds between keepalive pings: 30 s. A peer that sends nothing
   * at all between two pings is dropped (1006). */
  readonly pingInterval: number;
  /** The same keepalive in seconds, as `Deno.upgradeWebSocket` names it:
   * 30. */
  readonly idleTimeout: number;
  /** Milliseconds without a received byte before closing with 1001: 0,
   * off. */
  readonly silenceTimeout: number;
  /** Milliseconds to wait for the peer's close frame once closing began:
   * 5 s. */
  readonly closeTimeout: number;
  /** Bytes that may wait to be written before a further `send` fails the
   * connection with 1008: 64 MiB, so that what an application sends at
   * once (a burst of up to a whole `maxMessageSize`, and then one message
   * more) reaches a peer that reads. */
  readonly maxQueuedBytes: number;
}

/** The defaults of a server's options (`ServeOptions`). */
export interface ServerDefaults {
  /** The port to listen on: 8000, as `Deno.serve`. */
  readonly port: number;
  /** The address to listen on: "0.0.0.0". */
  readonly hostname: string;
  /** Milliseconds a client may take to send a complete request head: 10 s.
   * Then it is answered 408; an idle keep-alive connection is closed
   * silently after the same time. */
  readonly headersTimeout: number;
  /** Milliseconds `shutdown()` waits for responses in flight and close
   * handshakes before closing every connection: 10 s. */
  readonly shutdownTimeout: number;
  /** Most connections held at once, HTTP and WebSocket alike: 10,000.
   * Past it a connection is answered 503 with `Retry-After` before any
   * request is read. */
  readonly maxConnections: number;
}

/** The defaults of a client's options (`ConnectOptions`). */
export interface ClientDefaults {
  /** Milliseconds the whole opening handshake may take (resolving, TCP,
   * TLS, request and response head): 10 s. */
  readonly handshakeTimeout: number;
}

/** The defaults of permessage-deflate's options
 * (`PerMessageDeflateOptions`). */
export interface DeflateDefaults {
  /** Smallest message, in bytes (UTF-8 bytes for text), sent compressed
   * when every message is compressed on its own (no context takeover):
   * 1024, as in `ws`. Smaller ones go out uncompressed. */
  readonly threshold: number;
  /** The same with context takeover, where a message refers back to the
   * ones before it, so that even a chat message shrinks several times:
   * 32 bytes. */
  readonly takeoverThreshold: number;
}

/** Fixed bounds on what a peer can make this library hold or do. */
export interface Limits {
  /** A frame payload that spans reads is gathered in a buffer that starts
   * at this many bytes (or the frame's length, if smaller) and quadruples
   * as bytes arrive, so memory follows the bytes received, not the length
   * announced: 64 KiB. */
  readonly payloadInitialBytes: number;
  /** A request head's bytes, CRLFs included: 16 KiB (431 past it). */
  readonly maxHeadBytes: number;
  /** Header lines in a request head: 100 (431 past it). */
  readonly maxHeaderCount: number;
  /** A request method's length: 32 bytes (501 past it; the longest
   * registered method has 17). */
  readonly maxMethodLength: number;
  /** A plain HTTP request body, decoded: 1 MiB (413 past it). */
  readonly maxBodyBytes: number;
  /** One chunk-size line of a chunked body: 4096 bytes (400 past it). */
  readonly maxChunkLineBytes: number;
  /** The trailer section of a chunked body: 16 KiB (431 past it). */
  readonly maxTrailerBytes: number;
  /** A response head the client reads: 16 KiB. */
  readonly maxResponseHeadBytes: number;
  /** Header lines in a response head the client reads: 100. */
  readonly maxResponseHeaderCount: number;
  /** `permessage-deflate` offers considered in one handshake: 16. */
  readonly maxDeflateOffers: number;
  /** A server socket stops reading while more than this many bytes wait to
   * be written (or half its `maxQueuedBytes`, if lower): 1 MiB. A peer
   * that sends without reading the answers is then slowed by TCP. */
  readonly writeHighWaterBytes: number;
  /** The read buffer of a connection starts at 512 bytes and doubles
   * while reads fill it. */
  readonly initialReadBufferSize: number;
  /** ... up to 64 KiB, unless `readBufferSize` fixes its size. */
  readonly maxReadBufferSize: number;
  /** Read buffers grow past 16 KiB for frames smaller than they are (small
   * messages pipelined) ... */
  readonly largeReadBufferFrom: number;
  /** ... only while those larger than that hold at most 32 MiB together in
   * the process: a pending read holds its buffer, so thousands of busy
   * connections would otherwise hold 32-64 KiB each. A frame larger than
   * its buffer grows it regardless. */
  readonly largeReadBuffersBudget: number;
  /** The socket stops reading while the messages waiting for a
   * `for await` loop hold this many bytes: 1 MiB ... */
  readonly iteratorHighWaterBytes: number;
  /** ... or this many messages: 1024. */
  readonly iteratorHighWaterCount: number;
  /** After an error answer or a failed WebSocket, the connection ends its
   * sending side and reads and discards what still arrives, so that a TCP
   * reset does not destroy the answer, for at most 1 s ... */
  readonly lingerTimeout: number;
  /** ... and at most 1 MiB. */
  readonly lingerMaxBytes: number;
  /** An unread request body the server reads and discards to keep a
   * keep-alive connection: 64 KiB; past it the connection is closed. */
  readonly maxDrainBytes: number;
  /** `Retry-After` seconds of the 503 sent past `maxConnections`: 5. */
  readonly overloadRetryAfterSeconds: number;
  /** 503 answers in progress at once past `maxConnections`: 128. Beyond
   * that an extra connection is closed without an answer. */
  readonly maxOverloadRefusals: number;
}

/** What `RedisBrokerOptions` (the `./redis` entry) falls back to. */
export interface BrokerDefaults {
  /** Attempts to reach Redis when the broker connects, before it gives up
   * with a `BrokerError`: 5 (about 1.5 s with the backoff below). */
  readonly connectAttempts: number;
  /** The first reconnection delay after Redis was lost: 50 ms, doubled on
   * each failed attempt. */
  readonly reconnectMinDelay: number;
  /** The longest reconnection delay: 2 s (plus up to 20% jitter). */
  readonly reconnectMaxDelay: number;
  /** Commands waiting while Redis is unreachable (publications, mostly):
   * 10,000. Past it, publications fail (reported, not thrown). */
  readonly maxPendingCommands: number;
}

/** The shape of {@linkcode DEFAULTS}. */
export interface Defaults {
  /** What `WebSocketOptions` falls back to. */
  readonly socket: SocketDefaults;
  /** What `ServeOptions` falls back to. */
  readonly server: ServerDefaults;
  /** What `ConnectOptions` falls back to. */
  readonly client: ClientDefaults;
  /** What `PerMessageDeflateOptions` falls back to. */
  readonly deflate: DeflateDefaults;
  /** What the Redis broker's options fall back to. */
  readonly broker: BrokerDefaults;
  /** Fixed bounds, not options. */
  readonly limits: Limits;
}

/**
 * Every default and bound, grouped by the options they belong to. Frozen;
 * pass options to change a default.
 *
 * @example
 * ```ts
 * import { DEFAULTS } from "@rfc6455/websocket/codec";
 *
 * DEFAULTS.socket.maxMessageSize; // 67108864 (64 MiB)
 * DEFAULTS.server.maxConnections; // 10000
 * ```
 */
export const DEFAULTS: Defaults = Object.freeze({
  socket: Object.freeze({
    maxMessageSize: 64 * MiB,
    maxFragments: 128 * KiB,
    pingInterval: 30_000,
    idleTimeout: 30,
    silenceTimeout: 0,
    closeTimeout: 5_000,
    maxQueuedBytes: 64 * MiB,
  }),
  server: Object.freeze({
    port: 8000,
    hostname: "0.0.0.0",
    headersTimeout: 10_000,
    shutdownTimeout: 10_000,
    maxConnections: 10_000,
  }),
  client: Object.freeze({
    handshakeTimeout: 10_000,
  }),
  deflate: Object.freeze({
    threshold: 1024,
    takeoverThreshold: 32,
  }),
  broker: Object.freeze({
    connectAttempts: 5,
    reconnectMinDelay: 50,
    reconnectMaxDelay: 2_000,
    maxPendingCommands: 10_000,
  }),
  limits: Object.freeze({
    payloadInitialBytes: 64 * KiB,
    maxHeadBytes: 16 * KiB,
    maxHeaderCount: 100,
    maxMethodLength: 32,
    maxBodyBytes: 1 * MiB,
    maxChunkLineBytes: 4096,
    maxTrailerBytes: 16 * KiB,
    maxResponseHeadBytes: 16 * KiB,
    maxResponseHeaderCount: 100,
    maxDeflateOffers: 16,
    writeHighWaterBytes: 1 * MiB,
    initialReadBufferSize: 512,
    maxReadBufferSize: 64 * KiB,
    largeReadBufferFrom: 16 * KiB,
    largeReadBuffersBudget: 32 * MiB,
    iteratorHighWaterBytes: 1 * MiB,
    iteratorHighWaterCount: 1024,
    lingerTimeout: 1_000,
    lingerMaxBytes: 1 * MiB,
    maxDrainBytes: 64 * KiB,
    overloadRetryAfterSeconds: 5,
    maxOverloadRefusals: 128,
  }),
});
