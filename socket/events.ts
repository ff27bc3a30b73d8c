/**
 * The events and exceptions a WHATWG `WebSocket` produces, built from the
 * runtime's own classes where it has them (`CloseEvent`, `ErrorEvent`,
 * `DOMException`) and from small stand-ins with the same fields where it
 * does not, so the socket runs in Deno, Bun, Node and browsers.
 *
 * @module
 */

import { CloseCode } from "../errors.ts";
import {
  isValidCloseCode,
  MAX_CLOSE_REASON_BYTES,
} from "../frame/close_payload.ts";
import type { Role } from "../protocol/types.ts";
import { utf8ByteLength } from "../frame/utf8.ts";

/** The fields of a `CloseEvent`. */
export interface CloseEventFields {
  /** The close code the connection ended with. */
  code: number;
  /** The close reason the peer sent, or "". */
  reason: string;
  /** Whether the close handshake completed. */
  wasClean: boolean;
}

/**
 * A stand-in for `CloseEvent`, used only in runtimes without a global one
 * (Node before 23). Same fields, same meaning.
 */
export class WebSocketCloseEvent extends Event implements CloseEventFields {
  /** The close code the connection ended with. */
  readonly code: number;
  /** The close reason the peer sent, or "". */
  readonly reason: string;
  /** Whether the close handshake completed. */
  readonly wasClean: boolean;

  /**
   * @param type the event type, normally "close"
   * @param init code, reason and wasClean
   */
  constructor(type: string, init: Partial<CloseEventFields> = {}) {
    super(type);
    this.code = init.code ?? 0;
    this.reason = init.reason ?? "";
    this.wasClean = init.wasClean ?? false;
  }
}

/** The global constructors this module prefers when the runtime has them. */
interface OptionalGlobals {
  CloseEvent?: new (type: string, init: CloseEventFields) => CloseEvent;
  ErrorEvent?: new (
    type: string,
    init: { message: string; error: unknown },
  ) => Event;
  DOMException?: new (message: string, name: string) => Error;
  reportError?: (error: unknown) => void;
}

const runtime = globalThis as unknown as OptionalGlobals;

/**
 * Creates a "close" event: the runtime's `CloseEvent`, or
 * {@linkcode WebSocketCloseEvent} where there is none.
 *
 * @param fields code, reason and wasClean
 * @returns the event
 */
export function createCloseEvent(fields: CloseEventFields): CloseEvent {
  if (runtime.CloseEvent !== undefined) {
    return new runtime.CloseEvent("close", fields);
  }
  return new WebSocketCloseEvent("close", fields) as unknown as CloseEvent;
}

/** The `ports` of every "message" event the socket produces: none. */
const NO_PORTS: readonly MessagePort[] = Object.freeze([]);

/** Whether the runtime's dispatch sets `srcElement` (Deno's is null). */
const srcElementIsTarget = (() => {
  const target = new EventTarget();
  let same = false;
  target.addEventListener("probe", (event) => {
    same = event.srcElement === target;
  });
  target.dispatchEvent(new Event("probe"));
  return same;
})();

/**
 * Whether the runtime's `MessageEvent` keeps `data` as an own property of
 * each event (Deno's does), which its constructor must then set.
 */
const ownDataEvents = Object.hasOwn(new MessageEvent("message"), "data");

/** The init dictionary reused where the runtime's constructor needs one. */
const messageEventInit: MessageEventInit = { data: null, origin: "" };

/** `messageEventInit` holding `data` and `origin`. */
function initWith(data: unknown, origin: string): MessageEventInit {
  messageEventInit.data = data;
  messageEventInit.origin = origin;
  return messageEventInit;
}

/** Sets or clears what a message event reports while delivered directly. */
let setDirectTarget: (
  event: SocketMessageEvent,
  target: EventTarget | null,
) => void;

/**
 * The socket's "message" event, `instanceof MessageEvent`. Where the
 * runtime's `MessageEvent` does not keep its fields as own properties (Bun,
 * Node), only `Event`'s constructor runs and the event answers the
 * `MessageEvent` fields itself: the runtimes' `MessageEvent` constructors
 * convert an init dictionary even when none is given (Node's takes 300 ns).
 * In Deno it is built by Deno's constructor, fields and all. Either way it
 * can be delivered to a single listener without `dispatchEvent`
 * ({@linkcode callAtTarget}) and then reports the target, current target and
 * phase a dispatch would (docs/PERFORMANCE.md, "Issue 15: delivering a
 * message").
 */
