/**
 * Where a server's errors go: the `onError` option of `serve`, with
 * `Deno.serve`'s meaning. A handler's error gets the response `onError`
 * returns; a failure of the server itself reaches `onError` as a
 * {@linkcode ServerError}, and what it returns is ignored. The default logs
 * and answers 500.
 *
 * @module
 */

import { ServerError } from "../errors.ts";
import { textResponse } from "./request.ts";
import { isUpgradeResponse } from "./upgrade.ts";

/** Turns an error into the response to send, as `Deno.serve`'s `onError`. */
export type ErrorHandler = (error: unknown) => Response | Promise<Response>;

/** Prefixes every line the default handler logs. */
const LOG_PREFIX = "rfc6455 serve:";

/** The response to an error nobody else answered: `500 Internal Server
 * Error`, plain text. */
export function internalServerError(): Response {
  return textResponse(500, "Internal Server Error");
}

/**
 * The default `onError`: logs the error once (a {@linkcode ServerError} by
 * its message and cause), and answers 500, as `Deno.serve`'s default does.
 *
 * @param error what the handler threw, or a {@linkcode ServerError}
 * @returns a `500 Internal Server Error` response
 */
export function logAndAnswer500(error: unknown): Response {
  if (error instanceof ServerError) {
    console.error(`${LOG_PREFIX} ${error.message}:`, error.cause);
  } else {
    console.error(`${LOG_PREFIX} the handler failed:`, error);
  }
  return internalServerError();
}

/** Calls a server's `onError`, never letting its failures escape. */
export class ErrorHook {
  readonly #onError: ErrorHandler;

  /**
   * @param onError the server's `onError`; default {@linkcode logAndAnswer500}
   */
  constructor(onError: ErrorHandler = logAndAnswer500) {
    this.#onError = onError;
  }

  /**
   * The response to send for a handler's error: what `onError` returns, or
   * 500 when it throws or returns no usable `Response` (that failure is
   * reported as a {@linkcode ServerError} of phase `onError`).
   *
   * @param error what the handler threw
   * @returns the response; never rejects
   */
  async respond(error: unknown): Promise<Response> {
    try {
      const response = await this.#onError(error);
      if (!(response instanceof Response)) {
        throw new TypeError(
          `onError returned ${typeof response}, not a Response`,
        );
      }
      if (isUpgradeResponse(response)) {
        throw new TypeError("onError returned an upgrade response");
      }
      return response;
    } catch (failure) {
      this.report(
        new ServerError(
          "onError",
          "onError failed on a handler's error",
          failure,
        ),
      );
      return internalServerError();
    }
  }

  /**
   * Hands a failure of the server itself to `onError`, ignoring what it
   * returns. When `onError` fails on it, the default logs both.
   *
   * @param error the failure
   */
  report(error: ServerError): void {
    const logFailure = (failure: unknown) => {
      logAndAnswer500(
        new ServerError(
          "onError",
          `onError failed on "${error.message}"`,
          failure,
        ),
      );
      logAndAnswer500(error);
    };
    try {
      Promise.resolve(this.#onError(error)).catch(logFailure);
    } catch (failure) {
      logFailure(failure);
    }
  }
}
