/** `CountingStore`: a wrapper that counts requests and bytes by kind (tests and benchmarks). */
import { checkObjectStore } from "../../validate.js";
import type {
  ListOptions,
  ListPage,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  StoredObject,
} from "../types.js";
import { copyWritesComing } from "../write-hint.js";
import type { StoreOp } from "./ops.js";

/** A point-in-time copy of a {@link CountingStore}'s counters. */
export interface RequestCounts {
  /** Requests issued, by kind. */
  counts: Record<StoreOp, number>;
  /** Bytes of the put bodies sent. */
  bytesWritten: number;
  /** Bytes of the bodies `get` returned. */
  bytesRead: number;
  /** Sum of all per-op counts. */
  requests: number;
}

function zeroCounts(): Record<StoreOp, number> {
  return { get: 0, put: 0, delete: 0, list: 0, head: 0 };
}

/**
 * Counts requests and bytes passing to an inner store (cost models,
 * benchmarks, tests asserting request budgets). Every issued request counts,
 * including ones that fail; `bytesWritten` counts put bodies as sent and
 * `bytesRead` counts bodies returned by `get`.
 */
export class CountingStore implements ObjectStore {
  readonly #inner: ObjectStore;
  /** Requests issued so far, by kind (live counters). */
  readonly counts: Record<StoreOp, number> = zeroCounts();
  /** Bytes of the put bodies sent so far. */
  bytesWritten = 0;
  /** Bytes of the bodies `get` returned so far. */
  bytesRead = 0;
  readonly head?: (key: string) => Promise<ObjectInfo | null>;

  constructor(inner: ObjectStore) {
    checkObjectStore(inner, "inner", new.target.name);
    this.#inner = inner;
    // A log's hint that writes are coming reaches the store wrapped.
    copyWritesComing(inner, this);
    const innerHead = inner.head;
    if (innerHead !== undefined) {
      this.head = (key) => {
        this.counts.head++;
        return innerHead.call(inner, key);
      };
    }
  }

  async get(key: string): Promise<StoredObject | null> {
    this.counts.get++;
    const object = await this.#inner.get(key);
    if (object !== null) this.bytesRead += object.body.byteLength;
    return object;
  }

  put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    this.counts.put++;
    this.bytesWritten += body.byteLength;
    return this.#inner.put(key, body, options);
  }

  delete(key: string): Promise<void> {
    this.counts.delete++;
    return this.#inner.delete(key);
  }

  list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.counts.list++;
    return this.#inner.list(prefix, options);
  }

  describe(): string {
    return `counting+${this.#inner.describe()}`;
  }

  /** Copy of the current counters. */
  snapshot(): RequestCounts {
    const counts = { ...this.counts };
    const requests = Object.values(counts).reduce((sum, n) => sum + n, 0);
    return { counts, bytesWritten: this.bytesWritten, bytesRead: this.bytesRead, requests };
  }

  /** Set every counter back to zero. */
  reset(): void {
    Object.assign(this.counts, zeroCounts());
    this.bytesWritten = 0;
    this.bytesRead = 0;
  }
}
