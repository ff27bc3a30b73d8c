/**
 * A page's few static files, read once at start-up and served from memory
 * with strict security headers. Used by the echo server (`echo_server.ts`)
 * and the chat server (`chat/server.ts`): each lists the exact paths it
 * serves, so no request path is ever turned into a file path.
 *
 * Pure: only `fetch`, `Headers` and `Response`, which read `file:` URLs in
 * Deno and Bun and `https:` ones when the module runs from a registry.
 *
 * @module
 */

/** The content type of each file extension a page may use. */
export const STATIC_CONTENT_TYPES: ReadonlyMap<string, string> = new Map([
  [".html", "text/html; charset=utf-8"],
  [".js", "text/javascript; charset=utf-8"],
  [".css", "text/css; charset=utf-8"],
]);

/** Sent with every response: scripts, styles and connections only from
 * this origin, no framing, no sniffing, no referrer, always revalidated. */
export const STATIC_SECURITY_HEADERS: ReadonlyArray<[string, string]> = [
  ["content-security-policy", "default-src 'self'; frame-ancestors 'none'"],
  ["x-content-type-options", "nosniff"],
  ["referrer-policy", "no-referrer"],
  ["cache-control", "no-cache"],
];

const PLAIN_TEXT = "text/plain; charset=utf-8";

/** One loaded file: its bytes and its content type. */
interface LoadedFile {
  body: Uint8Array;
  type: string;
}

function contentTypeOf(file: string): string {
  const dot = file.lastIndexOf(".");
  const type = dot === -1
    ? undefined
    : STATIC_CONTENT_TYPES.get(file.slice(dot).toLowerCase());
  if (type === undefined) {
    throw new TypeError(`static file "${file}": no known content type`);
  }
  return type;
}

function respond(
  body: Uint8Array | null,
  type: string,
  status: number,
): Response {
  const headers = new Headers(STATIC_SECURITY_HEADERS);
  headers.set("content-type", type);
  return new Response(body as BodyInit | null, { status, headers });
}

/**
 * A fixed set of files served by exact path: 200 with the file for GET and
 * HEAD, 405 (with `Allow`) for other methods, 404 for any other path.
 *
 * @example
 * ```ts ignore
 * const files = await StaticFiles.load(
 *   new URL("./echo/static/", import.meta.url),
 *   new Map([["/", "index.html"], ["/app.js", "app.js"]]),
 * );
 * serve({ port: 3000 }, (request) => files.respond(request));
 * ```
 */
export class StaticFiles {
  readonly #files: ReadonlyMap<string, LoadedFile>;

  private constructor(files: ReadonlyMap<string, LoadedFile>) {
    this.#files = files;
  }

  /**
   * Reads every listed file into memory.
   *
   * @param directory the folder the files are in (a URL ending in "/")
   * @param paths request path -> file name in `directory`; the content type
   * comes from the name's extension (see {@linkcode STATIC_CONTENT_TYPES})
   * @returns the loaded files
   * @throws {TypeError} for an extension with no known content type
   * @throws {Error} when a file cannot be read
   */
  static async load(
    directory: URL,
    paths: ReadonlyMap<string, string>,
  ): Promise<StaticFiles> {
    const loaded = new Map<string, LoadedFile>();
    for (const [path, file] of paths) {
      const type = contentTypeOf(file);
      const url = new URL(file, directory);
      const response = await fetch(url);
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`cannot load ${url.href}: ${response.status}`);
      }
      loaded.set(path, {
        body: new Uint8Array(await response.arrayBuffer()),
        type,
      });
    }
    return new StaticFiles(loaded);
  }

  /**
   * Answers a plain HTTP request for one of the files.
   *
   * @param request the request
   * @param path its path, when already parsed; default the request URL's
   * @returns the file (200), 405 for a method other than GET and HEAD, or
   * 404 for a path that is not listed
   */
  respond(
    request: Request,
    path: string = new URL(request.url).pathname,
  ): Response {
    const known = this.#files.get(path);
    if (known === undefined) {
      return respond(new TextEncoder().encode("not found\n"), PLAIN_TEXT, 404);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      const refused = respond(null, PLAIN_TEXT, 405);
      refused.headers.set("allow", "GET, HEAD");
      return refused;
    }
    return respond(known.body, known.type, 200);
  }
}
