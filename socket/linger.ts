/**
 * Closing a connection without losing the last bytes written to it. When
 * the peer is still sending, a plain close leaves unread bytes behind and
 * the kernel answers with a TCP reset, which can destroy what we sent last
 * (a close frame, an error response) before the peer reads it. So we end
 * our sending side first, read and discard what still arrives, then close.
 * The failed WebSocket and the server's error responses both end this way.
 *
 * @module
 */

import type { ByteConn } from "./transport.ts";
import { DEFAULTS } from "../defaults.ts";

/**
 * Reads the next bytes to discard.
 *
 * @returns how many bytes were read, or null at end of stream
 */
export type DiscardRead = () => Promise<number | null>;

/**
 * Ends `conn`'s sending side, discards what the peer still sends, then
 * closes: once the peer ends its side, after `DEFAULTS.limits.lingerMaxBytes`
 * or after `DEFAULTS.limits.lingerTimeout`, whichever comes first. A
 * connection without `closeWrite` is closed at once; a failed `closeWrite`
 * closes it too. `closeWrite` is called before this function first awaits.
 *
 * @param conn the connection
 * @param read reads from `conn` for the caller, which owns the buffer and
 * any read already in flight
 * @param close closes `conn`; called at the deadline too (ending a pending
 * read), so it must be safe to call more than once
 * @returns a promise that resolves (never rejects) once `close` was called
 */
export async function lingerThenClose(
  conn: ByteConn,
  read: DiscardRead,
  close: () => void,
): Promise<void> {
  if (typeof conn.closeWrite !== "function") {
    close();
    return;
  }
  const timer = setTimeout(close, DEFAULTS.limits.lingerTimeout);
  try {
    // Not awaited: discarding goes on while our side ends.
    conn.closeWrite().catch(close);
    let discarded = 0;
    while (discarded < DEFAULTS.limits.lingerMaxBytes) {
      const count = await read();
      if (count === null) break;
      discarded += count;
    }
  } catch {
    // The connection failed or was closed: nothing more will arrive.
  } finally {
    clearTimeout(timer);
    close();
  }
}
