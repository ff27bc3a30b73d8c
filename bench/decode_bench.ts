/**
 * `deno bench -A bench/decode_bench.ts`: group 1, decoding masked client
 * frames (16 B to 1 MiB) fed in 64 KiB chunks. Baseline: `ws`'s `Receiver`
 * with `bufferutil`; also `ws` in pure JS, our `Protocol` (full message
 * events, binary payloads copied out) and raw `FrameDecoder`, and the copy
 * ceiling. Each iteration decodes the whole stream: divide the time by the
 * `[N msgs/iter]` in the name for the time per message. Then text frames
 * (mixed UTF-8) of 125 B to 1 MiB, decoded to strings.
 *
 * @module
 */

import { registerBenches } from "./bench_case.ts";
import { decodeCases, textDecodeCases } from "./decode_cases.ts";
import { loadWsNative, loadWsPureJs } from "./ws_loader.ts";

const wsVariants = [loadWsNative(), loadWsPureJs()];
registerBenches([...decodeCases(wsVariants), ...textDecodeCases(wsVariants)]);
