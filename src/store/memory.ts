/** `MemoryStore`: the in-process object store, for tests and ephemeral queues. */
import { BTree } from "../util/btree.js";
import { compareKeys } from "./key-order.js";
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

/**
 * An in-process object store for tests and ephemeral queues. Bodies are copied
 * on the way in and out, so callers cannot mutate stored objects.
 */
export class MemoryStore implements ObjectStore {
  readonly #objects = new BTree<string, { body: Uint8Array; etag: string }>(undefined, compareKeys);
  #etagCounter = 0;

  async get(key: string): Promise<StoredObject | null> {
    const entry = this.#objects.get(key);
    return entry === undefined ? null : { body: Uint8Array.from(entry.body), etag: entry.etag };
  }

  async put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (options?.ifNoneMatch === "*" && this.#objects.has(key)) throw new ObjectExistsError(key);
    this.#objects.set(key, { body: Uint8Array.from(body), etag: `"m${++this.#etagCounter}"` });
  }

  async delete(key: string): Promise<void> {
    this.#objects.delete(key);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const entry = this.#objects.get(key);
    return entry === undefined ? null : { key, size: entry.body.byteLength, etag: entry.etag };
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListPage> {
    const limit = Math.max(1, options.limit ?? DEFAULT_LIST_LIMIT);
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
