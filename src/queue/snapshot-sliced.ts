/**
 * The sections of a queue snapshot that can hold millions of entries (the KV
 * namespace, the tombstones of cancelled jobs): written straight into the
 * snapshot buffer from a view frozen at the cut, and read back, in slices.
 * The framing is that of every section (`snapshot-sections.ts`):
 *
 *     varint kind | varint body length | body
 *     body: varint entry count | the entries, each as its section writes it
 *
 * An empty view writes no section.
 */
import { ByteReader, ByteWriter, DecodeError, varintBytes } from "./binary.js";

/** Entries handled between two budget checks (well under a millisecond of work). */
export const ENTRIES_PER_CHECK = 256;
/**
 * Bytes handled between two budget checks, whichever of the two comes first:
 * an entry can be large (a long attempt history, a big KV value).
 */
const BYTES_PER_CHECK = 64 * 1024;

/** A slice's time budget, as `SliceBudget` gives it. */
export interface Budget {
  spent(): boolean;
}

/** A frozen list of entries, as a checkpoint encodes it. */
export interface SlicedView<T> {
  readonly size: number;
  /** Bytes of the entries as the section writes them. */
  readonly encodedBytes: number;
  /** The entries in section order, from the first. */
  entries(): IterableIterator<T>;
}

/** What the snapshot encoder needs of a {@link SlicedSectionWriter}, whatever its entries. */
export interface SlicedSectionSteps {
  readonly bytes: number;
  step(out: Uint8Array, at: number, budget: Budget): boolean;
}

/** Writes a section from a frozen view into a snapshot buffer, in slices. */
export class SlicedSectionWriter<T> implements SlicedSectionSteps {
  readonly #kind: number;
  readonly #name: string;
  readonly #view: SlicedView<T>;
  readonly #write: (w: ByteWriter, entry: T) => void;
  readonly #entries: IterableIterator<T>;
  readonly #body: number;
  /** Where each chunk is written before it is copied out (`take`): one buffer until it fills. */
  readonly #chunk = new ByteWriter(BYTES_PER_CHECK + 1024);
  #at = 0;
  #end = 0;
  #started = false;

  /**
   * `kind`: the section's kind; `name`: what errors call it; `write`: writes
   * one entry (the view's `encodedBytes` adds up what it writes).
   */
  constructor(
    kind: number,
    name: string,
    view: SlicedView<T>,
    write: (w: ByteWriter, entry: T) => void,
  ) {
    this.#kind = kind;
    this.#name = name;
    this.#view = view;
    this.#write = write;
    this.#entries = view.entries();
    this.#body = varintBytes(view.size) + view.encodedBytes;
  }

  /** Bytes of the whole section (0 when the view is empty: no section). */
  get bytes(): number {
    if (this.#view.size === 0) return 0;
    return varintBytes(this.#kind) + varintBytes(this.#body) + this.#body;
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
      head.varint(this.#kind);
      head.varint(this.#body);
      head.varint(this.#view.size);
      const bytes = head.finish();
      out.set(bytes, at);
      this.#at = at + bytes.byteLength;
      this.#end = at + this.bytes;
    }
    for (;;) {
      const w = this.#chunk;
      let done = false;
      for (let n = 0; n < ENTRIES_PER_CHECK && w.length < BYTES_PER_CHECK; n++) {
        const next = this.#entries.next();
        if (next.done === true) {
          done = true;
          break;
        }
        this.#write(w, next.value);
      }
      const chunk = w.take();
      if (this.#at + chunk.byteLength > this.#end)
        throw new Error(`snapshot ${this.#name} section outgrew its size: the frozen view changed`);
      out.set(chunk, this.#at);
      this.#at += chunk.byteLength;
      if (done) {
        if (this.#at !== this.#end)
          throw new Error(
            `snapshot ${this.#name} section is shorter than its size: the frozen view changed`,
          );
        return true;
      }
      if (budget.spent()) return false;
    }
  }
}

/** Reads a section's entries in slices: `step()` is true once done. Throws {@link DecodeError}. */
export class SlicedSectionReader {
  readonly #name: string;
  readonly #reader: ByteReader | null;
  readonly #read: (r: ByteReader) => void;
  #left = 0;

  /**
   * `body`: the section's body, or null when the snapshot has none; `read`:
   * reads one entry at `r` into the state, checking it; `name`: what errors
   * call the entries.
   */
  constructor(name: string, body: Uint8Array | null, read: (r: ByteReader) => void) {
    this.#name = name;
    this.#read = read;
    this.#reader = body === null ? null : new ByteReader(body);
    if (this.#reader !== null) this.#left = this.#reader.varint();
  }

  step(budget: Budget): boolean {
    const r = this.#reader;
    if (r === null) return true;
    let checked = r.position;
    for (let n = 0; this.#left > 0; n++) {
      if (n === ENTRIES_PER_CHECK || r.position - checked >= BYTES_PER_CHECK) {
        if (budget.spent()) return false;
        n = 0;
        checked = r.position;
      }
      this.#left--;
      this.#read(r);
    }
    if (r.remaining !== 0)
      throw new DecodeError(`${r.remaining} bytes after the snapshot's ${this.#name}`);
    return true;
  }
}
