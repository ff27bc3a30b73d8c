/**
 * The chat app's JSON wire protocol (see `chat/PROTOCOL.md`): every limit,
 * the validation of what clients send, and the messages the server sends.
 * Pure: no I/O, no runtime-specific API.
 *
 * @module
 */

import { isWellFormedToken } from "./session_token.ts";

/** The room joined when a join names none: `"lobby"`. */
export const DEFAULT_ROOM = "lobby";
/** Longest username, after trimming: 32 characters. */
export const MAX_USERNAME_LENGTH = 32;
/** Longest room name, after trimming: 32 characters. */
export const MAX_ROOM_LENGTH = 32;
/** Longest chat message text, after trimming: 2,000 characters (code
 * points). */
export const MAX_TEXT_LENGTH = 2_000;
/** Largest WebSocket message a client may send: 16 KiB. A bigger one closes
 * the connection with 1009 (message too big). */
export const MAX_CHAT_MESSAGE_BYTES = 16 * 1024;
/** The close code a connection is closed with when a join presenting its
 * resume token takes its place: 4000 (private use, RFC 6455 7.4.2). */
export const SESSION_REPLACED_CLOSE_CODE = 4000;
/** The close reason sent with {@linkcode SESSION_REPLACED_CLOSE_CODE}. */
export const SESSION_REPLACED_REASON = "session resumed on another connection";

/** What a client may send, once validated. */
export type ClientMessage =
  /** Join `room` as `username` (trimmed; the room lowercased), resuming
   * the session of `token` when one is given. */
  | {
    type: "join";
    username: string;
    room: string;
    token: string | null;
    since: string | null;
  }
  /** Say `text` (trimmed) to the room. */
  | { type: "message"; text: string }
  /** Leave the room, staying connected. */
  | { type: "leave" };

/** The `code` of an error message: what was wrong, for programs. */
export type ChatErrorCode =
  | "invalid_json"
  | "invalid_message"
  | "binary_not_supported"
  | "invalid_username"
  | "invalid_room"
  | "invalid_text"
  | "text_too_long"
  | "not_joined"
  | "already_joined"
  | "invalid_token"
  | "invalid_since"
  | "username_taken"
  | "unavailable";

/** The result of checking a client message. */
export type ParseResult =
  | { ok: true; message: ClientMessage }
  | { ok: false; code: ChatErrorCode; message: string };

function failure(code: ChatErrorCode, message: string): ParseResult {
  return { ok: false, code, message };
}

function isNameCharacter(character: string, spaceAllowed: boolean): boolean {
  if (character === " ") return spaceAllowed;
  if (character === "_" || character === "-" || character === ".") return true;
  const code = character.charCodeAt(0);
  return (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a); // a-z
}

/**
 * Checks a username or room name: trimmed, 1 to `maxLength` characters,
 * each an ASCII letter or digit, `_`, `-`, `.` or (usernames only) a space.
 *
 * @param value what the client sent
 * @param maxLength the longest name allowed
 * @param spaceAllowed whether spaces may appear inside the name
 * @returns the trimmed name, or null when it breaks a rule
 */
export function checkName(
  value: string,
  maxLength: number,
  spaceAllowed: boolean,
): string | null {
  const name = value.trim();
  if (name.length === 0 || name.length > maxLength) return null;
  for (const character of name) {
    if (!isNameCharacter(character, spaceAllowed)) return null;
  }
  return name;
}

/**
 * The key under which a username is unique in its room: usernames are
 * compared without regard to case.
 *
 * @param username a checked username
 * @returns its lowercase form
 */
export function usernameKey(username: string): string {
  return username.toLowerCase();
}

