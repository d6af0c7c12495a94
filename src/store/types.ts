/**
 * The minimal object-store interface taquba needs. Every adapter (memory, local
 * file, S3, Azure Blob, GCS) implements it and passes the shared conformance
 * suite in `test/store/conformance.ts`; an application can write its own.
 *
 * Keys are `/`-separated strings of printable characters. Adapters map them to
 * their own namespace (a directory, a bucket prefix) and never let a key escape it.
 *
 * An adapter of your own must make `put(key, body, { ifNoneMatch: "*" })` an atomic
 * create that rejects with {@link ObjectExistsError} (`import { ObjectExistsError }
 * from "taquba"`; any `Error` whose `code` is `"OBJECT_EXISTS"` does too) when the key
 * exists; `Queue.open` probes this and refuses a store that overwrites instead
 * (`UnsupportedStoreError`). It must be strongly consistent: a `get` or `list` that
 * starts after a `put` or `delete` resolved sees it, and a `put` replaces the whole
 * object at once (a reader gets the old body or the new one, never a part). A key it
 * cannot hold is refused with `InvalidArgumentError` (`new InvalidArgumentError(message)`,
 * not retried: `Queue.open` reports the queue's path as one the store cannot take).
 * Other failures should be `StorageError`s, with `permanent: true` for those that
 * retrying cannot heal (anything else, a plain `Error` or a `RangeError` too, is
 * retried, except a bug or a broken runtime: a `ReferenceError`, or a `TypeError`
 * that is not a network failure, fails at once; see `programming-error.ts`).
 */
export interface ObjectStore {
  /** Read an object; `null` when it does not exist. */
  get(key: string): Promise<StoredObject | null>;
  /**
   * Write an object. With `{ ifNoneMatch: "*" }` the write is an atomic create
   * that rejects with {@link ObjectExistsError} when the key already exists
   * (and then changes nothing). Without it, the object is overwritten.
   */
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void>;
  /** Delete an object; deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * List keys that start with `prefix`, in ascending byte-wise lexicographic
   * order, strictly after `startAfter` when given. Returns at most `limit`
   * entries (an adapter may return fewer) and a `nextStartAfter` cursor when
   * more may follow.
   */
  list(prefix: string, options?: ListOptions): Promise<ListPage>;
  /** Object size and etag without the body; `null` when missing. Optional. */
  head?(key: string): Promise<ObjectInfo | null>;
  /** Human-readable description for logs and errors (never contains credentials). */
  describe(): string;
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /**
   * `"*"`: create only if absent (atomic).
   * @default none: the write overwrites
   * @example { ifNoneMatch: "*" }
   */
  ifNoneMatch?: "*";
}

/** Options of {@link ObjectStore.list}. */
export interface ListOptions {
  /**
   * List only keys after this one: the previous page's `nextStartAfter`.
   * @default none: from the first key with the prefix
   * @example { startAfter: page.nextStartAfter }
   */
  startAfter?: string;
  /**
   * Most keys on the page; a store may return fewer.
   * @default the store's own page size: 1 000 for the stores of this package
   * @example { limit: 100 }
   */
  limit?: number;
}

/** A page of {@link ObjectStore.list}. */
export interface ListPage {
  /** The objects of the page, in key order. */
  objects: ObjectInfo[];
  /** Pass as `startAfter` to get the next page; absent when the listing is complete. */
  nextStartAfter?: string;
}

/** An object's key, size and etag, as `list` and `head` report them. */
export interface ObjectInfo {
  /** The key, without the store's own prefix. */
  key: string;
  /** Size of the body in bytes. */
  size: number;
  /** The store's version tag of the object, when it has one. */
  etag?: string;
}

/** An object as `get` returns it. */
export interface StoredObject {
  /** The object's bytes. */
  body: Uint8Array;
  /** The store's version tag of the object, when it has one. */
  etag?: string;
}

/**
 * What `put(key, body, { ifNoneMatch: "*" })` rejects with when the key exists (and then
 * it changed nothing). Thrown by every store of the package; a store of your own throws it
 * too. The queue recognises it by its `code`, `"OBJECT_EXISTS"`, so it also recognises one
 * from the package's other build (ESM or CommonJS). It does not extend `TaqubaError`.
 */
export class ObjectExistsError extends Error {
  /** Always `"OBJECT_EXISTS"`: how the queue recognises it, from either build. */
  readonly code = "OBJECT_EXISTS" as const;
  /**
   * @param key - the key that exists (kept as `error.key`)
   */
  constructor(readonly key: string) {
    super(`object "${key}" already exists`);
    this.name = "ObjectExistsError";
  }
}

/**
 * Whether `err` says "the key exists": an {@link ObjectExistsError}, also one of
 * the package's other build (ESM or CommonJS), which `instanceof` does not
 * recognise, or any other `Error` whose `code` is `"OBJECT_EXISTS"`. It goes by
 * `code`, and the log and the store probe use this same check. Such an error need
 * not have a `key` (only an `ObjectExistsError` sets one), hence `key?: unknown`.
 */
export function isObjectExistsError(
  err: unknown,
): err is Error & { readonly code: "OBJECT_EXISTS"; readonly key?: unknown } {
  return err instanceof Error && (err as { code?: unknown }).code === "OBJECT_EXISTS";
}

/** Every page of `list(prefix)`, concatenated. */
export async function listAll(
  store: Pick<ObjectStore, "list">,
  prefix: string,
  startAfter?: string,
): Promise<ObjectInfo[]> {
  const all: ObjectInfo[] = [];
  let cursor = startAfter;
  for (;;) {
    const page = await store.list(prefix, cursor === undefined ? {} : { startAfter: cursor });
    all.push(...page.objects);
    if (page.nextStartAfter === undefined) return all;
    cursor = page.nextStartAfter;
  }
}
