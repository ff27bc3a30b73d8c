/**
 * Turning a parsed request head into the pieces of a standard `Request`:
 * its absolute URL (RFC 9112 section 3.3) and the methods refused before a
 * `Request` is built. Pure: no runtime-specific API.
 *
 * @module
 */

import { headerValues, HttpError, type RequestHead } from "./http1.ts";

export type { HttpVersion, RequestHead } from "./http1.ts";

/** Methods a `Request` cannot carry (the Fetch standard forbids them):
 * answered with 501. */
const FORBIDDEN_METHODS: ReadonlySet<string> = new Set([
  "CONNECT",
  "TRACE",
  "TRACK",
]);

/** Refuse a method no `Request` can carry.
 * @throws {HttpError} 501 for CONNECT, TRACE and TRACK */
export function checkMethod(method: string): void {
  if (FORBIDDEN_METHODS.has(method.toUpperCase())) {
    throw new HttpError(501, `method ${method} is not supported`);
  }
}

/** Check a Host value before it becomes part of a URL: reg-name, IPv4 or
 * bracketed IPv6 characters and a port, nothing that could add a path,
 * query, fragment or userinfo. */
export function isHostValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const alphanumeric = (code >= 0x30 && code <= 0x39) ||
      (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a);
    if (alphanumeric || "-._~!$&'()*+,;=%:[]".includes(value[i])) continue;
    return false;
  }
  return true;
}

/** The absolute URL of a request (RFC 9112 section 3.3). */
export function requestUrl(
  head: RequestHead,
  host: { scheme: "http" | "https"; localAuthority: string },
): string {
  const target = head.target;
  if (target.startsWith("http://") || target.startsWith("https://")) {
    return new URL(target).href; // absolute-form: Host is ignored
  }
  const hosts = headerValues(head, "host");
  const hostValue = hosts.length === 1 ? hosts[0] : "";
  if (!isHostValue(hostValue)) {
    throw new HttpError(
      400,
      `invalid Host header ${JSON.stringify(hostValue)}`,
    );
  }
  const authority = hostValue === "" ? host.localAuthority : hostValue;
  if (target === "*" && head.method === "OPTIONS") {
    return new URL(`${host.scheme}://${authority}/*`).href;
  }
  if (!target.startsWith("/")) {
    throw new HttpError(
      400,
      `unsupported request target ${JSON.stringify(target)}`,
    );
  }
  return new URL(`${host.scheme}://${authority}${target}`).href;
}

/** A short plain-text response, used for refusals and errors. */
export function textResponse(status: number, message: string): Response {
  return new Response(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