/** Counts code points, stopping once past `limit`. */
function lengthUpTo(text: string, limit: number): number {
  let count = 0;
  for (const _ of text) {
    count++;
    if (count > limit) break;
  }
  return count;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseJoin(fields: Record<string, unknown>): ParseResult {
  const username = fields.username;
  if (typeof username !== "string") {
    return failure("invalid_username", "username must be a string");
  }
  const checkedName = checkName(username, MAX_USERNAME_LENGTH, true);
  if (checkedName === null) {
    return failure(
      "invalid_username",
      `a username is 1-${MAX_USERNAME_LENGTH} letters, digits, spaces, "_", "-" or "."`,
    );
  }
  const room = fields.room ?? DEFAULT_ROOM;
  if (typeof room !== "string") {
    return failure("invalid_room", "room must be a string");
  }
  const checkedRoom = checkName(room, MAX_ROOM_LENGTH, false);
  if (checkedRoom === null) {
    return failure(
      "invalid_room",
      `a room name is 1-${MAX_ROOM_LENGTH} letters, digits, "_", "-" or "."`,
    );
  }
  const token = fields.token ?? null;
  if (
    token !== null && (typeof token !== "string" || !isWellFormedToken(token))
  ) {
    return failure(
      "invalid_token",
      "token must be the string this server sent with your join",
    );
  }
  const since = fields.since ?? null;
  if (since !== null && (typeof since !== "string" || !isMessageId(since))) {
    return failure(
      "invalid_since",
      "since must be the id of a message this server sent",
    );
  }
  return {
    ok: true,
    message: {
      type: "join",
      username: checkedName,
      room: checkedRoom.toLowerCase(),
      token,
      since,
    },
  };
}

/** Longest run of digits in either half of a message id: 20. */
const MAX_ID_DIGITS = 20;

/**
 * Whether `value` has the shape of a message id: two runs of 1-20 digits
 * joined by "-" (a Redis Stream entry id, as in `1764115200000-0`).
 *
 * @param value what the client sent
 * @returns true when well-formed
 */
export function isMessageId(value: string): boolean {
  const dash = value.indexOf("-");
  if (dash < 1 || dash > MAX_ID_DIGITS) return false;
  const sequence = value.length - dash - 1;
  if (sequence < 1 || sequence > MAX_ID_DIGITS) return false;
  for (let index = 0; index < value.length; index++) {
    if (index === dash) continue;
    const code = value.charCodeAt(index);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function parseSay(fields: Record<string, unknown>): ParseResult {
  if (typeof fields.text !== "string") {
    return failure("invalid_text", "text must be a string");
  }
  const text = fields.text.trim();
  if (text.length === 0) return failure("invalid_text", "text is empty");
  if (lengthUpTo(text, MAX_TEXT_LENGTH) > MAX_TEXT_LENGTH) {
    return failure(
      "text_too_long",
      `text is longer than ${MAX_TEXT_LENGTH} characters`,
    );
  }
  return { ok: true, message: { type: "message", text } };
}

/**
 * Parses and checks one text message from a client. Fields other than the
 * ones listed in the protocol are ignored.
 *
 * @param data the text of the WebSocket message
 * @returns the message, or the error to send back
 */
export function parseClientMessage(data: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return failure("invalid_json", "the message is not valid JSON");
  }
  if (!isPlainObject(value)) {
    return failure("invalid_message", "the message must be a JSON object");
  }
  switch (value.type) {
    case "join":
      return parseJoin(value);
    case "message":
      return parseSay(value);
    case "leave":
      return { ok: true, message: { type: "leave" } };
    case undefined:
      return failure("invalid_message", 'the message has no "type"');
    default:
      return failure(
        "invalid_message",
        `unknown message type ${JSON.stringify(value.type).slice(0, 40)}`,
      );
  }
}

/** A chat message as every member of the room receives it. */
export interface ChatText {
  /** Always `"message"`. */
  type: "message";
  /** Who said it. */
  username: string;
  /** Where. */
  room: string;
  /** What (trimmed). */
  text: string;
  /** When the server received it, in milliseconds since the epoch. */
  ts: number;
  /** Its place in the room's history (servers sharing Redis only). */
  id?: string;
}

/** A join or leave notice, with the room's members after the change. The
 * joiner's own copy of its join also carries `token`, and `resumed` when
 * it took its name back from a stale connection. */
export interface MembershipNotice {
  /** Someone joined or left. */
  type: "join" | "leave";
  /** Who. */
  username: string;
  /** Which room. */
  room: string;
  /** Everyone in the room now, sorted without regard to case. */
  members: string[];
  /** When, in milliseconds since the epoch. */
  ts: number;
  /** The joiner's resume token: only in the joiner's own join notice. */
  token?: string;
  /** True in the joiner's own notice when the join resumed a session that
   * another connection held; absent otherwise. */
  resumed?: true;
  /** Its place in the room's history (servers sharing Redis only). */
  id?: string;
  /** In the joiner's own notice (servers sharing Redis only): the room's
   * recent messages, or those after `since`, oldest first. */
  history?: Array<ChatText | MembershipNotice>;
  /** In the joiner's own notice, when the join gave `since`: whether
   * `history` holds every message after it (false when some were already
   * dropped from the room's history). */
  recovered?: boolean;
}

/** An error reply to one client; the connection stays open. */
export interface ChatError {
  /** Always `"error"`. */
  type: "error";
  /** What was wrong, for programs. */
  code: ChatErrorCode;
  /** What was wrong, for people. */
  message: string;
}

/** Every message the server sends. */
export type ServerMessage = ChatText | MembershipNotice | ChatError;

/**
 * Encodes a server message as the JSON text sent on the wire.
 *
 * @param message the message
 * @returns its JSON text
 */
export function encodeServerMessage(message: ServerMessage): string {
  return JSON.stringify(message);
}
