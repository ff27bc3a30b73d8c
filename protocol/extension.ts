/**
 * How an extension (RFC 6455 section 9) plugs into `Protocol`, as Python
 * `websockets`' extensions do: a message leaves the protocol already
 * decoded, checked and within its limits, so no driver of `Protocol` (the
 * socket, a sans-I/O user) inflates, validates UTF-8 or bounds a message
 * itself.
 *
 * @module
 */

/**
 * An extension that owns RSV1, as permessage-deflate (RFC 7692) does. With
 * one, RSV1 may mark the first frame of a data message; without, RSV1 fails
 * the connection with 1002. Create one per connection: it may keep state
 * from one message to the next (an LZ77 window under context takeover).
 */
export interface Extension {
  /** The name it was negotiated under, such as "permessage-deflate". */
  readonly name: string;

  /**
   * Decodes one complete message whose first frame had RSV1 set. Called
   * synchronously from `Protocol.receive`, in the order messages arrive;
   * the text of a text message is checked as UTF-8 afterwards.
   *
   * @param payload the payload of every frame of the message, joined; not
   * read after this returns
   * @param maxSize the most bytes the decoded message may have (the
   * protocol's `maxMessageSize`)
   * @returns the decoded message, in memory of its own
   * @throws {WebSocketError} when the payload cannot be decoded or decodes
   * past `maxSize`: the protocol fails the connection with the error's close
   * code (1007 for invalid data, 1009 for too much)
   */
  decode(payload: Uint8Array, maxSize: number): Uint8Array;

  /**
   * Smallest message, in bytes (UTF-8 bytes for text), that `Protocol`
   * encodes when the sender does not say; absent: only when asked.
   */
  readonly threshold?: number;

  /**
   * Encodes the next part of a message sent with RSV1 set, synchronously,
   * in the order messages are sent. Absent: the extension only decodes.
   *
   * @param data the part's bytes; not kept
   * @param end whether the message ends with this part
   * @returns the frame payload, in memory of its own
   */
  encode?(data: Uint8Array, end: boolean): Uint8Array;
}
