/**
 * Typed errors. Every error that a peer can cause carries the close code
 * (RFC 6455 section 7.4.1) or the HTTP status it maps to, and the name of the
 * rule it enforces, so a reader knows which rule failed without the RFC open.
 *
 * @module
 */

/** Close codes from RFC 6455 section 7.4.1, by name. */
export const CloseCode = {
  /** 1000: the purpose of the connection has been fulfilled. */
  NormalClosure: 1000,
  /** 1001: the endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** 1002: the peer broke the protocol. */
  ProtocolError: 1002,
  /** 1003: a data type the endpoint cannot accept. */
  UnsupportedData: 1003,
  /** 1005: reserved; reported when a close frame carried no code. Never sent. */
  NoStatusReceived: 1005,
  /** 1006: reserved; reported when the connection dropped without a close frame. Never sent. */
  AbnormalClosure: 1006,
  /** 1007: a message's data was inconsistent with its type (invalid UTF-8 in text). */
  InvalidPayloadData: 1007,
  /** 1008: a message violated the endpoint's policy. */
  PolicyViolation: 1008,
  /** 1009: a message too big to process. */
  MessageTooBig: 1009,
  /** 1010: the client expected an extension the server did not negotiate. */
  MandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition. */
  InternalError: 1011,
  /** 1015: reserved; reported when the TLS handshake failed. Never sent. */
  TlsHandshake: 1015,
} as const;

/** The name of each RFC 6455 rule this library enforces on a peer. */
export type ProtocolRule =
  | "ReservedOpcode"
  | "ReservedBitsSet"
  | "ControlFrameTooLong"
  | "FragmentedControlFrame"
  | "LengthTopBitSet"
  | "UnmaskedFrameFromClient"
  | "MaskedFrameFromServer"
  | "UnexpectedContinuation"
  | "ExpectedContinuation"
  | "InvalidCloseCode"
  | "CloseFrameTooShort"
  | "InvalidUtf8"
  | "InvalidCompressedData"
  | "FrameTooLarge"
  | "MessageTooLarge"
  | "TooManyFragments";

/**
 * Base class of every error a WebSocket peer can cause after the handshake.
 * `closeCode` is the code the connection is failed with.
 */
export class WebSocketError extends Error {
  /** The close code to fail the connection with. */
  readonly closeCode: number;
  /** The RFC rule the peer broke. */
  readonly rule: ProtocolRule;

  /**
   * Creates an error for a broken rule.
   *
   * @param rule the rule the peer broke
   * @param closeCode the close code to fail the connection with
   * @param message a human-readable explanation
   */
  constructor(rule: ProtocolRule, closeCode: number, message: string) {
    super(message);
    this.name = new.target.name;
    this.rule = rule;
    this.closeCode = closeCode;
  }
}

/** The peer broke a framing or sequencing rule: close code 1002. */
export class ProtocolError extends WebSocketError {
  /**
   * Creates a protocol error (close code 1002).
   *
   * @param rule the rule the peer broke
   * @param message a human-readable explanation
   */
  constructor(rule: ProtocolRule, message: string) {
    super(rule, CloseCode.ProtocolError, message);
  }
}

/**
 * A message's data did not match its type: text or a close reason that is not
 * valid UTF-8, or a compressed message that is not valid deflate data. Close
 * code 1007.
 */
export class InvalidPayloadError extends WebSocketError {
  /**
   * Creates an invalid-payload error (close code 1007).
   *
   * @param message a human-readable explanation
   * @param rule which kind of data was invalid; default "InvalidUtf8"
   */
  constructor(
    message: string,
    rule: "InvalidUtf8" | "InvalidCompressedData" = "InvalidUtf8",
  ) {
    super(rule, CloseCode.InvalidPayloadData, message);
  }
}

/** A frame or message passed a configured size limit: close code 1009. */
export class MessageTooBigError extends WebSocketError {
  /**
   * Creates a message-too-big error (close code 1009).
   *
   * @param rule which limit was passed
   * @param message a human-readable explanation
   */
  constructor(
    rule: "FrameTooLarge" | "MessageTooLarge" | "TooManyFragments",
    message: string,
  ) {
    super(rule, CloseCode.MessageTooBig, message);
  }
}

/**
 * An opening handshake was refused. `status` is the HTTP status a server
 * answers with; `headers` are extra response headers (for example
 * `Sec-WebSocket-Version: 13` with a 426).
 */
export class HandshakeError extends Error {
  /** The HTTP status to answer with (400, 403, 426, ...). */
  readonly status: number;
  /** Extra headers to send with the refusal. */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  /**
   * Creates a handshake refusal.
   *
   * @param status the HTTP status to answer with
   * @param message why the handshake was refused
   * @param headers extra headers to send with the refusal
   */
  constructor(
    status: number,
    message: string,
    headers: ReadonlyArray<readonly [string, string]> = [],
  ) {
    super(message);
    this.name = "HandshakeError";
    this.status = status;
    this.headers = headers;
  }
}

/**
 * A method was called in a state that does not allow it, such as sending
 * before the socket opened or after the close handshake began. It is the
 * DOM's own kind of error: a `DOMException` named "InvalidStateError" (code
 * 11), so code written for the browser's `WebSocket` (checking `name` or
 * `instanceof DOMException`) and code checking `instanceof
 * InvalidStateError` both recognise it.
 */
