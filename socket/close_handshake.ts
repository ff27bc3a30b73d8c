/**
 * When a connection is over and how its end is reported. The socket tells
 * this module what happened (the peer's close frame arrived, the connection
 * was failed, TCP ended, a read or write broke) and asks, once its queued
 * bytes are written, whether to end now; the answer is the close event to
 * dispatch. Also owns the close timeout.
 *
 * The rules: the server closes TCP as soon as both close frames are out
 * (RFC 6455 section 7.1.1); the client waits for the server to do it. A
 * connection that ends without the peer's close frame ends with 1006 and
 * wasClean false; a connection this side failed ends with the failure's code
 * and wasClean false.
 *
 * @module
 */

import { CloseCode } from "../errors.ts";
import type { Role } from "../protocol/types.ts";

/** How a connection ended: what its "close" event reports. */
export interface Ending {
  /** The close code. */
  code: number;
  /** The close reason. */
  reason: string;
  /** Whether the close handshake completed. */
  wasClean: boolean;
  /** What went wrong, for the "error" event that precedes an unclean close. */
  error?: unknown;
}

/**
 * The ending of a connection that dropped without a close handshake: 1006.
 *
 * @param error what went wrong
 * @returns the ending
 */
export function abnormalEnding(error: unknown): Ending {
  return {
    code: CloseCode.AbnormalClosure,
    reason: "",
    wasClean: false,
    error,
  };
}

/** The progress of one connection's close handshake. */
export class CloseHandshake {
  readonly #role: Role;
  #peerClose: Ending | null = null;
  #failure: Ending | null = null;
  #endOfStream = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** @param role which side this is */
  constructor(role: Role) {
    this.#role = role;
  }

  /**
   * The peer's close frame arrived (our echo is queued if needed).
   *
   * @param code the peer's close code (1005 when it sent none)
   * @param reason the peer's close reason
   */
  peerClosed(code: number, reason: string): void {
    this.#peerClose = { code, reason, wasClean: true };
  }

  /**
   * This side failed the connection: once the close frame is written, it
   * ends with `code`, uncleanly.
   *
   * @param code the close code sent
   * @param reason the close reason
   * @param error what went wrong
   */
  failed(code: number, reason: string, error: unknown): void {
    this.#failure = { code, reason, wasClean: false, error };
  }

  /** Whether this side failed the connection. */
  get hasFailed(): boolean {
    return this.#failure !== null;
  }

  /**
   * Every queued byte is written: whether to end now.
   *
   * @returns the ending, or null to keep waiting
   */
  whenFlushed(): Ending | null {
    if (this.#failure !== null) return this.#failure;
    if (
      this.#peerClose !== null &&
      (this.#role === "server" || this.#endOfStream)
    ) {
      return this.#peerClose;
    }
    return null;
  }

  /**
   * The peer ended TCP.
   *
   * @returns the ending if the connection is over now without waiting for
   * queued writes (no close handshake happened), else null
   */
  endOfStream(): Ending | null {
    this.#endOfStream = true;
    if (this.#peerClose !== null || this.#failure !== null) return null;
    return abnormalEnding(
      new Error("the connection ended before the close handshake"),
    );
  }

  /**
   * A read or write failed, or the close timeout passed: the connection is
   * over now.
   *
   * @param error what went wrong
   * @returns the ending
   */
  broken(error: unknown): Ending {
    // The peer sent its close frame and went away: the handshake is complete.
    return this.#failure ?? this.#peerClose ?? abnormalEnding(error);
  }

  /**
   * Starts the close timeout once; `onTimeout` gets the error to end with.
   *
   * @param timeout milliseconds, 0 for none
   * @param onTimeout called when it passes
   */
  startTimer(timeout: number, onTimeout: (error: Error) => void): void {
    if (this.#timer !== undefined || timeout === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      onTimeout(
        new Error(`the close handshake took longer than ${timeout} ms`),
      );
    }, timeout);
  }

  /** Clears the close timeout. */
  stopTimer(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
