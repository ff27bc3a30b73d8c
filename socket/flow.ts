/**
 * When a socket stops reading its connection, so that what a peer can make
 * it hold stays bounded and the peer is slowed down by TCP flow control
 * instead: while the messages waiting for a `for await` loop are over their
 * high-water mark (`message_buffer.ts`) and, on the server side, while
 * more than `DEFAULTS.limits.writeHighWaterBytes` wait to be written. Also
 * tells the keepalive whether such a pause excuses the peer's silence.
 *
 * @module
 */

import type { MessageBuffer } from "./message_buffer.ts";
import type { Role } from "../protocol/types.ts";
import type { Outbound } from "./outbound.ts";
import { DEFAULTS } from "../defaults.ts";

/** What {@linkcode ReadFlow} looks at. */
export interface ReadFlowSources {
  /** The async iterator's buffer, if the socket is being iterated. */
  flowMessages(): MessageBuffer | null;
  /** Whether arriving messages are still delivered to the application. */
  flowDelivers(): boolean;
}

/** The read-pausing rules of one socket. */
export class ReadFlow {
  readonly #sources: ReadFlowSources;
  readonly #outbound: Outbound;
  /** Infinity on the client side: see `DEFAULTS.limits.writeHighWaterBytes`. */
  readonly #writeHighWater: number;
  /** Bytes written when the last keepalive ping was sent. */
  #writtenAtPing = 0;

  /**
   * @param role server sockets pause for their write backlog, clients not
   * @param maxQueuedBytes the socket's cap; the mark is at most half of it
   * @param outbound the socket's sends, for the write backlog
   * @param sources what the rules look at
   */
  constructor(
    role: Role,
    maxQueuedBytes: number,
    outbound: Outbound,
    sources: ReadFlowSources,
  ) {
    this.#sources = sources;
    this.#outbound = outbound;
    this.#writeHighWater = role === "server"
      ? Math.min(
        DEFAULTS.limits.writeHighWaterBytes,
        Math.floor(maxQueuedBytes / 2),
      )
      : Infinity;
  }

  /**
   * What reading must wait for before the next read.
   *
   * @returns a promise that settles when reading may go on (or the socket
   * closed), or null to read now
   */
  pause(): Promise<void> | null {
    const outbound = this.#outbound;
    const messages = this.#sources.flowMessages();
    if (messages !== null && messages.full && this.#sources.flowDelivers()) {
      return messages.waitForSpace();
    }
    if (outbound.queuedBytes > this.#writeHighWater) {
      return outbound.whenAtMost(this.#writeHighWater);
    }
    return null;
  }

  /**
   * For the keepalive: whether silence is not the peer's fault because this
   * side does not read. A pause for the write backlog counts only while the
   * peer still takes bytes (some were written since the last ping): a peer
   * that neither reads nor answers is dropped.
   *
   * @returns true when the silence is excused
   */
  silenceExcused(): boolean {
    const outbound = this.#outbound;
    if (this.#sources.flowMessages()?.full ?? false) return true;
    return outbound.queuedBytes > this.#writeHighWater &&
      outbound.writtenBytes !== this.#writtenAtPing;
  }

  /** A keepalive ping is being sent: progress is measured from here. */
  pinged(): void {
    this.#writtenAtPing = this.#outbound.writtenBytes;
  }
}
