/**
 * Writing a standard `Response` to an HTTP/1.1 connection: the head, then the
 * body framed by `Content-Length` when its size can be known without waiting,
 * otherwise chunked (or, for an HTTP/1.0 client, delimited by closing).
 *
 * Uses no runtime-specific API: it writes through a `write` callback.
 *
 * @module
 */

import { concatBytes } from "../frame/bytes.ts";
import { serializeResponseHead } from "../http1/request.ts";
import { encodeChunk, LAST_CHUNK } from "../http1/body.ts";

/** Writes all of `bytes` or rejects. */
export type WriteAll = (bytes: Uint8Array) => Promise<void>;

/** How the request being answered shapes the response. */
export interface ResponseContext {
  /** A HEAD request: send the head only. */
  readonly headRequest: boolean;
  /** The client speaks HTTP/1.0: no chunked encoding. */
  readonly http10: boolean;
  /** Whether the connection stays open after this response; when false the
   * head carries `Connection: close`. */
  readonly keepAlive: boolean;
  /** When this settles, a streaming body is cancelled and the response cut
   * short (the server is closing the connection). */
  readonly stop?: Promise<unknown>;
}

/**
 * What happened while writing:
 * - `complete`: the whole response was written; `reusable` tells whether the
 *   connection can carry another one (false when the body was delimited by
 *   closing the connection).
 * - `unsent`: the response could not be serialized, or its body stream
 *   failed, before a byte was written; the caller can still answer with 500.
 * - `cut`: the body stream failed after the head was written; the response
 *   is cut short and the connection must be closed.
 */
export type WriteOutcome =
  | { readonly kind: "complete"; readonly reusable: boolean }
  | { readonly kind: "unsent"; readonly error: unknown }
  | { readonly kind: "cut"; readonly error: unknown };

/** Headers the server computes itself; the handler's values are dropped. */
const CONNECTION_HEADERS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);

/** Bodies are gathered, to be sent with a `Content-Length`, only while the
 * body stream yields data without waiting; beyond this many bytes the
 * response is sent chunked even if more data is ready at once. 1 MiB. */
export const MAX_GATHERED_BODY_BYTES: number = 1024 * 1024;

/** Heads and bodies up to this size are joined into one write. 64 KiB. */
const SINGLE_WRITE_BYTES = 64 * 1024;

const WAITED: unique symbol = Symbol("waited");

type ReadResult = ReadableStreamReadResult<Uint8Array>;

/** Race `read` against one turn of the event loop. A body that is already
 * complete (from a string, bytes or a Blob) settles first; a stream that
 * waits on I/O or timers loses. */
async function readWithoutWaiting(
  read: Promise<ReadResult>,
): Promise<ReadResult | typeof WAITED> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const turn = new Promise<typeof WAITED>((resolve) => {
    timer = setTimeout(() => resolve(WAITED), 0);
  });
  try {
    return await Promise.race([read, turn]);
  } finally {
    clearTimeout(timer);
  }
}

function checkChunk(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new TypeError(
    "response body streams must yield Uint8Array chunks",
  );
}

interface Gathered {
  chunks: Uint8Array[];
  size: number;
  complete: boolean;
  /** A read still in progress when gathering stopped. */
  pending: Promise<ReadResult> | undefined;
}

async function gatherReadyBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<Gathered> {
  const gathered: Gathered = {
    chunks: [],
    size: 0,
    complete: false,
    pending: undefined,
  };
  while (gathered.size <= MAX_GATHERED_BODY_BYTES) {
    const read = reader.read();
    const outcome = await readWithoutWaiting(read);
    if (outcome === WAITED) {
      gathered.pending = read;
      return gathered;
    }
    if (outcome.done) {
      gathered.complete = true;
      return gathered;
    }
    const chunk = checkChunk(outcome.value);
    gathered.chunks.push(chunk);
    gathered.size += chunk.length;
  }
  // Over the limit: one more look tells a single big chunk from a stream.
  const read = reader.read();
  const last = await readWithoutWaiting(read);
  if (last === WAITED) gathered.pending = read;
  else if (last.done) gathered.complete = true;
  else gathered.chunks.push(checkChunk(last.value));
  return gathered;
}

async function writeParts(write: WriteAll, parts: Uint8Array[]): Promise<void> {
  let size = 0;
  for (const part of parts) size += part.length;
  if (size <= SINGLE_WRITE_BYTES) {
    await write(concatBytes(parts));
    return;
  }
  for (const part of parts) {
    if (part.length > 0) await write(part);
  }
}

/** A body that must not be sent: 204, 304 and 1xx responses. */
function isBodilessStatus(status: number): boolean {
  return status === 204 || status === 304 || (status >= 100 && status < 200);
}