class SocketMessageEvent extends MessageEvent<unknown> {
  readonly #data: unknown;
  readonly #origin: string;
  /** The socket it was delivered on directly, or null. */
  #directTarget: EventTarget | null = null;
  /** Whether a direct delivery is running. */
  #atTarget = false;

  constructor(data: unknown, origin: string) {
    super("message", ownDataEvents ? initWith(data, origin) : undefined);
    messageEventInit.data = null;
    this.#data = data;
    this.#origin = origin;
  }

  static {
    setDirectTarget = (event, target) => {
      if (target !== null) event.#directTarget = target;
      event.#atTarget = target !== null;
    };
    if (!ownDataEvents) {
      // `super()` then calls Event's constructor, not MessageEvent's.
      Object.setPrototypeOf(SocketMessageEvent, Event);
      Object.defineProperties(SocketMessageEvent.prototype, {
        data: {
          get(this: SocketMessageEvent): unknown {
            return this.#data;
          },
          configurable: true,
        },
        origin: {
          get(this: SocketMessageEvent): string {
            return this.#origin;
          },
          configurable: true,
        },
        lastEventId: { get: () => "", configurable: true },
        source: { get: () => null, configurable: true },
        ports: { get: () => NO_PORTS, configurable: true },
      });
    }
  }

  override get target(): EventTarget | null {
    return super.target ?? this.#directTarget;
  }

  override get currentTarget(): EventTarget | null {
    return this.#atTarget ? this.#directTarget : super.currentTarget;
  }

  override get srcElement(): EventTarget | null {
    return srcElementIsTarget ? this.target : super.srcElement;
  }

  override get eventPhase(): number {
    return this.#atTarget ? Event.AT_TARGET : super.eventPhase;
  }

  override composedPath(): EventTarget[] {
    return this.#atTarget && this.#directTarget !== null
      ? [this.#directTarget]
      : super.composedPath();
  }
}

/** Whether {@linkcode SocketMessageEvent} works in this runtime: its
 * fields, and a real dispatch. */
const socketMessageEvents = (() => {
  try {
    const target = new EventTarget();
    let seen = false;
    target.addEventListener("message", (event) => {
      seen = event.currentTarget === target &&
        event.eventPhase === Event.AT_TARGET &&
        (event as MessageEvent).data === 1;
    });
    const event = new SocketMessageEvent(1, "");
    target.dispatchEvent(event);
    return seen && event instanceof MessageEvent && event.type === "message" &&
      event.ports.length === 0 && event.lastEventId === "" &&
      event.currentTarget === null && event.target === target &&
      !event.bubbles;
  } catch {
    return false;
  }
})();

/**
 * Creates a "message" event: a {@linkcode SocketMessageEvent} where the
 * runtime allows one, the runtime's `MessageEvent` elsewhere.
 *
 * @param data the event's data
 * @param origin the socket URL's origin, or ""
 * @returns the event
 */
export function createMessageEvent(
  data: string | Blob | ArrayBuffer,
  origin: string,
): MessageEvent {
  if (socketMessageEvents) return new SocketMessageEvent(data, origin);
  const event = new MessageEvent("message", initWith(data, origin));
  messageEventInit.data = null;
  return event;
}

/**
 * Whether {@linkcode callAtTarget} can deliver `event`: a "message" event
 * from {@linkcode createMessageEvent} where the runtime allows the cheaper
 * class.
 *
 * @param event the event
 * @returns whether it can
 */
export function canCallAtTarget(event: Event): event is MessageEvent {
  return event instanceof SocketMessageEvent;
}

/**
 * Delivers an event from {@linkcode createMessageEvent} to the one listener
 * of its target without `dispatchEvent`, as that dispatch would: `this` and
 * `currentTarget` are the target while the listener runs, the phase is
 * AT_TARGET, and an exception is reported the way the runtime's dispatch
 * reports it. Only for a target whose only "message" listener is
 * `listener`.
 *
 * @param event the event
 * @param target the socket
 * @param listener the function to call, with the target as `this`
 */
export function callAtTarget(
  event: MessageEvent,
  target: EventTarget,
  listener: (this: unknown, event: Event) => unknown,
): void {
  setDirectTarget(event as SocketMessageEvent, target);
  try {
    listener.call(target, event);
  } catch (error) {
    reportAsListenerError(error);
  } finally {
    setDirectTarget(event as SocketMessageEvent, null);
  }
}

/** An `EventTarget` whose only listener throws the error being reported. */
const errorReporter = new EventTarget();
let errorToReport: unknown = null;
errorReporter.addEventListener("report", () => {
  throw errorToReport;
});

/**
 * Reports an error thrown by a listener exactly as the runtime's
 * `dispatchEvent` does (Deno and Bun at once, Node on a later tick, each
 * through its own hooks), by throwing it from a listener it dispatches to.
 */
function reportAsListenerError(error: unknown): void {
  errorToReport = error;
  try {
    errorReporter.dispatchEvent(new Event("report"));
  } catch (escaped) {
    reportError(escaped);
  } finally {
    errorToReport = null;
  }
}

/**
 * The `data` of a "message" event: text as is; binary as a `Blob` or an
 * `ArrayBuffer` as `binaryType` says. A Uint8Array that spans its whole
 * buffer (what the protocol hands out) becomes that buffer without a copy.
 *
 * @param data the message
 * @param binaryType "blob" or "arraybuffer"
 * @returns the event data
 */
export function messageEventData(
  data: string | Uint8Array,
  binaryType: "blob" | "arraybuffer",
): string | Blob | ArrayBuffer {
  if (typeof data === "string") return data;
  if (binaryType === "blob") return new Blob([data as Uint8Array<ArrayBuffer>]);
  if (data.byteOffset === 0 && data.byteLength === data.buffer.byteLength) {
    return data.buffer as ArrayBuffer;
  }
  return data.slice().buffer;
}

/**
 * `bytes` itself when it spans its whole buffer (nothing else can see that
 * memory through it), else an exact copy.
 *
 * @param bytes the bytes
 * @returns bytes that own their buffer
 */
export function ownedBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.length === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}

