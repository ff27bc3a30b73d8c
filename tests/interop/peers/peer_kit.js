// What the JavaScript interop peers share: a timeout, the loop that runs
// the checks and collects what each observed, and the payloads they send.
// Plain JavaScript with no imports, so it loads in Node.js, Bun, Deno and a
// Chromium page alike.
//
// web_peer.js keeps its own copies: tests/interop_deno_test.ts injects that
// one file's source into a page, where it cannot import anything.

/** Rejects after `ms` unless `promise` settles first; clears its timer. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Runs `runCheck(check)` for each check, one after another, each bounded by
 * `timeoutMs`; returns what each observed, or `{ error }`.
 */
export async function runChecks(checks, runCheck, timeoutMs) {
  const results = {};
  for (const check of checks) {
    try {
      results[check] = await withTimeout(runCheck(check), timeoutMs, check);
    } catch (error) {
      results[check] = { error: String(error?.message ?? error) };
    }
  }
  return results;
}

/**
 * Messages waiting to be read, in arrival order: `deliver` hands one to the
 * oldest waiting `next()` or keeps it; after `fail(error)` the waiting
 * reads reject with `error` and later ones with "closed".
 */
export function createInbox() {
  const messages = [];
  const waiters = [];
  let failed = false;
  return {
    deliver(message) {
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(message);
      else messages.push(message);
    },
    fail(error) {
      failed = true;
      for (const waiter of waiters.splice(0)) waiter.reject(error);
    },
    next() {
      if (messages.length > 0) return Promise.resolve(messages.shift());
      if (failed) return Promise.reject(new Error("closed"));
      return new Promise((resolve, reject) =>
        waiters.push({ resolve, reject })
      );
    },
  };
}

/** A text of exactly `byteLength` UTF-8 bytes mixing 1- to 4-byte characters. */
export function makeText(byteLength) {
  const unit = "a\u00e9\u2603\u{1F600}"; // 1 + 2 + 3 + 4 bytes
  const units = Math.floor(byteLength / 10);
  return unit.repeat(units) + "x".repeat(byteLength - units * 10);
}

/** Deterministic bytes that are not all equal. */
export function makeBytes(length) {
  const bytes = new Uint8Array(length);
  for (let index = 0; index < length; index++) {
    bytes[index] = (index * 31 + 7) & 0xff;
  }
  return bytes;
}

/** Chat-like JSON text (compresses well) of at least `length` characters. */
export function chatText(length) {
  const parts = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const part = `{"id":${i},"user":"user${
      i % 13
    }","text":"h\u00e9llo \u2603 number ${i}"},`;
    parts.push(part);
    size += part.length;
  }
  return parts.join("").slice(0, length);
}

/** Bytes that compress well. */
export function patternBytes(length) {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i % 64) < 32 ? i % 7 : 0;
  return bytes;
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(left, right) {
  if (left.length !== right.length) return false;
  for (let i = 0; i < left.length; i++) if (left[i] !== right[i]) return false;
  return true;
}