/**
 * Write `response` through `write`. Rejects only when `write` rejects (the
 * connection failed); problems with the response itself are reported in the
 * {@linkcode WriteOutcome}.
 */
export async function writeResponse(
  write: WriteAll,
  response: Response,
  context: ResponseContext,
): Promise<WriteOutcome> {
  const headers: Array<[string, string]> = [];
  let handlerLength: string | undefined;
  let hasDate = false;
  for (const [name, value] of response.headers) {
    if (name === "content-length") handlerLength = value;
    if (CONNECTION_HEADERS.has(name)) continue;
    if (name === "date") hasDate = true;
    headers.push([name, value]);
  }
  if (!hasDate) headers.push(["date", new Date().toUTCString()]);
  if (!context.keepAlive) headers.push(["connection", "close"]);
  const status = response.status;
  const statusText = response.statusText;
  const body = response.body;

  if (isBodilessStatus(status) || body === null) {
    if (body !== null) await cancelQuietly(body);
    if (body === null && !isBodilessStatus(status)) {
      const length = context.headRequest && handlerLength !== undefined
        ? handlerLength
        : "0";
      headers.push(["content-length", length]);
    } else if (status === 304 && handlerLength !== undefined) {
      headers.push(["content-length", handlerLength]);
    }
    let head: Uint8Array;
    try {
      head = serializeResponseHead(status, statusText, headers);
    } catch (error) {
      return { kind: "unsent", error };
    }
    await write(head);
    return { kind: "complete", reusable: true };
  }

  let reader: ReadableStreamDefaultReader<Uint8Array>;
  try {
    reader = body.getReader();
  } catch (error) {
    return { kind: "unsent", error }; // locked: the body was already used
  }
  let gathered: Gathered;
  let head: Uint8Array;
  const chunked = !context.http10;
  try {
    gathered = await gatherReadyBody(reader);
    if (gathered.complete) {
      headers.push(["content-length", String(gathered.size)]);
    } else if (chunked && !context.headRequest) {
      headers.push(["transfer-encoding", "chunked"]);
    }
    head = serializeResponseHead(status, statusText, headers);
  } catch (error) {
    await cancelQuietly(reader, error);
    return { kind: "unsent", error };
  }
  if (gathered.complete || context.headRequest) {
    if (!gathered.complete) await cancelQuietly(reader);
    else reader.releaseLock();
    await writeParts(
      write,
      context.headRequest ? [head] : [head, ...gathered.chunks],
    );
    return { kind: "complete", reusable: true };
  }
  const frame = (chunk: Uint8Array) => chunked ? encodeChunk(chunk) : chunk;
  const parts = [head];
  for (const chunk of gathered.chunks) parts.push(frame(chunk));
  try {
    await writeParts(write, parts);
  } catch (error) {
    await cancelQuietly(reader, error);
    throw error;
  }
  return await streamRest(write, reader, gathered.pending, {
    frame,
    chunked,
    stop: context.stop,
  });
}

const STOPPED: unique symbol = Symbol("stopped");

async function streamRest(
  write: WriteAll,
  reader: ReadableStreamDefaultReader<Uint8Array>,
  pending: Promise<ReadResult> | undefined,
  framing: {
    frame: (chunk: Uint8Array) => Uint8Array;
    chunked: boolean;
    stop: Promise<unknown> | undefined;
  },
): Promise<WriteOutcome> {
  const { frame, chunked } = framing;
  const stopped = framing.stop?.then((): typeof STOPPED => STOPPED);
  let next = pending;
  while (true) {
    let result: ReadResult | typeof STOPPED;
    try {
      const read = next ?? reader.read();
      next = undefined;
      result = stopped === undefined
        ? await read
        : await Promise.race([read, stopped]);
      if (result === STOPPED) {
        await cancelQuietly(reader);
        return { kind: "cut", error: undefined };
      }
      if (result.done) break;
      checkChunk(result.value);
    } catch (error) {
      await cancelQuietly(reader, error);
      return { kind: "cut", error };
    }
    try {
      const framed = frame(result.value);
      if (framed.length > 0) await write(framed);
    } catch (error) {
      await cancelQuietly(reader, error);
      throw error;
    }
  }
  if (chunked) await write(LAST_CHUNK);
  return { kind: "complete", reusable: chunked };
}

async function cancelQuietly(
  stream: ReadableStream | ReadableStreamDefaultReader,
  reason?: unknown,
): Promise<void> {
  try {
    await stream.cancel(reason);
  } catch {
    // The stream already failed; there is nothing left to release.
  }
}
