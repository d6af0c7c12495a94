/**
 * The KV section of a queue snapshot: the user KV namespace, written after
 * the other sections (see `snapshot-sections.ts` for the framing) and, unlike
 * them, written and read in slices, since it can hold millions of entries.
 *
 *     varint kind (21) | varint body length | body
 *     body: varint entry count | per entry, in key order:
 *           varint key bytes, key (UTF-8) | varint value bytes, value
 *
 * A state without KV entries writes no KV section.
 */
import { ByteReader, ByteWriter, DecodeError } from "./binary.js";
import type { KvMap, KvView } from "./kv-map.js";
import { Section } from "./snapshot-sections.js";

/** Entries handled between two budget checks (well under a millisecond of work). */
export const KV_ENTRIES_PER_CHECK = 256;

/** A slice's time budget, as `SliceBudget` gives it. */
interface Budget {
  spent(): boolean;
}

function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** Writes the KV section of a frozen view into a snapshot buffer, in slices. */
export class KvSectionWriter {
  readonly #view: KvView;
  readonly #entries: IterableIterator<[string, Uint8Array]>;
  readonly #body: number;
  #at = 0;
  #end = 0;
  #started = false;

  constructor(view: KvView) {
    this.#view = view;
    this.#entries = view.entries();
    this.#body = varintBytes(view.size) + view.encodedBytes;
  }

  /** Bytes of the whole section (0 when the map is empty: no section). */
  get bytes(): number {
    if (this.#view.size === 0) return 0;
    return varintBytes(Section.Kv) + varintBytes(this.#body) + this.#body;
  }

  /**
   * Writes into `out` from `at` (which has {@link bytes} free), as much as
   * `budget` allows; true when the section is complete.
   */
  step(out: Uint8Array, at: number, budget: Budget): boolean {
    if (this.#view.size === 0) return true;
    if (!this.#started) {
      this.#started = true;
      const head = new ByteWriter(32);
      head.varint(Section.Kv);
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
      for (let n = 0; n < KV_ENTRIES_PER_CHECK; n++) {
        const next = this.#entries.next();
        if (next.done === true) {
          done = true;
          break;
        }
        const [key, value] = next.value;
        w.string(key);
        w.bytes(value);
      }
      const chunk = w.finish();
      if (this.#at + chunk.byteLength > this.#end)
        throw new Error("snapshot KV section outgrew its size: the frozen view changed");
      out.set(chunk, this.#at);
      this.#at += chunk.byteLength;
      if (done) {
        if (this.#at !== this.#end)
          throw new Error("snapshot KV section is shorter than its size: the frozen view changed");
        return true;
      }
      if (budget.spent()) return false;
    }
  }
}

/** Loads a KV section's body into `kv`, in slices: `step()` is true once done. */
export class KvSectionReader {
  readonly #reader: ByteReader | null;
  readonly #kv: KvMap;
  #left = 0;

  /** `body`: the section's body, or null when the snapshot has no KV section. */
  constructor(body: Uint8Array | null, kv: KvMap) {
    this.#kv = kv;
    this.#reader = body === null ? null : new ByteReader(body);
    if (this.#reader !== null) this.#left = this.#reader.varint();
  }

  step(budget: Budget): boolean {
    const r = this.#reader;
    if (r === null) return true;
    for (let n = 0; this.#left > 0; n++) {
      if (n === KV_ENTRIES_PER_CHECK) {
        if (budget.spent()) return false;
        n = 0;
      }
      this.#left--;
      const key = r.string();
      const value = r.bytes();
      if (key.length === 0) throw new DecodeError("snapshot KV section holds an empty key");
      if (!this.#kv.append(key, value))
        throw new DecodeError(
          `snapshot KV section is out of key order at ${JSON.stringify(key.slice(0, 40))}`,
        );
    }
    if (r.remaining !== 0)
      throw new DecodeError(`${r.remaining} bytes after the snapshot's KV entries`);
    return true;
  }
}