export class InvalidStateError extends DOMException {
  /**
   * Creates an invalid-state error.
   *
   * @param message what was attempted and why it is not allowed now
   */
  constructor(message: string) {
    super(message, "InvalidStateError");
  }
}

/** The RFC rules a {@linkcode FragmentSequenceError} keeps this end from breaking. */
export type FragmentSequenceRule =
  | "ExpectedContinuation"
  | "UnexpectedContinuation"
  | "ReservedBitsSet";

/**
 * A send that would put an invalid sequence of frames on the wire, which
 * the peer would fail with the rule named here (RFC 6455 section 5.4, RFC
 * 7692 section 6.1): a new message while a fragmented one is being sent
 * ("ExpectedContinuation"), a continuation with no fragmented message to
 * continue ("UnexpectedContinuation"), or a continuation marked compressed
 * ("ReservedBitsSet"). Nothing is queued. Control frames may still be sent
 * between fragments.
 */
export class FragmentSequenceError extends InvalidStateError {
  /** The rule the send would have broken. */
  readonly rule: FragmentSequenceRule;

  /**
   * Creates a fragment-sequence error.
   *
   * @param rule the rule the send would have broken
   * @param message what was attempted
   */
  constructor(rule: FragmentSequenceRule, message: string) {
    super(message);
    // DOMException's name is a read-only accessor: shadow it.
    Object.defineProperty(this, "name", { value: "FragmentSequenceError" });
    this.rule = rule;
  }
}

/**
 * An async iterator over a socket (`socket[Symbol.asyncIterator]()`) was
 * created but never read while more than the iterator's high-water mark of
 * messages arrived (see `DEFAULTS.limits.iteratorHighWaterBytes` and
 * `iteratorHighWaterCount`) and "message" listeners wait too. Rather than
 * stop reading the connection (which would starve those listeners) the
 * socket drops what the iterator held and its first `next()` rejects with
 * this error; the socket stays open.
 */
export class UnreadIteratorError extends Error {
  /**
   * Creates an unread-iterator error.
   *
   * @param message how many messages piled up
   */
  constructor(message: string) {
    super(message);
    this.name = "UnreadIteratorError";
  }
}

/**
 * A request that the server refuses at the HTTP level. `status` is the
 * response status to answer with (400, 408, 413, 431, 501, 505); the
 * connection is closed after the answer, since the framing can no longer be
 * trusted.
 */
export class HttpError extends Error {
  /** The HTTP status to answer with. */
  readonly status: number;

  /**
   * Create an error that answers the request with `status`.
   *
   * @param status the HTTP status to answer with
   * @param message why the request was refused (sent as the response body)
   */
  constructor(status: number, message: string) {
    super(message);
    this.name = "HttpError";
    this.status = status;
  }
}

/**
 * Where a server failure happened, for a {@linkcode ServerError}:
 * - `accept`: accepting a connection failed (the listener stays open);
 * - `connection`: serving a connection failed outside a handler (a read or
 *   a write);
 * - `response`: a response could not be sent, or its body stream failed
 *   midway;
 * - `upgrade`: the `101 Switching Protocols` response could not be built;
 * - `shutdown`: closing a WebSocket when the server shut down failed;
 * - `origin`: a WebSocket handshake from a page origin not in the
 *   `origins` of `upgradeWebSocket` was refused with 403 (its `cause` is the
 *   `ForbiddenOriginError`);
 * - `onError`: the server's `onError` threw, or returned something other
 *   than a `Response` for a handler's error.
 */
export type ServerErrorPhase =
  | "accept"
  | "connection"
  | "response"
  | "upgrade"
  | "shutdown"
  | "origin"
  | "onError";

/**
 * A server failure not caused by a request's handler, handed to the
 * server's `onError` option (whose returned response is then ignored).
 * `phase` says where it happened; `cause` is the original error.
 */
export class ServerError extends Error {
  /** Where the failure happened. */
  readonly phase: ServerErrorPhase;

  /**
   * Creates a server error.
   *
   * @param phase where the failure happened
   * @param message what failed
   * @param cause the original error
   */
  constructor(phase: ServerErrorPhase, message: string, cause: unknown) {
    super(message, { cause });
    this.name = "ServerError";
    this.phase = phase;
  }
}

/**
 * Where a broker failure happened, for a {@linkcode BrokerError}:
 * - `connect`: the broker could not reach its server when it started;
 * - `connection`: the connection was lost (the broker reconnects) or came
 *   back;
 * - `publish`: a publication could not be handed to the server;
 * - `subscribe`: subscribing to or leaving a topic failed;
 * - `message`: a message from the server was not one the broker sends.
 */
export type BrokerErrorPhase =
  | "connect"
  | "connection"
  | "publish"
  | "subscribe"
  | "message";

/**
 * A failure of the broker that carries publications between processes
 * (the `./redis` entry's `RedisBroker`). Thrown by the broker's `connect`
 * when the server cannot be reached; after that, reported to the broker's
 * `onError` option, since publishing never throws. `cause` is the original
 * error.
 */
export class BrokerError extends Error {
  /** Where the failure happened. */
  readonly phase: BrokerErrorPhase;

  /**
   * Creates a broker error.
   *
   * @param phase where the failure happened
   * @param message what failed
   * @param cause the original error
   */
  constructor(phase: BrokerErrorPhase, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "BrokerError";
    this.phase = phase;
  }
}
