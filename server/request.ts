/**
 * Turning a parsed request head into the pieces of a standard `Request`:
 * its absolute URL (RFC 9112 section 3.3) and the methods refused before a
 * `Request` is built. Pure: no runtime-specific API.
 *
 * @module
 */

import { HttpError } from "../errors.ts";
import { headerValues, type RequestHead } from "../http1/request.ts";

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

/** The largest TCP port number. */
const MAX_PORT = 65_535;

/**
 * Why a non-empty Host value cannot be the authority of the request URL, or
 * `undefined` when its shape is right. The shape is RFC 9110 section 7.2,
 * `uri-host [ ":" port ]`: a host that is not empty, a bracketed IP literal
 * or a name with no colon and no bracket, then an optional port of at most
 * five digits up to 65535. What a URL parser refuses beyond that (a bad
 * IPv4 or IPv6 address, a percent sign that is not an escape) is left to
 * it.
 *
 * @param value the Host header's value, already trimmed
 * @returns the problem, or `undefined`
 */
export function describeHostProblem(value: string): string | undefined {
  if (!isHostValue(value)) {
    return "it has a character a host and port cannot contain";
  }
  let hostEnd: number;
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close === -1) return "its IP literal has no closing bracket";
    hostEnd = close + 1;
    if (hostEnd < value.length && value[hostEnd] !== ":") {
      return "its IP literal is followed by something other than a port";
    }
  } else {
    hostEnd = value.indexOf(":");
    if (hostEnd === -1) hostEnd = value.length;
  }
  const host = value.slice(0, hostEnd);
  if (host.length === 0) return "its host is empty";
  if (!host.startsWith("[") && (host.includes("[") || host.includes("]"))) {
    return "it has a bracket outside an IP literal";
  }
  if (hostEnd === value.length) return undefined;
  const port = value.slice(hostEnd + 1); // after the colon; may be empty
  for (let i = 0; i < port.length; i++) {
    const code = port.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return "its port is not a number";
  }
  if (port.length > 5 || Number(port) > MAX_PORT) {
    return `its port is above ${MAX_PORT}`;
  }
  return undefined;
}

/** `new URL(text)`, refusing with 400 instead of a `TypeError` when `text`
 * is not a URL the WHATWG parser accepts. */
function parseUrl(text: string, refusal: string): string {
  try {
    return new URL(text).href;
  } catch {
    throw new HttpError(400, refusal);
  }
}

/**
 * The absolute URL of a request (RFC 9112 section 3.3): the absolute-form
 * target as sent, else the scheme, the Host header (or the listener's own
 * authority when the request has none) and the origin-form target.
 *
 * @param head the parsed request head
 * @param host the listener's scheme and `host:port`
 * @returns the URL for the `Request`
 * @throws {HttpError} 400 for a Host value or target that cannot make a URL
 */
export function requestUrl(
  head: RequestHead,
  host: { scheme: "http" | "https"; localAuthority: string },
): string {
  const target = head.target;
  if (target.startsWith("http://") || target.startsWith("https://")) {
    // absolute-form: Host is ignored
    return parseUrl(target, `invalid request target ${JSON.stringify(target)}`);
  }
  const hosts = headerValues(head, "host");
  const hostValue = hosts.length === 1 ? hosts[0] : "";
  const hostProblem = hostValue === ""
    ? undefined
    : describeHostProblem(hostValue);
  if (hostProblem !== undefined) {
    throw new HttpError(
      400,
      `invalid Host header ${JSON.stringify(hostValue)}: ${hostProblem}`,
    );
  }
  const authority = hostValue === "" ? host.localAuthority : hostValue;
  let path: string;
  if (target === "*" && head.method === "OPTIONS") {
    path = "/*";
  } else if (target.startsWith("/")) {
    path = target;
  } else {
    throw new HttpError(
      400,
      `unsupported request target ${JSON.stringify(target)}`,
    );
  }
  return parseUrl(
    `${host.scheme}://${authority}${path}`,
    `invalid Host header ${
      JSON.stringify(hostValue)
    }: not a host a URL can hold`,
  );
}

/** A short plain-text response, used for refusals and errors. */
export function textResponse(status: number, message: string): Response {
  return new Response(message + "\n", {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}
