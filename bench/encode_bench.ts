/**
 * `deno bench -A bench/encode_bench.ts`: group 2, encoding unmasked server
 * frames (16 B to 1 MiB), binary and text, one message per iteration.
 * Baseline: `ws`'s `Sender.frame`.
 *
 * @module
 */

import { registerBenches } from "./bench_case.ts";
import { encodeCases } from "./encode_cases.ts";
import { loadWsNative } from "./ws_loader.ts";

registerBenches(encodeCases(loadWsNative()));
