/**
 * The log's view of its object store: every request is retried on transient
 * errors, and create-if-absent resolves ambiguous outcomes by reading back.
 */
import type { ObjectInfo, ObjectStore } from "../store/types.js";
import { isObjectExists, type RetryContext, withRetry } from "./retry.js";

export type CreateOutcome = "created" | "taken";

export class LogStorage {
  constructor(
    readonly store: ObjectStore,
    readonly retry: RetryContext,
  ) {}

  async get(key: string): Promise<Uint8Array | null> {
    const object = await withRetry(this.retry, `GET ${key}`, () => this.store.get(key));
    return object === null ? null : object.body;
  }

  /** Plain overwrite, for objects with unique names nobody else writes. */
  async put(key: string, body: Uint8Array): Promise<void> {
    await withRetry(this.retry, `PUT ${key}`, () => this.store.put(key, body));
  }

  async delete(key: string): Promise<void> {
    await withRetry(this.retry, `DELETE ${key}`, () => this.store.delete(key));
  }

  /** Every key under `prefix` (strictly after `startAfter`), in key order. */
  async list(prefix: string, startAfter?: string): Promise<ObjectInfo[]> {
    const all: ObjectInfo[] = [];
    let cursor = startAfter;
    for (;;) {
      const options = cursor === undefined ? {} : { startAfter: cursor };
      const page = await withRetry(this.retry, `LIST ${prefix}`, () =>
        this.store.list(prefix, options),
      );
      all.push(...page.objects);
      if (page.nextStartAfter === undefined) return all;
      cursor = page.nextStartAfter;
    }
  }

  /**
   * Atomic create. A create that failed transiently may still have taken
   * effect, so when the key turns out to exist its content decides: `isOurs`
   * → "created", anything else → "taken" (someone else won the key).
   */
  async create(
    key: string,
    body: Uint8Array,
    isOurs: (existing: Uint8Array) => boolean,
  ): Promise<CreateOutcome> {
    return withRetry(this.retry, `create ${key}`, async () => {
      try {
        await this.store.put(key, body, { ifNoneMatch: "*" });
        return "created";
      } catch (error) {
        if (!isObjectExists(error)) throw error;
        const existing = await this.store.get(key);
        // Vanished between the two calls: transient, try the create again.
        if (existing === null) throw new Error(`object "${key}" existed, then vanished`);
        return isOurs(existing.body) ? "created" : "taken";
      }
    });
  }
}
