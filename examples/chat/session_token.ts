/**
 * Resume tokens: the secret a client receives with its own join and
 * presents to take its name back from a connection the server still thinks
 * is open (see "Resuming after a dropped connection" in `chat/PROTOCOL.md`).
 * Pure: Web Crypto and `btoa` only.
 *
 * @module
 */

/** Random bytes in a resume token: 16 (128 bits). */
export const SESSION_TOKEN_BYTES = 16;
/** Longest `token` a join may carry: 64 characters. A token this server
 * issues has 22; a longer one is refused as `invalid_token`. */
export const MAX_SESSION_TOKEN_LENGTH = 64;

/**
 * A new unguessable resume token: {@linkcode SESSION_TOKEN_BYTES} random
 * bytes in base64url without padding (22 characters).
 *
 * @returns the token
 */
export function newSessionToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SESSION_TOKEN_BYTES));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  let token = "";
  for (const character of btoa(binary)) {
    if (character === "+") token += "-";
    else if (character === "/") token += "_";
    else if (character !== "=") token += character;
  }
  return token;
}

function isTokenCharacter(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || // 0-9
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x61 && code <= 0x7a) || // a-z
    code === 0x2d || code === 0x5f; // - _
}

/**
 * Whether `value` has the shape of a token: 1 to
 * {@linkcode MAX_SESSION_TOKEN_LENGTH} base64url characters. (Whether it
 * matches a session is another question.)
 *
 * @param value what the client sent
 * @returns true for a well-formed token
 */
export function isWellFormedToken(value: string): boolean {
  if (value.length === 0 || value.length > MAX_SESSION_TOKEN_LENGTH) {
    return false;
  }
  for (let index = 0; index < value.length; index++) {
    if (!isTokenCharacter(value.charCodeAt(index))) return false;
  }
  return true;
}

/**
 * Compares two tokens in time that depends only on their lengths, so a
 * guesser learns nothing from how fast a wrong token is refused.
 *
 * @param presented the token a client sent
 * @param issued the token of the session
 * @returns true when they are equal
 */
export function tokensMatch(presented: string, issued: string): boolean {
  let difference = presented.length ^ issued.length;
  const length = Math.min(presented.length, issued.length);
  for (let index = 0; index < length; index++) {
    difference |= presented.charCodeAt(index) ^ issued.charCodeAt(index);
  }
  return difference === 0;
}
