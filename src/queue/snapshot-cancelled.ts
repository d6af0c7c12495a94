/**
 * The section of a queue snapshot that holds the tombstones of cancelled
 * jobs (`cancelled.ts`), written after the other small sections and before
 * the KV section (see `snapshot-sections.ts` for the framing), and like the
 * KV section written straight into the snapshot in slices from a view frozen
 * at the cut, since a queue may hold a million of them:
 *
 *     varint kind (36) | varint body length | body
 *     body: varint count | per tombstone, queue by queue, oldest first:
 *           varint length, the encoded tombstone
 *
 * A state without tombstones writes no such section. The reader is part of
 * `SectionsReader`.
 */
import { ByteWriter } from "./binary.js";
import type { CancelledView } from "./cancelled.js";

/** Tombstones written between two budget checks. */
const TOMBSTONES_PER_CHECK = 256;
/**
 * Bytes after which a slice checks its budget before {@link TOMBSTONES_PER_CHECK}:
 * a tombstone keeps a whole attempt history (up to 100 errors of 8 KiB).
 */
const BYTES_PER_CHECK = 1 << 20;

/** Section kind (never renumbered; see `snapshot-sections.ts`). */
export const CANCELLED_SECTION = 36;

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Writes the tombstones section of a frozen view into a snapshot buffer, in slices. */
export class CancelledSectionWriter {
  readonly #view: CancelledView;
  readonly #entries: IterableIterator<string>;
  readonly #body: number;
  #at = 0;
  #end = 0;
  #started = false;

  constructor(view: CancelledView) {
    this.#view = view;
    this.#entries = view.entries();
    this.#body = varintBytes(view.size) + view.encodedBytes;
  }

  /** Bytes of the whole section (0 without tombstones: no section). */
  get bytes(): number {
    if (this.#view.size === 0) return 0;
    return varintBytes(CANCELLED_SECTION) + varintBytes(this.#body) + this.#body;
  }

  /**
   * Writes into `out` from `at` (which has {@link bytes} free), as much as
   * `budget` allows; true when the section is complete.
   */
  step(out: Uint8Array, at: number, budget: { spent(): boolean }): boolean {
    if (this.#view.size === 0) return true;
    if (!this.#started) {
      this.#started = true;
      const head = new ByteWriter(32);
      head.varint(CANCELLED_SECTION);
      head.varint(this.#body);
      head.varint(this.#view.size);
      const bytes = head.finish();
      out.set(bytes, at);
      this.#at = at + bytes.byteLength;
      this.#end = at + this.bytes;
    }
    for (;;) {
      const w = new ByteWriter(16 * 1024);
      let done = false;
      let bytes = 0;
      for (let n = 0; n < TOMBSTONES_PER_CHECK && bytes < BYTES_PER_CHECK; n++) {
        const next = this.#entries.next();
        if (next.done === true) {
          done = true;
          break;
        }
        w.binaryString(next.value);
        bytes += next.value.length;
      }
      const chunk = w.finish();
      if (this.#at + chunk.byteLength > this.#end)
        throw new Error("snapshot tombstones section outgrew its size: the frozen view changed");
      out.set(chunk, this.#at);
      this.#at += chunk.byteLength;
      if (done) {
        if (this.#at !== this.#end)
          throw new Error(
            "snapshot tombstones section is shorter than its size: the frozen view changed",
          );
        return true;
      }
      if (budget.spent()) return false;
    }
  }
}