/**
 * Creates an "error" event: an `ErrorEvent` carrying `error` and its message
 * where the runtime has that class, a plain `Event` elsewhere.
 *
 * @param error what went wrong
 * @returns the event
 */
export function createErrorEvent(error: unknown): Event {
  if (runtime.ErrorEvent !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    return new runtime.ErrorEvent("error", { message, error });
  }
  return new Event("error");
}

/**
 * Creates the exception a browser throws: a `DOMException` with `name`, or a
 * plain `Error` with that name where `DOMException` does not exist.
 *
 * @param message what was wrong
 * @param name the DOMException name, such as "InvalidStateError"
 * @returns the exception to throw
 */
export function domException(message: string, name: string): Error {
  if (runtime.DOMException !== undefined) {
    return new runtime.DOMException(message, name);
  }
  const error = new Error(message);
  error.name = name;
  return error;
}

/**
 * Reports an error nobody can catch (a broken event listener, a bug) the way
 * the DOM does: `reportError` where it exists, else `console.error`.
 *
 * @param error the error to report
 */
export function reportError(error: unknown): void {
  if (runtime.reportError !== undefined) runtime.reportError(error);
  else console.error(error);
}

/**
 * Checks the arguments of `close(code, reason)` as a browser does. The
 * client side allows 1000 and 3000-4999 (the WHATWG rule); the server side
 * allows every code that may be sent, like Deno's server sockets, so a
 * server can close with 1001 or 1011. A reason without a code gets 1000.
 *
 * @param role which side is closing
 * @param code the code passed to `close`
 * @param reason the reason passed to `close`
 * @returns the code (undefined for an empty close frame) and the reason
 * @throws {DOMException} "InvalidAccessError" for a code not allowed,
 * "SyntaxError" for a reason over 123 bytes of UTF-8
 */
export function checkCloseArguments(
  role: Role,
  code: number | undefined,
  reason: string | undefined,
): { code: number | undefined; reason: string } {
  let closeCode: number | undefined;
  if (code !== undefined) {
    closeCode = Number(code);
    const allowed = role === "server"
      ? isValidCloseCode(closeCode)
      : closeCode === 1000 || (closeCode >= 3000 && closeCode <= 4999);
    if (!allowed || !Number.isInteger(closeCode)) {
      throw domException(
        `close code ${code} is not allowed`,
        "InvalidAccessError",
      );
    }
  }
  const closeReason = reason === undefined ? "" : String(reason);
  if (utf8ByteLength(closeReason) > MAX_CLOSE_REASON_BYTES) {
    throw domException(
      "the close reason is longer than 123 bytes of UTF-8",
      "SyntaxError",
    );
  }
  if (closeCode === undefined && closeReason !== "") {
    closeCode = CloseCode.NormalClosure;
  }
  return { code: closeCode, reason: closeReason };
}
