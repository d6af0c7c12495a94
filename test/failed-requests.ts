/**
 * A store wrapper for tests that shows whether a request was retried: it
 * passes every request through and notes each that failed as `op key`, so a
 * request made twice shows up twice. A conditional-write probe names its object
 * anew on each attempt (`probe/<ULID>`), so probe keys are noted as `probe/*`.
 */
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../src/store/types.js";

/** Passes requests through to a store, and notes each that failed as `op key`. */
export class FailedRequests implements ObjectStore {
  readonly failed: string[] = [];
  /** The store's head, when it has one: the log takes another path without it. */
  readonly head?: (key: string) => Promise<ObjectInfo | null>;
  constructor(readonly inner: ObjectStore) {
    const head = inner.head?.bind(inner);
    if (head !== undefined) this.head = (key) => this.#run("head", key, () => head(key));
  }
  async #run<T>(op: string, key: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      this.failed.push(`${op} ${key.replace(/(^|\/)probe\/[0-9A-Z]{26}$/, "$1probe/*")}`);
      throw error;
    }
  }
  get(key: string): Promise<StoredObject | null> {
    return this.#run("get", key, () => this.inner.get(key));
  }
  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    return this.#run("put", key, () => this.inner.put(key, body, options));
  }
  delete(key: string): Promise<void> {
    return this.#run("delete", key, () => this.inner.delete(key));
  }
  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    return this.#run("list", prefix, () => this.inner.list(prefix, options));
  }
  describe(): string {
    return this.inner.describe();
  }

  /** The failed requests that were made more than once (a retry), each named once. */
  repeated(): string[] {
    return [...new Set(this.failed.filter((request, i) => this.failed.indexOf(request) !== i))];
  }
}
