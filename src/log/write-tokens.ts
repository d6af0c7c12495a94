/**
 * Write tokens: the random bytes each WAL batch carries, so that a create
 * whose reply was lost can tell its own object from someone else's when it
 * reads the slot back. Drawn in pools from the log's random source (the
 * system's, unless a test passes a seeded one).
 */

import { type RandomSource, systemRandom } from "../util/random.js";
import { WRITE_TOKEN_BYTES } from "./codec.js";

/** Tokens drawn at once (one call to the random source per this many batches). */
const TOKEN_POOL = 64;

export class WriteTokens {
  constructor(readonly random: RandomSource = systemRandom) {}

  #pool: Uint8Array = new Uint8Array(0);
  #offset = 0;

  /** A fresh token (a view into a pool refilled every {@link TOKEN_POOL} batches). */
  next(): Uint8Array {
    if (this.#offset === this.#pool.byteLength) {
      this.#pool = this.random.bytes(WRITE_TOKEN_BYTES * TOKEN_POOL);
      this.#offset = 0;
    }
    const token = this.#pool.subarray(this.#offset, this.#offset + WRITE_TOKEN_BYTES);
    this.#offset += WRITE_TOKEN_BYTES;
    return token;
  }
}
