/** `MemoryStore`: the in-process object store, for tests and ephemeral queues. */
import { BTree } from "../util/btree.js";
import { type MonotonicNow, nextTurn, processNow, SliceBudget } from "../util/slices.js";
import { checkListLimit, checkListPrefix, checkPutBody } from "./call-arguments.js";
import { compareKeys } from "./key-order.js";
import { checkObjectKey } from "./key-rules.js";
import {
  type ListOptions,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  type StoredObject,
} from "./types.js";

const DEFAULT_LIST_LIMIT = 1000;

/** Bodies up to this size are copied at once (small requests take the same turns as ever). */
const COPY_AT_ONCE_BYTES = 256 * 1024;
/**
 * Bytes a sliced copy moves between two checks of the slice's time budget.
 * Small, because the cost per byte is not steady: each page of the copy is
 * faulted in on its first write, and on a busy virtual machine a single
 * 1 MiB piece took from 1 ms to over 20 ms.
 */
const COPY_PIECE_BYTES = 64 * 1024;

/**
 * How long one slice of a sliced copy runs. The copy stands in for moving
 * the bytes to or from a store, which a remote store does off the event
 * loop: it takes the smallest share of a turn (the queue's own slices take up
 * to 4 ms of the same turn; with 4 ms more here, a checkpoint's upload made
 * turns of 8 ms of work and more while a bulk removal ran).
 */
export const COPY_SLICE_MS = 1;

/** The budget of a sliced copy: slices of {@link COPY_SLICE_MS} on `now` (a test's clock, or the process's). */
export function copyBudget(now: MonotonicNow = processNow): SliceBudget {
  return new SliceBudget(COPY_SLICE_MS, now);
}

/**
 * A copy of a body larger than {@link COPY_AT_ONCE_BYTES}, made in slices of
 * the event loop's time, so storing or reading a big checkpoint or WAL object
 * never blocks the process. The allocation counts against the first slice:
 * allocating a checkpoint's worth of memory can itself take milliseconds (V8
 * does garbage-collection work for the external memory it adds). `budget`
 * is for tests (a zero budget: one piece per turn). By default a slice is
 * the smallest share of a turn ({@link COPY_SLICE_MS}).
 */
export async function copyInSlices(
  body: Uint8Array,
  budget: SliceBudget = copyBudget(),
): Promise<Uint8Array> {
  budget.start();
  const copy = new Uint8Array(body.byteLength);
  for (let at = 0; at < body.byteLength; at += COPY_PIECE_BYTES) {
    if (budget.spent()) {
      await nextTurn();
      budget.start();
    }
    copy.set(body.subarray(at, Math.min(body.byteLength, at + COPY_PIECE_BYTES)), at);
  }
  await nextTurn();
  return copy;
}

/**
 * An in-process object store for tests and ephemeral queues. Bodies are copied
 * on the way in and out, so callers cannot mutate stored objects. It refuses
 * the keys `FileStore` refuses (empty, absolute, `.` or `..` segments,
 * NUL, backslash), and the bodies and listing arguments it refuses, with the
 * same `InvalidArgumentError`. A body over 256 KiB
 * is copied over several turns of the event loop, so requests on one key
 * that are not awaited one after the other may land in any order (as on a
 * remote store).
 */
export class MemoryStore implements ObjectStore {
  readonly #objects = new BTree<string, { body: Uint8Array; etag: string }>(undefined, compareKeys);
  #etagCounter = 0;

  async get(key: string): Promise<StoredObject | null> {
    checkObjectKey(key);
    const entry = this.#objects.get(key);
    if (entry === undefined) return null;
    const { body, etag } = entry;
    return {
      body: body.byteLength > COPY_AT_ONCE_BYTES ? await copyInSlices(body) : new Uint8Array(body),
      etag,
    };
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    checkObjectKey(key);
    checkPutBody(key, body);
    if (options?.ifNoneMatch === "*" && this.#objects.has(key)) throw new ObjectExistsError(key);
    const large = body.byteLength > COPY_AT_ONCE_BYTES;
    const copy = large ? await copyInSlices(body) : new Uint8Array(body);
    // Checked again: another create of the key may have landed while a large body was copied.
    if (large && options?.ifNoneMatch === "*" && this.#objects.has(key))
      throw new ObjectExistsError(key);
    this.#objects.set(key, { body: copy, etag: `"m${++this.#etagCounter}"` });
  }

  async delete(key: string): Promise<void> {
    checkObjectKey(key);
    this.#objects.delete(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkObjectKey(key);
    const entry = this.#objects.get(key);
    return entry === undefined ? null : { key, size: entry.body.byteLength, etag: entry.etag };
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    checkListPrefix(prefix, options.startAfter);
    const limit = checkListLimit(options.limit, DEFAULT_LIST_LIMIT);
    const start =
      options.startAfter !== undefined && compareKeys(options.startAfter, prefix) > 0
        ? options.startAfter
        : prefix;
    const objects: ObjectInfo[] = [];
    let more = false;
    for (const [key, entry] of this.#objects.entries(start)) {
      if (!key.startsWith(prefix)) break;
      if (key === options.startAfter) continue;
      if (objects.length === limit) {
        more = true;
        break;
      }
      objects.push({ key, size: entry.body.byteLength, etag: entry.etag });
    }
    const last = objects.at(-1);
    return more && last ? { objects, nextStartAfter: last.key } : { objects };
  }

  describe(): string {
    return "memory://";
  }

  /** Number of stored objects (for tests and diagnostics). */
  get size(): number {
    return this.#objects.size;
  }
}
