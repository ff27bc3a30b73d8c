/**
 * `deno bench -A bench/primitives_bench.ts`: groups 3 to 6, unmasking,
 * UTF-8 validation and decoding, the accept key, each against `ws` (with
 * `bufferutil`/`buffer.isUtf8` as the baseline, and in pure JS) and the
 * `Uint8Array.prototype.set` copy ceiling.
 *
 * @module
 */

import { registerBenches } from "./bench_case.ts";
import { primitiveCases } from "./primitive_cases.ts";
import { loadWsNative, loadWsPureJs } from "./ws_loader.ts";

registerBenches(primitiveCases([loadWsNative(), loadWsPureJs()]));
