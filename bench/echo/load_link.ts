/**
 * What the load worker and its connection transports share: the state of
 * one load connection and the worker's side of the conversation. A
 * transport ("link") opens the connection, turns sequence numbers into
 * bytes on the wire and hands every echoed payload back to the worker.
 *
 * @module
 */

/** One load connection's counters. */
export class LoadConnection {
  /** Whether the connection is open (and sending is allowed). */
  open = false;
  /** Set once an echo did not match: later ones are ignored. */
  refused = false;
  /** The extensions the handshake agreed ("" for none). */
  extensions = "";
  /** Sequence number of the next message to send. */
  nextSend = 0;
  /** Sequence number of the next echo expected. */
  nextEcho = 0;
  /** Send times of the messages in flight, by sequence % depth. */
  readonly sentAt: Float64Array;
  /** Echoes received at the start of the measurement window. */
  echoesAtWindowStart = 0;
  /** The longest a message waited for its echo in the window, ms. */
  longestWaitMs = 0;
  /** Sends `count` new messages (set by the link once open). */
  sendMessages: (count: number) => void = () => {};
  /** Closes the transport (set by the link). */
  close: () => void = () => {};
  /** The connection's index in the whole run. */
  readonly index: number;

  /**
   * @param index the connection's index in the whole run
   * @param depth messages in flight
   */
  constructor(index: number, depth: number) {
    this.index = index;
    this.sentAt = new Float64Array(depth);
  }
}

/** The worker, as a link sees it. */
export interface LoadHost {
  /** Bytes per message. */
  readonly size: number;
  /**
   * Takes the next sequence number of `connection` and notes its send time.
   */
  takeSequence(connection: LoadConnection, now: number): number;
  /**
   * Checks one echoed payload.
   *
   * @returns how many messages to send in reply (0 or 1)
   */
  received(
    connection: LoadConnection,
    payload: Uint8Array,
    now: number,
  ): number;
  /** Counts a message that was not a binary echo (text, bad frame). */
  refused(connection: LoadConnection, reason: string): void;
  /** Notes that the connection closed. */
  closed(connection: LoadConnection): void;
}

/** Where a link connects. */
export interface LinkTarget {
  /** Like `ws://127.0.0.1:1234/`. */
  url: string;
  /** How many source addresses (127.0.0.1, .2, ...) to spread over. */
  sourceAddresses: number;
}

/**
 * Opens one connection; resolves true once it is open and ready to send,
 * false when it failed or did not open within `timeoutMs`.
 */
export type OpenLink = (
  target: LinkTarget,
  connection: LoadConnection,
  host: LoadHost,
  timeoutMs: number,
) => Promise<boolean>;
