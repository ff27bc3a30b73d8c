/**
 * Mutated heads as byte arrays, shared by the request and response fuzz
 * files: structural mutations, then byte mutations, then what may follow
 * a head on the wire.
 *
 * @module
 */
import fc from "fast-check";
import { byteMutationArbitrary, concat, mutateAll } from "./bytes.ts";
import {
  headMutationArbitrary,
  type HeadSpec,
  latin1,
  mutateHeadAll,
  serializeHead,
} from "./http_heads.ts";

/** What follows the head on the wire: the first WebSocket bytes. */
export const trailerArbitrary: fc.Arbitrary<Uint8Array> = fc.constantFrom(
  new Uint8Array(0),
  new Uint8Array([0x81, 0x80, 1, 2, 3, 4]),
  latin1("GET / HTTP/1.1\r\n"),
);

/** A head mutated in its structure and then in its bytes. */
export function mutatedHeadArbitrary(
  valid: fc.Arbitrary<HeadSpec>,
): fc.Arbitrary<Uint8Array> {
  return fc.record({
    spec: valid,
    headMutations: fc.array(headMutationArbitrary, { maxLength: 3 }),
    byteMutations: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(byteMutationArbitrary, { maxLength: 3 }),
      },
    ),
    trailer: trailerArbitrary,
  }).map(({ spec, headMutations, byteMutations, trailer }) =>
    concat([
      mutateAll(
        serializeHead(mutateHeadAll(spec, headMutations)),
        byteMutations,
      ),
      trailer,
    ])
  );
}
