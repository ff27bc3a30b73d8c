/**
 * A load connection over the runtime's built-in `WebSocket` client (Bun's
 * or Deno's).
 *
 * @module
 */

import { MessageFactory } from "./message.ts";
import type {
  LinkTarget,
  LoadConnection,
  LoadHost,
  OpenLink,
} from "./load_link.ts";

let factory: MessageFactory | null = null;

/** Opens `connection` with `new WebSocket(target.url)`. */
export const openWebSocketLink: OpenLink = (
  target: LinkTarget,
  connection: LoadConnection,
  host: LoadHost,
  timeoutMs: number,
): Promise<boolean> => {
  if (factory === null || factory.size !== host.size) {
    factory = new MessageFactory(host.size);
  }
  const messages = factory;
  return new Promise((resolve) => {
    // Bun offers permessage-deflate unless told not to; the native server
    // cannot compress, so neither side of the comparison may.
    const options = { perMessageDeflate: false } as unknown as string[];
    const socket = new WebSocket(target.url, options);
    socket.binaryType = "arraybuffer";
    const timer = setTimeout(() => {
      try {
        socket.close();
      } catch {
        // Not open yet.
      }
      resolve(false);
    }, Math.max(1, timeoutMs));
    connection.close = () => socket.close();
    connection.sendMessages = (count) => {
      for (let sent = 0; sent < count; sent++) {
        const sequence = host.takeSequence(connection, performance.now());
        socket.send(messages.make(connection.index, sequence));
      }
    };
    socket.onopen = () => {
      clearTimeout(timer);
      connection.open = true;
      connection.extensions = socket.extensions;
      resolve(true);
    };
    socket.onmessage = (event) => {
      const now = performance.now();
      const data = event.data;
      if (!(data instanceof ArrayBuffer)) {
        host.refused(connection, "text message");
        return;
      }
      const replies = host.received(connection, new Uint8Array(data), now);
      if (replies > 0) connection.sendMessages(replies);
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      clearTimeout(timer);
      if (connection.open) host.closed(connection);
      connection.open = false;
      resolve(false);
    };
  });
};
